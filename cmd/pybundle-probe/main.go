// Command pybundle-probe runs pybundle's verify and health checks inside the
// clean runtime container, next to the PyInstaller artifact. It is built static
// (CGO_ENABLED=0) for the target's architecture, because that container has no
// Python and nothing else to run a check with.
//
//	pybundle-probe verify --artifact PATH [--bundle DIR] [--modules a,b] [--json] ...
//	pybundle-probe verify --options OPTIONS.json --json   (what the module runs: verify.Options)
//	pybundle-probe health --artifact PATH [--port 0] [--budget 5s] [--runs 1] [--json] ...
//	pybundle-probe health --options OPTIONS.json --json   (health.Options)
//	pybundle-probe dispatch --job JOB.json   (in the module's SSH client container)
//
// With --json, stdout carries exactly one JSON document (verify.Result or
// health.Result) and human lines go to stderr; without it, the human summary
// goes to stdout. Exit status: 0 pass, 1 a check failed (the JSON says why),
// 2 usage error.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/pybundle/pybundle/pipeline/health"
	"github.com/pybundle/pybundle/pipeline/verify"
)

const (
	exitPass  = 0
	exitFail  = 1
	exitUsage = 2
)

func main() {
	// Cancelled by the SIGTERM/SIGINT the engine sends when a pipeline is
	// aborted, so a running backend is killed instead of orphaned.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

const usage = `usage: pybundle-probe <command> [flags]

commands:
  verify   check the artifact: exists, executable, size, no-python, imports, glibc
  health   start it, time it to a healthy /api/health, stop it, look for leftovers
  hold     listen on --port until killed (reproduces a port conflict)
  dispatch build one target on a native runner over SSH (--job FILE) and bring it back

Run 'pybundle-probe <command> -h' for the flags of a command.
Exit status: 0 pass, 1 a check failed, 2 usage error.
`

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitUsage
	}
	switch args[0] {
	case "verify":
		return runVerify(ctx, args[1:], stdout, stderr)
	case "health":
		return runHealth(ctx, args[1:], stdout, stderr)
	case "hold":
		return runHold(ctx, args[1:], stderr)
	case "dispatch":
		return runDispatch(ctx, args[1:], stdout, stderr)
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, usage)
		return exitPass
	}
	fmt.Fprintf(stderr, "pybundle-probe: unknown command %q\n%s", args[0], usage)
	return exitUsage
}

func runVerify(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("verify", stderr)
	var o verify.Options
	var modules, pythonDirs, optionsFile string
	var asJSON bool
	fs.StringVar(&optionsFile, "options", "", "verify.Options as JSON (replaces the other option flags)")
	fs.StringVar(&o.Artifact, "artifact", "", "the executable to check (required)")
	fs.StringVar(&o.Bundle, "bundle", "", "onedir: the folder holding the artifact (default: the artifact itself, onefile)")
	fs.StringVar(&modules, "modules", "", "comma-separated modules that must import inside the frozen app")
	fs.Int64Var(&o.MinSize, "min-size", verify.DefaultMinSize, "smallest acceptable bundle size in bytes")
	fs.Int64Var(&o.MaxSize, "max-size", verify.DefaultMaxSize, "largest acceptable bundle size in bytes")
	fs.StringVar(&o.RuntimeGlibc, "runtime-glibc", "", "glibc version of the runtime, e.g. 2.36 (default: read from this system's libc.so.6)")
	fs.DurationVar(&o.Timeout, "timeout", verify.DefaultTimeout, "limit for running the artifact (emulated runs are slow)")
	fs.StringVar(&pythonDirs, "python-dirs", "", "directories the no-python check searches, ':'-separated (default: $PATH, /usr/bin, /usr/local/bin, /bin)")
	fs.BoolVar(&asJSON, "json", false, "print the result as one JSON document on stdout")
	if code, ok := parse(fs, args); !ok {
		return code
	}
	o.Modules = splitList(modules, ",")
	if pythonDirs != "" {
		o.PythonSearchDirs = splitList(pythonDirs, string(filepath.ListSeparator))
	}
	if optionsFile != "" {
		o = verify.Options{}
		if err := readOptions(optionsFile, &o); err != nil {
			return usageError(fs, stderr, err.Error())
		}
	}
	if o.Artifact == "" {
		return usageError(fs, stderr, "--artifact is required")
	}

	r, err := verify.Run(ctx, o)
	if err != nil && ctx.Err() == nil {
		return usageError(fs, stderr, err.Error())
	}
	human := stdout
	if asJSON {
		human = stderr
	}
	for _, c := range r.Checks {
		fmt.Fprintf(human, "%-4s %-10s %s\n", okWord(c.OK), c.Name, c.Detail)
	}
	if asJSON {
		if code := printJSON(stdout, stderr, r); code != exitPass {
			return code
		}
	}
	return finish(stderr, "verify", err, r.Err())
}

