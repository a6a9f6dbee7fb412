//go:build unix

package health

import (
	"os"
	"os/exec"
	"syscall"
)

// setProcessGroup starts the backend as the leader of a new process group, so
// its descendants can be found (pgid == its pid) and killed together, and a
// terminal's Ctrl-C does not reach it before the probe has cleaned up.
func setProcessGroup(cmd *exec.Cmd) { cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} }

// terminate asks the backend to stop the way Electron does: SIGTERM to the
// main process only. Forwarding it to children is the backend's job (the
// PyInstaller onefile bootloader does), which is what Probe verifies.
func terminate(p *os.Process) error { return p.Signal(syscall.SIGTERM) }

func killGroup(pgid int) { _ = syscall.Kill(-pgid, syscall.SIGKILL) }

// groupAlive reports whether any process remains in the group. Zombies count,
// which is why Linux uses /proc instead.
func groupAlive(pgid int) bool { return syscall.Kill(-pgid, 0) == nil }

// reap collects a zombie child that os/exec does not know about (an orphan
// re-parented to us as subreaper).
func reap(pid int) {
	var ws syscall.WaitStatus
	_, _ = syscall.Wait4(pid, &ws, syscall.WNOHANG, nil)
}

// exitCode is the exit status, or 128+signal for a process killed by a signal
// (the shell's convention, so SIGTERM reads as 143, SIGKILL as 137).
func exitCode(ps *os.ProcessState) int {
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ps.ExitCode()
}
