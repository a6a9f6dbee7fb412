package report

import (
	"strings"
	"testing"

	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"
)

func f(v float64) *float64 { return &v }

func entry(target, mode string) Entry {
	return Entry{
		Target: target, Mode: mode, Artifact: "dist/" + target + "/" + mode + "/peft_engine",
		SizeBytes: 14_900_000, SHA256: "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
		StartupMS: f(812.4), GlibcFloor: "2.36", RuntimeGlibc: "2.36",
		Python: "3.11.2", PyInstaller: "6.22.2",
		Packages:      map[string]string{"python3-uvicorn": "0.17.6-1", "python3-fastapi": "0.92.0-1"},
		HiddenImports: []string{"services.users", "connectors.csv_export"},
		DurationMS:    41000,
		Checks:        []Check{{Name: "exists", OK: true, Detail: "onefile"}, {Name: "imports", OK: true}},
		Builder:       "dagger",
	}
}

func sample() Report {
	r := New()
	arm := entry("linux/arm64", "onefile")
	arm.Emulated, arm.StartupMS = true, f(40_100)
	r.Add(arm)
	r.Add(entry("linux/amd64", "onefile"))
	dir := entry("linux/amd64", "onedir")
	dir.StartupMinMS, dir.StartupMaxMS = f(701), f(1757)
	r.Add(dir)
	return r
}

func keys(r Report) []string {
	var out []string
	for _, e := range r.Entries {
		out = append(out, e.key())
	}
	return out
}

func TestAddSorts(t *testing.T) {
	r := sample()
	assert.DeepEqual(t, keys(r), []string{"linux/amd64 onedir", "linux/amd64 onefile", "linux/arm64 onefile"})
	assert.DeepEqual(t, r.Entries[0].HiddenImports, []string{"connectors.csv_export", "services.users"})
}

func TestJSONRoundTrip(t *testing.T) {
	r := sample()
	b, err := r.JSON()
	assert.NilError(t, err)
	assert.Assert(t, strings.HasSuffix(string(b), "}\n"))
	back, err := Parse(b)
	assert.NilError(t, err)
	assert.DeepEqual(t, back, r)
	b2, err := back.JSON()
	assert.NilError(t, err)
	assert.Equal(t, string(b2), string(b), "byte-identical after a round trip")
}

func TestJSONDeterministic(t *testing.T) {
	// the same entries added in another order give the same bytes
	a := sample()
	var b Report
	b = New()
	for i := len(a.Entries) - 1; i >= 0; i-- {
		b.Add(a.Entries[i])
	}
	ja, _ := a.JSON()
	jb, _ := b.JSON()
	assert.Equal(t, string(ja), string(jb))

	s := string(ja)
	order := []string{`"tool"`, `"version"`, `"entries"`, `"target"`, `"mode"`, `"artifact"`, `"size_bytes"`, `"sha256"`,
		`"startup_ms"`, `"startup_min_ms"`, `"startup_max_ms"`, `"emulated"`, `"glibc_floor"`, `"runtime_glibc"`, `"python"`,
		`"pyinstaller"`, `"packages"`, `"hidden_imports"`, `"duration_ms"`, `"checks"`, `"builder"`}
	last := -1
	for _, k := range order {
		i := strings.Index(s, k)
		assert.Assert(t, i > last, "%s out of order", k)
		last = i
	}
	assert.Assert(t, strings.Index(s, `"python3-fastapi"`) < strings.Index(s, `"python3-uvicorn"`), "map keys sorted")
	assert.Assert(t, !strings.Contains(s, "time\""), "no generation time in the report")
}

func TestJSONEmpty(t *testing.T) {
	b, err := Report{Tool: "pybundle"}.JSON()
	assert.NilError(t, err)
	assert.Equal(t, string(b), "{\n  \"tool\": \"pybundle\",\n  \"version\": \"\",\n  \"entries\": []\n}\n")
	// a measurement that did not happen is null, not 0
	e := entry("linux/amd64", "onefile")
	e.StartupMS = nil
	b, _ = (&Report{Entries: []Entry{e}}).JSON()
	assert.Assert(t, is.Contains(string(b), `"startup_ms": null`))
	assert.Assert(t, !strings.Contains(string(b), "startup_min_ms"))
}

func TestMerge(t *testing.T) {
	linux := sample()
	mac := New()
	m := entry("darwin/arm64", "onedir")
	m.Builder = "runner:mac-mini"
	mac.Add(m)

	got, err := Merge(linux, mac)
	assert.NilError(t, err)
	assert.DeepEqual(t, keys(got), []string{"darwin/arm64 onedir", "linux/amd64 onedir", "linux/amd64 onefile", "linux/arm64 onefile"})
	assert.Equal(t, len(linux.Entries), 3, "inputs untouched")

	for _, tc := range []struct {
		name string
		b    Report
		err  string
	}{
		{"duplicate", func() Report {
			d := New()
			e := entry("linux/amd64", "onefile")
			e.Builder = "runner:ubuntu-22"
			d.Add(e)
			return d
		}(), `duplicate entry for target linux/amd64 mode onefile (builders "dagger" and "runner:ubuntu-22")`},
		{"version", Report{Tool: "pybundle", Version: "0.0.9"}, `cannot merge version "` + ToolVersion + `" with version "0.0.9"`},
		{"tool", Report{Tool: "other", Version: ToolVersion}, `not a pybundle report (tool "other"`},
		// Found by review: a report without tool/version merged with any version.
		{"no version", Report{Tool: "pybundle"}, `not a pybundle report (tool "pybundle", version "")`},
		{"nothing", Report{}, `not a pybundle report`},
		// Found by review: Linux/AMD64 and linux/amd64 became two entries.
		{"spelling", func() Report {
			d := New()
			d.Add(entry("Linux/AMD64", "onefile"))
			return d
		}(), `duplicate entry for target linux/amd64 mode onefile`},
	} {
		_, err := Merge(linux, tc.b)
		assert.ErrorContains(t, err, tc.err, tc.name)
	}

	got, err = Merge(New(), mac)
	assert.NilError(t, err)
	assert.Equal(t, got.Version, ToolVersion)
}

