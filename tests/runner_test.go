package tests

import (
	"crypto/rand"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"

	"github.com/pybundle/pybundle/pipeline/report"
)

// The SSH runners are real Debian openssh-server instances in a network namespace, started by
// `ci/engine runners-up` (ci/test.sh does it): a Linux machine with Python 3.13 and PyInstaller
// (port 22, and port 2022 behind a ~4 Mbit/s link), and one without Python (port 2222). They
// stand for the macOS and Windows machines this world lacks: the protocol (ssh, tar, the
// pybundle-runner binary, the report) is the same, only --platform differs.

// sshRunners is the fixture's environment (ci/engine runners-env).
type sshRunners struct {
	Runner, Slow, Bare      string // ssh://pybundle@10.213.0.2:PORT
	Key, BadKey, KnownHosts string
	Venv, Wheelhouse, Home  string
	Netns                   string
}

// requireRunners skips without the fixture when not root (the runners need root: network
// namespaces, chroots; ci/test.sh says so and starts them only as root), and fails as root:
// there ci/test.sh has started them, so their absence is a broken set-up, not a reason to skip.
func requireRunners(t *testing.T) sshRunners {
	t.Helper()
	requireEngine(t)
	r := sshRunners{
		Runner: os.Getenv("PYBUNDLE_SSH_RUNNER"), Slow: os.Getenv("PYBUNDLE_SSH_RUNNER_SLOW"), Bare: os.Getenv("PYBUNDLE_SSH_RUNNER_BARE"),
		Key: os.Getenv("PYBUNDLE_SSH_KEY"), BadKey: os.Getenv("PYBUNDLE_SSH_BAD_KEY"), KnownHosts: os.Getenv("PYBUNDLE_SSH_KNOWN_HOSTS"),
		Venv: os.Getenv("PYBUNDLE_SSH_RUNNER_VENV"), Wheelhouse: os.Getenv("PYBUNDLE_SSH_RUNNER_WHEELHOUSE"),
		Home: os.Getenv("PYBUNDLE_SSH_RUNNER_HOME"), Netns: os.Getenv("PYBUNDLE_SSH_RUNNER_NETNS"),
	}
	if (r.Runner == "" || r.Key == "") && os.Geteuid() != 0 {
		t.Skip("no SSH runners: they need root (ci/test.sh starts them only as root)")
	}
	if r.Runner == "" || r.Key == "" {
		t.Fatal("no SSH runners: run `go run ./ci/engine runners-up` and eval \"$(go run ./ci/engine runners-env)\", or use ci/test.sh")
	}
	return r
}

// offline is the runner setting that makes pybundle-runner use the fixture's prepared venv
// (system site packages: FastAPI, uvicorn, PyInstaller from Debian) and install only from its
// local wheelhouse: no PyPI here.
func (r sshRunners) offline(addr string) string {
	return addr + "?venv=" + r.Venv + "&wheelhouse=" + r.Wheelhouse
}

// port is the runners' machine at another port (nobody listens on 2200; 2223 is filtered by
// the test that needs it).
func (r sshRunners) port(n int) string {
	u, err := url.Parse(r.Runner)
	if err != nil {
		panic(err)
	}
	return fmt.Sprintf("ssh://%s@%s:%d", u.User.Username(), u.Hostname(), n)
}

// netnsRule inserts an iptables rule in the runners' network namespace for the test's duration.
func (r sshRunners) netnsRule(t *testing.T, chain string, rule ...string) {
	ipt := func(op string) error {
		out, err := exec.Command("ip", append([]string{"netns", "exec", r.Netns, "iptables", op, chain}, rule...)...).CombinedOutput()
		if err != nil {
			return fmt.Errorf("iptables %s %s in %s: %v: %s", op, chain, r.Netns, err, out)
		}
		return nil
	}
	assert.NilError(t, ipt("-I"))
	t.Cleanup(func() { assert.Check(t, ipt("-D")) })
}

// runnerArgs are the build arguments that send linux/amd64 to addr.
func (r sshRunners) runnerArgs(addr, key string) []string {
	return []string{"--runner", "linux/amd64=" + addr, "--runner-key", "file:" + key, "--runner-known-hosts", r.KnownHosts}
}

