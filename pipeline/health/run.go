package health

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// attempt is the outcome of one start-up; reason is empty when it succeeded.
type attempt struct {
	run       Run
	reason    string
	logTail   []string
	leftovers []string
}

// probeOnce starts the backend, waits for health, stops it and looks for
// leftovers. The error is only for a cancelled ctx.
func probeOnce(ctx context.Context, o Options) (attempt, error) {
	var a attempt
	port := o.Port
	if port == 0 {
		p, err := freePort()
		if err != nil {
			a.reason = fmt.Sprintf("no free port: %v", err)
			return a, nil
		}
		port = p
	} else if err := portFree(port); err != nil {
		a.reason = err.Error() // before starting anything: a foreign server would answer our polls
		return a, nil
	}

	env := append(append(os.Environ(), o.Env...), o.portEnv(port)...)
	meiBefore := meiDirs(env)
	logs := newRing(logTailLines, o.Output)
	// Our own pipe instead of letting os/exec copy: Wait then returns when the
	// backend exits, not when the last descendant holding the pipe closes it.
	pr, pw, err := os.Pipe()
	if err != nil {
		return a, fmt.Errorf("health %s: %w", o.Artifact, err)
	}
	readDone := make(chan struct{})
	go func() { _, _ = io.Copy(logs, pr); close(readDone) }()
	// closeLogs is called once the process tree is gone: every writer is then
	// closed and the reader drains quickly. The bound covers a writer we could
	// not find (and so not kill), which must not hang the probe.
	closeLogs := func() {
		select {
		case <-readDone:
		case <-time.After(500 * time.Millisecond):
		}
		pr.Close()
	}

	cmd := exec.Command(o.Artifact, append(append([]string(nil), o.Args...), o.portArgs(port)...)...)
	cmd.Env, cmd.Dir = env, o.Dir
	cmd.Stdout, cmd.Stderr = pw, pw
	setProcessGroup(cmd)

	t0 := time.Now()
	err = cmd.Start()
	pw.Close()
	if err != nil {
		closeLogs()
		a.reason = fmt.Sprintf("cannot start: %v", err)
		return a, nil
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()

	tr := newTracker(cmd.Process.Pid)
	stopScan := make(chan struct{})
	scanDone := make(chan struct{})
	go func() { // follow the tree while it starts, before orphans lose their ppid link
		defer close(scanDone)
		tick := time.NewTicker(max(o.Interval, 10*time.Millisecond))
		defer tick.Stop()
		for {
			tr.scan()
			select {
			case <-stopScan:
				return
			case <-tick.C:
			}
		}
	}()

	var exitedEarly bool
	a.run, a.reason, exitedEarly = poll(ctx, o, port, t0, exited)
	if a.reason == "" && !exitedEarly {
		a.run.CPUMS = tr.cpuMS()
	}
	if a.reason == "" && !exitedEarly && len(o.WarmUp) > 0 {
		a.run.WarmUp, a.reason = warmUp(ctx, o, port, exited)
	}
	if a.reason == "" && !exitedEarly && o.Linger > 0 {
		select {
		case <-time.After(o.Linger):
		case <-exited:
		case <-ctx.Done():
		}
	}
	close(stopScan)
	<-scanDone
	// One last look while the backend still runs: on a loaded machine the scanner's last
	// round can predate a child forked just before the healthy answer, which SIGTERM would
	// then orphan out of reach (seen under load: a setsid child reported as nothing left).
	tr.scan()
	if ctx.Err() != nil {
		killTree(cmd.Process, tr, exited)
		closeLogs()
		return a, fmt.Errorf("health %s: interrupted: %w", o.Artifact, ctx.Err())
	}
	a.leftovers = shutdown(cmd.Process, tr, exited, o.Grace)
	a.run.ExitCode = -1
	if isClosed(exited) { // else it resisted even SIGKILL (stuck in the kernel)
		a.run.ExitCode = exitCode(cmd.ProcessState)
	}
	if exitedEarly {
		a.reason = fmt.Sprintf("backend exited with code %d during start-up", a.run.ExitCode)
	}
	// Reported, not deleted: on a shared host (a runner) a new _MEI dir could
	// belong to another PyInstaller app that is still running.
	for _, d := range newMeiDirs(meiBefore, meiDirs(env)) {
		a.leftovers = append(a.leftovers, d+": not removed after exit")
	}
	if a.reason == "" && len(a.leftovers) > 0 {
		a.reason = fmt.Sprintf("left behind after SIGTERM: %s", strings.Join(a.leftovers, "; "))
	}
	closeLogs()
	if a.reason != "" {
		a.logTail = logs.tail()
	}
	return a, nil
}

// poll asks for health every Interval until a healthy answer, the backend's
// exit, the budget or ctx ends it. reason is empty on success; exitedEarly
// leaves the reason to the caller, which gets the exit code.
func poll(ctx context.Context, o Options, port int, t0 time.Time, exited <-chan struct{}) (run Run, reason string, exitedEarly bool) {
	budget := o.effectiveBudget()
	deadline := t0.Add(budget)
	client := &http.Client{Transport: &http.Transport{
		Proxy:             nil, // never send a localhost health check through HTTP_PROXY
		DisableKeepAlives: true,
	}}
	url := "http://127.0.0.1:" + strconv.Itoa(port) + o.Path
	last := "no answer"
	for {
		run.Polls++
		body, status, err := get(ctx, client, url, deadline)
		switch {
		case err != nil:
			last = err.Error()
		case status < 200 || status > 299:
			last = fmt.Sprintf("HTTP %d", status)
		case unhealthy(body):
			last = fmt.Sprintf("HTTP %d with status %v", status, body["status"])
		default:
			elapsed := time.Since(t0)
			run.StartupMS, run.Body = ms(elapsed), body
			if elapsed > budget { // the answer was already on its way at the deadline
				return run, fmt.Sprintf("%s (first healthy answer after %s)", overBudget(o), elapsed.Round(time.Millisecond)), false
			}
			return run, "", false
		}
		wait := time.NewTimer(o.Interval)
		select {
		case <-exited:
			wait.Stop()
			return run, "", true
		case <-ctx.Done():
			wait.Stop()
			return run, ctx.Err().Error(), false
		case <-wait.C:
		}
		if !time.Now().Before(deadline) {
			return run, fmt.Sprintf("%s (%d polls, last: %s)", overBudget(o), run.Polls, last), false
		}
	}
}

// unhealthyWords are "status" values of a health answer that say the backend is not ready.
var unhealthyWords = map[string]bool{"error": true, "fail": true, "failed": true, "failing": true, "down": true,
	"unhealthy": true, "starting": true, "initializing": true, "not ready": true, "not_ready": true, "unavailable": true}

// unhealthy reports whether a 2xx answer still says "not ready": a JSON object whose "status"
// is one of unhealthyWords (any case) or false. Anything else in 2xx is healthy ({"status":
// "ok"}, {"status": "healthy"}, plain text), since backends word it in many ways.
func unhealthy(body map[string]any) bool {
	switch v := body["status"].(type) {
	case string:
		return unhealthyWords[strings.ToLower(strings.TrimSpace(v))]
	case bool:
		return !v
	}
	return false
}

// warmUp requests each warm-up path once; every one must answer 2xx while the backend lives.
func warmUp(ctx context.Context, o Options, port int, exited <-chan struct{}) ([]WarmUp, string) {
	client := &http.Client{Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true}}
	var done []WarmUp
	for _, p := range o.WarmUp {
		t := time.Now()
		budget := o.warmUpBudget()
		_, status, err := get(ctx, client, "http://127.0.0.1:"+strconv.Itoa(port)+p, t.Add(budget), budget)
		w := WarmUp{Path: p, Status: status, MS: ms(time.Since(t))}
		done = append(done, w)
		switch {
		case isClosed(exited):
			return done, fmt.Sprintf("backend exited during warm-up GET %s", p)
		case err != nil && status == 0:
			return done, fmt.Sprintf("warm-up GET %s: %v", p, err)
		case status < 200 || status > 299:
			return done, fmt.Sprintf("warm-up GET %s: HTTP %d", p, status)
		}
	}
	return done, ""
}

