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

	"github.com/pybundle/pybundle/pipeline/diagnose"
	"github.com/pybundle/pybundle/pipeline/health"
	"github.com/pybundle/pybundle/pipeline/report"
	"github.com/pybundle/pybundle/pipeline/scan"
	"github.com/pybundle/pybundle/pipeline/spec"
	"github.com/pybundle/pybundle/pipeline/verify"
)

// runBuild is the native pipeline: env → spec → venv → compile → verify → health → report.
// The spec stage (pure Go: entry point, scan, options) runs before the venv, as the module's
// plan runs before its builder: bad input is reported before minutes of pip.
func (a *app) runBuild(ctx context.Context, args []string) error {
	cfg, err := parseBuild(args, a.hostOS, a.hostArch, a.stderr)
	if err != nil {
		return err
	}
	start := time.Now()
	l := newLayout(cfg.Out, cfg.Target, cfg.Name, cfg.Mode)
	a.logf("pybundle-runner %s: %s", toolVersion, cfg)
	// A previous run's report would vouch for a bundle this run replaces: gone before anything
	// else, so a failed run leaves no report at all.
	for _, p := range []string{l.Report, l.Summary} {
		if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			return &diagnose.Error{Stage: "report", Target: cfg.Target.String(), File: p, Reason: err.Error()}
		}
	}

	py, err := a.stageEnv(ctx, cfg.envConfig)
	if err != nil {
		return err
	}
	o, err := a.stageSpec(cfg, l)
	if err != nil {
		return err
	}
	v, pyinstaller, pkgs, err := a.stageVenv(ctx, cfg, py)
	if err != nil {
		return err
	}
	if err := a.stageCompile(ctx, cfg, l, v, o); err != nil {
		return err
	}

	t := cfg.Target.String()
	a.logf("verify: %s", l.Artifact)
	vo := verify.Options{Artifact: l.Artifact, Modules: o.RequiredModules, PythonSearchDirs: []string{}}
	if o.Mode == spec.OneDir {
		vo.Bundle = l.Bundle
	}
	vr, err := verify.Run(ctx, vo)
	if err != nil {
		return &diagnose.Error{Stage: "verify", Target: t, File: l.ArtifactRel, Reason: err.Error()}
	}

	var hr *health.Result
	if vr.OK && !cfg.SkipHealth {
		a.logf("health: starting %s, budget %s", l.Artifact, cfg.Budget)
		if err := os.Remove(l.HealthDB); err != nil && !errors.Is(err, os.ErrNotExist) {
			return &diagnose.Error{Stage: "health", Target: t, File: l.HealthDB, Reason: err.Error()}
		}
		if a.hostOS == "linux" {
			_ = health.BecomeSubreaper() // best effort: orphans of the backend stay findable
		}
		r, err := health.Probe(ctx, health.Options{Artifact: l.Artifact, Budget: cfg.Budget,
			Env: []string{"APP_DB_PATH=" + l.HealthDB}})
		if err != nil {
			return &diagnose.Error{Stage: "health", Target: t, File: l.ArtifactRel, Reason: err.Error()}
		}
		hr = &r
	}

	host, _ := a.hostname()
	if host == "" {
		host = "unknown"
	}
	e := makeEntry(entryInput{GOOS: a.hostOS, Target: cfg.Target, Options: o, Layout: l, Verify: vr,
		Health: hr, HealthSkipped: cfg.SkipHealth, PyInstaller: pyinstaller, Packages: pkgs,
		Duration: time.Since(start), Host: host})
	for _, c := range e.Checks {
		a.logf("%-4s %-10s %s", okWord(c.OK), c.Name, c.Detail)
	}
	rep := report.Report{Tool: "pybundle", Version: toolVersion}
	rep.Add(e)
	if err := writeReport(l, rep); err != nil {
		return &diagnose.Error{Stage: "report", Target: t, File: l.Report, Reason: err.Error()}
	}
	fmt.Fprint(a.stdout, rep.Table())
	a.logf("report: %s", l.Report)
	return entryError(e, hr)
}

// writeReport writes report.json and summary.txt.
func writeReport(l layout, rep report.Report) error {
	js, err := rep.JSON()
	if err != nil {
		return err
	}
	if err := os.WriteFile(l.Report, js, 0o644); err != nil {
		return err
	}
	return os.WriteFile(l.Summary, []byte(rep.Table()), 0o644)
}

