// Package health starts a frozen backend the way Electron does and measures
// the time from process start to its first healthy answer on /api/health. It
// then stops it with SIGTERM and proves nothing is left behind: no process of
// its tree (an orphaned Python child keeps the port and the database busy
// after the app quit) and no /tmp/_MEI* extraction directory of a onefile build.
//
// The timing follows the verified harness bench.py: fresh connection per poll,
// 20 ms between polls, t0 taken right before the process starts.
package health

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Defaults applied by Probe to zero Options fields.
const (
	DefaultPath = "/api/health"
	// PortPlaceholder is replaced by the port in PortArgs.
	PortPlaceholder = "{port}"
	DefaultBudget   = 5 * time.Second
	// DefaultWarmUpBudget bounds one warm-up request: a first call may load a model.
	DefaultWarmUpBudget   = 60 * time.Second
	DefaultInterval       = 20 * time.Millisecond
	DefaultGrace          = 5 * time.Second
	DefaultEmulatedFactor = 30 // QEMU user-mode emulation runs a Python start-up ~30x slower
	logTailLines          = 20
)

// DefaultPortArgs and DefaultPortEnv are how a backend is told its port unless said otherwise:
// what the Electron side of the seed plan does (--port N, and APP_PORT), plus PORT, which
// most hosting conventions (and uvicorn-style launchers) read.
var (
	DefaultPortArgs = []string{"--port", PortPlaceholder}
	DefaultPortEnv  = []string{"PORT", "APP_PORT"}
)

// Options says what to start and how to judge it.
type Options struct {
	// Artifact is the executable to start.
	Artifact string `json:"artifact"`
	// Args come before the PortArgs.
	Args []string `json:"args,omitempty"`
	// PortArgs tell the backend its port on the command line: appended after Args with every
	// PortPlaceholder replaced (default DefaultPortArgs). PortEnvOnly passes none, for a
	// backend that reads its port from the environment and rejects arguments it does not know.
	PortArgs    []string `json:"port_args,omitempty"`
	PortEnvOnly bool     `json:"port_env_only,omitempty"`
	// PortEnv are the environment variables set to the port (default DefaultPortEnv).
	PortEnv []string `json:"port_env,omitempty"`
	// Dir is the working directory to start it in ("" = the probe's own).
	Dir string `json:"dir,omitempty"`
	// Env is added to the inherited environment (before the PortEnv variables, which Probe
	// sets and which therefore win).
	Env []string `json:"env,omitempty"`
	// Port to serve on; 0 picks a free one per run.
	Port int `json:"port,omitempty"`
	// Path polled for health (default DefaultPath).
	Path string `json:"path,omitempty"`
	// Budget is the longest acceptable time to the first healthy answer
	// (default DefaultBudget).
	Budget time.Duration `json:"budget,omitempty"`
	// Interval between polls (default DefaultInterval).
	Interval time.Duration `json:"interval,omitempty"`
	// Grace is how long the process tree may take to disappear after SIGTERM
	// (default DefaultGrace).
	Grace time.Duration `json:"grace,omitempty"`
	// Runs is the number of start-ups; more than one gives min/median/max.
	Runs int `json:"runs,omitempty"`
	// Emulated marks a run under QEMU: the timing is still reported, but the
	// budget is multiplied by EmulatedFactor (default DefaultEmulatedFactor).
	Emulated       bool    `json:"emulated,omitempty"`
	EmulatedFactor float64 `json:"emulated_factor,omitempty"`
	// WarmUp are URL paths requested once the backend is healthy, each of which must answer
	// 2xx within WarmUpBudget: routes that load code lazily (a model, a plugin).
	WarmUp []string `json:"warmup,omitempty"`
	// WarmUpBudget bounds each warm-up request (default DefaultWarmUpBudget, scaled like the
	// budget when emulated).
	WarmUpBudget time.Duration `json:"warmup_budget,omitempty"`
	// Linger is how long the backend keeps running after the health answer and the warm-ups,
	// before it is stopped (tracing lets the record settle).
	Linger time.Duration `json:"linger,omitempty"`
	// Output, when set, receives the backend's stdout and stderr as they come
	// (the CLI's -v); they are always kept for LogTail.
	Output io.Writer `json:"-"`
}

