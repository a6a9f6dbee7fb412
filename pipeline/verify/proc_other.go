//go:build !unix

package verify

import (
	"os"
	"os/exec"
)

// setProcessGroup is a no-op without Unix process groups.
func setProcessGroup(*exec.Cmd) {}

// killProcessGroup kills only p where there are no process groups.
func killProcessGroup(p *os.Process) error { return p.Kill() }
