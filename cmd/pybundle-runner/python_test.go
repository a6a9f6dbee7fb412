package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"gotest.tools/v3/assert"
)

func TestParseVersion(t *testing.T) {
	for in, want := range map[string]version{
		"3.13.5":     {3, 13, 5},
		" 3.13.5\n":  {3, 13, 5},
		"3.14.0rc1":  {3, 14, 0},
		"3.13.0a7":   {3, 13, 0},
		"3.13.1+":    {3, 13, 1},
		"3.10":       {3, 10, 0},
		"3.9.18":     {3, 9, 18},
		"3.13.5.dev": {3, 13, 5}, // SplitN keeps ".dev" with the patch: leading digits count
	} {
		got, err := parseVersion(in)
		assert.NilError(t, err, in)
		assert.Equal(t, got, want, in)
	}
	for _, bad := range []string{"", "3", "three.13", "3.x.1", "Python 3.13.5", "-3.13"} {
		_, err := parseVersion(bad)
		assert.ErrorContains(t, err, "not a Python version", bad)
	}
}

func TestParsePin(t *testing.T) {
	for in, want := range map[string]string{"3.13": "3.13", " 3.13.5 ": "3.13.5", "3.10": "3.10", "4.0": "4.0", "3.10.0": "3.10.0"} {
		p, err := parsePin(in)
		assert.NilError(t, err, in)
		assert.Equal(t, p.String(), want, in)
	}
	for in, want := range map[string]string{
		"3.9":      "3.9 is too old: pybundle needs Python 3.10 or newer",
		"3.9.18":   "3.9.18 is too old",
		"2.7":      "2.7 is too old",
		"3":        `"3": want X.Y or X.Y.Z, e.g. 3.13`,
		"3.13.5.1": "want X.Y or X.Y.Z",
		"3.x":      "want X.Y or X.Y.Z",
		"":         "want X.Y or X.Y.Z",
	} {
		_, err := parsePin(in)
		assert.ErrorContains(t, err, want, in)
	}
}

func TestPinMatches(t *testing.T) {
	minor, _ := parsePin("3.13")
	exact, _ := parsePin("3.13.5")
	for _, tc := range []struct {
		p    pin
		v    version
		want bool
	}{
		{minor, version{3, 13, 0}, true},
		{minor, version{3, 13, 9}, true},
		{minor, version{3, 12, 7}, false},
		{minor, version{3, 14, 0}, false},
		{minor, version{4, 13, 0}, false},
		{exact, version{3, 13, 5}, true},
		{exact, version{3, 13, 4}, false},
		{exact, version{3, 13, 6}, false},
	} {
		assert.Equal(t, tc.p.matches(tc.v), tc.want, "%s vs %s", tc.p, tc.v)
	}
}

func TestMachineArch(t *testing.T) {
	for m, want := range map[string]string{
		"x86_64": "amd64", "AMD64": "amd64", "amd64": "amd64", // Linux/macOS, Windows, BSD
		"arm64": "arm64", "ARM64": "arm64", "aarch64": "arm64",
		"i686": "", "armv7l": "", "": "",
	} {
		assert.Equal(t, machineArch(m), want, m)
	}
}

func TestParseProbe(t *testing.T) {
	v, m, exe, err := parseProbe("pybundle-python 3.13.5 x86_64 /usr/bin/python3.13\n")
	assert.NilError(t, err)
	assert.Equal(t, v, version{3, 13, 5})
	assert.Equal(t, m, "x86_64")
	assert.Equal(t, exe, "/usr/bin/python3.13")

	// Windows: CRLF, a path with spaces, a sitecustomize that prints first.
	v, m, exe, err = parseProbe("hello from sitecustomize\r\npybundle-python 3.13.1 AMD64 C:\\Program Files\\Python313\\python.exe\r\n")
	assert.NilError(t, err)
	assert.Equal(t, v, version{3, 13, 1})
	assert.Equal(t, m, "AMD64")
	assert.Equal(t, exe, `C:\Program Files\Python313\python.exe`)

	_, _, _, err = parseProbe("Python 3.13.5\n")
	assert.ErrorContains(t, err, `unexpected answer "Python 3.13.5"`)
}

func TestCandidates(t *testing.T) {
	p, _ := parsePin("3.13")
	assert.DeepEqual(t, candidates("linux", "", p), [][]string{{"python3.13"}, {"python3"}, {"python"}})
	assert.DeepEqual(t, candidates("darwin", "", p), [][]string{{"python3.13"}, {"python3"}, {"python"}})
	assert.DeepEqual(t, candidates("windows", "", p), [][]string{{"python"}, {"python3"}, {"py", "-3.13"}, {"py", "-3"}})
	assert.DeepEqual(t, candidates("windows", "py -3.13", p), [][]string{{"py", "-3.13"}})

	// An existing path is taken whole, spaces and all.
	dir := filepath.Join(t.TempDir(), "Program Files")
	assert.NilError(t, os.Mkdir(dir, 0o755))
	exe := filepath.Join(dir, "python.exe")
	assert.NilError(t, os.WriteFile(exe, nil, 0o755))
	assert.DeepEqual(t, candidates("windows", exe, p), [][]string{{exe}})
}

