package main

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gotest.tools/v3/assert"

	"github.com/pybundle/pybundle/pipeline/diagnose"
	"github.com/pybundle/pybundle/pipeline/health"
	"github.com/pybundle/pybundle/pipeline/report"
	"github.com/pybundle/pybundle/pipeline/spec"
	"github.com/pybundle/pybundle/pipeline/target"
	"github.com/pybundle/pybundle/pipeline/verify"
)

// verifyChecks is what verify.Run returns for a good bundle with PythonSearchDirs = [].
func verifyChecks() []verify.Check {
	return []verify.Check{
		{Name: verify.CheckExists, OK: true, Detail: "onedir: peft_engine in /o/dist/x/peft_engine"},
		{Name: verify.CheckExecutable, OK: true, Detail: "mode -rwxr-xr-x"},
		{Name: verify.CheckSize, OK: true, Detail: "14.2 MiB"},
		{Name: verify.CheckNoPython, OK: true, Detail: "no python, python3 or python3.x in "},
		{Name: verify.CheckImports, OK: true, Detail: "imported 9 module(s) in frozen Python 3.13.5"},
		{Name: verify.CheckGlibc, OK: true, Detail: "no GLIBC_x.y needs in 41 file(s)"},
	}
}

func TestNativeChecks(t *testing.T) {
	for _, goos := range []string{"linux", "darwin", "windows"} {
		got := nativeChecks(goos, verifyChecks())
		assert.Equal(t, len(got), 6, goos)
		assert.DeepEqual(t, got[3], report.Check{Name: "no-python", OK: true, Detail: "skipped: native runner: Python present by design"})
		assert.DeepEqual(t, got[:3], verifyChecks()[:3])
		assert.DeepEqual(t, got[4], verifyChecks()[4])
		if goos == "linux" {
			assert.DeepEqual(t, got[5], verifyChecks()[5])
		} else {
			assert.Equal(t, got[5].Detail, "no GLIBC_x.y needs in 41 file(s) ("+goos+" executables are not ELF: no glibc involved)")
			assert.Assert(t, got[5].OK)
		}
	}

	// A no-python check that found Python (verify given other dirs) is still recorded skipped:
	// on a runner the check has no meaning either way.
	got := nativeChecks("darwin", []verify.Check{{Name: verify.CheckNoPython, OK: false, Detail: "Python interpreter present at /usr/bin/python3"}})
	assert.DeepEqual(t, got, []report.Check{{Name: "no-python", OK: true, Detail: NoPythonSkipped}})

	// Windows: verify's execute-bit check cannot pass; the detail names the limitation.
	winExec := []verify.Check{
		{Name: verify.CheckExists, OK: true, Detail: "onedir"},
		{Name: verify.CheckExecutable, OK: false, Detail: `D:\o\peft_engine.exe: mode -rw-rw-rw- has no execute bit (lost when copied or exported?)`},
	}
	got = nativeChecks("windows", winExec)
	assert.Equal(t, got[1].OK, false)
	assert.Assert(t, strings.Contains(got[1].Detail, "Windows has no execute bit"), got[1].Detail)
	assert.Assert(t, strings.Contains(got[1].Detail, "pipeline/verify must judge Windows executables by their .exe name"), got[1].Detail)
	assert.Equal(t, nativeChecks("linux", winExec)[1].Detail, winExec[1].Detail, "elsewhere a missing bit is the bundle's fault")
}

func TestHealthCheck(t *testing.T) {
	assert.DeepEqual(t, healthCheck(nil, true), report.Check{Name: "health", OK: true, Detail: "skipped: --skip-health"})
	assert.DeepEqual(t, healthCheck(nil, false), report.Check{Name: "health", OK: false, Detail: "not run: verify failed"})
	assert.DeepEqual(t, healthCheck(&health.Result{OK: true, MedianMS: 812.4, BudgetMS: 5000}, false),
		report.Check{Name: "health", OK: true, Detail: "first 200 after 812 ms (budget 5000 ms)"})
	assert.DeepEqual(t, healthCheck(&health.Result{OK: false, Reason: "backend exited with code 3 during start-up"}, false),
		report.Check{Name: "health", OK: false, Detail: "backend exited with code 3 during start-up"})
}

