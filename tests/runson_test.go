package tests

import (
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"
)

// TestRuntimeMatrix is issue 14's offline proof for the Debian builder: the sample built on
// trixie is started on Debian 11, 12 and 13 runtimes (the default matrix, served offline by
// ci/engine under the public names). It is healthy on 13 and reported — not crashed, not a
// failed build — on 11 and 12, each row naming the newest glibc symbol version the first file
// needs and lacks, what holds the floor (GLIBC_2.38: with the default static bootloader the
// executable itself, which carries libpython, then pydantic's _pydantic_core and the other
// libraries built on trixie), and the loader's own message. verify on one of those runtimes
// alone says the same.
func TestRuntimeMatrix(t *testing.T) {
	requireEngine(t)
	t.Parallel()
	out := filepath.Join(t.TempDir(), "dist")
	mustDagger(t, long, "build", "--source", "testdata/backend", "export", "--path", out)

	e := onlyEntry(t, out)
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
			// What holds the floor, statically: the executable first (libpython is linked into
			// the static bootloader, so no libpython3.13.so ships), pydantic's core among them.
			assert.Equal(t, r.Floor, "GLIBC_2.38", "%+v", r)
			var floor []string
			for _, f := range r.FloorFrom {
				floor = append(floor, path.Base(f))
			}
			assert.Assert(t, len(floor) > 0)
			assert.Check(t, is.Equal(floor[0], "peft_engine"), "the executable first: %v", floor)
			assert.Check(t, !slices.ContainsFunc(floor, func(f string) bool { return strings.HasPrefix(f, "libpython") }), "no shared libpython: %v", floor)
			assert.Check(t, slices.ContainsFunc(floor, func(f string) bool { return strings.HasPrefix(f, "_pydantic_core.") }), "pydantic's core named: %v", floor)
			// Where a start stops, statically: both runtimes stop at the executable, which needs
			// GLIBC_2.38 at the newest (Debian 11 lacks GLIBC_2.34 too; the row names the newest).
			assert.Check(t, is.Equal(r.Missing, "GLIBC_2.38"))
			assert.Check(t, is.Equal(path.Base(r.MissingFrom), "peft_engine"))
			// The real start proves it: the loader's own words. It stops at the first version
			// it looks up and lacks (the order of the executable's version needs, not the
			// newest), so the test asks for one newer than the runtime's glibc.
			assert.Check(t, is.Contains(r.Detail, "the start: "))
			m := loaderMissing.FindStringSubmatch(r.Detail)
			assert.Assert(t, m != nil, "the loader's message: %s", r.Detail)
			assert.Check(t, newerGlibc(m[1], r.Glibc), "the loader names GLIBC_%s, not newer than %s: %s", m[1], r.Glibc, r.Detail)
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
		return strings.HasPrefix(l, "linux/amd64 onedir Debian 11 (bullseye) 2.31 no: needs GLIBC_2.38 (peft_engine, ")
	}), string(summary))
	assert.Check(t, slices.ContainsFunc(lines, func(l string) bool {
		return strings.HasPrefix(l, "linux/amd64 onedir Debian 12 (bookworm) 2.36 no: needs GLIBC_2.38 (peft_engine, ")
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

// loaderMissing finds the version the dynamic loader names when a start stops on a glibc too old.
var loaderMissing = regexp.MustCompile("version `GLIBC_([0-9.]+)' not found")

// newerGlibc reports whether glibc version a ("2.38") is newer than b ("2.36").
func newerGlibc(a, b string) bool {
	num := func(v string) (n [2]int) {
		for i, f := range strings.SplitN(v, ".", 2) {
			n[i], _ = strconv.Atoi(f)
		}
		return n
	}
	x, y := num(a), num(b)
	return x[0] > y[0] || x[0] == y[0] && x[1] > y[1]
}
