//go:build linux

package health

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"
)

// The test binary doubles as the backend under test (the helper-process
// pattern of os/exec's own tests): with fakeRole set it never runs the tests
// but behaves like a frozen FastAPI backend, steered by FAKE_* variables.
const fakeRole = "PYBUNDLE_FAKE_BACKEND"

func TestMain(m *testing.M) {
	switch os.Getenv(fakeRole) {
	case "backend":
		os.Exit(fakeBackend())
	case "child":
		fakeChild()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// fakePort reads the port the way FAKE_PORT says, and refuses anything else as a strict
// argument parser would: "" (default) wants exactly "--port N" last and APP_PORT=PORT=N;
// "env:NAME" wants no arguments at all and the port in $NAME; "bind" wants exactly one
// argument "--bind=127.0.0.1:N".
func fakePort(args []string) (string, bool) {
	how := os.Getenv("FAKE_PORT")
	switch {
	case strings.HasPrefix(how, "env:"):
		if len(args) > 0 {
			fmt.Fprintf(os.Stderr, "error: unrecognized arguments: %s\n", strings.Join(args, " "))
			return "", false
		}
		return os.Getenv(strings.TrimPrefix(how, "env:")), true
	case how == "bind":
		if p, ok := strings.CutPrefix(strings.Join(args, " "), "--bind=127.0.0.1:"); ok && len(args) == 1 {
			return p, true
		}
		fmt.Fprintf(os.Stderr, "usage: fake --bind=127.0.0.1:N (got %q)\n", args)
		return "", false
	}
	if len(args) < 2 || args[len(args)-2] != "--port" {
		fmt.Fprintf(os.Stderr, "usage: fake --port N (got %q)\n", args)
		return "", false
	}
	port := args[len(args)-1]
	if os.Getenv("APP_PORT") != port || os.Getenv("PORT") != port {
		fmt.Fprintf(os.Stderr, "APP_PORT=%s PORT=%s, want %s\n", os.Getenv("APP_PORT"), os.Getenv("PORT"), port)
		return "", false
	}
	return port, true
}

// fakeBackend stands in for the PyInstaller executable:
//
//	FAKE_SLEEP=d        start-up work before listening
//	FAKE_BURN=d         start-up work on the CPU: until the process has used d of CPU time
//	FAKE_EXIT=n         print 25 log lines and exit with n instead of serving
//	FAKE_UNHEALTHY=1    serve, but answer 503 {"status": "starting"} forever
//	FAKE_CHILD=mode     spawn a child that ignores SIGTERM ("group": stays in
//	                    our process group, "detached": calls setsid)
//	FAKE_IGNORE_TERM=1  ignore SIGTERM itself
//	FAKE_MEI=mode       create $TMPDIR/_MEIxxxxxx ("leak": keep it on exit,
//	                    "clean": remove it on SIGTERM, as the bootloader does)
//	FAKE_MARKER=path    write path when started (proves whether it ran)
//	FAKE_PORT=how       how it takes its port (see fakePort)
//	FAKE_HEALTH_PATH=p  answer health on p instead of /api/health
func fakeBackend() int {
	if m := os.Getenv("FAKE_MARKER"); m != "" {
		_ = os.WriteFile(m, nil, 0o644)
	}
	port, ok := fakePort(os.Args[1:])
	if !ok {
		return 64
	}
	var mei string
	if os.Getenv("FAKE_MEI") != "" {
		mei, _ = os.MkdirTemp(os.Getenv("TMPDIR"), "_MEI")
	}
	if os.Getenv("FAKE_IGNORE_TERM") == "1" {
		signal.Ignore(syscall.SIGTERM)
	} else {
		terms := make(chan os.Signal, 1)
		signal.Notify(terms, syscall.SIGTERM)
		go func() { // at any time, like Python's default SIGTERM or uvicorn's handler
			<-terms
			fmt.Println("INFO: Shutting down")
			if os.Getenv("FAKE_MEI") == "clean" {
				os.RemoveAll(mei)
			}
			os.Exit(0)
		}()
	}
	if mode := os.Getenv("FAKE_CHILD"); mode != "" {
		child := exec.Command(os.Args[0])
		child.Env = append(os.Environ(), fakeRole+"=child")
		child.Stdout, child.Stderr = os.Stdout, os.Stderr
		child.SysProcAttr = &syscall.SysProcAttr{Setsid: mode == "detached"}
		if err := child.Start(); err != nil {
			fmt.Fprintln(os.Stderr, "spawn:", err)
			return 70
		}
	}
	fmt.Println("INFO: starting backend")
	if d, _ := time.ParseDuration(os.Getenv("FAKE_SLEEP")); d > 0 {
		time.Sleep(d)
	}
	if d, _ := time.ParseDuration(os.Getenv("FAKE_BURN")); d > 0 {
		for x := 0; ; x++ {
			var ru syscall.Rusage
			if x%1000 == 0 && syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil &&
				time.Duration(ru.Utime.Nano()+ru.Stime.Nano()) >= d {
				break
			}
		}
	}
	if code := os.Getenv("FAKE_EXIT"); code != "" {
		for i := 1; i <= 24; i++ {
			fmt.Printf("log line %d\n", i)
		}
		fmt.Fprint(os.Stderr, "ModuleNotFoundError: No module named 'services.users'") // no newline: a crash mid-line
		n, _ := strconv.Atoi(code)
		return n
	}
	status, code := "ok", http.StatusOK
	if os.Getenv("FAKE_UNHEALTHY") == "1" {
		status, code = "starting", http.StatusServiceUnavailable
	}
	mux := http.NewServeMux()
	healthPath := cmp.Or(os.Getenv("FAKE_HEALTH_PATH"), "/api/health")
	mux.HandleFunc(healthPath, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		json.NewEncoder(w).Encode(map[string]any{"status": status, "version": "1.0.0", "frozen": true})
	})
	l, err := net.Listen("tcp", "127.0.0.1:"+port)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	go http.Serve(l, mux)
	fmt.Println("INFO: Uvicorn running on http://127.0.0.1:" + port)
	time.Sleep(20 * time.Second) // until SIGTERM; never outlive the test run
	return 99
}

// fakeChild is a worker that ignores SIGTERM, like a subprocess that does not
// get told about shutdown.
func fakeChild() {
	signal.Ignore(syscall.SIGTERM)
	fmt.Println("child: working")
	time.Sleep(15 * time.Second)
}

// fake returns Options running the test binary as the backend.
func fake(env ...string) Options {
	return Options{
		Artifact: os.Args[0],
		// GORACE: under -race every exit would otherwise sleep 1s, longer than the test graces
		Env:      append([]string{fakeRole + "=backend", "GORACE=atexit_sleep_ms=0"}, env...),
		Budget:   2 * time.Second,
		Grace:    time.Second,
		Interval: 10 * time.Millisecond,
	}
}

func probe(t *testing.T, o Options) Result {
	t.Helper()
	start := time.Now()
	r, err := Probe(context.Background(), o)
	assert.NilError(t, err)
	assert.Assert(t, time.Since(start) < 3*time.Second, "too slow: %s", time.Since(start))
	assert.Equal(t, r.Artifact, o.Artifact)
	return r
}

var pidRE = regexp.MustCompile(`pid (\d+)`)

// assertGone checks that every pid named in leftovers no longer runs.
func assertGone(t *testing.T, leftovers []string) {
	t.Helper()
	for _, l := range leftovers {
		for _, m := range pidRE.FindAllStringSubmatch(l, -1) {
			pid, _ := strconv.Atoi(m[1])
			p, ok := readProc(pid)
			assert.Assert(t, !ok || !p.alive(), "pid %d still alive after Probe: %+v", pid, p)
		}
	}
}

func TestProbeHealthy(t *testing.T) {
	o := fake("FAKE_SLEEP=150ms")
	r := probe(t, o)
	assert.Assert(t, r.OK, "%+v", r)
	assert.Equal(t, r.Reason, "")
	assert.NilError(t, r.Err())
	assert.Equal(t, len(r.Runs), 1)
	run := r.Runs[0]
	assert.Assert(t, run.StartupMS >= 150, "start-up %v ms must include the 150ms start-up work", run.StartupMS)
	assert.Assert(t, run.Polls > 1, "polled while it started: %d", run.Polls)
	assert.Equal(t, run.ExitCode, 0, "SIGTERM handled")
	assert.Equal(t, run.Body["status"], "ok")
	assert.Equal(t, r.MinMS, run.StartupMS)
	assert.Equal(t, r.MedianMS, run.StartupMS)
	assert.Equal(t, r.MaxMS, run.StartupMS)
	assert.Equal(t, r.BudgetMS, 2000.0)
	assert.Assert(t, r.LogTail == nil, "no log tail on success")
	assert.Assert(t, r.Leftovers == nil)
}

// The CPU time the backend used until healthy is measured with the start-up (Linux: /proc),
// however long other load makes the wall time.
func TestProbeCPUTime(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("CPU time is read from /proc")
	}
	r := probe(t, fake("FAKE_BURN=300ms"))
	assert.Assert(t, r.OK, "%+v", r)
	run := r.Runs[0]
	assert.Assert(t, run.CPUMS >= 290 && run.CPUMS <= 2*run.StartupMS+50, "cpu %v ms, start-up %v ms", run.CPUMS, run.StartupMS)
	idle := probe(t, fake("FAKE_SLEEP=300ms")).Runs[0]
	assert.Assert(t, idle.CPUMS < 250, "sleeping is no CPU time: %v ms", idle.CPUMS)
}