func runHealth(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("health", stderr)
	var o health.Options
	var argv, env listFlag
	var asJSON, verbose bool
	var optionsFile string
	fs.StringVar(&optionsFile, "options", "", "health.Options as JSON (replaces the other option flags)")
	fs.StringVar(&o.Artifact, "artifact", "", "the executable to start (required)")
	fs.Var(&argv, "arg", "argument for the backend, before the appended --port N (repeatable)")
	fs.Var(&env, "env", "KEY=VALUE added to the backend's environment (repeatable)")
	fs.IntVar(&o.Port, "port", 0, "port to serve on; 0 picks a free one")
	fs.StringVar(&o.Path, "path", health.DefaultPath, "health endpoint to poll")
	fs.DurationVar(&o.Budget, "budget", health.DefaultBudget, "longest acceptable time to the first healthy answer")
	fs.DurationVar(&o.Interval, "interval", health.DefaultInterval, "time between polls")
	fs.DurationVar(&o.Grace, "grace", health.DefaultGrace, "time the process tree may take to go away after SIGTERM")
	fs.IntVar(&o.Runs, "runs", 1, "start-ups to measure (more than 1 for min/median/max)")
	fs.BoolVar(&o.Emulated, "emulated", false, "running under QEMU emulation: budget multiplied by --emulated-factor")
	fs.Float64Var(&o.EmulatedFactor, "emulated-factor", health.DefaultEmulatedFactor, "budget multiplier for emulated runs")
	fs.BoolVar(&asJSON, "json", false, "print the result as one JSON document on stdout")
	fs.BoolVar(&verbose, "v", false, "copy the backend's output to stderr as it comes")
	if code, ok := parse(fs, args); !ok {
		return code
	}
	o.Args, o.Env = argv, env
	if optionsFile != "" {
		o = health.Options{Runs: 1}
		if err := readOptions(optionsFile, &o); err != nil {
			return usageError(fs, stderr, err.Error())
		}
	}
	if o.Artifact == "" {
		return usageError(fs, stderr, "--artifact is required")
	}
	if o.Runs < 1 {
		return usageError(fs, stderr, "--runs must be at least 1")
	}
	for _, kv := range o.Env {
		if !strings.Contains(kv, "=") {
			return usageError(fs, stderr, fmt.Sprintf("--env %q is not KEY=VALUE", kv))
		}
	}
	if verbose {
		o.Output = stderr
	}
	if err := health.BecomeSubreaper(); err != nil {
		fmt.Fprintf(stderr, "pybundle-probe: %v; detached orphans may go unnoticed\n", err)
	}

	r, err := health.Probe(ctx, o)
	if err != nil && ctx.Err() == nil {
		return usageError(fs, stderr, err.Error())
	}
	human := stdout
	if asJSON {
		human = stderr
	}
	for i, run := range r.Runs {
		fmt.Fprintf(human, "run %d: healthy after %.1f ms (%d polls), exit code %d after SIGTERM\n", i+1, run.StartupMS, run.Polls, run.ExitCode)
	}
	if len(r.Runs) > 1 {
		fmt.Fprintf(human, "min %.1f ms, median %.1f ms, max %.1f ms\n", r.MinMS, r.MedianMS, r.MaxMS)
	}
	if !r.OK {
		for _, l := range r.Leftovers {
			fmt.Fprintf(human, "leftover: %s\n", l)
		}
		for _, l := range r.LogTail {
			fmt.Fprintf(human, "backend| %s\n", l)
		}
	}
	if asJSON {
		if code := printJSON(stdout, stderr, r); code != exitPass {
			return code
		}
	}
	return finish(stderr, "health", err, r.Err())
}