// entryError is the stage error for the first failed check of a written entry, nil if none.
func entryError(e report.Entry, hr *health.Result) error {
	for _, c := range e.Checks {
		if c.OK {
			continue
		}
		err := &diagnose.Error{Stage: "verify", Target: e.Target, File: e.Artifact,
			Reason: fmt.Sprintf("check %s failed: %s", c.Name, c.Detail)}
		if c.Name == "health" {
			err.Stage, err.Reason = "health", c.Detail
			if hr != nil {
				err.Tail = hr.LogTail
			}
		}
		return err
	}
	return nil
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

// stageSpec is step 3: the source copied to <out>/work/src, scanned, and the spec and the
// runtime hook written next to the copy, exactly as the module's plan and compile do.
func (a *app) stageSpec(cfg buildConfig, l layout) (spec.Options, error) {
	t := cfg.Target.String()
	fail := func(file, format string, args ...any) (spec.Options, error) {
		return spec.Options{}, &diagnose.Error{Stage: "spec", Target: t, File: file, Reason: fmt.Sprintf(format, args...)}
	}
	if fi, err := os.Stat(filepath.Join(cfg.Source, filepath.FromSlash(cfg.Entry))); err != nil || fi.IsDir() {
		return fail(cfg.Entry, "entry point not found in the source folder (pass --entry if it has another name)")
	}
	if err := copySource(cfg.Source, l.WorkSrc, cfg.Out, cfg.Venv); err != nil {
		return fail("", "copying the source to %s: %v", l.WorkSrc, err)
	}
	fsys := os.DirFS(l.WorkSrc)
	res, err := scan.Scan(fsys)
	if err != nil {
		return spec.Options{}, &diagnose.Error{Stage: "scan", Target: t, Reason: err.Error()}
	}
	for _, f := range res.Unresolved {
		a.logf("scan: %s:%d: %s(%s) imports a module by a name the scanner cannot work out: add it with --hidden-imports if the app needs it", f.File, f.Line, f.Call, f.Expr)
	}
	o := spec.Options{
		Name:          cfg.Name,
		Entry:         cfg.Entry,
		Target:        cfg.Target,
		Mode:          cfg.Mode,
		HiddenImports: append(append([]string{}, res.HiddenImports...), cfg.HiddenImports...),
		Datas:         spec.DefaultDatas(fsys),
		Slim:          !cfg.NoSlim,
	}.WithDefaults()
	if err := o.Validate(); err != nil {
		return fail("", "%v", err)
	}
	text, err := spec.Generate(o)
	if err != nil {
		return fail("", "%v", err)
	}
	if err := os.WriteFile(filepath.Join(l.WorkSrc, o.SpecFileName()), text, 0o644); err != nil {
		return fail(o.SpecFileName(), "%v", err)
	}
	if err := os.WriteFile(filepath.Join(l.WorkSrc, spec.RuntimeHookFile), spec.RuntimeHook(), 0o644); err != nil {
		return fail(spec.RuntimeHookFile, "%v", err)
	}
	a.logf("spec: %s (%d hidden imports, %d data entries) in %s", o.SpecFileName(), len(o.HiddenImports), len(o.Datas), l.WorkSrc)
	return o, nil
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
	extra, hashed, err := pipPlan(cfg.Requirements)
	if err != nil {
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
	pkgs := parseFreeze(freeze)
	pkgs["python"] = py.Version.String()
	a.logf("env: PyInstaller %s in %s", pyinstaller, v.Dir)
	return v, pyinstaller, pkgs, nil
}

// stageCompile is step 4: the venv's PyInstaller on the generated spec, with the module's
// reproducibility settings; a failure is explained by diagnose.Compile.
func (a *app) stageCompile(ctx context.Context, cfg buildConfig, l layout, v venv, o spec.Options) error {
	t := cfg.Target.String()
	if err := os.RemoveAll(l.DistDir); err != nil { // a onedir folder and a onefile file share a name
		return &diagnose.Error{Stage: "compile", Target: t, File: l.DistDir, Reason: err.Error()}
	}
	// PyInstaller reports paths as Python sees them, symlinks resolved (/var → /private/var on
	// macOS): run it from, and explain its output against, the resolved folder.
	src := l.WorkSrc
	if real, err := filepath.EvalSymlinks(src); err == nil {
		src = real
	}
	a.logf("compile: PyInstaller %s → %s", o.SpecFileName(), l.DistDir)
	out, err := a.command(ctx, src, compileEnv(os.Environ()), pyinstallerArgs(v, l, o.SpecFileName())...)
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

// pyinstallerArgs is the compile command, the module's but with the runner's folders. It runs
// `python -m PyInstaller`, the same module the version check asked, rather than the venv's
// pyinstaller script: a venv with system site packages (an offline runner's) has no script.
func pyinstallerArgs(v venv, l layout, specFile string) []string {
	return []string{v.Python(), "-m", "PyInstaller", "--noconfirm", "--clean", "--log-level", "WARN",
		"--distpath", l.DistDir, "--workpath", l.WorkBuild, specFile}
}

// compileEnv is the environment PyInstaller runs in: the inherited one plus the module's
// reproducibility settings (later entries win in os/exec).
func compileEnv(base []string) []string {
	return append(append([]string{}, base...),
		"PYTHONHASHSEED="+pythonHashSeed,
		"SOURCE_DATE_EPOCH="+sourceDateEpoch,
		"PYTHONDONTWRITEBYTECODE=1")
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