func TestMakeEntry(t *testing.T) {
	tg := target.Target{OS: "darwin", Arch: "arm64"}
	o := spec.Options{Target: tg, HiddenImports: []string{"services.users"}}.WithDefaults()
	l := newLayout("/o", tg, o.Name, o.Mode)
	vr := verify.Result{OK: true, Checks: verifyChecks(), SizeBytes: 14_900_000, SHA256: "ab12", Python: "3.13.5"}
	hr := &health.Result{OK: true, Runs: []health.Run{{StartupMS: 640.2}}, MedianMS: 640.2, BudgetMS: 5000}
	e := makeEntry(entryInput{GOOS: "darwin", Target: tg, Options: o, Layout: l, Verify: vr, Health: hr,
		PyInstaller: "6.22.2", Packages: map[string]string{"python": "3.13.5"}, Duration: 93 * time.Second, Host: "mac-14"})
	assert.Equal(t, e.Target, "darwin/arm64")
	assert.Equal(t, e.Mode, "onedir")
	assert.Equal(t, e.Artifact, "darwin-arm64/peft_engine/peft_engine")
	assert.Equal(t, e.SizeBytes, int64(14_900_000))
	assert.Equal(t, e.SHA256, "ab12")
	assert.Equal(t, *e.StartupMS, 640.2)
	assert.Equal(t, e.Emulated, false)
	assert.Equal(t, e.GlibcFloor, "")
	assert.Equal(t, e.Python, "3.13.5")
	assert.Equal(t, e.PyInstaller, "6.22.2")
	assert.Equal(t, e.DurationMS, int64(93_000))
	assert.Equal(t, e.Builder, "runner:mac-14")
	assert.DeepEqual(t, e.HiddenImports, o.HiddenImports)
	assert.Equal(t, len(e.Checks), 7)
	assert.Equal(t, e.Checks[6].Name, "health")
	assert.Assert(t, e.OK())

	// Skipped health: no start-up time, a passing "skipped" check.
	e = makeEntry(entryInput{GOOS: "linux", Target: tg, Options: o, Layout: l, Verify: vr, HealthSkipped: true, Host: "h"})
	assert.Assert(t, e.StartupMS == nil)
	assert.DeepEqual(t, e.Checks[6], report.Check{Name: "health", OK: true, Detail: "skipped: --skip-health"})
}

func TestEntryError(t *testing.T) {
	ok := report.Entry{Target: "darwin/arm64", Artifact: "darwin-arm64/peft_engine/peft_engine",
		Checks: []report.Check{{Name: "exists", OK: true}, {Name: "health", OK: true}}}
	assert.NilError(t, entryError(ok, nil))

	bad := ok
	bad.Checks = []report.Check{{Name: "exists", OK: true}, {Name: "imports", OK: false, Detail: "services.billing: No module named 'services.billing'"}, {Name: "health", OK: false, Detail: "not run: verify failed"}}
	assert.Error(t, entryError(bad, nil), "verify darwin/arm64: darwin-arm64/peft_engine/peft_engine: check imports failed: services.billing: No module named 'services.billing'")

	hbad := ok
	hbad.Checks = []report.Check{{Name: "exists", OK: true}, {Name: "health", OK: false, Detail: "backend exited with code 3 during start-up"}}
	err := entryError(hbad, &health.Result{LogTail: []string{"RuntimeError: database schema version 7 is newer than this backend supports (5)"}})
	assert.Error(t, err, "health darwin/arm64: darwin-arm64/peft_engine/peft_engine: backend exited with code 3 during start-up\n"+
		"  last output:\n    RuntimeError: database schema version 7 is newer than this backend supports (5)")
	var de *diagnose.Error
	assert.Assert(t, errors.As(err, &de))
	assert.Equal(t, de.Stage, "health")
}

func TestCompileErrorWindowsPath(t *testing.T) {
	out := "Traceback (most recent call last):\n" +
		`  File "D:\a\app\out\work\src\services\users.py", line 12` + "\n" +
		"    def f(\n" +
		"SyntaxError: '(' was never closed\n"
	e := compileError("windows/amd64", `D:\a\app\out\work\src`, out)
	assert.Equal(t, e.File, "services/users.py")
	assert.Equal(t, e.Line, 12)
	assert.Error(t, error(e), "compile windows/amd64: services/users.py:12: SyntaxError: '(' was never closed\n  last output:\n"+
		"    Traceback (most recent call last):\n"+
		`      File "D:\a\app\out\work\src\services\users.py", line 12`+"\n"+
		"        def f(\n"+
		"    SyntaxError: '(' was never closed")
}

func TestCompileEnv(t *testing.T) {
	env := compileEnv([]string{"PATH=/bin", "PYTHONHASHSEED=random"})
	assert.DeepEqual(t, env, []string{"PATH=/bin", "PYTHONHASHSEED=random", "PYTHONHASHSEED=0", "SOURCE_DATE_EPOCH=315532800", "PYTHONDONTWRITEBYTECODE=1"})
}

func TestPyInstallerArgs(t *testing.T) {
	l := newLayout("/o", target.Target{OS: "darwin", Arch: "arm64"}, "peft_engine", spec.OneDir)
	v := venv{Dir: "/o/.venv", GOOS: "darwin"}
	f := filepath.FromSlash
	assert.DeepEqual(t, pyinstallerArgs(v, l, "peft_engine.spec"), []string{
		f("/o/.venv/bin/python"), "-m", "PyInstaller", "--noconfirm", "--clean", "--log-level", "WARN",
		"--distpath", f("/o/dist/darwin-arm64"), "--workpath", f("/o/work/build"), "peft_engine.spec"})
}
