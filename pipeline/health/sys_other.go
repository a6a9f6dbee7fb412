//go:build !unix

package health

import (
	"os"
	"os/exec"
)

func setProcessGroup(*exec.Cmd)        {}
func terminate(p *os.Process) error    { return p.Kill() } // no SIGTERM outside Unix
func killGroup(int)                    {}
func groupAlive(int) bool              { return false }
func exitCode(ps *os.ProcessState) int { return ps.ExitCode() }
