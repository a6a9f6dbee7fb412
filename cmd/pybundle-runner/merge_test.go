package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gotest.tools/v3/assert"

	"github.com/pybundle/pybundle/pipeline/report"
)

func writeReportFile(t *testing.T, dir, name string, r report.Report) string {
	t.Helper()
	js, err := r.JSON()
	assert.NilError(t, err)
	p := filepath.Join(dir, name)
	assert.NilError(t, os.WriteFile(p, js, 0o644))
	return p
}

func entryFor(target, builder string, ok bool) report.Entry {
	ms := 700.0
	return report.Entry{Target: target, Mode: "onedir", Artifact: strings.ReplaceAll(target, "/", "-") + "/peft_engine/peft_engine",
		SizeBytes: 15 << 20, SHA256: "ab", StartupMS: &ms, Python: "3.13.5", PyInstaller: "6.22.2", Builder: builder,
		Checks: []report.Check{{Name: "exists", OK: true}, {Name: "health", OK: ok, Detail: "x"}}}
}

func TestMergeReports(t *testing.T) {
	dir := t.TempDir()
	linux := report.Report{Tool: "pybundle", Version: report.ToolVersion,
		Packages: []report.Package{{Target: "linux/amd64", Name: "peft-desktop_0.1.0_amd64.deb", Kind: "deb", Checks: []report.Check{{Name: "backend", OK: true}}}}}
	linux.Add(entryFor("linux/arm64", "dagger:debian", true))
	linux.Add(entryFor("linux/amd64", "dagger:debian", true))
	mac := report.Report{Tool: "pybundle", Version: report.ToolVersion}
	mac.Add(entryFor("darwin/arm64", "runner:mac-14", true))
	win := report.Report{Tool: "pybundle", Version: report.ToolVersion}
	win.Add(entryFor("windows/amd64", "runner:win", true))
	files := []string{
		writeReportFile(t, dir, "linux.json", linux),
		writeReportFile(t, dir, "mac.json", mac),
		writeReportFile(t, dir, "win.json", win),
	}
	summary := filepath.Join(dir, "summary.txt")

	a, stdout, stderr := testApp("linux", "amd64")
	code := a.run(context.Background(), append([]string{"merge-reports", "--summary", summary}, files...))
	assert.Equal(t, code, exitPass, stderr.String())
	merged, err := report.Parse(stdout.Bytes())
	assert.NilError(t, err)
	var targets []string
	for _, e := range merged.Entries {
		targets = append(targets, e.Target+" "+e.Builder)
	}
	assert.DeepEqual(t, targets, []string{"darwin/arm64 runner:mac-14", "linux/amd64 dagger:debian", "linux/arm64 dagger:debian", "windows/amd64 runner:win"})
	assert.Equal(t, len(merged.Packages), 1)
	table, err := os.ReadFile(summary)
	assert.NilError(t, err)
	assert.Assert(t, strings.Contains(string(table), "windows/amd64"), string(table))
	// Deterministic: the merged output is canonical JSON.
	want, _ := merged.JSON()
	assert.Equal(t, stdout.String(), string(want))
}

func TestMergeReportsErrors(t *testing.T) {
	dir := t.TempDir()
	mac := report.Report{Tool: "pybundle", Version: report.ToolVersion}
	mac.Add(entryFor("darwin/arm64", "runner:a", true))
	mac2 := report.Report{Tool: "pybundle", Version: report.ToolVersion}
	mac2.Add(entryFor("darwin/arm64", "runner:b", true))
	old := report.Report{Tool: "pybundle", Version: "0.0.9"}
	old.Add(entryFor("windows/amd64", "runner:w", true))
	failed := report.Report{Tool: "pybundle", Version: report.ToolVersion}
	failed.Add(entryFor("windows/amd64", "runner:w", false))
	a1 := writeReportFile(t, dir, "a.json", mac)
	a2 := writeReportFile(t, dir, "b.json", mac2)
	o := writeReportFile(t, dir, "old.json", old)
	f := writeReportFile(t, dir, "failed.json", failed)
	garbage := filepath.Join(dir, "garbage.json")
	assert.NilError(t, os.WriteFile(garbage, []byte("{not json"), 0o644))

	for _, tc := range []struct {
		files []string
		code  int
		want  string
	}{
		{[]string{a1, a2}, exitFail, `b.json: report: duplicate entry for target darwin/arm64 mode onedir (builders "runner:a" and "runner:b")`},
		{[]string{a1, o}, exitFail, `old.json: report: cannot merge version "` + report.ToolVersion + `" with version "0.0.9"`},
		{[]string{a1, garbage}, exitFail, "garbage.json: report:"},
		{[]string{a1, filepath.Join(dir, "missing.json")}, exitFail, "missing.json: no such file or directory"},
		{[]string{a1, f}, exitFail, "the merged report has failed checks: windows/amd64 onedir"},
	} {
		a, _, stderr := testApp("linux", "amd64")
		code := a.run(context.Background(), append([]string{"merge-reports"}, tc.files...))
		assert.Equal(t, code, tc.code, tc.want)
		assert.Assert(t, strings.Contains(stderr.String(), tc.want), "want %q in %s", tc.want, stderr)
	}
}
