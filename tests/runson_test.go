package tests

import (
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"

	"github.com/pybundle/pybundle/pipeline/report"
)

// TestRuntimeMatrix is issue 14's offline proof for the Debian builder: the sample built on
// trixie is started on Debian 11, 12 and 13 runtimes (the default matrix, served offline by
// ci/engine under the public names). It is healthy on 13 and reported — not crashed, not a
// failed build — on 11 and 12, each row naming the first glibc symbol version the runtime lacks
// and the file needing it (Debian 11: the bootloader's GLIBC_2.34; Debian 12: libpython's
// GLIBC_2.38), what holds the floor (GLIBC_2.38: the bundled libpython, pydantic's
// _pydantic_core and the other libraries built on trixie), and the loader's own message.
// verify on one of those runtimes alone says the same.
func TestRuntimeMatrix(t *testing.T) {
	requireEngine(t)
	t.Parallel()
	out := filepath.Join(t.TempDir(), "dist")
	mustDagger(t, long, "build", "--source", "testdata/backend", "export", "--path", out)

	b, err := os.ReadFile(filepath.Join(out, "report.json"))
	assert.NilError(t, err)
	rep, err := report.Parse(b)
	assert.NilError(t, err)
	assert.Equal(t, len(rep.Entries), 1)
	e := rep.Entries[0]
	assert.Check(t, e.OK(), "older runtimes failing is no failed check: %+v", e.Checks)

	var rows []string
	for _, r := range e.RunsOn {
		rows = append(rows, r.Runtime+" "+r.Glibc)
	}
	assert.DeepEqual(t, rows, []string{"debian:bullseye-slim 2.31", "debian:bookworm-slim 2.36", "debian:trixie-slim 2.41"})
	names := []string{"Debian 11 (bullseye)", "Debian 12 (bookworm)", "Debian 13 (trixie)"}
	for i, r := range e.RunsOn {
		t.Run(r.Runtime, func(t *testing.T) {
			assert.Equal(t, r.Name, names[i], "named from the runtime's os-release")
			if r.Runtime == "debian:trixie-slim" {
				assert.Check(t, r.OK && r.Required, "%+v", r)
				assert.Check(t, r.StartupMS != nil && *r.StartupMS > 0)
				assert.Equal(t, *r.StartupMS, *e.StartupMS, "the base's row is the build's own health")
				return
			}
			assert.Check(t, !r.OK && !r.Required && r.Skipped == "", "%+v", r)
			// What holds the floor, statically: libpython first, pydantic's core among them.
			assert.Equal(t, r.Floor, "GLIBC_2.38", "%+v", r)
			var floor []string
			for _, f := range r.FloorFrom {
				floor = append(floor, path.Base(f))
			}
			assert.Assert(t, len(floor) > 0)
			assert.Check(t, strings.HasPrefix(floor[0], "libpython3.13.so"), "libpython first: %v", floor)
			assert.Check(t, slices.ContainsFunc(floor, func(f string) bool { return strings.HasPrefix(f, "_pydantic_core.") }), "pydantic's core named: %v", floor)
			// Where a start stops, statically: Debian 11 lacks even the bootloader's GLIBC_2.34,
			// Debian 12 has that and stops at libpython.
			want := map[string][2]string{"debian:bullseye-slim": {"GLIBC_2.34", "peft_engine"}, "debian:bookworm-slim": {"GLIBC_2.38", "libpython3.13.so.1.0"}}[r.Runtime]
			assert.Check(t, is.Equal(r.Missing, want[0]))
			assert.Check(t, is.Equal(path.Base(r.MissingFrom), want[1]))
			// The real start proves it: the loader's own words, the same version.
			assert.Check(t, is.Contains(r.Detail, "the start: "))
			assert.Check(t, is.Contains(r.Detail, "version `"+r.Missing+"' not found"), r.Detail)
		})
	}

	summary, err := os.ReadFile(filepath.Join(out, "summary.txt"))
	assert.NilError(t, err)
	var lines []string
	for _, l := range strings.Split(string(summary), "\n") {
		lines = append(lines, strings.Join(strings.Fields(l), " "))
	}
	assert.Check(t, is.Contains(lines, "TARGET MODE RUNS ON GLIBC RESULT"), string(summary))
	assert.Check(t, slices.ContainsFunc(lines, func(l string) bool {
		return strings.HasPrefix(l, "linux/amd64 onedir Debian 11 (bullseye) 2.31 no: needs GLIBC_2.34 (peft_engine) first, GLIBC_2.38 (libpython3.13.so.1.0, ")
	}), string(summary))
	assert.Check(t, slices.ContainsFunc(lines, func(l string) bool {
		return strings.HasPrefix(l, "linux/amd64 onedir Debian 12 (bookworm) 2.36 no: needs GLIBC_2.38 (libpython3.13.so.1.0, ")
	}), string(summary))
	assert.Check(t, slices.ContainsFunc(lines, func(l string) bool {
		return strings.HasPrefix(l, "linux/amd64 onedir Debian 13 (trixie) 2.41 ok, ")
	}), string(summary))

	// verify on one runtime of the matrix, as an engineer reproducing a row would.
	r := dagger(t, long, "verify", "--dist", filepath.Join(out, "linux-amd64"), "--runtime", "debian:bookworm-slim")
	assert.Check(t, r.Code != 0, "the bundle does not run on Debian 12")
	msg := errorLine(r.Stderr)
	assert.Check(t, is.Contains(msg, "verify linux/amd64: peft_engine/peft_engine:"))
	assert.Check(t, is.Contains(msg, "GLIBC_2.38"))
}
