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

// reapChild collects pid if it is a zombie child of ours (an orphaned backend re-parented to
// this process when it is a subreaper), so it no longer shows up as a leftover.
func reapChild(pid int) {
	var ws syscall.WaitStatus
	_, _ = syscall.Wait4(pid, &ws, syscall.WNOHANG, nil)
}