// Run is one successful start-up.
type Run struct {
	// StartupMS is the time from just before process start to the first healthy answer (2xx,
	// and no JSON "status" saying otherwise), in milliseconds (0.1 ms resolution).
	StartupMS float64 `json:"startup_ms"`
	// CPUMS is the CPU time (user and system) the backend's process tree had used when it was
	// healthy, in ms at 10 ms resolution (Linux; omitted elsewhere): the benchmarks' second
	// figure, since it barely moves with other load on the machine, which wall time does.
	CPUMS float64 `json:"cpu_ms,omitempty"`
	// Polls counts the requests made, the healthy one included.
	Polls int `json:"polls"`
	// ExitCode after SIGTERM; 128+n when the process died of signal n.
	ExitCode int `json:"exit_code"`
	// Body is the healthy answer's JSON object (nil when it was not JSON).
	Body map[string]any `json:"body"`
	// WarmUp are the warm-up requests made after the healthy answer.
	WarmUp []WarmUp `json:"warmup,omitempty"`
}

// WarmUp is one warm-up request.
type WarmUp struct {
	Path   string  `json:"path"`
	Status int     `json:"status"`
	MS     float64 `json:"ms"`
}

// Result is what Probe found. Field order is fixed so the JSON is deterministic.
type Result struct {
	Artifact string `json:"artifact"`
	// Path is the health path polled.
	Path string `json:"path,omitempty"`
	OK   bool   `json:"ok"`
	// Reason is why it failed, empty when OK.
	Reason string `json:"reason,omitempty"`
	// Runs holds the successful start-ups, in order; a failure stops the series.
	Runs     []Run   `json:"runs"`
	MinMS    float64 `json:"min_ms"`
	MedianMS float64 `json:"median_ms"`
	MaxMS    float64 `json:"max_ms"`
	Emulated bool    `json:"emulated"`
	// BudgetMS is the budget applied, emulation factor included.
	BudgetMS float64 `json:"budget_ms"`
	// LogTail is the last lines of the backend's output, when something failed.
	LogTail []string `json:"log_tail,omitempty"`
	// Leftovers lists processes that survived SIGTERM (killed since) and new
	// /tmp/_MEI* directories left after exit (kept, see probeOnce).
	Leftovers []string `json:"leftovers,omitempty"`
}

// Err returns nil when r passed, else an error naming the artifact and why.
func (r Result) Err() error {
	if r.OK {
		return nil
	}
	return fmt.Errorf("health %s: %s", r.Artifact, r.Reason)
}

// Probe starts the artifact Runs times, one after the other, and stops at the
// first failed run. A failed check gives Result.OK false and a Reason; the
// error is only for bad Options or a cancelled ctx (the backend is killed
// first in that case).
func Probe(ctx context.Context, o Options) (Result, error) {
	o, err := o.withDefaults()
	r := Result{Artifact: o.Artifact, Path: o.Path, Emulated: o.Emulated, BudgetMS: ms(o.effectiveBudget()), Runs: []Run{}}
	if err != nil {
		return r, err
	}
	for i := 0; i < o.Runs; i++ {
		a, err := probeOnce(ctx, o)
		if err != nil {
			return r, err
		}
		if a.reason != "" {
			r.Reason = a.reason
			if o.Runs > 1 {
				r.Reason = fmt.Sprintf("run %d of %d: %s", i+1, o.Runs, a.reason)
			}
			r.LogTail, r.Leftovers = a.logTail, a.leftovers
			break
		}
		r.Runs = append(r.Runs, a.run)
	}
	r.MinMS, r.MedianMS, r.MaxMS = stats(r.Runs)
	r.OK = r.Reason == ""
	return r, nil
}

