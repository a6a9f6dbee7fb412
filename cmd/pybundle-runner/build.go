package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/pybundle/pybundle/images"
	"github.com/pybundle/pybundle/pipeline/diagnose"
	"github.com/pybundle/pybundle/pipeline/health"
	"github.com/pybundle/pybundle/pipeline/plan"
	"github.com/pybundle/pybundle/pipeline/report"
	"github.com/pybundle/pybundle/pipeline/trace"
	"github.com/pybundle/pybundle/pipeline/verify"
)

// runBuild is the native executor of the plan: env → plan → venv → compile → verify → health
// → report. The plan (pure Go: the source read, scanned and checked, the spec decided) comes
// before the venv, as in the module: bad input is reported before minutes of pip.
func (a *app) runBuild(ctx context.Context, args []string) error {
	cfg, err := parseBuild(args, a.hostOS, a.hostArch, a.stderr)
	if err != nil {
		return err
	}
	start := time.Now()
	t := cfg.Target.String()
	a.logf("pybundle-runner %s: %s", report.ToolVersion, cfg)
	// A previous run's report would vouch for a bundle this run replaces: gone before anything
	// else, so a failed run leaves no report at all.
	for _, p := range []string{filepath.Join(cfg.Out, "report.json"), filepath.Join(cfg.Out, "summary.txt")} {
		if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			return &diagnose.Error{Stage: "report", Target: t, File: p, Reason: err.Error()}
		}
	}

	py, err := a.stageEnv(ctx, cfg.envConfig)
	if err != nil {
		return err
	}
	if cfg.VenvSet {
		unlock, err := lockVenv(ctx, cfg.Venv, a.logf)
		if err != nil {
			return &diagnose.Error{Stage: "venv", Target: t, File: cfg.Venv, Reason: err.Error()}
		}
		defer unlock()
	}
	p, f, err := a.stagePlan(cfg)
	if err != nil {
		return err
	}
	if cfg.Requirements, err = requirementsFile(cfg, p, f); err != nil {
		return err
	}
	v, pyinstaller, pkgs, err := a.stageVenv(ctx, cfg, py)
	if err != nil {
		return err
	}
	if err := a.stageTrace(ctx, p, f, v); err != nil {
		return err
	}
	b := p.Builds[0]
	if err := a.stageCompile(ctx, t, f, v, b); err != nil {
		return err
	}

	a.logf("verify: %s", b.Bundle.Artifact())
	vo := b.VerifyOptions(f.DistDir, false)
	vo.PythonSearchDirs = []string{} // Python is here by design: plan.NoPythonSkipped
	vr, err := verify.Run(ctx, vo)
	if err != nil {
		return &diagnose.Error{Stage: "verify", Target: t, File: b.Bundle.Artifact(), Reason: err.Error()}
	}
	var hr *health.Result
	if vr.OK && !cfg.SkipHealth {
		a.logf("health: starting %s, budget %s", b.Bundle.Artifact(), b.Budget)
		if a.hostOS == "linux" {
			_ = health.BecomeSubreaper() // best effort: orphans of the backend stay findable
		}
		r, err := health.Probe(ctx, b.HealthOptions(f.DistDir, false))
		if err != nil {
			return &diagnose.Error{Stage: "health", Target: t, File: b.Bundle.Artifact(), Reason: err.Error()}
		}
		hr = &r
	}

	host, _ := a.hostname()
	if host == "" {
		host = "unknown"
	}
	e, doc, err := b.WithSBOM(p.Options, b.Entry(plan.Outcome{Verify: vr, Health: hr, HealthSkipped: cfg.SkipHealth, PyInstaller: pyinstaller,
		Packages: pkgs, Duration: time.Since(start), Builder: "runner:" + host, Native: true}), plan.Installed{})
	if err != nil {
		return &diagnose.Error{Stage: "report", Target: t, File: b.SBOMFile(), Reason: err.Error()}
	}
	sbomPath := filepath.Join(f.Dist, filepath.FromSlash(b.SBOMFile()))
	if err := os.WriteFile(sbomPath, doc, 0o644); err != nil {
		return &diagnose.Error{Stage: "report", Target: t, File: sbomPath, Reason: err.Error()}
	}
	for _, c := range e.Checks {
		a.logf("%-4s %-10s %s", okWord(c.OK), c.Name, c.Detail)
	}
	rep := report.New()
	rep.Add(e)
	if err := writeReport(f, rep); err != nil {
		return &diagnose.Error{Stage: "report", Target: t, File: f.Report, Reason: err.Error()}
	}
	fmt.Fprint(a.stdout, rep.Table())
	a.logf("report: %s", f.Report)
	return plan.EntryError(e, hr)
}

