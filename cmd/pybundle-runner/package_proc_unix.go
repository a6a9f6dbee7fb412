//go:build unix

package main

import (
	"os/exec"
	"syscall"
)

// inOwnGroup starts cmd as the leader of a new process group and makes its cancellation kill
// the whole group: the packaged app under xvfb-run is xvfb-run, Xvfb, Electron and the backend.
func inOwnGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
}