func TestProbeSeveralRuns(t *testing.T) {
	o := fake()
	o.Runs = 3
	r := probe(t, o)
	assert.Assert(t, r.OK, "%+v", r)
	assert.Equal(t, len(r.Runs), 3)
	assert.Assert(t, r.MinMS <= r.MedianMS && r.MedianMS <= r.MaxMS, "%v %v %v", r.MinMS, r.MedianMS, r.MaxMS)
}

func TestProbeFixedPortAndArgs(t *testing.T) {
	port, err := freePort()
	assert.NilError(t, err)
	o := fake()
	o.Port = port
	o.Args = []string{"--log-level", "warning"} // before --port, which the fake insists is last
	r := probe(t, o)
	assert.Assert(t, r.OK, "%+v", r)
}

// TestProbePortSettings: the port is handed over as the backend wants it, including a backend
// that reads it only from the environment and rejects every argument; a health path of its own.
func TestProbePortSettings(t *testing.T) {
	for _, tc := range []struct {
		name string
		o    Options
		env  []string
		ok   bool
	}{
		{"environment only", Options{PortEnvOnly: true, PortEnv: []string{"BACKEND_PORT"}}, []string{"FAKE_PORT=env:BACKEND_PORT"}, true},
		{"environment only, default variables", Options{PortEnvOnly: true}, []string{"FAKE_PORT=env:PORT"}, true},
		{"argument template", Options{PortArgs: []string{"--bind=127.0.0.1:{port}"}}, []string{"FAKE_PORT=bind"}, true},
		{"health path", Options{Path: "/healthz"}, []string{"FAKE_HEALTH_PATH=/healthz"}, true},
		// Failing counterparts: the default --port argument is refused by a strict parser, and
		// the default path is not served.
		{"strict parser given --port", Options{}, []string{"FAKE_PORT=env:PORT"}, false},
		{"wrong health path", Options{}, []string{"FAKE_HEALTH_PATH=/healthz"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := fake(tc.env...)
			o.PortArgs, o.PortEnvOnly, o.PortEnv, o.Path = tc.o.PortArgs, tc.o.PortEnvOnly, tc.o.PortEnv, tc.o.Path
			o.Budget = 2 * time.Second
			start := time.Now()
			r, err := Probe(context.Background(), o)
			assert.NilError(t, err)
			assert.Equal(t, r.OK, tc.ok, "%+v", r)
			assert.Assert(t, time.Since(start) < 8*time.Second)
		})
	}
}

