package report

import (
	"strings"
	"testing"

	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"
)

// matrixSample is sample() with the amd64 onedir entry started on three runtimes: bullseye and
// bookworm too old for its libpython, trixie healthy.
func matrixSample() Report {
	r := sample()
	r.Entries[0].RunsOn = []RunsOn{
		{Runtime: "debian:bullseye-slim", Name: "Debian 11 (bullseye)", Glibc: "2.31", Missing: "GLIBC_2.34", MissingFrom: "peft_engine", Floor: "GLIBC_2.38",
			FloorFrom: []string{"_internal/libpython3.13.so.1.0", "_internal/libcrypto.so.3", "_internal/libssl.so.3", "_internal/pydantic_core/_pydantic_core.cpython-313-x86_64-linux-gnu.so"},
			Detail:    "needs GLIBC_2.34"},
		{Runtime: "debian:bookworm-slim", Name: "Debian 12 (bookworm)", Glibc: "2.36", Missing: "GLIBC_2.38", MissingFrom: "_internal/libpython3.13.so.1.0", Floor: "GLIBC_2.38",
			FloorFrom: []string{"_internal/libpython3.13.so.1.0", "_internal/pydantic_core/_pydantic_core.cpython-313-x86_64-linux-gnu.so"}, Detail: "needs GLIBC_2.38"},
		{Runtime: "debian:trixie-slim", Name: "Debian 13 (trixie)", Glibc: "2.41", OK: true, Required: true, StartupMS: f(812.4), Detail: "healthy after 812 ms"},
	}
	return r
}

// TestRunsOnResult: the RESULT cell of every kind of row.
func TestRunsOnResult(t *testing.T) {
	for _, tc := range []struct {
		name string
		row  RunsOn
		want string
	}{
		{"healthy", RunsOn{OK: true, StartupMS: f(812.4)}, "ok, 812 ms"},
		{"healthy, no time", RunsOn{OK: true}, "ok"},
		{"skipped", RunsOn{Skipped: "emulated target"}, "skipped: emulated target"},
		{"glibc: the first missing is the floor: files by base name", RunsOn{Missing: "GLIBC_2.38", MissingFrom: "_internal/libpython3.13.so.1.0", Floor: "GLIBC_2.38",
			FloorFrom: []string{"_internal/libpython3.13.so.1.0", "_internal/pydantic_core/_pydantic_core.so"}},
			"no: needs GLIBC_2.38 (libpython3.13.so.1.0, _pydantic_core.so)"},
		{"glibc: the executable stops first", RunsOn{Missing: "GLIBC_2.34", MissingFrom: "peft_engine", Floor: "GLIBC_2.38", FloorFrom: []string{"_internal/libpython3.13.so.1.0"}},
			"no: needs GLIBC_2.34 (peft_engine) first, GLIBC_2.38 (libpython3.13.so.1.0)"},
		{"glibc: bounded", RunsOn{Missing: "GLIBC_2.38", MissingFrom: "a.so", Floor: "GLIBC_2.38", FloorFrom: []string{"a.so", "b.so", "c.so", "d.so", "e.so"}},
			"no: needs GLIBC_2.38 (a.so, b.so, c.so and 2 more)"},
		{"another failure: the detail's first line", RunsOn{Detail: "health: backend exited with code 1 during start-up\nlast output: …"},
			"no: health: backend exited with code 1 during start-up"},
		{"another failure: clipped", RunsOn{Detail: strings.Repeat("x", 150)}, "no: " + strings.Repeat("x", 99) + "…"},
		{"no detail", RunsOn{}, "no: failed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.row.Result(), tc.want)
		})
	}
}

// TestTableRunsOn: the runs-on table follows the entries' (unchanged) and precedes the packages.
func TestTableRunsOn(t *testing.T) {
	r := matrixSample()
	text := r.Table()
	blocks := strings.Split(strings.TrimSuffix(text, "\n"), "\n\n")
	assert.Equal(t, len(blocks), 2, text)
	assert.Equal(t, blocks[0]+"\n", sample().Table(), "the entries' table is unchanged")
	assert.DeepEqual(t, collapse(strings.Split(blocks[1], "\n")), []string{
		"TARGET MODE RUNS ON GLIBC RESULT",
		"linux/amd64 onedir Debian 11 (bullseye) 2.31 no: needs GLIBC_2.34 (peft_engine) first, GLIBC_2.38 (libpython3.13.so.1.0, libcrypto.so.3, libssl.so.3 and 1 more)",
		"linux/amd64 onedir Debian 12 (bookworm) 2.36 no: needs GLIBC_2.38 (libpython3.13.so.1.0, _pydantic_core.cpython-313-x86_64-linux-gnu.so)",
		"linux/amd64 onedir Debian 13 (trixie) 2.41 ok, 812 ms",
	})
	// Between the entries and the packages.
	r.Packages = []Package{{Target: "linux/amd64", Name: "x.deb", Kind: "deb", Checks: []Check{{Name: "mode", OK: true}}}}
	blocks = strings.Split(strings.TrimSuffix(r.Table(), "\n"), "\n\n")
	assert.Equal(t, len(blocks), 3)
	assert.Check(t, is.Contains(blocks[1], "RUNS ON"))
	assert.Check(t, is.Contains(blocks[2], "PACKAGE"))
	// A skipped row without a name shows the image.
	r.Entries[2].RunsOn = []RunsOn{{Runtime: "debian:bullseye-slim", Skipped: "emulated target"}}
	assert.Check(t, is.Contains(collapse(strings.Split(r.Table(), "\n")), "linux/arm64 onefile debian:bullseye-slim - skipped: emulated target"))
}

// TestMarkdownRunsOn: the same table in Markdown, escaped; none without rows.
func TestMarkdownRunsOn(t *testing.T) {
	md := matrixSample().Markdown()
	assert.Check(t, is.Contains(md, "\n\n| TARGET | MODE | RUNS ON | GLIBC | RESULT |\n| --- | --- | --- | --- | --- |\n"+
		"| linux/amd64 | onedir | Debian 11 (bullseye) | 2.31 | no: needs GLIBC\\_2.34 (peft\\_engine) first, GLIBC\\_2.38 (libpython3.13.so.1.0, libcrypto.so.3, libssl.so.3 and 1 more) |\n"))
	assert.Check(t, !strings.Contains(sample().Markdown(), "RUNS ON"), "no rows: no table")
}

// Table and Markdown carry the same runs-on facts.
func TestMarkdownMatchesTableRunsOn(t *testing.T) {
	r := matrixSample()
	var text, md []string
	for _, l := range collapse(strings.Split(r.Table(), "\n")) {
		if l != "" {
			text = append(text, l)
		}
	}
	for _, l := range strings.Split(r.Markdown(), "\n") {
		if l == "" || strings.HasPrefix(l, "| --- ") {
			continue
		}
		md = append(md, strings.Join(strings.Fields(strings.Join(splitRow(t, l), " ")), " "))
	}
	assert.DeepEqual(t, md, text)
}

// TestRunsOnJSONRoundTrip: rows survive report.json; an entry without rows writes none.
func TestRunsOnJSONRoundTrip(t *testing.T) {
	r := matrixSample()
	b, err := r.JSON()
	assert.NilError(t, err)
	assert.Check(t, is.Contains(string(b), `"runs_on": [`))
	back, err := Parse(b)
	assert.NilError(t, err)
	assert.DeepEqual(t, back, r)
	// An entry without rows writes none.
	b, err = sample().JSON()
	assert.NilError(t, err)
	assert.Check(t, !strings.Contains(string(b), "runs_on"))
}