// writeReport writes report.json and summary.txt.
func writeReport(l folders, rep report.Report) error {
	js, err := rep.JSON()
	if err != nil {
		return err
	}
	if err := os.WriteFile(l.Report, js, 0o644); err != nil {
		return err
	}
	return os.WriteFile(l.Summary, []byte(rep.Table()), 0o644)
}

// stageEnv is step 1: the pinned Python, for the target's architecture.
func (a *app) stageEnv(ctx context.Context, c envConfig) (pythonInfo, error) {
	py, err := findPython(ctx, a.hostOS, c.Python, c.Pin, c.Target.Arch, c.Target.String())
	if err != nil {
		if ctx.Err() != nil {
			return py, ctx.Err()
		}
		return py, &diagnose.Error{Stage: "env", Target: c.Target.String(), Reason: err.Error()}
	}
	a.logf("env: %s", py)
	return py, nil
}

// runnerStockBootloader is why a runner builds with PyInstaller's stock bootloader: pybundle's
// static one carries Debian's libpython3.13.a and is built in the Dagger module's Debian
// builder, while a runner freezes with its own Python (any build, any OS).
const runnerStockBootloader = "pybundle-runner freezes with this machine's own Python and PyInstaller"

// stagePlan reads the source (links leaving it are not followed), makes the plan for this
// runner's target and copies the source's files to <out>/work/src, never writing into the
// user's folder.
func (a *app) stagePlan(cfg buildConfig) (*plan.Plan, folders, error) {
	t := cfg.Target.String()
	fail := func(file string, err error) (*plan.Plan, folders, error) {
		return nil, folders{}, &diagnose.Error{Stage: "plan", Target: t, File: file, Reason: err.Error()}
	}
	// The output folder and venv may lie inside the source: never part of it.
	var ignore []string
	for _, p := range []string{cfg.Out, cfg.Venv} {
		if p != "" && within(p, cfg.Source) {
			rel, _ := filepath.Rel(canonical(cfg.Source), canonical(p))
			ignore = append(ignore, "/"+filepath.ToSlash(rel)+"/")
		}
	}
	o, tree, err := cfg.load(ignore...)
	if err != nil {
		return nil, folders{}, err
	}
	for _, s := range tree.Skipped {
		a.logf("plan: %s: %s", s.Path, s.Reason)
	}
	if note := o.StockOnly(runnerStockBootloader); note != "" {
		a.logf("plan: %s", note)
	}
	p, err := plan.New(o, tree)
	if err != nil {
		return nil, folders{}, err
	}
	a.logf("plan: starts as %s (%s); %d own modules, %d data files", p.Entry, p.Entry.Why, len(p.Collection.Modules), p.Collection.Summary.Files)
	for _, f := range p.Scan.Unresolved {
		a.logf("scan: %s:%d: %s(%s) imports a module by a name the scanner cannot work out: tracing or --hidden-imports covers it", f.File, f.Line, f.Call, f.Expr)
	}
	f := newFolders(cfg.Out, p.Builds[0].Bundle)
	if err := os.RemoveAll(f.WorkSrc); err != nil {
		return fail(f.WorkSrc, err)
	}
	if err := tree.CopyTo(f.WorkSrc); err != nil {
		return fail("", fmt.Errorf("copying the source to %s: %w", f.WorkSrc, err))
	}
	if err := writeGenerated(p.Builds[0], f); err != nil {
		return fail("", err)
	}
	return p, f, nil
}

// requirementsFile is the file pip installs the backend's dependencies from: --requirements
// as given, else the source's requirements.txt, else its [project] dependencies written into
// the work folder (the plan decides, as in the module).
func requirementsFile(cfg buildConfig, p *plan.Plan, f folders) (string, error) {
	if cfg.RequirementsSet {
		return cfg.Requirements, nil
	}
	r, err := p.Requirements()
	if err != nil {
		return "", &diagnose.Error{Stage: "plan", Target: cfg.Target.String(), Reason: err.Error()}
	}
	switch r.From {
	case "":
		return "", nil // none declared: PyInstaller alone (stageVenv says so)
	case plan.RequirementsFile:
		return cfg.Requirements, nil
	}
	out := filepath.Join(f.Work, "requirements-from-pyproject.txt")
	if err := os.WriteFile(out, r.Text, 0o644); err != nil {
		return "", &diagnose.Error{Stage: "plan", Target: cfg.Target.String(), File: out, Reason: err.Error()}
	}
	return out, nil
}