func TestCheckPortSettings(t *testing.T) {
	assert.NilError(t, CheckPortSettings(DefaultPortArgs, DefaultPortEnv, false))
	assert.NilError(t, CheckPortSettings(nil, []string{"UVICORN_PORT"}, true))
	assert.ErrorContains(t, CheckPortSettings([]string{"--port", "8000"}, nil, false), "name no {port}")
	assert.ErrorContains(t, CheckPortSettings(nil, []string{"9PORT"}, true), `"9PORT"`)
	assert.ErrorContains(t, CheckPortSettings(nil, []string{"A=B"}, true), `"A=B"`)
	assert.ErrorContains(t, CheckPortSettings(nil, []string{""}, true), `""`)
}

func TestProbeFailures(t *testing.T) {
	for _, tc := range []struct {
		name      string
		opts      func(t *testing.T) Options
		reason    string   // prefix of Reason
		contains  []string // more substrings of Reason
		tail      []string // expected LogTail, when set
		leftovers []string // substrings, one per expected leftover (in order)
		exitCode  *int
		// quietOK: the process may be stopped before it has written a line (a short budget on
		// a loaded machine ends it while the test binary is still starting), so an empty log
		// tail is right; the case is about the reason.
		quietOK bool
	}{
		{
			name:   "exits during start-up",
			opts:   func(t *testing.T) Options { return fake("FAKE_EXIT=7") },
			reason: "backend exited with code 7 during start-up",
			tail:   append(lines(6, 24), "ModuleNotFoundError: No module named 'services.users'"),
		},
		{
			name: "over budget, unhealthy answers",
			opts: func(t *testing.T) Options {
				o := fake("FAKE_UNHEALTHY=1")
				o.Budget = 2 * time.Second // a margin that holds on a loaded machine
				return o
			},
			reason:   "not healthy within 2s",
			contains: []string{"last: HTTP 503"},
		},
		{
			name: "over budget, never listens",
			opts: func(t *testing.T) Options {
				o := fake("FAKE_SLEEP=30s")
				// Found flaky under load with 200ms: the first poll could outlast the budget
				// and report a timeout instead of the refused connection.
				o.Budget = 2 * time.Second
				return o
			},
			reason:   "not healthy within 2s",
			contains: []string{"last: connection refused"},
		},
		{
			name: "emulated budget is multiplied, still exceeded",
			opts: func(t *testing.T) Options {
				o := fake("FAKE_SLEEP=10s")
				o.Budget, o.Emulated, o.EmulatedFactor = 10*time.Millisecond, true, 20
				return o
			},
			reason:  "not healthy within 200ms (10ms x 20, emulated)",
			quietOK: true,
		},
		{
			name: "orphan child ignoring SIGTERM",
			opts: func(t *testing.T) Options {
				o := fake("FAKE_CHILD=group")
				o.Grace = 300 * time.Millisecond
				return o
			},
			reason:    "left behind after SIGTERM: pid ",
			leftovers: []string{"still running 300ms after SIGTERM; killed"},
			exitCode:  ptr(0),
		},
		{
			name: "detached orphan (setsid) is still found",
			opts: func(t *testing.T) Options {
				o := fake("FAKE_CHILD=detached")
				o.Grace = 300 * time.Millisecond
				return o
			},
			reason:    "left behind after SIGTERM",
			leftovers: []string{"still running 300ms after SIGTERM; killed"},
		},
		{
			name: "backend ignores SIGTERM",
			opts: func(t *testing.T) Options {
				o := fake("FAKE_IGNORE_TERM=1")
				o.Grace = 300 * time.Millisecond
				return o
			},
			reason:    "left behind after SIGTERM",
			leftovers: []string{"(the backend) still running 300ms after SIGTERM; killed"},
			exitCode:  ptr(128 + int(syscall.SIGKILL)),
		},
		{
			name: "onefile extraction dir left behind",
			opts: func(t *testing.T) Options {
				return fake("FAKE_MEI=leak", "TMPDIR="+t.TempDir())
			},
			reason:    "left behind after SIGTERM",
			leftovers: []string{"/_MEI"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := probe(t, tc.opts(t))
			assert.Assert(t, !r.OK)
			assert.Assert(t, strings.HasPrefix(r.Reason, tc.reason), "reason %q", r.Reason)
			for _, s := range tc.contains {
				assert.Assert(t, is.Contains(r.Reason, s))
			}
			assert.ErrorContains(t, r.Err(), os.Args[0])
			assert.Assert(t, (len(r.LogTail) > 0 || tc.quietOK) && len(r.LogTail) <= logTailLines, "log tail %q", r.LogTail)
			if tc.tail != nil {
				assert.DeepEqual(t, r.LogTail, tc.tail)
			}
			assert.Equal(t, len(r.Leftovers), len(tc.leftovers), "%q", r.Leftovers)
			for i, s := range tc.leftovers {
				assert.Assert(t, is.Contains(r.Leftovers[i], s))
			}
			assertGone(t, r.Leftovers)
			for _, l := range r.Leftovers {
				if strings.Contains(l, "/_MEI") {
					dir, _, _ := strings.Cut(l, ":")
					_, err := os.Stat(dir)
					assert.NilError(t, err, "the leftover dir is reported as it is")
				}
			}
			assert.Equal(t, len(r.Runs), 0, "a failed run is not a measurement")
			if tc.exitCode != nil {
				// the exit code of a failed run only shows in leftovers/reason;
				// probeOnce is checked directly for it
				a, err := probeOnce(context.Background(), mustDefaults(t, tc.opts(t)))
				assert.NilError(t, err)
				assert.Equal(t, a.run.ExitCode, *tc.exitCode)
			}
		})
	}
}

