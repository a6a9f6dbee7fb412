//go:build !unix

package main

import (
	"os/exec"
	"strconv"
)

// inOwnGroup makes cmd's cancellation kill its whole process tree (taskkill /T), Electron's
// children and the backend included.
func inOwnGroup(cmd *exec.Cmd) {
	cmd.Cancel = func() error {
		_ = exec.Command("taskkill", "/T", "/F", "/PID", strconv.Itoa(cmd.Process.Pid)).Run()
		return cmd.Process.Kill()
	}
}