// TestRunnerFailures: every way a runner can fail gives one error naming the step, the target
// and the runner, within a bound, and leaves the previous output untouched.
func TestRunnerFailures(t *testing.T) {
	r := requireRunners(t)
	t.Parallel()
	blobSource := sourceWithBlob(t, 8<<20)
	for _, tc := range []struct {
		name   string
		source string
		args   []string
		setup  func(t *testing.T) // before the build
		during func(t *testing.T) // runs while the build is in flight
		want   []string
		within time.Duration
	}{
		{name: "nobody listens", source: "testdata/backend",
			args:   r.runnerArgs(r.offline(r.port(2200)), r.Key),
			want:   []string{"runner-connect linux/amd64: " + r.port(2200) + ":", "cannot reach", "Connection refused"},
			within: 3 * time.Minute},
		{name: "host does not answer", source: "testdata/backend",
			// The runner's firewall drops SYNs to this port: a machine that is off or filtered.
			setup:  func(t *testing.T) { r.netnsRule(t, "INPUT", "-p", "tcp", "--dport", "2223", "-j", "DROP") },
			args:   r.runnerArgs(r.offline(r.port(2223)), r.Key),
			want:   []string{"runner-connect linux/amd64: " + r.port(2223) + ":", "did not answer within 15s"},
			within: 3 * time.Minute},
		{name: "key not authorized", source: "testdata/backend",
			args:   r.runnerArgs(r.offline(r.Runner), r.BadKey),
			want:   []string{"runner-connect linux/amd64: " + r.Runner, "refused the key", "Permission denied (publickey)"},
			within: 3 * time.Minute},
		{name: "host key changed", source: "testdata/backend",
			args: []string{"--runner", "linux/amd64=" + r.offline(r.Runner), "--runner-key", "file:" + r.Key,
				"--runner-known-hosts", r.swappedKnownHosts(t)},
			want:   []string{"runner-connect linux/amd64: " + r.Runner, "host key verification failed"},
			within: 3 * time.Minute},
		{name: "runner timeout", source: blobSource,
			args:   append(r.runnerArgs(r.offline(r.Slow), r.Key), "--runner-timeout", "10s"),
			want:   []string{"runner-upload linux/amd64: " + r.Slow, "did not finish within 10s (the upload step was running"},
			within: 3 * time.Minute},
		{name: "runner without Python", source: "testdata/backend",
			args:   r.runnerArgs(r.Bare, r.Key),
			want:   []string{"runner-build linux/amd64: " + r.Bare, "the runner's build failed: env linux/amd64: no Python 3.13", "apt install python3.13"},
			within: 5 * time.Minute},
		// trace=false: tracing (in Dagger, before dispatch) would stop it first.
		{name: "backend does not compile on the runner", source: "testdata/broken/syntax-error",
			args:   append(r.runnerArgs(r.offline(r.Runner), r.Key), "--option", "trace=false"),
			want:   []string{"runner-build linux/amd64: " + r.Runner, "compile linux/amd64: main.py:", "SyntaxError"},
			within: 10 * time.Minute},
		{name: "copy interrupted", source: blobSource,
			args:   r.runnerArgs(r.offline(r.Slow), r.Key),
			during: func(t *testing.T) { cutWhileUploading(t, r) },
			want:   []string{"runner-upload linux/amd64: " + r.Slow, "connection to " + r.Slow + " was lost while copying the source"},
			within: 10 * time.Minute},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dist := filepath.Join(t.TempDir(), "dist")
			assert.NilError(t, os.MkdirAll(dist, 0o755))
			assert.NilError(t, os.WriteFile(filepath.Join(dist, "previous-good-build"), []byte("keep me"), 0o644))
			if tc.setup != nil {
				tc.setup(t)
			}
			if tc.during != nil {
				done := make(chan struct{})
				defer func() { <-done }()
				go func() { defer close(done); tc.during(t) }()
			}
			start := time.Now()
			res := dagger(t, long, append(append([]string{"build", "--source", tc.source, "--platforms", "linux/amd64"}, tc.args...),
				"export", "--path", dist)...)
			took := time.Since(start)
			assert.Check(t, res.Code != 0, "must fail")
			msg := errorLine(res.Stderr)
			for _, w := range tc.want {
				assert.Check(t, is.Contains(msg, w))
			}
			assert.Check(t, took < tc.within, "failed after %s, bound %s", took, tc.within)
			assert.DeepEqual(t, listTree(t, dist), []string{"previous-good-build"})
			assert.Check(t, !strings.Contains(res.Stderr, "BEGIN OPENSSH PRIVATE KEY"), "the key never shows in the output")
		})
	}
}