func TestProbePortInUse(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	assert.NilError(t, err)
	defer l.Close()
	port := l.Addr().(*net.TCPAddr).Port
	marker := filepath.Join(t.TempDir(), "started")
	o := fake("FAKE_MARKER=" + marker)
	o.Port = port
	r := probe(t, o)
	assert.Assert(t, !r.OK)
	assert.Equal(t, r.Reason, fmt.Sprintf("port %d is already in use", port))
	_, err = os.Stat(marker)
	assert.Assert(t, os.IsNotExist(err), "the backend must not have been started")
}

func TestProbeMEI(t *testing.T) {
	tmp := t.TempDir()
	old := filepath.Join(tmp, "_MEIold123")
	assert.NilError(t, os.Mkdir(old, 0o755)) // from an earlier crash: not ours to report
	r := probe(t, fake("FAKE_MEI=clean", "TMPDIR="+tmp))
	assert.Assert(t, r.OK, "%+v", r)
	_, err := os.Stat(old)
	assert.NilError(t, err, "pre-existing dirs are left alone")
}

func TestProbeEmulatedWithinBudget(t *testing.T) {
	o := fake("FAKE_SLEEP=100ms")
	o.Budget, o.Emulated, o.EmulatedFactor = 20*time.Millisecond, true, 30
	r := probe(t, o)
	assert.Assert(t, r.OK, "%+v", r)
	assert.Assert(t, r.Emulated)
	assert.Equal(t, r.BudgetMS, 600.0)
	assert.Assert(t, r.Runs[0].StartupMS > 20, "reported although over the unscaled budget")
}

