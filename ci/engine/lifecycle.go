package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

func newSession() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setsid: true} }

const engineCmd = "dagger-engine"

// startEngine (re)starts the engine with the given Go SDK digest and waits for its socket and
// a real answer from `dagger core version`; on timeout the error carries the log's tail.
func (s Settings) startEngine(ctx context.Context, st *State, digest string, timeout time.Duration) error {
	if err := s.stopEngine(st); err != nil {
		return err
	}
	script := filepath.Join(s.Run(), "start-engine.sh")
	if err := os.MkdirAll(s.Run(), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(script, []byte(startScript(s, engineEnv(s, digest))), 0o755); err != nil {
		return err
	}
	_ = os.Remove(s.Socket())
	pid, err := spawn("/bin/bash", []string{script}, s.EngineLog())
	if err != nil {
		return fmt.Errorf("step engine: %w", err)
	}
	st.EnginePID = pid
	if err := saveState(s.StateFile(), *st); err != nil {
		return err
	}
	logf("engine starting (pid %d), waiting up to %s", pid, timeout)
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if exists(s.Socket()) {
			cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			cmd := exec.CommandContext(cctx, s.CLI(), "core", "version")
			cmd.Env = append(os.Environ(), "_EXPERIMENTAL_DAGGER_RUNNER_HOST="+s.RunnerHost(), "DO_NOT_TRACK=1")
			out, err := cmd.CombinedOutput()
			cancel()
			if err == nil {
				logf("engine answers: %s", strings.TrimSpace(lastLine(string(out))))
				return nil
			}
		}
		if procCmdline(pid) == "" {
			return fmt.Errorf("step engine: the engine exited during start-up; log %s:\n%s", s.EngineLog(), tailFile(s.EngineLog(), 30))
		}
		time.Sleep(time.Second)
	}
	return fmt.Errorf("step engine: not up within %s; log %s:\n%s", timeout, s.EngineLog(), tailFile(s.EngineLog(), 30))
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

// stopEngine stops the engine we started: the wrapper pid in state is the session leader, so
// the whole session (unshare, engine, its containers) is signalled.
func (s Settings) stopEngine(st *State) error {
	if st.EnginePID == 0 {
		return nil
	}
	pids := append([]int{st.EnginePID}, descendants(st.EnginePID)...)
	_ = syscall.Kill(-st.EnginePID, syscall.SIGTERM)
	for _, p := range pids {
		_ = syscall.Kill(p, syscall.SIGTERM)
	}
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) && anyAlive(pids) {
		time.Sleep(300 * time.Millisecond)
	}
	for _, p := range pids {
		if procCmdline(p) != "" {
			_ = syscall.Kill(p, syscall.SIGKILL)
		}
	}
	time.Sleep(300 * time.Millisecond)
	if anyAlive(pids) {
		return fmt.Errorf("engine processes %v survived SIGKILL", pids)
	}
	st.EnginePID = 0
	return nil
}

func anyAlive(pids []int) bool {
	for _, p := range pids {
		if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p)); err == nil && !strings.Contains(string(b), ") Z ") {
			return true
		}
	}
	return false
}

// iptables runs the engine rootfs's iptables-legacy against the host's network namespace (the
// host itself may have no iptables; the engine's CNI plugins used legacy tables).
func (s Settings) iptables(args ...string) (string, error) {
	return output(context.Background(), "chroot", append([]string{s.EngineRootfs(), "iptables-legacy"}, args...)...)
}

// recordHostNetwork notes, before anything of ours runs, what down must restore.
func (s Settings) recordHostNetwork(st *State) {
	if st.IPForwardBefore == "" {
		if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_forward"); err == nil {
			st.IPForwardBefore = strings.TrimSpace(string(b))
		}
		if out, err := s.iptables("-S"); err == nil {
			st.FilterChains = chainNames(out)
		}
		st.BridgeExisted = exec.Command("ip", "link", "show", s.Bridge()).Run() == nil
	}
	st.NetworkName, st.Bridge, st.EngineRootfs = s.NetworkName, s.Bridge(), s.EngineRootfs()
}

// restoreHostNetwork removes our NAT rules, CNI chains and bridge and puts ip_forward back.
func (s Settings) restoreHostNetwork(st State) []error {
	var errs []error
	if exists(filepath.Join(s.EngineRootfs(), "usr", "sbin", "iptables-legacy")) {
		if out, err := s.iptables("-t", "nat", "-S"); err == nil {
			for _, c := range natCleanup(out, st.NetworkName) {
				if _, err := s.iptables(c...); err != nil {
					errs = append(errs, err)
				}
			}
		}
		if out, err := s.iptables("-S"); err == nil {
			for _, c := range filterCleanup(out, st.FilterChains) {
				if _, err := s.iptables(c...); err != nil {
					errs = append(errs, err)
				}
			}
		}
	}
	if !st.BridgeExisted && exec.Command("ip", "link", "show", st.Bridge).Run() == nil {
		if out, err := exec.Command("ip", "link", "del", st.Bridge).CombinedOutput(); err != nil {
			errs = append(errs, fmt.Errorf("ip link del %s: %v: %s", st.Bridge, err, out))
		}
	}
	if st.IPForwardBefore != "" {
		if err := os.WriteFile("/proc/sys/net/ipv4/ip_forward", []byte(st.IPForwardBefore+"\n"), 0o644); err != nil {
			errs = append(errs, fmt.Errorf("restoring ip_forward=%s: %w", st.IPForwardBefore, err))
		}
	}
	return errs
}