// maxOptions bounds an --options file: a few settings, not a document.
const maxOptions = 1 << 20

// readOptions decodes an --options file strictly: an unknown field is a bug on the writing side.
func readOptions(file string, into any) error {
	f, err := os.Open(file)
	if err != nil {
		return fmt.Errorf("--options: %w", err)
	}
	defer f.Close()
	dec := json.NewDecoder(io.LimitReader(f, maxOptions))
	dec.DisallowUnknownFields()
	if err := dec.Decode(into); err != nil {
		return fmt.Errorf("--options %s: %w", file, err)
	}
	return nil
}

func newFlagSet(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("pybundle-probe "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

// parse returns ok=false with the exit code to use when the command must stop
// (help requested: 0, bad flags: 2).
func parse(fs *flag.FlagSet, args []string) (int, bool) {
	err := fs.Parse(args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		return exitPass, false
	case err != nil:
		return exitUsage, false // the flag package has printed the error and usage
	case fs.NArg() > 0:
		fmt.Fprintf(fs.Output(), "%s: unexpected argument %q\n", fs.Name(), fs.Arg(0))
		fs.Usage()
		return exitUsage, false
	}
	return 0, true
}

func usageError(fs *flag.FlagSet, stderr io.Writer, msg string) int {
	fmt.Fprintf(stderr, "%s: %s\n", fs.Name(), msg)
	return exitUsage
}

func printJSON(stdout, stderr io.Writer, v any) int {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		fmt.Fprintf(stderr, "pybundle-probe: encoding result: %v\n", err)
		return exitFail
	}
	stdout.Write(append(b, '\n'))
	return exitPass
}

// finish reports an interruption or a failed check on stderr and picks the
// exit code.
func finish(stderr io.Writer, cmd string, interrupted, failed error) int {
	switch {
	case interrupted != nil:
		fmt.Fprintf(stderr, "pybundle-probe %s: %v\n", cmd, interrupted)
		return exitFail
	case failed != nil:
		fmt.Fprintf(stderr, "pybundle-probe: %v\n", failed)
		return exitFail
	}
	fmt.Fprintf(stderr, "pybundle-probe %s: pass\n", cmd)
	return exitPass
}

func okWord(ok bool) string {
	if ok {
		return "ok"
	}
	return "FAIL"
}

func splitList(s, sep string) []string {
	var out []string
	for _, p := range strings.Split(s, sep) {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// listFlag is a repeatable string flag.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, " ") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

// runHold occupies a TCP port until cancelled: another program already bound to the port the
// backend was told to use, as users meet it when two apps want 8000.
func runHold(ctx context.Context, args []string, stderr io.Writer) int {
	fs := newFlagSet("hold", stderr)
	port := fs.Int("port", 0, "port to listen on (required)")
	if code, ok := parse(fs, args); !ok {
		return code
	}
	if *port <= 0 {
		fmt.Fprintln(stderr, "pybundle-probe hold: --port is required")
		return exitUsage
	}
	l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", *port))
	if err != nil {
		fmt.Fprintf(stderr, "pybundle-probe hold: %v\n", err)
		return exitFail
	}
	defer l.Close()
	<-ctx.Done()
	return exitPass
}