// overBudget says which budget was exceeded, and how it was scaled.
func overBudget(o Options) string {
	s := fmt.Sprintf("not healthy within %s", o.effectiveBudget())
	if o.Emulated {
		s += fmt.Sprintf(" (%s x %g, emulated)", o.Budget, o.EmulatedFactor)
	}
	return s
}

// get makes one request with a short timeout (at most each, default a second), never past the
// deadline. The body is decoded when it is a JSON object; a 2xx answer that is not is fine.
func get(ctx context.Context, c *http.Client, url string, deadline time.Time, each ...time.Duration) (map[string]any, int, error) {
	limit := time.Second
	if len(each) > 0 {
		limit = each[0]
	}
	d := min(limit, time.Until(deadline))
	if d < 50*time.Millisecond {
		d = 50 * time.Millisecond
	}
	rctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	req, err := http.NewRequestWithContext(rctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, 0, err
	}
	resp, err := c.Do(req)
	if err != nil {
		if errors.Is(err, syscall.ECONNREFUSED) { // the usual answer while starting: keep it short
			return nil, 0, errors.New("connection refused")
		}
		return nil, 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil || resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil, resp.StatusCode, err
	}
	var body map[string]any
	_ = json.Unmarshal(b, &body) // not JSON: no status to judge
	return body, resp.StatusCode, nil
}