func TestInstallHint(t *testing.T) {
	p, _ := parsePin("3.13")
	for goos, want := range map[string]string{
		"darwin":  "`brew install python@3.13` (then python3.13 is on PATH), or the macOS installer from https://www.python.org/downloads/",
		"windows": "`winget install Python.Python.3.13`",
		"linux":   "`apt install python3.13 python3.13-venv`",
	} {
		h := installHint(goos, p)
		assert.Assert(t, strings.Contains(h, want), "%s: %s", goos, h)
		assert.Assert(t, strings.Contains(h, "actions/setup-python with python-version: '3.13'"), "%s: %s", goos, h)
	}
	assert.Assert(t, strings.Contains(installHint("windows", p), "`py -3.13`"))
}

// fakePython writes an executable shell script named name into dir that answers the probe as
// a Python of that version and machine.
func fakePython(t *testing.T, dir, name, ver, machine string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	script := fmt.Sprintf("#!/bin/sh\necho \"pybundle-python %s %s %s\"\n", ver, machine, p)
	assert.NilError(t, os.WriteFile(p, []byte(script), 0o755))
	return p
}

// hostMachine is what platform.machine() says on this host.
func hostMachine() string {
	if runtime.GOARCH == "arm64" {
		return "aarch64"
	}
	return "x86_64"
}

func TestFindPythonOnFakePath(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("fake pythons are shell scripts")
	}
	ctx := context.Background()
	p313, _ := parsePin("3.13")
	m := hostMachine()

	t.Run("generic name with the pinned version", func(t *testing.T) {
		dir := t.TempDir()
		t.Setenv("PATH", dir)
		fakePython(t, dir, "python3", "3.11.2", m)
		want := fakePython(t, dir, "python", "3.13.5", m)
		got, err := findPython(ctx, "linux", "", p313, machineArch(m), "linux/x")
		assert.NilError(t, err)
		assert.Equal(t, got.Executable, want)
		assert.DeepEqual(t, got.Argv, []string{"python"})
		assert.Equal(t, got.Version, version{3, 13, 5})
	})
	t.Run("pinned name first", func(t *testing.T) {
		dir := t.TempDir()
		t.Setenv("PATH", dir)
		fakePython(t, dir, "python3", "3.13.1", m)
		want := fakePython(t, dir, "python3.13", "3.13.5", m)
		got, err := findPython(ctx, "darwin", "", p313, machineArch(m), "darwin/x")
		assert.NilError(t, err)
		assert.Equal(t, got.Executable, want)
	})
	t.Run("exact patch pin", func(t *testing.T) {
		dir := t.TempDir()
		t.Setenv("PATH", dir)
		fakePython(t, dir, "python3.13", "3.13.1", m)
		want := fakePython(t, dir, "python3", "3.13.5", m)
		exact, _ := parsePin("3.13.5")
		got, err := findPython(ctx, "linux", "", exact, "", "linux/x")
		assert.NilError(t, err)
		assert.Equal(t, got.Executable, want)
	})
	t.Run("none matches", func(t *testing.T) {
		dir := t.TempDir()
		t.Setenv("PATH", dir)
		py3 := fakePython(t, dir, "python3", "3.11.2", m)
		broken := filepath.Join(dir, "python")
		assert.NilError(t, os.WriteFile(broken, []byte("#!/bin/sh\necho oops >&2\nexit 3\n"), 0o755))
		_, err := findPython(ctx, "linux", "", p313, "", "linux/x")
		assert.ErrorContains(t, err, "no Python 3.13 (tried: python3.13: not found on PATH; ")
		assert.ErrorContains(t, err, fmt.Sprintf("python3 (%s): Python 3.11.2, not 3.13; ", py3))
		assert.ErrorContains(t, err, fmt.Sprintf("python: %s did not run (exit status 3: oops)", broken))
		assert.ErrorContains(t, err, "Install it: `apt install python3.13 python3.13-venv`")
		assert.ErrorContains(t, err, "; or pass --python PATH")
	})
	t.Run("wrong architecture", func(t *testing.T) {
		dir := t.TempDir()
		t.Setenv("PATH", dir)
		fakePython(t, dir, "python3.13", "3.13.5", "x86_64")
		_, err := findPython(ctx, "darwin", "", p313, "arm64", "darwin/arm64")
		assert.ErrorContains(t, err, "Python 3.13.5 for x86_64, but the target is darwin/arm64")
		assert.ErrorContains(t, err, "brew install python@3.13")
	})
	t.Run("--python given", func(t *testing.T) {
		dir := t.TempDir()
		t.Setenv("PATH", dir)
		fakePython(t, dir, "python3.13", "3.13.5", m) // on PATH, but --python wins
		given := fakePython(t, t.TempDir(), "mypython", "3.12.3", m)
		_, err := findPython(ctx, "linux", given, p313, "", "linux/x")
		assert.ErrorContains(t, err, fmt.Sprintf("--python %s is not a usable Python 3.13 (tried: %s (%s): Python 3.12.3, not 3.13)", given, given, given))

		ok := fakePython(t, t.TempDir(), "py313", "3.13.2", m)
		got, err := findPython(ctx, "linux", ok, p313, "", "linux/x")
		assert.NilError(t, err)
		assert.Equal(t, got.Path, ok)
	})
	t.Run("--python as a command on PATH", func(t *testing.T) {
		dir := t.TempDir()
		t.Setenv("PATH", dir)
		fakePython(t, dir, "py", "3.13.2", m) // the fake ignores "-3.13"
		got, err := findPython(ctx, "windows", "py -3.13", p313, "", "windows/x")
		assert.NilError(t, err)
		assert.DeepEqual(t, got.Argv, []string{"py", "-3.13"})
		assert.DeepEqual(t, got.invocation(), []string{filepath.Join(dir, "py"), "-3.13"})
	})
}

