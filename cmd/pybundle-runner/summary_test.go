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

// summary prints the same tables as summary.txt, or with --markdown the Markdown the
// workflows append to $GITHUB_STEP_SUMMARY, every value escaped; a report with a failed check
// is shown (exit 0), an unreadable one is an error (exit 1), no file a usage error (exit 2).
func TestSummary(t *testing.T) {
	dir := t.TempDir()
	linux := report.Report{Tool: "pybundle", Version: report.ToolVersion,
		Packages: []report.Package{{Target: "linux/amd64", Name: "evil|name<script>`x`\n| injected |", Kind: "deb",
			Checks: []report.Check{{Name: "backend", OK: true}}}}}
	linux.Add(entryFor("linux/amd64", "dagger:debian", true))
	linux.Add(entryFor("linux/arm64", "dagger:debian", false))
	win := report.Report{Tool: "pybundle", Version: report.ToolVersion}
	win.Add(entryFor("windows/amd64", "runner:win", true))
	lf := writeReportFile(t, dir, "linux.json", linux)
	wf := writeReportFile(t, dir, "win.json", win)
	garbage := filepath.Join(dir, "garbage.json")
	assert.NilError(t, os.WriteFile(garbage, []byte("{not json"), 0o644))
	big := filepath.Join(dir, "big.json")
	assert.NilError(t, os.WriteFile(big, make([]byte, report.MaxSize+1), 0o644))
	// Parsed as report.Parse puts it: canonical order.
	linux, err := report.Parse([]byte(mustJSON(t, linux)))
	assert.NilError(t, err)

	for _, tc := range []struct {
		name   string
		args   []string
		code   int
		stdout string
		stderr string
	}{
		{"text", []string{lf}, exitPass, linux.Table(), ""},
		{"markdown", []string{"--markdown", lf}, exitPass, linux.Markdown(), ""},
		{"several", []string{"--markdown", lf, wf}, exitPass, linux.Markdown() + "\n" + win.Markdown(), ""},
		{"no file", nil, exitUsage, "", "summary: give the report.json files to summarise"},
		{"flag after file", []string{lf, "--markdown"}, exitFail, "", "summary: open --markdown: no such file or directory"},
		{"unknown flag", []string{"--html", lf}, exitUsage, "", "flag provided but not defined: -html"},
		{"garbage", []string{"--markdown", lf, garbage}, exitFail, "", "summary: " + garbage + ": report:"},
		{"missing", []string{filepath.Join(dir, "missing.json")}, exitFail, "", "missing.json: no such file or directory"},
		{"too big", []string{big}, exitFail, "", "big.json: larger than 16 MiB"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, stdout, stderr := testApp("linux", "amd64")
			code := a.run(context.Background(), append([]string{"summary"}, tc.args...))
			assert.Equal(t, code, tc.code, stderr.String())
			assert.Equal(t, stdout.String(), tc.stdout)
			assert.Assert(t, strings.Contains(stderr.String(), tc.stderr), "want %q in %s", tc.stderr, stderr)
		})
	}

	// The hostile package name stays in its cell: every row of the package table has five cells.
	a, stdout, _ := testApp("linux", "amd64")
	assert.Equal(t, a.run(context.Background(), []string{"summary", "--markdown", lf}), exitPass)
	md := stdout.String()
	assert.Assert(t, strings.Contains(md, "| linux/arm64 | onedir | 15.0 MiB | ab | 700 ms | - | 3.13.5 | 6.22.2 | 1/2 FAIL: health |"), md)
	assert.Assert(t, strings.Contains(md, "| linux/amd64 | evil\\|name&lt;script&gt;\\`x\\` \\| injected \\| | deb | - | 1/1 ok |"), md)
	assert.Assert(t, !strings.Contains(md, "<"), md)
}

func mustJSON(t *testing.T, r report.Report) string {
	t.Helper()
	js, err := r.JSON()
	assert.NilError(t, err)
	return string(js)
}
