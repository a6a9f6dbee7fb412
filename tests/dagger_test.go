// Package tests drives pybundle end to end through the real `dagger call` CLI against a real
// engine (provisioned by ci/engine in CI): real PyInstaller, real containers without Python.
package tests

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// repoRoot is the module's folder (this file lives in tests/).
func repoRoot(t *testing.T) string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	return filepath.Dir(filepath.Dir(file))
}

// requireEngine fails (not skips) without an engine: a suite that silently skips its
// end-to-end half proves nothing. `go test -short` is the way to run unit tests alone.
func requireEngine(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("end-to-end test: needs the engine (drop -short)")
	}
	if os.Getenv("_EXPERIMENTAL_DAGGER_RUNNER_HOST") == "" && os.Getenv("DAGGER_SESSION_PORT") == "" {
		if _, err := exec.LookPath("docker"); err != nil {
			t.Fatal("no Dagger engine: run `eval \"$(go run ./ci/engine env)\"` after `go run ./ci/engine up`, or use ci/test.sh")
		}
	}
	if _, err := exec.LookPath("dagger"); err != nil {
		t.Fatal("dagger CLI not on PATH")
	}
}

// result is one `dagger call`'s outcome.
type result struct {
	Stdout, Stderr string
	Code           int
}

// dagger runs `dagger call <args>` in the repo root and returns its output. Progress goes to
// plain mode so errors are greppable.
func dagger(t *testing.T, timeout time.Duration, args ...string) result {
	t.Helper()
	return daggerCmd(t, timeout, append([]string{"call"}, args...)...)
}

// daggerCmd runs `dagger <subcommand> <args>` (call, check…) in the repo root. A call the
// engine failed with "session … not found" is run again (twice at most): many concurrent
// clients loading the same module share one deduplicated operation, and when the client
// that started it closes its session first, the others get that error; the engine marks it
// retryable (engine/buildkit/client.go, GetSessionCaller in v0.19.10). Seen in CI as a `build`
// failing in 0 s while loading the module.
func daggerCmd(t *testing.T, timeout time.Duration, args ...string) result {
	t.Helper()
	r := daggerOnce(t, timeout, args...)
	for try := 1; try <= 2 && r.Code != 0 && sharedSessionGone(r.Stderr); try++ {
		t.Logf("dagger %s: the engine lost a shared session (retryable), run %d", args[0], try+1)
		r = daggerOnce(t, timeout, args...)
	}
	return r
}

// sharedSessionGone reports the engine's retryable lost-session error in dagger's output.
func sharedSessionGone(stderr string) bool {
	return strings.Contains(stderr, "failed to get requester session") && strings.Contains(stderr, "not found")
}

// daggerOnce runs `dagger <subcommand> <args>` once.
func daggerOnce(t *testing.T, timeout time.Duration, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "dagger", append([]string{args[0], "--progress=plain"}, args[1:]...)...)
	cmd.Dir = repoRoot(t)
	cmd.Env = append(os.Environ(), "DO_NOT_TRACK=1", "DAGGER_NO_NAG=1")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	start := time.Now()
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("dagger %s: %v", strings.Join(args, " "), err)
	}
	t.Logf("dagger %s → exit %d in %s", strings.Join(args, " "), code, time.Since(start).Round(time.Second))
	return result{Stdout: out.String(), Stderr: errb.String(), Code: code}
}

// mustDagger is dagger() that fails the test on a non-zero exit, showing the error's tail.
func mustDagger(t *testing.T, timeout time.Duration, args ...string) string {
	t.Helper()
	return mustDaggerCmd(t, timeout, append([]string{"call"}, args...)...)
}

// mustDaggerCmd is daggerCmd() that fails the test on a non-zero exit.
func mustDaggerCmd(t *testing.T, timeout time.Duration, args ...string) string {
	t.Helper()
	r := daggerCmd(t, timeout, args...)
	if r.Code != 0 {
		t.Fatalf("dagger %s: exit %d\n%s", strings.Join(args, " "), r.Code, errorTail(r.Stderr))
	}
	return r.Stdout
}

// errorTail keeps the end of dagger's plain progress output, where the error is.
func errorTail(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > 40 {
		lines = lines[len(lines)-40:]
	}
	return strings.Join(lines, "\n")
}

// TestDaggerCallRuntime is the smallest real round trip: the module loads in the Go SDK image,
// the public base image name resolves (through the registry mirror offline), and an arm64
// container runs under QEMU.
func TestDaggerCallRuntime(t *testing.T) {
	requireEngine(t)
	out := mustDagger(t, 10*time.Minute, "runtime", "--platform", "linux/arm64", "with-exec", "--args", "uname,-m", "stdout")
	if strings.TrimSpace(out) != "aarch64" {
		t.Fatalf("uname -m in the linux/arm64 runtime = %q, want aarch64", out)
	}
	// The runtime is the clean machine the artifact must start on: no Python at all.
	out = mustDagger(t, 10*time.Minute, "runtime", "with-exec", "--args", "sh,-c,ls /usr/bin /usr/local/bin | grep -c '^python' || true", "stdout")
	if strings.TrimSpace(out) != "0" {
		t.Fatalf("runtime container has python executables (%s)", out)
	}
}
