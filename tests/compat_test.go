package tests

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"

	"github.com/pybundle/pybundle/pipeline/verify"
)

// compatWheels are the Debian packages the compat sample's wheelhouse is made of: its
// requirements and what they require, all pure Python.
var compatWheels = []string{"python3-starlette", "python3-uvicorn", "python3-anyio", "python3-h11", "python3-click",
	"python3-idna", "python3-sniffio"}

// TestCompatBuilder is issue 14's offline proof for the compat builder: a Starlette backend of
// pure-Python dependencies (wheels made from Debian trixie's packages by `debian-wheels`, no
// index) built with `--installer compat` — Python 3.13 and PyInstaller built on Debian 11 — is
// healthy on Debian 11, 12 and 13: every runs_on row ok, the glibc floor at most Debian 11's.
// (The Debian builder's sample is reported as trixie-only: TestRuntimeMatrix.) The first run on
// an engine builds the toolchain (~17 min on 2 cores); later ones take it from the cache.
func TestCompatBuilder(t *testing.T) {
	requireEngine(t)
	t.Parallel()
	wheels := filepath.Join(t.TempDir(), "wheels")
	mustDagger(t, long, "debian-wheels", "--packages", strings.Join(compatWheels, ","), "export", "--path", wheels)
	got, err := filepath.Glob(filepath.Join(wheels, "*.whl"))
	assert.NilError(t, err)
	var names []string
	for _, w := range got {
		names = append(names, strings.SplitN(filepath.Base(w), "-", 2)[0])
		assert.Check(t, strings.HasSuffix(w, "-py3-none-any.whl"), w)
	}
	sort.Strings(names)
	assert.DeepEqual(t, names, []string{"anyio", "click", "h11", "idna", "sniffio", "starlette", "uvicorn"})

	out := filepath.Join(t.TempDir(), "dist")
	// glibc=2.31: Debian 11 must run it, or the build fails (stage runs-on).
	mustDagger(t, long, "--installer", "compat", "--wheelhouse", wheels, "build", "--source", "testdata/compat",
		"--option", "glibc=2.31", "export", "--path", out)
	e := onlyEntry(t, out)
	assert.Check(t, e.OK(), "every check passed: %+v", e.Checks)
	assert.Check(t, is.Equal(e.Builder, "dagger:compat"))
	assert.Check(t, is.Equal(e.Bootloader, "stock"), "PyInstaller's bootloader, compiled on Debian 11")
	assert.Check(t, is.Equal(e.PyInstaller, "6.22.2"))
	assert.Check(t, is.Equal(e.Python, "3.13.5"), "trixie's upstream version")
	assert.Check(t, is.Contains(e.Packages["python"], "3.13.5 built on Debian GNU/Linux 11 (bullseye) (glibc 2.31)"))
	for _, dist := range []string{"starlette", "uvicorn", "anyio", "h11", "click", "idna", "sniffio", "pyinstaller"} {
		assert.Check(t, e.Packages["pip:"+dist] != "", "pip freeze lists %s: %v", dist, e.Packages)
	}
	assert.Check(t, verify.CompareVersions(e.GlibcFloor, "2.31") <= 0, "glibc floor %s ≤ 2.31 (Debian 11)", e.GlibcFloor)

	var rows []string
	for _, r := range e.RunsOn {
		rows = append(rows, r.Runtime+" "+r.Glibc)
		assert.Check(t, r.OK && r.Skipped == "", "healthy on %s: %+v", r.Runtime, r)
		assert.Check(t, r.Required, "glibc=2.31: every runtime of the matrix is one the bundle must run on: %+v", r)
		assert.Check(t, r.StartupMS != nil && *r.StartupMS > 0, "%s timed", r.Runtime)
	}
	assert.DeepEqual(t, rows, []string{"debian:bullseye-slim 2.31", "debian:bookworm-slim 2.36", "debian:trixie-slim 2.41"})

	summary, err := os.ReadFile(filepath.Join(out, "summary.txt"))
	assert.NilError(t, err)
	for _, name := range []string{"Debian 11 (bullseye) 2.31 ok, ", "Debian 12 (bookworm) 2.36 ok, ", "Debian 13 (trixie) 2.41 ok, "} {
		assert.Check(t, is.Contains(strings.Join(strings.Fields(string(summary)), " "), name), string(summary))
	}
}
