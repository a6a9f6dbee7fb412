package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/pybundle/pybundle/images"
)

// venv is a virtual environment's layout on one OS: Windows puts its programs in Scripts\
// with .exe names, everything else in bin/.
type venv struct {
	Dir  string
	GOOS string
}

func (v venv) bin() string {
	if v.GOOS == "windows" {
		return filepath.Join(v.Dir, "Scripts")
	}
	return filepath.Join(v.Dir, "bin")
}

func (v venv) exe(name string) string {
	if v.GOOS == "windows" {
		name += ".exe"
	}
	return filepath.Join(v.bin(), name)
}

// Python is the venv's interpreter.
func (v venv) Python() string { return v.exe("python") }

// PyInstaller is the venv's pyinstaller entry point.
func (v venv) PyInstaller() string { return v.exe("pyinstaller") }

// exists reports whether Dir holds a venv (pyvenv.cfg and an interpreter).
func (v venv) exists() bool {
	if _, err := os.Stat(filepath.Join(v.Dir, "pyvenv.cfg")); err != nil {
		return false
	}
	_, err := os.Stat(v.Python())
	return err == nil
}

// createArgs is the command that makes the venv with the found Python. It is an isolated
// venv (no --system-site-packages, unlike the module's pip builder, which needs it for the
// offline stand-in image): on a runner, whatever the system Python carries must not leak into
// the bundle unpinned. clear recreates a venv made by another Python.
func createArgs(py pythonInfo, dir string, clear bool) []string {
	args := append(py.invocation(), "-m", "venv")
	if clear {
		args = append(args, "--clear")
	}
	return append(args, dir)
}

// pipInstallArgs is images.PipInstallScript's pip command as an argument list (no shell on
// Windows): the requirements plus extra (pyinstaller==6.22.2 unless the file pins it), in
// --require-hashes mode when the file carries hashes, only from wheelhouse when set. pip's own
// cache is kept: on a runner it is per-machine and hash checking does not depend on it.
func pipInstallArgs(v venv, requirements string, extra []string, hashed bool, wheelhouse string) []string {
	args := []string{v.Python(), "-m", "pip", "install", "--disable-pip-version-check"}
	if hashed {
		args = append(args, "--require-hashes")
	}
	if wheelhouse != "" {
		args = append(args, "--no-index", "--find-links", wheelhouse)
	}
	if requirements != "" {
		args = append(args, "-r", requirements)
	}
	return append(args, extra...)
}

// pipPlan reads the requirements file and applies images.PipPlan, the module's rule for
// what pip installs.
func pipPlan(requirements string) (extra []string, hashed bool, err error) {
	b, err := os.ReadFile(requirements)
	if err != nil {
		return nil, false, fmt.Errorf("cannot read it (%v): the runner installs the backend's dependencies from requirements.txt or [project] dependencies in pyproject.toml; or pass --requirements FILE", cause(err))
	}
	return images.PipPlan(string(b))
}

// pyinstallerVersionArgs asks the venv's PyInstaller for its version.
func pyinstallerVersionArgs(v venv) []string {
	return []string{v.Python(), "-m", "PyInstaller", "--version"}
}

// checkPyInstaller compares the venv's PyInstaller with the pin.
func checkPyInstaller(got string) error {
	got = strings.TrimSpace(got)
	if got != images.PyInstallerVersion {
		return fmt.Errorf("the venv has PyInstaller %q, pybundle builds with %s (%s)", got, images.PyInstallerVersion, images.PipRequirement)
	}
	return nil
}

// A venv kept between builds (--venv) is shared by every build on the runner that names it:
// two targets dispatched to one machine at once would install into it and run from it at the
// same time. A build holds an OS lock (flock, LockFileEx) on <venv>.pybundle-lock while it uses
// the venv; the next one waits. The OS drops the lock when its process ends however it ends,
// so a build killed after --runner-timeout (SIGKILL) leaves nothing for the next one to wait on.
const (
	venvLockSuffix = ".pybundle-lock"
	venvLockPoll   = time.Second
)

// lockVenv takes the venv's lock, waiting (bounded by ctx) while another build holds it.
func lockVenv(ctx context.Context, dir string, logf func(string, ...any)) (unlock func(), err error) {
	lock := filepath.Clean(dir) + venvLockSuffix
	if err := os.MkdirAll(filepath.Dir(lock), 0o755); err != nil {
		return nil, err
	}
	if fi, err := os.Lstat(lock); err == nil && fi.IsDir() {
		_ = os.Remove(lock) // an empty lock folder of pybundle-runner 0.1: never held by the OS
	}
	f, err := os.OpenFile(lock, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("locking the venv %s: %w", dir, err)
	}
	waited := false
	for {
		ok, err := tryLock(f)
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("locking the venv %s: %w", dir, err)
		}
		if ok {
			return func() { _ = f.Close() }, nil // closing the file releases the lock
		}
		if !waited {
			logf("venv: %s is in use by another build; waiting for it", dir)
			waited = true
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("waiting for the venv %s, in use by another build: %w", dir, ctx.Err())
		case <-time.After(venvLockPoll):
		}
	}
}