// writeGenerated writes the build's generated files (spec, runtime hook, launcher) next to
// the source copy.
func writeGenerated(b plan.Build, f folders) error {
	for _, g := range b.Files {
		if err := os.WriteFile(filepath.Join(f.WorkSrc, filepath.FromSlash(g.Name)), g.Data, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// stageTrace runs the backend from source with the venv's Python (healthy, warmed up) and adds
// what it loaded to the plan, then writes the generated files again.
func (a *app) stageTrace(ctx context.Context, p *plan.Plan, f folders, v venv) error {
	t := p.Builds[0].Target().String()
	if !p.Options.Trace {
		a.logf("trace: off")
		return nil
	}
	fail := func(reason string, tail []string) error {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return &diagnose.Error{Stage: "trace", Target: t, File: p.Entry.ScriptFile(),
			Reason: reason + " (tracing runs the backend from source before freezing it; --trace=false skips it)", Tail: tail}
	}
	harnessPath := filepath.Join(f.Work, trace.HarnessFile)
	record := filepath.Join(f.Work, "trace.json")
	_ = os.Remove(record)
	if err := os.WriteFile(harnessPath, trace.Harness(), 0o644); err != nil {
		return fail(err.Error(), nil)
	}
	a.logf("trace: starting %s from source", p.Entry)
	r, err := health.Probe(ctx, p.TraceOptions(v.Python(), harnessPath, f.WorkSrc, record))
	if err != nil {
		return fail(err.Error(), nil)
	}
	if !r.OK {
		return fail(r.Reason, r.LogTail)
	}
	text, err := readBounded(record, trace.MaxRecord)
	if err != nil {
		return fail("the trace wrote no record: "+err.Error(), nil)
	}
	res, err := trace.Parse(text)
	if err != nil {
		return fail(err.Error(), nil)
	}
	if err := p.WithTrace(res); err != nil {
		return err
	}
	a.logf("trace: %d modules imported; added %d dynamically imported, %d metadata, %d data files",
		p.Trace.Modules, len(p.Trace.Added), len(p.Trace.Metadata), len(p.Trace.Datas))
	if err := writeGenerated(p.Builds[0], f); err != nil {
		return fail(err.Error(), nil)
	}
	return nil
}

// stageVenv is step 2: the venv with the backend's requirements and the pinned PyInstaller,
// installed by images.PipPlan's rules; returns the venv, PyInstaller's own version and the
// installed packages for the report.
func (a *app) stageVenv(ctx context.Context, cfg buildConfig, py pythonInfo) (venv, string, map[string]string, error) {
	t := cfg.Target.String()
	v := venv{Dir: cfg.Venv, GOOS: a.hostOS}
	reqFile := displayPath(cfg.Requirements, cfg.Source)
	fail := func(file, reason string, tail []string) (venv, string, map[string]string, error) {
		if ctx.Err() != nil {
			return v, "", nil, ctx.Err()
		}
		return v, "", nil, &diagnose.Error{Stage: "venv", Target: t, File: file, Reason: reason, Tail: tail}
	}
	extra, hashed := []string{images.PipRequirement}, false
	var err error
	if cfg.Requirements == "" {
		// As the module's Debian builder: a backend that declares no dependencies builds with
		// what the Python (or the venv) has; only PyInstaller is installed.
		a.logf("venv: no requirements.txt and no [project] dependencies: installing only %s; the backend's imports must come from the Python given", images.PipRequirement)
		reqFile = plan.ConfigFile
	} else if extra, hashed, err = pipPlan(cfg.Requirements); err != nil {
		return fail(reqFile, err.Error(), nil)
	}

	create, clear := !v.exists(), false
	if !create {
		vpy, err := probePython(ctx, []string{v.Python()})
		if err != nil || !cfg.Pin.matches(vpy.Version) || vpy.Arch() != py.Arch() {
			found := "does not run"
			if err == nil {
				found = fmt.Sprintf("runs Python %s (%s)", vpy.Version, vpy.Machine)
			}
			if cfg.VenvSet {
				return fail(cfg.Venv, fmt.Sprintf("the venv %s; this build needs Python %s for %s: remove it or pass another --venv", found, cfg.Pin, t), nil)
			}
			a.logf("venv: %s %s; recreating it", v.Dir, found)
			create, clear = true, true
		}
	}
	if create {
		a.logf("venv: creating %s with %s", v.Dir, py.Executable)
		if out, err := a.command(ctx, "", nil, createArgs(py, v.Dir, clear)...); err != nil {
			return fail(cfg.Venv, "creating the venv failed: "+err.Error(), diagnose.Tail(out, 12))
		}
	}

	a.logf("venv: pip install -r %s %s", reqFile, strings.Join(extra, " "))
	if out, err := a.command(ctx, cfg.Source, nil, pipInstallArgs(v, cfg.Requirements, extra, hashed, cfg.Wheelhouse)...); err != nil {
		return fail(reqFile, "pip install failed: "+err.Error(), diagnose.Tail(out, 12))
	}
	got, err := a.output(ctx, pyinstallerVersionArgs(v)...)
	if err != nil {
		return fail(reqFile, "PyInstaller does not run in the venv: "+err.Error(), nil)
	}
	if err := checkPyInstaller(got); err != nil {
		return fail(reqFile, err.Error(), nil)
	}
	pyinstaller := strings.TrimSpace(got)
	freeze, err := a.output(ctx, v.Python(), "-m", "pip", "freeze", "--all")
	if err != nil {
		return fail(cfg.Venv, "pip freeze failed: "+err.Error(), nil)
	}
	pkgs := images.ParseFreeze(freeze)
	pkgs["python"] = py.Version.String()
	a.logf("env: PyInstaller %s in %s", pyinstaller, v.Dir)
	return v, pyinstaller, pkgs, nil
}

// stageCompile runs the venv's PyInstaller with the plan's arguments and environment; a
// failure is explained by diagnose.Compile.
func (a *app) stageCompile(ctx context.Context, t string, f folders, v venv, b plan.Build) error {
	if err := os.RemoveAll(f.DistDir); err != nil { // a onedir folder and a onefile file share a name
		return &diagnose.Error{Stage: "compile", Target: t, File: f.DistDir, Reason: err.Error()}
	}
	// PyInstaller reports paths as Python sees them, symlinks resolved (/var → /private/var on
	// macOS): run it from, and explain its output against, the resolved folder.
	src := f.WorkSrc
	if real, err := filepath.EvalSymlinks(src); err == nil {
		src = real
	}
	a.logf("compile: PyInstaller %s → %s", b.SpecFile(), f.DistDir)
	// Always from scratch here: the incremental block's key covers the source, and the Dagger
	// module keys its kept work folder by the builder; a runner's work folder is keyed by
	// nothing (its venv can change under it), so it is emptied (--clean) every build.
	b.Incremental = false
	argv := append([]string{v.Python()}, b.PyInstallerArgs(f.DistDir, f.WorkBuild)...)
	out, err := a.command(ctx, src, append(append(os.Environ(), plan.Env()...), b.PyInstallerEnv()...), argv...)
	switch {
	case ctx.Err() != nil:
		return ctx.Err()
	case err == nil:
		return nil
	}
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		return &diagnose.Error{Stage: "compile", Target: t, File: v.Python(), Reason: "cannot run PyInstaller: " + err.Error()}
	}
	return compileError(t, src, out)
}

// compileError is diagnose.Compile with the file made slash-separated and relative also for
// Windows paths (diagnose trims only "/" after the source root). Backslashes are replaced
// whatever the host, so a Windows runner's output reads the same when explained elsewhere.
func compileError(target, srcRoot, output string) *diagnose.Error {
	e := diagnose.Compile(target, srcRoot, output)
	if strings.Contains(srcRoot, `\`) {
		e.File = strings.ReplaceAll(e.File, `\`, "/")
	}
	e.File = strings.TrimLeft(e.File, "/")
	return e
}

// displayPath is p relative to dir when inside it (slash-separated), else p.
func displayPath(p, dir string) string {
	if within(p, dir) {
		if rel, err := filepath.Rel(dir, p); err == nil {
			return filepath.ToSlash(rel)
		}
	}
	return p
}

// command runs argv in dir (""= current) with env (nil = inherited), copying its output to
// the log as it comes and returning the last MiB of it for the error.
func (a *app) command(ctx context.Context, dir string, env []string, argv ...string) (string, error) {
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Dir, cmd.Env = dir, env
	buf := &diagnose.TailBuffer{Max: 1 << 20}
	w := io.MultiWriter(buf, a.stderr)
	cmd.Stdout, cmd.Stderr = w, w
	cmd.WaitDelay = 5 * time.Second
	err := cmd.Run()
	return string(buf.Bytes()), err
}

// output runs argv and returns its stdout; the error carries the first line of its stderr.
func (a *app) output(ctx context.Context, argv ...string) (string, error) {
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.WaitDelay = 5 * time.Second
	out, err := cmd.Output()
	var ee *exec.ExitError
	if errors.As(err, &ee) && len(ee.Stderr) > 0 {
		err = fmt.Errorf("%w: %s", err, lastLine(string(ee.Stderr)))
	}
	return string(out), err
}

func (a *app) logf(format string, args ...any) {
	fmt.Fprintf(a.stderr, "==> "+format+"\n", args...)
}

func okWord(ok bool) string {
	if ok {
		return "ok"
	}
	return "FAIL"
}

func lastLine(s string) string {
	lines := diagnose.Tail(s, 1)
	if len(lines) == 0 {
		return ""
	}
	return strings.TrimSpace(lines[0])
}
