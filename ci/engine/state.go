package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// State records what `up` started and changed on the host, so `down` stops only those
// processes (by pid, checked against their command line) and restores what it found.
type State struct {
	EnginePID       int      `json:"engine_pid,omitempty"`
	RegistryPID     int      `json:"registry_pid,omitempty"`
	IPForwardBefore string   `json:"ip_forward_before,omitempty"`
	FilterChains    []string `json:"filter_chains_before,omitempty"`
	MountedBinfmt   bool     `json:"mounted_binfmt,omitempty"`
	NetworkName     string   `json:"network_name"`
	Bridge          string   `json:"bridge"`
	BridgeExisted   bool     `json:"bridge_existed,omitempty"`
	EngineRootfs    string   `json:"engine_rootfs"`
}

func loadState(path string) (State, error) { return readJSON[State](path) }

func saveState(path string, s State) error { return writeJSON(path, s) }

// readJSON reads a state file; a missing file is the zero value (nothing was started).
func readJSON[T any](path string) (T, error) {
	var v T
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return v, nil
	}
	if err != nil {
		return v, err
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return v, fmt.Errorf("%s: %w", path, err)
	}
	return v, nil
}

// writeJSON replaces a state file atomically (tmp + rename): a crash never leaves half a file
// that the next `down` could not read.
func writeJSON(path string, v any) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// procCmdline reads /proc/<pid>/cmdline as one space-joined string ("" if gone).
func procCmdline(pid int) string {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "cmdline"))
	if err != nil {
		return ""
	}
	return strings.TrimSpace(strings.ReplaceAll(string(b), "\x00", " "))
}

// alive reports whether pid runs a command containing want: a recycled pid running something
// else never counts as ours.
func alive(pid int, want string) bool {
	if pid <= 0 {
		return false
	}
	return strings.Contains(procCmdline(pid), want)
}

// stopProcess sends SIGTERM to pid's process group, waits up to grace, then SIGKILLs it.
func stopProcess(pid int, want string, grace time.Duration) error {
	if !alive(pid, want) {
		return nil
	}
	_ = syscall.Kill(-pid, syscall.SIGTERM)
	_ = syscall.Kill(pid, syscall.SIGTERM)
	deadline := time.Now().Add(grace)
	for time.Now().Before(deadline) {
		if !alive(pid, want) {
			return nil
		}
		time.Sleep(200 * time.Millisecond)
	}
	_ = syscall.Kill(-pid, syscall.SIGKILL)
	_ = syscall.Kill(pid, syscall.SIGKILL)
	time.Sleep(500 * time.Millisecond)
	if alive(pid, want) {
		return fmt.Errorf("pid %d (%s) survived SIGKILL", pid, want)
	}
	return nil
}

// descendants lists every process whose parent chain leads to root (for the engine: the
// unshare wrapper, the engine, its runc containers).
func descendants(root int) []int {
	parent := map[int]int{}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// stat: pid (comm) state ppid ...; comm may contain spaces, so cut after the last ')'.
		s := string(b)
		if i := strings.LastIndexByte(s, ')'); i >= 0 {
			f := strings.Fields(s[i+1:])
			if len(f) > 1 {
				parent[pid], _ = strconv.Atoi(f[1])
			}
		}
	}
	var out []int
	for pid := range parent {
		for p := parent[pid]; p > 1; p = parent[p] {
			if p == root {
				out = append(out, pid)
				break
			}
		}
	}
	return out
}
