// Command pybundle-runner runs pybundle's build natively, on the macOS, Windows (or Linux)
// machine the backend is for: PyInstaller is not a cross-compiler and Dagger runs Linux
// containers only, so darwin/* and windows/* executables must come out of a native runner.
// It runs the module's stages from the same pipeline/ packages and writes the same report
// entry, so `merge-reports` can fold its report.json into the Linux one.
//
//	pybundle-runner build --source DIR --out DIR [--platform auto] [--mode onedir|onefile] ...
//	pybundle-runner env [--python PATH] [--python-version 3.13]   (step 1 only: fail fast in CI)
//	pybundle-runner package --app DIR --dist DIR [--targets LIST] ...   (electron-builder + checks)
//	pybundle-runner merge-reports [--summary FILE] a.json b.json ... > report.json
//	pybundle-runner summary [--markdown] report.json ...   (the summary table, or it in Markdown)
//	pybundle-runner version
//
// Exit status: 0 pass, 1 a stage or check failed, 2 usage error.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"strings"
	"syscall"

	"github.com/pybundle/pybundle/images"
	"github.com/pybundle/pybundle/pipeline/report"
)

const (
	exitPass  = 0
	exitFail  = 1
	exitUsage = 2
)

const usage = `usage: pybundle-runner <command> [flags]

commands:
  build          env → venv → spec → compile → verify → health → report, natively
  env            find the pinned Python (and the venv's PyInstaller), print what was found
  package        electron-builder for this OS around the verified backend, every output checked
  merge-reports  merge report.json files (e.g. each runner's and the Linux one) to stdout
  summary        print report.json files' summary tables (--markdown: GitHub Markdown tables)
  version        print the runner's version and pins

Run 'pybundle-runner <command> -h' for the flags of a command.
Exit status: 0 pass, 1 a stage or check failed, 2 usage error.
`

func main() {
	// Cancelled on Ctrl-C / SIGTERM (a cancelled CI job) / SIGHUP (the SSH session of a dispatched
	// build closed): pip, PyInstaller and a backend
	// under test are killed with it instead of being orphaned.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	code := newApp(os.Stdout, os.Stderr).run(ctx, os.Args[1:])
	stop()
	os.Exit(code)
}

// app holds what differs between a real run and a test: the streams and the host.
type app struct {
	stdout, stderr   io.Writer
	hostOS, hostArch string
	hostname         func() (string, error)
}

func newApp(stdout, stderr io.Writer) *app {
	return &app{stdout: stdout, stderr: stderr, hostOS: runtime.GOOS, hostArch: runtime.GOARCH, hostname: os.Hostname}
}

func (a *app) run(ctx context.Context, args []string) int {
	if len(args) == 0 {
		fmt.Fprint(a.stderr, usage)
		return exitUsage
	}
	switch args[0] {
	case "build":
		return a.exit(a.runBuild(ctx, args[1:]))
	case "env":
		return a.exit(a.runEnv(ctx, args[1:]))
	case "package":
		return a.exit(a.runPackage(ctx, args[1:]))
	case "merge-reports":
		return a.exit(a.runMerge(args[1:]))
	case "summary":
		return a.exit(a.runSummary(args[1:]))
	case "version", "--version", "-version":
		fmt.Fprintf(a.stdout, "pybundle-runner %s (PyInstaller %s; %s %s/%s)\n",
			report.ToolVersion, images.PyInstallerVersion, runtime.Version(), a.hostOS, a.hostArch)
		return exitPass
	case "-h", "-help", "--help", "help":
		fmt.Fprint(a.stdout, usage)
		return exitPass
	}
	fmt.Fprintf(a.stderr, "pybundle-runner: unknown command %q\n%s", args[0], usage)
	return exitUsage
}

// runSummary prints the summary of each report.json, as summary.txt has it (report.Table) or,
// with --markdown, as GitHub-flavoured Markdown tables (report.Markdown) for a job's
// $GITHUB_STEP_SUMMARY; several reports are separated by a blank line:
//
//	pybundle-runner summary --markdown installers/report.json >> "$GITHUB_STEP_SUMMARY"
//
// A report is read as merge-reports reads it (report.Parse: a pybundle report, canonical order).
// Failed checks are shown, not judged: the exit status is 0 whenever every report was read.
func (a *app) runSummary(args []string) error {
	fs := newFlagSet("summary", a.stderr)
	markdown := fs.Bool("markdown", false, "print GitHub-flavoured Markdown tables (every value escaped) instead of the text table")
	if err := parseFlags(fs, args, true); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return usageErr("summary: give the report.json files to summarise (flags first)")
	}
	var out strings.Builder
	for i, p := range fs.Args() {
		b, err := readReportFile(p)
		if err != nil {
			return fmt.Errorf("summary: %v", err)
		}
		rep, err := report.Parse(b)
		if err != nil {
			return fmt.Errorf("summary: %s: %v", p, err)
		}
		if i > 0 {
			out.WriteString("\n")
		}
		if *markdown {
			out.WriteString(rep.Markdown())
		} else {
			out.WriteString(rep.Table())
		}
	}
	_, err := io.WriteString(a.stdout, out.String())
	return err
}

// readReportFile reads a report.json of at most report.MaxSize bytes.
func readReportFile(p string) ([]byte, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, report.MaxSize+1))
	if err != nil {
		return nil, err
	}
	if len(b) > report.MaxSize {
		return nil, fmt.Errorf("%s: larger than %d MiB: not a report.json", p, report.MaxSize>>20)
	}
	return b, nil
}

// errUsage marks errors that are the caller's invocation, not the build: exit 2.
type errUsage struct{ msg string }

func (e *errUsage) Error() string { return e.msg }

func usageErr(format string, args ...any) error { return &errUsage{fmt.Sprintf(format, args...)} }

// errHelp is returned when -h was asked for: usage printed, exit 0.
var errHelp = errors.New("help requested")

// exit prints err and maps it to the exit status.
func (a *app) exit(err error) int {
	var u *errUsage
	switch {
	case err == nil:
		return exitPass
	case errors.Is(err, errHelp):
		return exitPass
	case errors.As(err, &u):
		fmt.Fprintf(a.stderr, "pybundle-runner: %v\n", err)
		return exitUsage
	}
	fmt.Fprintf(a.stderr, "pybundle-runner: %v\n", err)
	return exitFail
}
