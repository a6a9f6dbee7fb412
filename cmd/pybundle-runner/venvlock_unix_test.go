//go:build unix

package main

import (
	"context"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"gotest.tools/v3/assert"
)

// Found by the runner-timeout test: a build killed with SIGKILL (what follows --runner-timeout)
// left its lock folder behind, and every later build on that runner waited for it. An OS lock
// dies with its process: the next build gets it at once.
func TestLockVenvHolderKilled(t *testing.T) {
	flock, err := exec.LookPath("flock")
	if err != nil {
		t.Skip("no flock(1) here to hold the lock from another process")
	}
	dir := filepath.Join(t.TempDir(), "venv")
	// -o: the sleeping child does not inherit the lock (as pybundle-runner opens it close-on-exec)
	holder := exec.Command(flock, "-x", "-o", dir+venvLockSuffix, "sleep", "60")
	holder.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	assert.NilError(t, holder.Start())
	defer syscall.Kill(-holder.Process.Pid, syscall.SIGKILL) // its sleep too
	logf := func(string, ...any) {}
	held := false
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline) && !held; {
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		u, err := lockVenv(ctx, dir, logf)
		cancel()
		if err == nil {
			u()
			time.Sleep(100 * time.Millisecond)
			continue
		}
		held = true
	}
	assert.Assert(t, held, "flock(1) never held the lock")
	assert.NilError(t, holder.Process.Signal(syscall.SIGKILL))
	_, _ = holder.Process.Wait()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	u, err := lockVenv(ctx, dir, logf)
	assert.NilError(t, err, "the lock of a killed build must be free")
	u()
}