func TestParse(t *testing.T) {
	_, err := Parse([]byte(`{"entries": [`))
	assert.ErrorContains(t, err, "report:")
	head := `{"tool": "pybundle", "version": "` + ToolVersion + `", `
	_, err = Parse([]byte(head + `"entries": [{"target": "linux/amd64", "mode": "onefile"}, {"target": "linux/amd64", "mode": "onefile"}]}`))
	assert.ErrorContains(t, err, "duplicate entry for target linux/amd64 mode onefile")
	_, err = Parse([]byte(`{"entries": []}`))
	assert.ErrorContains(t, err, "not a pybundle report")
	_, err = Parse([]byte(head + `"entries": [{"target": "linux/riscv64", "mode": "onefile"}]}`))
	assert.ErrorContains(t, err, `entry "linux/riscv64"`)
	r, err := Parse([]byte(head + `"future_field": 1, "entries": [{"target": "windows/amd64", "mode": "onedir"}, {"target": "Linux/x86_64", "mode": "onefile"}]}`))
	assert.NilError(t, err)
	assert.DeepEqual(t, keys(r), []string{"linux/amd64 onefile", "windows/amd64 onedir"})
}

func TestTable(t *testing.T) {
	r := sample()
	failed := entry("linux/amd64", "onefile")
	failed.Target = "linux/riscv64"
	failed.StartupMS, failed.GlibcFloor = nil, ""
	failed.Checks = append(failed.Checks, Check{Name: "glibc", OK: false, Detail: "needs 2.38"})
	r.Add(failed)

	lines := strings.Split(strings.TrimSuffix(r.Table(), "\n"), "\n")
	assert.Equal(t, len(lines), 5)
	assert.Equal(t, strings.Join(strings.Fields(lines[0]), " "), "TARGET MODE SIZE SHA256 STARTUP GLIBC PYTHON PYINSTALLER CHECKS")
	for _, want := range []string{
		"linux/amd64 onedir 14.2 MiB 0123456789ab 812 ms 2.36 3.11.2 6.22.2 2/2 ok",
		"linux/amd64 onefile 14.2 MiB 0123456789ab 812 ms 2.36 3.11.2 6.22.2 2/2 ok",
		"linux/arm64 onefile 14.2 MiB 0123456789ab 40.1 s (emulated) 2.36 3.11.2 6.22.2 2/2 ok",
		"linux/riscv64 onefile 14.2 MiB 0123456789ab - - 3.11.2 6.22.2 2/3 FAIL: glibc",
	} {
		assert.Assert(t, is.Contains(collapse(lines), want))
	}
	// aligned: every column starts at the same offset on every line
	col := strings.Index(lines[0], "SHA256")
	for _, l := range lines[1:] {
		assert.Equal(t, l[col:col+12], "0123456789ab", "line %q", l)
	}
	assert.Assert(t, !r.OK())
}

func collapse(lines []string) []string {
	var out []string
	for _, l := range lines {
		out = append(out, strings.Join(strings.Fields(l), " "))
	}
	return out
}

// The package stage's results survive a JSON round trip and a merge (a runner's report merged
// into the Linux one keeps both sides' package checks).
func TestPackagesRoundTripAndMerge(t *testing.T) {
	a := Report{Tool: "pybundle", Version: ToolVersion, Packages: []Package{{Target: "linux/amd64", Name: "x.deb", Kind: "deb", Checks: []Check{{Name: "mode", OK: true}}}}}
	b := Report{Tool: "pybundle", Version: ToolVersion, Packages: []Package{{Target: "windows/amd64", Name: "x.exe", Kind: "nsis"}}}
	m, err := Merge(a, b)
	if err != nil {
		t.Fatal(err)
	}
	js, err := m.JSON()
	if err != nil {
		t.Fatal(err)
	}
	back, err := Parse(js)
	if err != nil {
		t.Fatal(err)
	}
	if len(back.Packages) != 2 || back.Packages[0].Name != "x.deb" || back.Packages[1].Kind != "nsis" {
		t.Fatalf("packages lost: %+v", back.Packages)
	}
	if !back.OK() {
		t.Fatal("all package checks passed")
	}
	back.Packages[0].Checks[0].OK = false
	if back.OK() {
		t.Fatal("a failed package check must fail the report")
	}
}

// Found by review: an entry with "checks": null or [] vouched for its backend.
func TestEntryWithoutChecksIsNotOK(t *testing.T) {
	e := entry("linux/amd64", "onedir")
	assert.Assert(t, e.OK())
	e.Checks = nil
	assert.Assert(t, !e.OK(), "null checks")
	e.Checks = []Check{}
	assert.Assert(t, !e.OK(), "no checks")
	r := New()
	r.Add(e)
	assert.Assert(t, !r.OK())
}
