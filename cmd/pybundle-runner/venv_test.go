package main

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"gotest.tools/v3/assert"

	"github.com/pybundle/pybundle/images"
)

func TestVenvLayout(t *testing.T) {
	unix := venv{Dir: filepath.Join("o", ".venv"), GOOS: "darwin"}
	assert.Equal(t, unix.Python(), filepath.Join("o", ".venv", "bin", "python"))
	assert.Equal(t, unix.PyInstaller(), filepath.Join("o", ".venv", "bin", "pyinstaller"))
	win := venv{Dir: filepath.Join("o", ".venv"), GOOS: "windows"}
	assert.Equal(t, win.Python(), filepath.Join("o", ".venv", "Scripts", "python.exe"))
	assert.Equal(t, win.PyInstaller(), filepath.Join("o", ".venv", "Scripts", "pyinstaller.exe"))
}

func TestVenvExists(t *testing.T) {
	v := venv{Dir: t.TempDir(), GOOS: "linux"}
	assert.Assert(t, !v.exists())
	assert.NilError(t, os.WriteFile(filepath.Join(v.Dir, "pyvenv.cfg"), nil, 0o644))
	assert.Assert(t, !v.exists(), "pyvenv.cfg without an interpreter")
	assert.NilError(t, os.MkdirAll(filepath.Dir(v.Python()), 0o755))
	assert.NilError(t, os.WriteFile(v.Python(), nil, 0o755))
	assert.Assert(t, v.exists())
}

func TestCreateArgs(t *testing.T) {
	py := pythonInfo{Argv: []string{"py", "-3.13"}, Path: `C:\Windows\py.exe`}
	assert.DeepEqual(t, createArgs(py, `D:\out\.venv`, false), []string{`C:\Windows\py.exe`, "-3.13", "-m", "venv", `D:\out\.venv`})
	py = pythonInfo{Argv: []string{"python3.13"}, Path: "/usr/bin/python3.13"}
	assert.DeepEqual(t, createArgs(py, "/o/.venv", true), []string{"/usr/bin/python3.13", "-m", "venv", "--clear", "/o/.venv"})
}

func TestPipInstallArgs(t *testing.T) {
	v := venv{Dir: "/o/.venv", GOOS: "linux"}
	py := filepath.Join("/o/.venv", "bin", "python")
	for _, tc := range []struct {
		name       string
		extra      []string
		hashed     bool
		wheelhouse string
		want       []string
	}{
		{"index", []string{"pyinstaller==6.22.2"}, false, "",
			[]string{py, "-m", "pip", "install", "--disable-pip-version-check", "-r", "/s/requirements.txt", "pyinstaller==6.22.2"}},
		{"hashes: pyinstaller is in the file", nil, true, "",
			[]string{py, "-m", "pip", "install", "--disable-pip-version-check", "--require-hashes", "-r", "/s/requirements.txt"}},
		{"wheelhouse", []string{"pyinstaller==6.22.2"}, false, "/w",
			[]string{py, "-m", "pip", "install", "--disable-pip-version-check", "--no-index", "--find-links", "/w", "-r", "/s/requirements.txt", "pyinstaller==6.22.2"}},
		{"hashes and wheelhouse", nil, true, "/w",
			[]string{py, "-m", "pip", "install", "--disable-pip-version-check", "--require-hashes", "--no-index", "--find-links", "/w", "-r", "/s/requirements.txt"}},
	} {
		assert.DeepEqual(t, pipInstallArgs(v, "/s/requirements.txt", tc.extra, tc.hashed, tc.wheelhouse), tc.want)
	}
	win := venv{Dir: `D:\o\.venv`, GOOS: "windows"}
	assert.Equal(t, pipInstallArgs(win, "r.txt", nil, false, "")[0], filepath.Join(`D:\o\.venv`, "Scripts", "python.exe"))
}

func TestPipPlanFromFile(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		assert.NilError(t, os.WriteFile(p, []byte(text), 0o644))
		return p
	}
	extra, hashed, err := pipPlan(write("plain.txt", "fastapi\nuvicorn\n"))
	assert.NilError(t, err)
	assert.DeepEqual(t, extra, []string{"pyinstaller==6.22.2"})
	assert.Equal(t, hashed, false)

	extra, hashed, err = pipPlan(write("hashed.txt", "fastapi==0.115.11 --hash=sha256:aa\npyinstaller==6.22.2 --hash=sha256:bb\n"))
	assert.NilError(t, err)
	assert.Assert(t, extra == nil)
	assert.Equal(t, hashed, true)

	_, _, err = pipPlan(write("hashed-no-pyi.txt", "fastapi==0.115.11 --hash=sha256:aa\n"))
	assert.ErrorContains(t, err, "requirements.txt uses --hash, so it must also list pyinstaller==6.22.2 with its hashes")

	_, _, err = pipPlan(write("other-pyi.txt", "pyinstaller==6.10.0\n"))
	assert.ErrorContains(t, err, "pins pyinstaller==6.10.0; pybundle builds with 6.22.2")

	_, _, err = pipPlan(filepath.Join(dir, "missing.txt"))
	assert.ErrorContains(t, err, "cannot read it (no such file or directory): the runner installs the backend's dependencies from requirements.txt or [project] dependencies in pyproject.toml; or pass --requirements FILE")
}

func TestCheckPyInstaller(t *testing.T) {
	assert.NilError(t, checkPyInstaller("6.22.2\n"))
	assert.NilError(t, checkPyInstaller("6.22.2\r\n"))
	assert.ErrorContains(t, checkPyInstaller("6.11.1\n"), `the venv has PyInstaller "6.11.1", pybundle builds with 6.22.2 (pyinstaller==6.22.2)`)
}

func TestParseFreeze(t *testing.T) {
	got := images.ParseFreeze("FastAPI==0.115.11\r\npyinstaller==6.22.2\n-e git+https://example.com/x.git#egg=x\nlocal @ file:///tmp/local-1.0.whl\n\npip==25.1\n")
	assert.DeepEqual(t, got, map[string]string{"pip:fastapi": "0.115.11", "pip:pyinstaller": "6.22.2", "pip:pip": "25.1"})
}

// Found by review: a persistent runner venv had no lock, so two targets on one runner raced.
// The second build waits until the first lets go.
func TestLockVenv(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "venv")
	logf := func(string, ...any) {}
	unlock, err := lockVenv(context.Background(), dir, logf)
	assert.NilError(t, err)
	got := make(chan time.Time)
	go func() {
		u, err := lockVenv(context.Background(), dir, logf)
		assert.Check(t, err)
		got <- time.Now()
		u()
	}()
	time.Sleep(1500 * time.Millisecond)
	released := time.Now()
	unlock()
	select {
	case at := <-got:
		assert.Assert(t, !at.Before(released), "the second build took the lock while the first held it")
	case <-time.After(30 * time.Second):
		t.Fatal("the second build never got the lock")
	}
	// Cancelled while waiting: an error, not a hang.
	unlock, err = lockVenv(context.Background(), dir, logf)
	assert.NilError(t, err)
	defer unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	defer cancel()
	_, err = lockVenv(ctx, dir, logf)
	assert.ErrorContains(t, err, "in use by another build")
}

// A lock folder left by pybundle-runner 0.1 is no lock: it is replaced.
func TestLockVenvOldLockFolder(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "venv")
	assert.NilError(t, os.MkdirAll(dir+venvLockSuffix, 0o755))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	u, err := lockVenv(ctx, dir, func(string, ...any) {})
	assert.NilError(t, err)
	u()
}