func TestProbeCannotStart(t *testing.T) {
	o := fake()
	o.Artifact = filepath.Join(t.TempDir(), "missing")
	r := probe(t, o)
	assert.Assert(t, !r.OK)
	assert.Assert(t, is.Contains(r.Reason, "cannot start"))
	assert.ErrorContains(t, r.Err(), o.Artifact)
}

func TestProbeCancelled(t *testing.T) {
	o := fake("FAKE_SLEEP=10s", "FAKE_CHILD=group")
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	_, err := Probe(ctx, o)
	assert.ErrorContains(t, err, "interrupted")
	assert.ErrorContains(t, err, os.Args[0])
}

func TestProbeUsage(t *testing.T) {
	for name, o := range map[string]Options{
		"no artifact": {},
		"bad port":    {Artifact: "x", Port: 70000},
		"bad path":    {Artifact: "x", Path: "api/health"},
		"negative":    {Artifact: "x", Budget: -1},
	} {
		_, err := Probe(context.Background(), o)
		assert.Assert(t, err != nil, name)
	}
}

func TestResultJSONFieldOrder(t *testing.T) {
	b, err := json.Marshal(Result{Artifact: "a", Runs: []Run{{StartupMS: 1, Body: map[string]any{"z": 1, "a": 2}}}})
	assert.NilError(t, err)
	assert.Equal(t, string(b), `{"artifact":"a","ok":false,"runs":[{"startup_ms":1,"polls":0,"exit_code":0,"body":{"a":2,"z":1}}],"min_ms":0,"median_ms":0,"max_ms":0,"emulated":false,"budget_ms":0}`)
}

func TestStats(t *testing.T) {
	runs := func(v ...float64) []Run {
		var out []Run
		for _, x := range v {
			out = append(out, Run{StartupMS: x})
		}
		return out
	}
	for _, tc := range []struct {
		in               []Run
		min, median, max float64
	}{
		{nil, 0, 0, 0},
		{runs(5), 5, 5, 5},
		{runs(900, 700, 800), 700, 800, 900},
		{runs(4, 1, 3, 2), 1, 2.5, 4},
	} {
		a, b, c := stats(tc.in)
		assert.DeepEqual(t, []float64{a, b, c}, []float64{tc.min, tc.median, tc.max})
	}
}

func TestRing(t *testing.T) {
	r := newRing(3, nil)
	fmt.Fprint(r, "a\nb\r\nc\n")
	fmt.Fprint(r, "d\npart")
	assert.DeepEqual(t, r.tail(), []string{"c", "d", "part"})
	r.Write([]byte(strings.Repeat("x", maxLineBytes+10) + "\n"))
	last := r.tail()[2]
	assert.Assert(t, strings.HasSuffix(last, " [truncated]") && len(last) == maxLineBytes+len(" [truncated]"))
}

func lines(from, to int) []string {
	var out []string
	for i := from; i <= to; i++ {
		out = append(out, fmt.Sprintf("log line %d", i))
	}
	return out
}

func ptr[T any](v T) *T { return &v }

func mustDefaults(t *testing.T, o Options) Options {
	o, err := o.withDefaults()
	assert.NilError(t, err)
	return o
}