// shutdown sends SIGTERM to the backend (unless it already exited) and waits up
// to grace for it and every descendant to be gone. Survivors are SIGKILLed and
// returned as leftovers.
func shutdown(p *os.Process, tr *tracker, exited <-chan struct{}, grace time.Duration) []string {
	select {
	case <-exited:
	default:
		_ = terminate(p)
	}
	deadline := time.Now().Add(grace)
	for {
		tr.scan()
		mainGone := isClosed(exited)
		rest := tr.alive()
		if mainGone && len(rest) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			var left []string
			if !mainGone {
				left = append(left, fmt.Sprintf("pid %d (the backend) still running %s after SIGTERM; killed", p.Pid, grace))
			}
			for _, q := range rest {
				left = append(left, fmt.Sprintf("%s still running %s after SIGTERM; killed", q, grace))
			}
			killTree(p, tr, exited)
			return left
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// killTree SIGKILLs the backend, its process group and every known
// descendant, then waits briefly for them to go.
func killTree(p *os.Process, tr *tracker, exited <-chan struct{}) {
	_ = p.Kill()
	killGroup(p.Pid)
	tr.scan()
	for _, q := range tr.alive() {
		tr.kill(q)
	}
	end := time.Now().Add(2 * time.Second)
	for time.Now().Before(end) {
		tr.scan()
		if isClosed(exited) && len(tr.alive()) == 0 {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func isClosed(c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// freePort asks the kernel for a port nobody listens on. The port is released
// again before the backend binds it; the window is small and the failure
// (backend cannot bind) is reported, so no retry logic is worth having here.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// portFree fails when something already listens on port, on loopback or on
// all interfaces: our polls would reach that server instead of the backend.
func portFree(port int) error {
	for _, addr := range []string{"127.0.0.1:", ":"} {
		l, err := net.Listen("tcp", addr+strconv.Itoa(port))
		if err != nil {
			if errors.Is(err, syscall.EADDRINUSE) {
				return fmt.Errorf("port %d is already in use", port)
			}
			return fmt.Errorf("port %d cannot be bound: %v", port, err)
		}
		l.Close()
	}
	return nil
}

// meiDirs lists the onefile extraction directories (_MEI*) in the temp
// directories the PyInstaller bootloader may use: the first of $TMPDIR, $TEMP,
// $TMP, $TEMPDIR set in the backend's environment, and /tmp.
func meiDirs(env []string) map[string]bool {
	dirs := []string{"/tmp"}
	vars := map[string]string{}
	for _, kv := range env {
		if k, v, ok := strings.Cut(kv, "="); ok {
			vars[k] = v // later entries win, as for the child
		}
	}
	for _, k := range []string{"TMPDIR", "TEMP", "TMP", "TEMPDIR"} {
		if v := vars[k]; v != "" {
			dirs = append(dirs, v)
			break
		}
	}
	found := map[string]bool{}
	for _, d := range dirs {
		matches, _ := filepath.Glob(filepath.Join(d, "_MEI*"))
		for _, m := range matches {
			if fi, err := os.Stat(m); err == nil && fi.IsDir() {
				found[filepath.Clean(m)] = true
			}
		}
	}
	return found
}

func newMeiDirs(before, after map[string]bool) []string {
	var out []string
	for d := range after {
		if !before[d] {
			out = append(out, d)
		}
	}
	sort.Strings(out)
	return out
}
