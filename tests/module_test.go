package tests

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"

	"github.com/pybundle/pybundle/pipeline/report"
)

// TestConsumerModule: pybundle as a dependency of another module (testdata/consumer, what an
// app's own CI module looks like): its one function builds the backend and packages the app,
// chaining pybundle's backend and package in one call.
func TestConsumerModule(t *testing.T) {
	requireEngine(t)
	t.Parallel()
	out := filepath.Join(t.TempDir(), "release")
	mustDagger(t, long, "-m", "testdata/consumer", "release", "export", "--path", out)
	b, err := os.ReadFile(filepath.Join(out, "report.json"))
	assert.NilError(t, err)
	rep, err := report.Parse(b)
	assert.NilError(t, err)
	assert.Check(t, rep.OK())
	assert.Equal(t, len(rep.Entries), 1)
	kinds := map[string]bool{}
	for _, p := range rep.Packages {
		kinds[p.Kind] = true
	}
	assert.DeepEqual(t, kinds, map[string]bool{"dir": true, "start": true})
	_, err = os.Stat(filepath.Join(out, "linux-unpacked", "resources", "backend", "peft_engine", "peft_engine"))
	assert.NilError(t, err)
}

// TestChainInOneCall: the same chain from the command line: backend → package, and the
// backend's own directory and summary.
func TestChainInOneCall(t *testing.T) {
	requireEngine(t)
	t.Parallel()
	out := filepath.Join(t.TempDir(), "installers")
	mustDagger(t, long, "backend", "--source", "testdata/backend", "package", "--app", "testdata/app",
		"--electron-dist", standIn, "--targets", "tar.gz", "export", "--path", out)
	_, err := os.Stat(filepath.Join(out, "peft-desktop-0.1.0.tar.gz"))
	assert.NilError(t, err)
	summary := mustDagger(t, long, "backend", "--source", "testdata/backend", "summary")
	assert.Check(t, is.Contains(summary, "linux/amd64  onedir"))
	dist := filepath.Join(t.TempDir(), "dist")
	mustDagger(t, long, "backend", "--source", "testdata/backend", "directory", "export", "--path", dist)
	assert.DeepEqual(t, listTree(t, dist)[:1], []string{"linux-amd64"})
}

// TestDaggerCheck: `dagger check` runs pybundle's self-test checks (unit tests with the race
// detector in the Go image, the sample build, the build-time guard) and passes.
func TestDaggerCheck(t *testing.T) {
	requireEngine(t)
	t.Parallel()
	list := mustDaggerCmd(t, long, "check", "-l")
	for _, c := range []string{"unit-tests", "sample-build", "guard-refuses-missing-modules"} {
		assert.Check(t, strings.Contains(list, c), "check %s listed:\n%s", c, list)
	}
	mustDaggerCmd(t, long, "check")
}