func (o Options) withDefaults() (Options, error) {
	if o.Path == "" {
		o.Path = DefaultPath
	}
	if o.Budget == 0 {
		o.Budget = DefaultBudget
	}
	if o.Interval == 0 {
		o.Interval = DefaultInterval
	}
	if o.Grace == 0 {
		o.Grace = DefaultGrace
	}
	if o.Runs == 0 {
		o.Runs = 1
	}
	if o.EmulatedFactor == 0 {
		o.EmulatedFactor = DefaultEmulatedFactor
	}
	if len(o.PortArgs) == 0 && !o.PortEnvOnly {
		o.PortArgs = DefaultPortArgs
	}
	if o.PortEnvOnly {
		o.PortArgs = nil
	}
	if len(o.PortEnv) == 0 {
		o.PortEnv = DefaultPortEnv
	}
	if err := CheckPortSettings(o.PortArgs, o.PortEnv, o.PortEnvOnly); err != nil {
		return o, fmt.Errorf("health %s: %w", o.Artifact, err)
	}
	switch {
	case o.Artifact == "":
		return o, errors.New("health: no artifact given")
	case o.Port < 0 || o.Port > 65535:
		return o, fmt.Errorf("health %s: port %d out of range", o.Artifact, o.Port)
	case o.Path[0] != '/':
		return o, fmt.Errorf("health %s: path %q must start with /", o.Artifact, o.Path)
	case o.Budget < 0 || o.Interval < 0 || o.Grace < 0 || o.Runs < 0 || o.EmulatedFactor < 1:
		return o, fmt.Errorf("health %s: negative budget, interval, grace or runs, or emulation factor below 1", o.Artifact)
	}
	return o, nil
}

// CheckPortSettings refuses port settings that cannot tell a backend its port: arguments
// without the placeholder (every start would get the same, fixed port) and variable names a
// shell could not export.
func CheckPortSettings(args, env []string, envOnly bool) error {
	if !envOnly && !slices.ContainsFunc(args, func(a string) bool { return strings.Contains(a, PortPlaceholder) }) {
		return fmt.Errorf("port arguments %q name no %s", strings.Join(args, " "), PortPlaceholder)
	}
	for _, name := range env {
		if !isEnvName(name) {
			return fmt.Errorf("port variable %q: want a name such as PORT", name)
		}
	}
	return nil
}

// isEnvName reports whether s is a portable environment variable name.
func isEnvName(s string) bool {
	for i, r := range s {
		if r != '_' && (r < 'A' || r > 'Z') && (r < 'a' || r > 'z') && (i == 0 || r < '0' || r > '9') {
			return false
		}
	}
	return s != ""
}

// portArgs are the PortArgs for port.
func (o Options) portArgs(port int) []string {
	out := make([]string, len(o.PortArgs))
	for i, a := range o.PortArgs {
		out[i] = strings.ReplaceAll(a, PortPlaceholder, strconv.Itoa(port))
	}
	return out
}

// portEnv are the PortEnv assignments for port.
func (o Options) portEnv(port int) []string {
	out := make([]string, len(o.PortEnv))
	for i, name := range o.PortEnv {
		out[i] = name + "=" + strconv.Itoa(port)
	}
	return out
}

// warmUpBudget bounds one warm-up request, emulation included.
func (o Options) warmUpBudget() time.Duration {
	b := o.WarmUpBudget
	if b == 0 {
		b = DefaultWarmUpBudget
	}
	if o.Emulated {
		return time.Duration(float64(b) * o.EmulatedFactor)
	}
	return b
}

func (o Options) effectiveBudget() time.Duration {
	if o.Emulated {
		return time.Duration(float64(o.Budget) * o.EmulatedFactor)
	}
	return o.Budget
}

// ms converts to milliseconds rounded to 0.1 ms: finer digits are noise and
// would only make reports differ.
func ms(d time.Duration) float64 { return math.Round(float64(d)/1e5) / 10 }

// stats returns min, median and max start-up times (the mean of the two middle
// values for an even count); zeros when there are no runs.
func stats(runs []Run) (min, median, max float64) {
	if len(runs) == 0 {
		return 0, 0, 0
	}
	v := make([]float64, len(runs))
	for i, r := range runs {
		v[i] = r.StartupMS
	}
	sort.Float64s(v)
	n := len(v)
	median = v[n/2]
	if n%2 == 0 {
		median = math.Round((v[n/2-1]+v[n/2])/2*10) / 10
	}
	return v[0], median, v[n-1]
}