// holdingPython writes a fake python whose child keeps the probe's stdout open long after the
// deadline, and records the child's pid (for cleanup, and only that pid is killed). body is
// what the script does after starting the child.
func holdingPython(t *testing.T, child, body string) string {
	t.Helper()
	dir := t.TempDir()
	pidFile := filepath.Join(dir, "child.pid")
	p := filepath.Join(dir, "python")
	script := fmt.Sprintf("#!/bin/sh\n%s sleep 30 &\necho $! > %q\n%s\n", child, pidFile, body)
	assert.NilError(t, os.WriteFile(p, []byte(script), 0o755))
	t.Cleanup(func() {
		b, err := os.ReadFile(pidFile)
		if err != nil {
			return
		}
		if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && pid > 0 {
			if proc, err := os.FindProcess(pid); err == nil {
				_ = proc.Kill() // the sleeper this test started; gone already when the fix works
			}
		}
	})
	return p
}

// Found by review: the probe waited for the child's stdout with no exec.Cmd.WaitDelay, so a
// python whose child keeps stdout open held the runner 30 s past a 0.5 s deadline (the child's
// whole life, or forever). The probe now kills the whole process group on the deadline and
// gives up on the pipes a second after: it returns within a few seconds of its deadline.
func TestProbePythonHonoursDeadline(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("fake pythons are shell scripts")
	}
	for _, tc := range []struct{ name, child string }{
		{"child in the group", ""},             // killed with the group
		{"child in its own session", "setsid"}, // out of reach: WaitDelay gives up on the pipe
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.child != "" {
				if _, err := exec.LookPath(tc.child); err != nil {
					t.Skip("no " + tc.child)
				}
			}
			py := holdingPython(t, tc.child, "sleep 30")
			ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
			defer cancel()
			start := time.Now()
			_, err := probePython(ctx, []string{py})
			took := time.Since(start)
			// Deadline 0.5 s, WaitDelay 1 s: 1.5 s expected; 5 s leaves room for a loaded machine
			// and is still far from the 30 s the child holds the pipe.
			assert.Check(t, took < 5*time.Second, "probe took %s past a 0.5 s deadline", took)
			assert.ErrorContains(t, err, "did not run")
		})
	}
}

// Found by review (same fault, no deadline at all): a python that answers and exits but
// leaves a daemon holding stdout made the probe wait for the daemon. The answer it printed
// is used once the process has exited and the pipe is given up on.
func TestProbePythonAnswerWithLingeringChild(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("fake pythons are shell scripts")
	}
	if _, err := exec.LookPath("setsid"); err != nil {
		t.Skip("no setsid")
	}
	py := holdingPython(t, "setsid", fmt.Sprintf("echo \"pybundle-python 3.13.5 %s /usr/bin/python3.13\"\nexit 0", hostMachine()))
	start := time.Now()
	info, err := probePython(context.Background(), []string{py})
	took := time.Since(start)
	assert.Check(t, took < 5*time.Second, "probe took %s", took)
	assert.NilError(t, err)
	assert.Equal(t, info.Version, version{3, 13, 5})
	assert.Equal(t, info.Executable, "/usr/bin/python3.13")
}