// swappedKnownHosts is the fixture's known_hosts with the main runner's entries replaced by the
// Python-less runner's key (another machine's): what ssh sees when a host was reinstalled or is
// being impersonated.
func (r sshRunners) swappedKnownHosts(t *testing.T) string {
	b, err := os.ReadFile(r.KnownHosts)
	assert.NilError(t, err)
	u, err := url.Parse(r.Bare)
	assert.NilError(t, err)
	var other string
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) == 3 && f[0] == "["+u.Hostname()+"]:"+u.Port() {
			other = f[1] + " " + f[2]
		}
	}
	assert.Assert(t, other != "", "no host key for %s in %s", r.Bare, r.KnownHosts)
	u, err = url.Parse(r.Runner)
	assert.NilError(t, err)
	p := filepath.Join(t.TempDir(), "known_hosts")
	content := u.Hostname() + " " + other + "\n[" + u.Hostname() + "]:" + u.Port() + " " + other + "\n"
	assert.NilError(t, os.WriteFile(p, []byte(content), 0o644))
	return p
}

// sourceWithBlob is the sample backend plus an incompressible file that is not bundled (no data
// extension), so its upload over the slow link takes long enough to be cut.
func sourceWithBlob(t *testing.T, size int) string {
	dir := filepath.Join(t.TempDir(), "backend")
	assert.NilError(t, exec.Command("cp", "-a", filepath.Join(repoRoot(t), "testdata", "backend"), dir).Run())
	blob := make([]byte, size)
	_, err := rand.Read(blob)
	assert.NilError(t, err)
	assert.NilError(t, os.WriteFile(filepath.Join(dir, "blob.bin"), blob, 0o644))
	return dir
}

// cutWhileUploading waits until the slow runner has started receiving a job, then resets the
// runner's end of every connection to the slow port (a TCP reset from the runner side, as a
// crashed or rebooted machine would send), and removes the rule again.
func cutWhileUploading(t *testing.T, r sshRunners) {
	deadline := time.Now().Add(5 * time.Minute)
	for time.Now().Before(deadline) {
		// Other tests' jobs land in the same home; only this one's source has blob.bin, the
		// first file of src/ after the runner binary.
		jobs, _ := filepath.Glob(filepath.Join(r.Home, "pybundle-job-*", "src", "blob.bin"))
		if len(jobs) > 0 {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	time.Sleep(2 * time.Second) // mid-blob: 8 MiB take ~16 s at 4 Mbit/s
	rule := []string{"INPUT", "-p", "tcp", "--dport", "2022", "-j", "REJECT", "--reject-with", "tcp-reset"}
	ipt := func(op string) {
		out, err := exec.Command("ip", append([]string{"netns", "exec", r.Netns, "iptables", op}, rule...)...).CombinedOutput()
		if err != nil {
			t.Errorf("iptables %s in %s: %v: %s", op, r.Netns, err, out)
		}
	}
	ipt("-I")
	time.Sleep(20 * time.Second) // longer than the dispatch's cleanup attempt needs to fail
	ipt("-D")
}

// TestRunnerTimeoutKillsRemoteJob: when --runner-timeout ends a job while the runner is busy
// (here: health-checking a backend that never answers), the module kills what the job started
// on the runner: afterwards no process there names the job's folder. Found by its source's
// marker file, as other tests' jobs share the runner.
func TestRunnerTimeoutKillsRemoteJob(t *testing.T) {
	r := requireRunners(t)
	t.Parallel()
	src := filepath.Join(t.TempDir(), "backend")
	marker := fmt.Sprintf("marker-%d.txt", time.Now().UnixNano())
	assert.NilError(t, os.MkdirAll(src, 0o755))
	// Never healthy: the runner's health stage waits (budget 10m) until the job is ended.
	assert.NilError(t, os.WriteFile(filepath.Join(src, "main.py"), []byte("import time\n\ntime.sleep(900)\n"), 0o644))
	assert.NilError(t, os.WriteFile(filepath.Join(src, marker), []byte("x"), 0o644))
	req, err := os.ReadFile(filepath.Join(repoRoot(t), "testdata", "backend", "requirements.txt"))
	assert.NilError(t, err)
	assert.NilError(t, os.WriteFile(filepath.Join(src, "requirements.txt"), req, 0o644))

	// The job's folder name, once its upload has landed, and whether its backend was seen
	// running on the runner (so the check below can fail: there was something to kill).
	type watched struct {
		job     string
		running []string
	}
	seen := make(chan watched, 1)
	go func() {
		var w watched
		defer func() { seen <- w }()
		for deadline := time.Now().Add(10 * time.Minute); time.Now().Before(deadline); time.Sleep(500 * time.Millisecond) {
			if w.job == "" {
				if m, _ := filepath.Glob(filepath.Join(r.Home, "pybundle-job-*", "src", marker)); len(m) > 0 {
					w.job = filepath.Base(filepath.Dir(filepath.Dir(m[0])))
				}
				continue
			}
			for _, p := range processesNaming(w.job) {
				if strings.Contains(p, "/out/dist/") { // the frozen backend, started by health
					w.running = append(w.running, p)
					return
				}
			}
		}
	}()
	res := dagger(t, long, append(append([]string{"build", "--source", src, "--platforms", "linux/amd64", "--budget", "10m",
		"--option", "trace=false"}, r.runnerArgs(r.offline(r.Runner), r.Key)...), "--runner-timeout", "2m",
		"export", "--path", filepath.Join(t.TempDir(), "dist"))...)
	assert.Assert(t, res.Code != 0, "must fail")
	assert.Check(t, is.Contains(errorLine(res.Stderr), "did not finish within 2m0s"))
	w := <-seen
	job := w.job
	assert.Assert(t, job != "", "the job never reached the runner")
	assert.Assert(t, len(w.running) > 0, "the job's backend was never seen running on the runner")

	// The kill is sent before the error returns; give the kernel a moment to reap.
	var left []string
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(time.Second) {
		if left = processesNaming(job); len(left) == 0 {
			break
		}
	}
	assert.Check(t, len(left) == 0, "still running on the runner after the timeout: %v", left)
}

// processesNaming lists this machine's processes whose command line contains s (the runners
// are chroots on this machine, so their processes are ours to see).
func processesNaming(s string) []string {
	var out []string
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		b, err := os.ReadFile(p)
		if err != nil || !strings.Contains(string(b), s) {
			continue
		}
		out = append(out, filepath.Base(filepath.Dir(p))+": "+strings.ReplaceAll(string(b), "\x00", " "))
	}
	return out
}

// TestOneConfigurationTwoExecutors: a backend configured only through its pyproject.toml
// (testdata/corpus/env-port: its start, port, health path and environment) builds the same
// through the module in Dagger and through pybundle-runner on a runner: the same plan facts in
// the report, the same health settings honoured, the same files in the bundle.
func TestOneConfigurationTwoExecutors(t *testing.T) {
	r := requireRunners(t)
	t.Parallel()
	build := func(args ...string) report.Entry {
		out := filepath.Join(t.TempDir(), "dist")
		mustDagger(t, long, append(append([]string{"build", "--source", "testdata/corpus/env-port"}, args...), "export", "--path", out)...)
		return onlyEntry(t, out)
	}
	inDagger := build()
	onRunner := build(r.runnerArgs(r.offline(r.Runner), r.Key)...)
	assert.Check(t, strings.HasPrefix(inDagger.Builder, "dagger:"), inDagger.Builder)
	assert.Check(t, strings.HasPrefix(onRunner.Builder, "runner:"), onRunner.Builder)
	for _, e := range []report.Entry{inDagger, onRunner} {
		assert.Check(t, e.OK(), "%s: %+v", e.Builder, e.Checks)
		health := e.Checks[len(e.Checks)-1]
		assert.Check(t, is.Contains(health.Detail, "healthy on /healthz after"), "%s: %s", e.Builder, health.Detail)
		assert.Check(t, is.Contains(health.Detail, "warm-up GET /api/mode: 200"), "%s: %s", e.Builder, health.Detail)
		assert.Check(t, e.SBOM != "", e.Builder)
	}
	assert.Equal(t, onRunner.Start, inDagger.Start)
	assert.Equal(t, onRunner.OwnModules, inDagger.OwnModules)
	assert.DeepEqual(t, onRunner.HiddenImports, inDagger.HiddenImports)
	assert.DeepEqual(t, onRunner.Data, inDagger.Data)
	paths := func(e report.Entry) []string {
		var ps []string
		for _, f := range e.Manifest.Files {
			ps = append(ps, f.Path)
		}
		return ps
	}
	// The one difference the executors are allowed: a runner freezes with its own PyInstaller
	// and so the stock bootloader, which loads a bundled shared libpython; the module's static
	// bootloader carries libpython inside the executable. Everything else is the same file set.
	assert.Check(t, is.Equal(inDagger.Bootloader, "static"))
	assert.Check(t, is.Equal(onRunner.Bootloader, "stock"))
	var sharedLibpython []string
	runnerPaths := slices.DeleteFunc(paths(onRunner), func(p string) bool {
		if strings.HasPrefix(path.Base(p), "libpython3") {
			sharedLibpython = append(sharedLibpython, p)
			return true
		}
		return false
	})
	assert.Check(t, is.Len(sharedLibpython, 1), "the runner's bundle ships one shared libpython: %v", sharedLibpython)
	assert.DeepEqual(t, runnerPaths, paths(inDagger))
	t.Logf("bundle digests: dagger %s, runner %s (equal: %v)", inDagger.BundleSHA256, onRunner.BundleSHA256, inDagger.BundleSHA256 == onRunner.BundleSHA256)
}
