package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/pybundle/pybundle/images"
	"github.com/pybundle/pybundle/internal/dagger"
	"github.com/pybundle/pybundle/pipeline/diagnose"
	"github.com/pybundle/pybundle/pipeline/health"
	"github.com/pybundle/pybundle/pipeline/layout"
	"github.com/pybundle/pybundle/pipeline/plan"
	"github.com/pybundle/pybundle/pipeline/report"
	"github.com/pybundle/pybundle/pipeline/runson"
	"github.com/pybundle/pybundle/pipeline/target"
	"github.com/pybundle/pybundle/pipeline/trace"
	"github.com/pybundle/pybundle/pipeline/verify"
)

// Scan lists the modules the backend imports by string (invisible to PyInstaller), as JSON.
//
// +cache="168h"
func (m *Pybundle) Scan(
	ctx context.Context,
	// Backend source folder (holds the entry point, e.g. main.py).
	// +ignore=[".git", "**/.venv", "**/venv", "**/node_modules", "**/__pycache__", "build", "dist"]
	source *dagger.Directory,
	// Entry script, relative to the source folder (default main.py).
	// +optional
	entry string,
) (string, error) {
	p, err := m.plan(ctx, source, false, plan.Given("entry", entry))
	if err != nil {
		return "", err
	}
	return jsonText(p.Scan)
}

// Spec returns the generated PyInstaller spec for one target.
//
// +cache="168h"
func (m *Pybundle) Spec(
	ctx context.Context,
	// Backend source folder.
	// +ignore=[".git", "**/.venv", "**/venv", "**/node_modules", "**/__pycache__", "build", "dist"]
	source *dagger.Directory,
	// Target platform (default linux/amd64).
	// +optional
	platform string,
	// Bundle layout (default onedir).
	// +optional
	mode Mode,
	// Executable name (default peft_engine; ".exe" is added on Windows).
	// +optional
	name string,
	// Entry script, relative to the source folder (default main.py).
	// +optional
	entry string,
	// Extra hidden imports beyond those the scanner finds.
	// +optional
	hiddenImports []string,
	// Keep setuptools/pkg_resources in the bundle (PyInstaller's default; slower start).
	// +optional
	noSlim bool,
	// Any other build option as KEY=VALUE (README: Configuration), e.g. warmup=/api/items.
	// +optional
	option []string,
) (*dagger.File, error) {
	p, err := m.plan(ctx, source, true, optionArgs{platform, mode, name, entry, hiddenImports, noSlim, "", option}.args()...)
	if err != nil {
		return nil, err
	}
	b := p.Builds[0]
	return dag.Directory().WithNewFile(b.SpecFile(), string(b.File(b.SpecFile()))).File(b.SpecFile()), nil
}

// Compile builds the backend with PyInstaller for one target and returns PyInstaller's dist
// folder: <name>/<name> plus _internal/ (onedir) or the single <name> file (onefile).
//
// +cache="168h"
func (m *Pybundle) Compile(
	ctx context.Context,
	// Backend source folder.
	// +ignore=[".git", "**/.venv", "**/venv", "**/node_modules", "**/__pycache__", "build", "dist"]
	source *dagger.Directory,
	// Target platform (default linux/amd64).
	// +optional
	platform string,
	// Bundle layout (default onedir).
	// +optional
	mode Mode,
	// Executable name (default peft_engine; ".exe" is added on Windows).
	// +optional
	name string,
	// Entry script, relative to the source folder (default main.py).
	// +optional
	entry string,
	// Extra hidden imports beyond those the scanner finds.
	// +optional
	hiddenImports []string,
	// Keep setuptools/pkg_resources in the bundle (PyInstaller's default; slower start).
	// +optional
	noSlim bool,
	// Any other build option as KEY=VALUE (README: Configuration), e.g. warmup=/api/items.
	// +optional
	option []string,
) (*dagger.Directory, error) {
	p, err := m.plan(ctx, source, true, optionArgs{platform, mode, name, entry, hiddenImports, noSlim, "", option}.args()...)
	if err != nil {
		return nil, err
	}
	c, err := m.compile(ctx, p, p.Builds[0])
	if err != nil {
		return nil, err
	}
	return c.dist, nil
}

// Verify runs the bundle in a fresh container without Python and checks it: the executable
// exists with its exec bit, the bundle is 1 MiB–3 GiB, its highest GLIBC symbol version is at
// most the runtime's, and the lazily imported modules import inside the frozen app. Returns the
// result as JSON; fails when a check fails.
//
// +cache="168h"
func (m *Pybundle) Verify(
	ctx context.Context,
	// PyInstaller's dist folder, as returned by compile.
	dist *dagger.Directory,
	// Target platform the bundle was built for (default linux/amd64).
	// +optional
	platform string,
	// The bundle's layout (default onedir).
	// +optional
	mode Mode,
	// Executable name (default peft_engine).
	// +optional
	name string,
	// Modules that must import inside the frozen app (default: none beyond the executable starting).
	// +optional
	modules []string,
	// Oldest glibc the bundle must run on, e.g. 2.31: every file needing a newer one is named.
	// +optional
	glibc string,
	// Image to verify in instead of the base image, e.g. debian:bullseye-slim (a runtime of
	// the matrix: the result's glibc_missing names what it lacks).
	// +optional
	runtime string,
) (string, error) {
	b, err := m.checking(platform, mode, name, modules, "", []string{"glibc=" + glibc})
	if err != nil {
		return "", err
	}
	res, err := m.verify(ctx, b, or(runtime, m.BaseImage), dist)
	if err != nil {
		return "", err
	}
	return jsonText(res)
}

// Health starts the bundle in a fresh container without Python, polls /api/health every 20 ms,
// and reports the milliseconds to the first 200; then SIGTERM, and no process or _MEI dir may
// be left. Fails over the budget. Never cached: every call measures anew.
//
// +cache="never"
func (m *Pybundle) Health(
	ctx context.Context,
	// PyInstaller's dist folder, as returned by compile.
	dist *dagger.Directory,
	// Target platform the bundle was built for (default linux/amd64).
	// +optional
	platform string,
	// The bundle's layout (default onedir).
	// +optional
	mode Mode,
	// Executable name (default peft_engine).
	// +optional
	name string,
	// Longest acceptable time to the first healthy answer (Go duration, default 5s). Emulated
	// targets get 30x.
	// +optional
	budget string,
	// Port to serve on; 0 picks a free one.
	// +optional
	port int,
	// Start-ups to measure (min/median/max over them).
	// +optional
	// +default=1
	runs int,
	// Hold the port with another listener first: reproduces a port conflict as met in the field.
	// +optional
	occupyPort bool,
	// How the backend is probed, as KEY=VALUE build options (README: Configuration), e.g.
	// health-path=/healthz, port-args=none, port-env=BACKEND_PORT, health-env=MODE=test, warmup=/api/items.
	// +optional
	option []string,
	// Image to start it in instead of the base image, e.g. debian:bullseye-slim.
	// +optional
	runtime string,
) (string, error) {
	b, err := m.checking(platform, mode, name, nil, budget, option)
	if err != nil {
		return "", err
	}
	if occupyPort && port == 0 {
		return "", &diagnose.Error{Stage: "health", Target: b.Target().String(), Reason: "--occupy-port needs --port"}
	}
	res, err := m.health(ctx, b, dist, healthRun{port: port, runs: runs, occupy: occupyPort, image: or(runtime, m.BaseImage)})
	if err != nil {
		return "", err
	}
	return jsonText(res)
}

// HealthFromSource starts the backend from source with the builder's own Python and times it
// like health does: the baseline a bundle's start-up is compared against (benchmarks). Never
// cached.
//
// +cache="never"
func (m *Pybundle) HealthFromSource(
	ctx context.Context,
	// Backend source folder.
	// +ignore=[".git", "**/.venv", "**/venv", "**/node_modules", "**/__pycache__", "build", "dist"]
	source *dagger.Directory,
	// Entry script, relative to the source folder (default main.py).
	// +optional
	entry string,
	// Start-ups to measure.
	// +optional
	// +default=10
	runs int,
	// Longest acceptable time to the first healthy answer (Go duration, default 10s).
	// +optional
	budget string,
) (string, error) {
	host := hostPlatform(ctx)
	p, err := m.plan(ctx, source, false, plan.Given("platforms", host.String()), plan.Given("entry", entry), plan.Given("budget", or(budget, "10s")))
	if err != nil {
		return "", err
	}
	b := p.Builds[0]
	builder, err := m.builder(ctx, host, m.requirements(p))
	if err != nil {
		return "", err
	}
	ctr := builder.
		WithFile(probePath, m.probe(host), dagger.ContainerWithFileOpts{Permissions: 0o755}).
		WithDirectory(srcDir, p.src).
		WithEnvVariable("PYBUNDLE_HEALTH_RUN", strconv.FormatInt(time.Now().UnixNano(), 10))
	for _, f := range b.Files { // a module or app entry starts from the generated launcher
		ctr = ctr.WithNewFile(path.Join(srcDir, f.Name), string(f.Data))
	}
	opts := b.Probe.Apply(health.Options{Artifact: m.Installer.python(), Args: []string{b.Spec.Entry}, Budget: b.Budget, Runs: max(runs, 1), Dir: srcDir})
	var res health.Result
	if _, err := runProbe(ctx, ctr, "health", opts, &res); err != nil {
		return "", &diagnose.Error{Stage: "health", Target: host.String(), File: b.Spec.Entry, Reason: err.Error()}
	}
	if !res.OK {
		return "", &diagnose.Error{Stage: "health", Target: host.String(), File: b.Spec.Entry, Reason: res.Reason, Tail: res.LogTail}
	}
	return jsonText(res)
}

// Build compiles, verifies and health-checks the backend for every target, concurrently, and
// returns dist/: <os>-<arch>/<bundle> per target, report.json and summary.txt. Nothing is
// returned when any target fails, so an export never replaces a good dist with a partial one
// (export with --wipe to drop target folders an earlier build left in the same path).
//
// +cache="session"
func (m *Pybundle) Build(
	ctx context.Context,
	// Backend source folder (holds the entry point, e.g. main.py).
	// +ignore=[".git", "**/.venv", "**/venv", "**/node_modules", "**/__pycache__", "build", "dist"]
	source *dagger.Directory,
	// Comma-separated targets, e.g. linux/amd64,linux/arm64 (default linux/amd64).
	// +optional
	platforms string,
	// Bundle layout (default onedir).
	// +optional
	mode Mode,
	// Executable name (default peft_engine; ".exe" is added on Windows).
	// +optional
	name string,
	// Entry script, relative to the source folder (default main.py).
	// +optional
	entry string,
	// Extra hidden imports beyond those the scanner finds.
	// +optional
	hiddenImports []string,
	// Keep setuptools/pkg_resources in the bundle (PyInstaller's default; slower start).
	// +optional
	noSlim bool,
	// Start-up budget per native target (Go duration, default 5s); emulated targets get 30x.
	// +optional
	budget string,
	// Any other build option as KEY=VALUE (README: Configuration), e.g. warmup=/api/items.
	// +optional
	option []string,
	// Native runners over SSH for the targets Dagger cannot build (darwin/*, windows/*):
	// ssh://user@host[:port][?python=…&python-version=…&venv=…&wheelhouse=…]. Prefix one with a
	// target or OS to route (windows/amd64=ssh://…); a linux/* prefix builds that Linux target
	// on the runner instead of in Dagger (e.g. linux/arm64 on a native arm64 host, no QEMU).
	// +optional
	runner []string,
	// Private key of the runners' SSH login. Mounted only while dispatching: never in a layer,
	// a log or the report.
	// +optional
	runnerKey *dagger.Secret,
	// known_hosts file pinning the runners' host keys (e.g. ssh-keyscan output). Without it any
	// host key is accepted, and a warning says so.
	// +optional
	runnerKnownHosts *dagger.File,
	// Longest a runner build may take, copies included (Go duration).
	// +optional
	// +default="45m"
	runnerTimeout string,
) (*dagger.Directory, error) {
	b, err := m.backend(ctx, buildRequest{source, optionArgs{platforms, mode, name, entry, hiddenImports, noSlim, budget, option},
		runnerArgs{runner, runnerKey, runnerKnownHosts, runnerTimeout}})
	if err != nil {
		return nil, err
	}
	return b.Directory, nil
}

// Backend is Build's result as an object, to chain more stages onto it in one call:
// `dagger call backend --source … package --app … export --path installers`, or
// `… directory export --path dist`.
//
// +cache="session"
func (m *Pybundle) Backend(
	ctx context.Context,
	// Backend source folder (holds the entry point, e.g. main.py).
	// +ignore=[".git", "**/.venv", "**/venv", "**/node_modules", "**/__pycache__", "build", "dist"]
	source *dagger.Directory,
	// Comma-separated targets, e.g. linux/amd64,linux/arm64 (default linux/amd64).
	// +optional
	platforms string,
	// Bundle layout (default onedir).
	// +optional
	mode Mode,
	// Executable name (default peft_engine; ".exe" is added on Windows).
	// +optional
	name string,
	// Entry script, relative to the source folder (default main.py).
	// +optional
	entry string,
	// Extra hidden imports beyond those the scanner finds.
	// +optional
	hiddenImports []string,
	// Keep setuptools/pkg_resources in the bundle (PyInstaller's default; slower start).
	// +optional
	noSlim bool,
	// Start-up budget per native target (Go duration, default 5s); emulated targets get 30x.
	// +optional
	budget string,
	// Any other build option as KEY=VALUE (README: Configuration), e.g. warmup=/api/items.
	// +optional
	option []string,
	// Native runners over SSH (see build).
	// +optional
	runner []string,
	// Private key of the runners' SSH login (see build).
	// +optional
	runnerKey *dagger.Secret,
	// known_hosts file pinning the runners' host keys (see build).
	// +optional
	runnerKnownHosts *dagger.File,
	// Longest a runner build may take, copies included (Go duration).
	// +optional
	// +default="45m"
	runnerTimeout string,
) (*Backend, error) {
	return m.backend(ctx, buildRequest{source, optionArgs{platforms, mode, name, entry, hiddenImports, noSlim, budget, option},
		runnerArgs{runner, runnerKey, runnerKnownHosts, runnerTimeout}})
}

// Backend is a verified build of the backend.
type Backend struct {
	// dist/: <os>-<arch>/<bundle> per target, report.json and summary.txt.
	Directory *dagger.Directory
	// report.json: every target's checks, size, digest and start-up time.
	Report string
	// summary.txt: one line per target.
	Summary string
	// +private
	Module *Pybundle
}

// Package builds the Electron app's installers around this backend (as the module's package).
//
// +cache="session"
func (b *Backend) Package(
	ctx context.Context,
	// The Electron app (see the module's package).
	// +ignore=["**/node_modules", "dist", "backend/dist"]
	app *dagger.Directory,
	// Target platform (Linux here; macOS and Windows package on native runners).
	// +optional
	// +default="linux/amd64"
	platform dagger.Platform,
	// electron-builder targets, comma-separated (default dir,tar.gz,deb).
	// +optional
	targets string,
	// Electron distribution to package (a folder). Empty: electron-builder downloads Electron.
	// +optional
	electronDist *dagger.Directory,
	// Start the packaged app headless and require a healthy backend, gone after quit.
	// +optional
	// +default=true
	startCheck bool,
) (*dagger.Directory, error) {
	return b.Module.Package(ctx, app, b.Directory, platform, targets, electronDist, startCheck)
}

// optionArgs are the build options as a function's arguments give them.
type optionArgs struct {
	platforms     string
	mode          Mode
	name, entry   string
	hiddenImports []string
	noSlim        bool
	budget        string
	options       []string // KEY=VALUE
}

// args turns them into plan arguments: what was not given is left to plan.Defaults.
func (o optionArgs) args() []plan.Arg {
	args := []plan.Arg{
		plan.Given("platforms", o.platforms),
		plan.Given("mode", string(o.mode)),
		plan.Given("name", o.name),
		plan.Given("entry", o.entry),
		{Key: "hidden-imports", Values: o.hiddenImports},
		plan.Given("budget", o.budget),
	}
	if o.noSlim {
		args = append(args, plan.Given("slim", "false"))
	}
	return append(args, plan.ParseAssignments(o.options)...)
}

// buildRequest is everything Build and Backend are asked.
type buildRequest struct {
	source  *dagger.Directory
	options optionArgs
	runners runnerArgs
}

// planned is a plan with its source as the builder sees it: only the files pipeline/source
// lists (no link out of the tree, nothing excluded).
type planned struct {
	*plan.Plan
	src  *dagger.Directory
	reqs plan.Requirements
}

// plan checks the arguments and the source and decides every build, before any container
// runs: bad input fails here in a second. With traced, the backend is then run from source in
// the builder and what it loads is added to the plan (plan.Options.Trace can turn that off).
func (m *Pybundle) plan(ctx context.Context, src *dagger.Directory, traced bool, args ...plan.Arg) (*planned, error) {
	o := plan.Defaults()
	if err := o.Apply(args...); err != nil { // bad arguments fail before the source is read
		return nil, &diagnose.Error{Stage: "plan", Target: givenPlatforms(args), Reason: err.Error()}
	}
	local, err := localFS(ctx, src)
	if err != nil {
		return nil, &diagnose.Error{Stage: "plan", Target: plan.Names(o.Platforms), Reason: "reading the source: " + err.Error()}
	}
	o, tree, err := plan.Load(local, args)
	if err != nil {
		return nil, err
	}
	switch m.Installer {
	case InstallerPip, InstallerCompat:
		why := pipStockBootloader
		if m.Installer == InstallerCompat {
			why = compatStockBootloader
			for _, t := range o.Platforms { // a target the toolchain is not built for fails now, not after a build
				if t.OS == "linux" && !t.NeedsRunner() {
					if err := images.CompatCheck(t.Arch); err != nil {
						return nil, &diagnose.Error{Stage: "plan", Target: t.String(), Reason: err.Error()}
					}
				}
			}
		}
		if note := o.StockOnly(why); note != "" {
			fmt.Fprintln(os.Stderr, "pybundle: plan: "+note)
		}
	}
	p, err := plan.New(o, tree)
	if err != nil {
		return nil, err
	}
	reqs, err := p.Requirements()
	if err != nil {
		return nil, &diagnose.Error{Stage: "plan", Target: plan.Names(o.Platforms), Reason: err.Error()}
	}
	if images.Installer(m.Installer).Venv() && reqs.From == "" {
		return nil, &diagnose.Error{Stage: "builder", Target: plan.Names(o.Platforms), File: plan.RequirementsFile, Reason: noDepsForPip}
	}
	files := tree.Paths()
	for i, f := range files {
		files[i] = globEscape(f)
	}
	pl := &planned{Plan: p, src: dag.Directory().WithDirectory("/", src, dagger.DirectoryWithDirectoryOpts{Include: files}), reqs: reqs}
	if traced && o.Trace {
		if err := m.trace(ctx, pl); err != nil {
			return nil, err
		}
	}
	return pl, nil
}

// Where the trace harness and its record live in the builder (outside the source copy).
const (
	traceHarness = "/opt/pybundle/" + trace.HarnessFile
	traceRecord  = "/tmp/pybundle-trace.json"
)

// trace runs the backend from source in the engine's own builder, healthy and warmed up, and
// adds what it loaded to the plan: one trace serves every Linux target.
func (m *Pybundle) trace(ctx context.Context, p *planned) error {
	host := hostPlatform(ctx)
	fail := func(reason string, tail []string) error {
		return &diagnose.Error{Stage: "trace", Target: host.String(), File: p.Entry.ScriptFile(),
			Reason: reason + " (tracing runs the backend from source before freezing it; set trace=false to skip it)", Tail: tail}
	}
	builder, err := m.builder(ctx, host, m.requirements(p))
	if err != nil {
		return err
	}
	ctr := builder.
		WithFile(probePath, m.probe(host), dagger.ContainerWithFileOpts{Permissions: 0o755}).
		WithNewFile(traceHarness, string(trace.Harness())).
		WithDirectory(srcDir, p.src)
	for _, f := range p.Builds[0].Files {
		ctr = ctr.WithNewFile(path.Join(srcDir, f.Name), string(f.Data))
	}
	var res health.Result
	run, err := runProbe(ctx, ctr, "health", p.TraceOptions(m.Installer.python(), traceHarness, srcDir, traceRecord), &res)
	if err != nil {
		return fail(err.Error(), nil)
	}
	if !res.OK {
		return fail(res.Reason, res.LogTail)
	}
	record := run.File(traceRecord)
	if size, err := record.Size(ctx); err != nil || size > trace.MaxRecord {
		return fail(fmt.Sprintf("the trace wrote no readable record (%v, %d bytes)", err, size), nil)
	}
	text, err := record.Contents(ctx)
	if err != nil {
		return fail(err.Error(), nil)
	}
	r, err := trace.Parse([]byte(text))
	if err != nil {
		return fail(err.Error(), nil)
	}
	return p.WithTrace(r)
}

// globEscape makes a path match only itself as a Dagger include pattern.
func globEscape(p string) string {
	var b strings.Builder
	for _, r := range p {
		if strings.ContainsRune(`*?[]\`, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

func givenPlatforms(args []plan.Arg) string {
	for _, a := range args {
		if a.Key == "platforms" && len(a.Values) > 0 {
			return strings.Join(a.Values, ",")
		}
	}
	return plan.Names(plan.Defaults().Platforms)
}

// noDepsForPip is the error of a pip build with no dependencies declared.
const noDepsForPip = "the pip installer needs the backend's dependencies: a requirements.txt, or [project] dependencies in pyproject.toml"

// requirements are the backend's dependencies as the builder takes them.
func (m *Pybundle) requirements(p *planned) deps {
	switch p.reqs.From {
	case "":
		return deps{}
	case plan.RequirementsFile:
		return deps{p.src.File(plan.RequirementsFile), p.reqs.From}
	}
	return deps{dag.Directory().WithNewFile(plan.RequirementsFile, string(p.reqs.Text)).File(plan.RequirementsFile), p.reqs.From}
}

// checking is the Build the verify and health functions check, from their arguments.
func (m *Pybundle) checking(platform string, mode Mode, name string, modules []string, budget string, option []string) (plan.Build, error) {
	o := plan.Defaults()
	args := append([]plan.Arg{plan.Given("platforms", platform), plan.Given("mode", string(mode)), plan.Given("name", name), plan.Given("budget", budget)},
		plan.ParseAssignments(option)...)
	if err := o.Apply(args...); err != nil {
		return plan.Build{}, &diagnose.Error{Stage: "plan", Target: or(platform, plan.Names(o.Platforms)), Reason: err.Error()}
	}
	return plan.Checking(layout.Bundle{Target: o.Platforms[0], Name: o.Name, Mode: o.Mode}, modules, o)
}

// compiled is one target's PyInstaller output and the builder that made it.
type compiled struct {
	dist    *dagger.Directory
	builder *dagger.Container
}

// compile runs PyInstaller in the builder with the plan's arguments, environment and files.
func (m *Pybundle) compile(ctx context.Context, p *planned, b plan.Build) (*compiled, error) {
	t := b.Target()
	if t.NeedsRunner() {
		return nil, runnerError([]target.Target{t})
	}
	builder, err := m.builder(ctx, t, m.requirements(p))
	if err != nil {
		return nil, err
	}
	ctr, err := m.withBootloader(ctx, b, builder, builder.
		WithEnvVariable("PYBUNDLE_CACHE_BUSTER", m.CacheBuster).
		WithDirectory(srcDir, p.src))
	if err != nil {
		return nil, err
	}
	for _, f := range b.Files {
		ctr = ctr.WithNewFile(path.Join(srcDir, f.Name), string(f.Data))
	}
	for _, kv := range b.PyInstallerEnv() {
		k, v, _ := strings.Cut(kv, "=")
		ctr = ctr.WithEnvVariable(k, v)
	}
	if b.Incremental {
		volume, err := m.workCache(ctx, p, b, builder)
		if err != nil {
			return nil, &diagnose.Error{Stage: "compile", Target: t.String(), Reason: "keying the work folder: " + err.Error()}
		}
		// LOCKED: two builds of the same key (the same target in the same builder) take turns
		// on the folder; PRIVATE would give the second an empty copy, i.e. a clean build.
		ctr = ctr.WithMountedCache(workDir, dag.CacheVolume(volume), dagger.ContainerWithMountedCacheOpts{Sharing: dagger.CacheSharingModeLocked})
	}
	run := ctr.WithExec(append([]string{m.Installer.python()}, b.PyInstallerArgs(distDir, workDir)...),
		dagger.ContainerWithExecOpts{Expect: dagger.ReturnTypeAny})
	code, err := run.ExitCode(ctx)
	if err != nil {
		return nil, &diagnose.Error{Stage: "compile", Target: t.String(), Reason: err.Error()}
	}
	if code != 0 {
		stdout, _ := run.Stdout(ctx)
		stderr, _ := run.Stderr(ctx)
		return nil, diagnose.Compile(t.String(), srcDir, stdout+"\n"+stderr)
	}
	return &compiled{dist: run.Directory(distDir), builder: builder}, nil
}

// workCache names the cache volume that keeps b's PyInstaller work folder between builds
// (plan.WorkCache): keyed by the build and by the builder as it really is, its packages read
// with dpkg-query (and pip freeze on the pip path), the same execs the report and the SBOM run
// later, so Dagger runs them once per builder.
func (m *Pybundle) workCache(ctx context.Context, p *planned, b plan.Build, builder *dagger.Container) (string, error) {
	dpkg, err := builder.WithExec([]string{"dpkg-query", "-W", "-f", "${Package} ${Version}\n"}).Stdout(ctx)
	if err != nil {
		return "", err
	}
	installed := strings.Split(strings.TrimSpace(dpkg), "\n")
	w := plan.WorkCache{Installer: string(m.Installer), Requirements: string(p.reqs.Text), PyInstaller: images.PyInstallerVersion,
		Busters: []string{m.CacheBuster, m.BuilderCacheBuster}, Packages: slices.Clone(m.ExtraPackages)}
	if images.Installer(m.Installer).Venv() {
		freeze, err := builder.WithExec([]string{m.Installer.python(), "-m", "pip", "freeze", "--all"}).Stdout(ctx)
		if err != nil {
			return "", err
		}
		for _, l := range strings.Split(strings.TrimSpace(freeze), "\n") {
			installed = append(installed, "pip:"+l)
		}
		w.Image, w.Packages = m.PythonImage, append(w.Packages, images.PipRequirement)
		if m.Installer == InstallerCompat {
			info, err := compatInfo(ctx, builder)
			if err != nil {
				return "", err
			}
			w.Image = images.CompatBase + "\n" + info
		}
	} else {
		w.Image = m.BaseImage
		for _, pkg := range images.BuilderPackages {
			w.Packages = append(w.Packages, pkg.Arg())
		}
	}
	w.Installed = installed
	return b.WorkCache(w).Volume(), nil
}

// checkContainer is the fresh, Python-free container of image (the base image, or another
// runtime of the matrix) holding the bundle and the probe.
func (m *Pybundle) checkContainer(t target.Target, image string, dist *dagger.Directory) *dagger.Container {
	return m.Runtime(dagger.Platform(t.String()), image).
		WithFile(probePath, m.probe(t), dagger.ContainerWithFileOpts{Permissions: 0o755}).
		WithDirectory(appDir, dist).
		WithWorkdir("/tmp")
}

// verify runs verify's checks on the bundle in a clean runtime of image; a failed check fails.
func (m *Pybundle) verify(ctx context.Context, b plan.Build, image string, dist *dagger.Directory) (verify.Result, error) {
	t := b.Target()
	fail := func(reason string) error {
		return &diagnose.Error{Stage: "verify", Target: t.String(), File: b.Bundle.Rel(), Reason: reason}
	}
	res, err := m.verifyOn(ctx, t, image, dist, b.VerifyOptions(appDir, t.Emulated(hostPlatform(ctx))))
	if err != nil {
		return res, fail(err.Error())
	}
	if !res.OK {
		return res, fail(res.Err().Error())
	}
	return res, nil
}

// verifyOn runs verify's probe with opts in a clean runtime of image: the error is the probe's
// not answering, a failed check is in the result (the runtime matrix reports those).
func (m *Pybundle) verifyOn(ctx context.Context, t target.Target, image string, dist *dagger.Directory, opts verify.Options) (verify.Result, error) {
	var res verify.Result
	_, err := runProbe(ctx, m.checkContainer(t, image, dist), "verify", opts, &res)
	return res, err
}

// healthRun are the health function's extras over the plan's settings.
type healthRun struct {
	port, runs int
	occupy     bool
	image      string // the runtime to start it in ("" = the base image)
}

// health starts the bundle in a clean runtime and times it to a healthy answer; not healthy
// fails.
func (m *Pybundle) health(ctx context.Context, b plan.Build, dist *dagger.Directory, hr healthRun) (health.Result, error) {
	t := b.Target()
	opts := b.HealthOptions(appDir, t.Emulated(hostPlatform(ctx)))
	opts.Port, opts.Runs = hr.port, max(hr.runs, 1)
	prelude := ""
	if hr.occupy { // another program holds the port, in the same exec as the probe
		prelude = fmt.Sprintf("%s hold --port %d & sleep 0.3", probePath, hr.port)
	}
	res, err := m.healthOn(ctx, t, or(hr.image, m.BaseImage), dist, opts, prelude)
	if err != nil {
		return res, &diagnose.Error{Stage: "health", Target: t.String(), File: b.Bundle.Rel(), Reason: err.Error()}
	}
	if !res.OK {
		return res, &diagnose.Error{Stage: "health", Target: t.String(), File: b.Bundle.Rel(), Reason: res.Reason, Tail: res.LogTail}
	}
	return res, nil
}

// healthOn runs health's probe with opts in a clean runtime of image, after the shell prelude
// when one is given: the error is the probe's not answering, a failed start is in the result.
func (m *Pybundle) healthOn(ctx context.Context, t target.Target, image string, dist *dagger.Directory, opts health.Options, prelude string) (health.Result, error) {
	// A timing that came from the cache would be a lie: every call measures anew.
	ctr := m.checkContainer(t, image, dist).WithEnvVariable("PYBUNDLE_HEALTH_RUN", strconv.FormatInt(time.Now().UnixNano(), 10))
	var res health.Result
	_, err := runProbe(ctx, ctr, "health", opts, &res, prelude)
	return res, err
}

// runsOn starts the bundle on every runtime of the matrix (pipeline/runson) and returns the
// report's rows: the base's row is the build's own verify and health (v, h), every other
// runtime gets its own verify and health; an emulated target is started on its base only. A
// runtime the bundle must run on and does not (runson.Failure) fails the build; any other
// failure is a fact of the report.
func (m *Pybundle) runsOn(ctx context.Context, b plan.Build, dist *dagger.Directory, v verify.Result, h health.Result) ([]report.RunsOn, error) {
	t := b.Target()
	fail := func(reason string, tail []string) error {
		return &diagnose.Error{Stage: "runs-on", Target: t.String(), File: b.Bundle.Rel(), Reason: reason, Tail: tail}
	}
	matrix, err := runson.Matrix(m.BaseImage, m.Runtimes)
	if err != nil {
		return nil, fail(err.Error(), nil)
	}
	emulated := t.Emulated(hostPlatform(ctx))
	var rows []report.RunsOn
	for _, rt := range matrix { // one after the other: each start is timed, and 2 cores are shared
		if why := rt.Skip(emulated); why != "" {
			rows = append(rows, runson.Skipped(rt, why))
			continue
		}
		start := runson.Start{Verify: v, Health: &h}
		if !rt.Base {
			if start.Verify, err = m.verifyOn(ctx, t, rt.Image, dist, rt.VerifyOptions(b.VerifyOptions(appDir, emulated))); err != nil {
				return nil, fail(rt.Image+": verify: "+err.Error(), nil)
			}
			hr, err := m.healthOn(ctx, t, rt.Image, dist, b.HealthOptions(appDir, emulated), "")
			if err != nil {
				return nil, fail(rt.Image+": health: "+err.Error(), nil)
			}
			start.Health = &hr
		}
		rows = append(rows, runson.Judge(rt, b.Glibc, start))
	}
	rows = runson.Sort(rows)
	if _, reason, failed := runson.Failure(rows, b.Glibc); failed {
		return nil, fail(reason, nil)
	}
	return rows, nil
}

// backend builds every target of the request (local ones in Dagger, the others on their
// runners) and merges them into one dist/ and one report.
func (m *Pybundle) backend(ctx context.Context, req buildRequest) (*Backend, error) {
	p, err := m.plan(ctx, req.source, true, req.options.args()...)
	if err != nil {
		return nil, err
	}
	rs, err := req.runners.plan(p.Options.Platforms)
	if err != nil {
		return nil, err
	}
	reports := make([]report.Report, len(p.Builds))
	bundles := make([]*dagger.Directory, len(p.Builds))
	g, gctx := errgroup.WithContext(ctx)
	for i, b := range p.Builds {
		g.Go(func() (err error) {
			if _, remote := rs.routes[b.Target()]; remote {
				reports[i], bundles[i], err = m.dispatch(gctx, p, b, rs)
			} else {
				reports[i], bundles[i], err = m.buildOne(gctx, p, b)
			}
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	// One report: a runner's entries are merged as it wrote them (report.Merge refuses another
	// pybundle version or a second entry for a target).
	rep := report.New()
	out := dag.Directory()
	for i, b := range p.Builds {
		if rep, err = report.Merge(rep, reports[i]); err != nil {
			return nil, &diagnose.Error{Stage: "report", Target: b.Target().String(), File: "report.json", Reason: err.Error()}
		}
		out = out.WithDirectory(b.Bundle.Dir(), bundles[i])
	}
	js, err := rep.JSON()
	if err != nil {
		return nil, err
	}
	return &Backend{
		Directory: out.WithNewFile("report.json", string(js)).WithNewFile("summary.txt", rep.Table()),
		Report:    string(js),
		Summary:   rep.Table(),
		Module:    m,
	}, nil
}

// buildOne is the per-target pipeline in Dagger: compile → verify → health → report entry. The
// order is the point: nothing unverified reaches the report (Property 4).
func (m *Pybundle) buildOne(ctx context.Context, p *planned, b plan.Build) (report.Report, *dagger.Directory, error) {
	start := time.Now()
	c, err := m.compile(ctx, p, b)
	if err != nil {
		return report.Report{}, nil, err
	}
	v, err := m.verify(ctx, b, m.BaseImage, c.dist)
	if err != nil {
		return report.Report{}, nil, err
	}
	h, err := m.health(ctx, b, c.dist, healthRun{})
	if err != nil {
		return report.Report{}, nil, err
	}
	runsOn, err := m.runsOn(ctx, b, c.dist, v, h)
	if err != nil {
		return report.Report{}, nil, err
	}
	pkgs, pyinstaller, err := m.builderVersions(ctx, c.builder, m.requirements(p))
	if err != nil {
		return report.Report{}, nil, &diagnose.Error{Stage: "report", Target: b.Target().String(), Reason: err.Error()}
	}
	inst, err := m.installed(ctx, c.builder)
	if err != nil {
		return report.Report{}, nil, &diagnose.Error{Stage: "report", Target: b.Target().String(), Reason: "listing the builder's packages: " + err.Error()}
	}
	e, doc, err := b.WithSBOM(p.Options, b.Entry(plan.Outcome{Verify: v, Health: &h, PyInstaller: pyinstaller, Packages: pkgs,
		Duration: time.Since(start), Builder: "dagger:" + string(m.Installer), RunsOn: runsOn}), inst)
	if err != nil {
		return report.Report{}, nil, &diagnose.Error{Stage: "report", Target: b.Target().String(), File: b.SBOMFile(), Reason: err.Error()}
	}
	rep := report.New()
	rep.Add(e)
	return rep, c.dist.WithNewFile(path.Base(b.SBOMFile()), string(doc)), nil
}

// installed lists, for the SBOM, every Debian package of the builder and, on the Debian
// path, the Python distributions Debian installed (the pip path's are pip freeze's, in the
// report's packages already).
func (m *Pybundle) installed(ctx context.Context, builder *dagger.Container) (plan.Installed, error) {
	out, err := builder.WithExec([]string{"dpkg-query", "-W", "-f", "${Package} ${Version}\n"}).Stdout(ctx)
	if err != nil {
		return plan.Installed{}, err
	}
	in := plan.Installed{Debian: images.ParseDpkgQuery(out)}
	if m.Installer == InstallerDebian {
		out, err := builder.WithExec([]string{m.Installer.python(), "-c", images.ListDistributions}).Stdout(ctx)
		if err != nil {
			return plan.Installed{}, err
		}
		in.DebianDists = map[string]string{}
		for k, v := range images.ParseFreeze(out) {
			in.DebianDists[strings.TrimPrefix(k, "pip:")] = v
		}
	}
	return in, nil
}

// builderVersions reads what the builder really has: the reported Debian packages (some are
// absent on the pip path), pip's view of the venv on the pip path, and PyInstaller's own word.
func (m *Pybundle) builderVersions(ctx context.Context, builder *dagger.Container, requirements deps) (map[string]string, string, error) {
	var extra []images.Package
	if m.Installer == InstallerDebian {
		var err error
		if extra, err = m.debianPackages(ctx, requirements); err != nil {
			return nil, "", err
		}
	}
	out, err := builder.WithExec([]string{"sh", "-c", images.DpkgQueryScript(extra...)}).Stdout(ctx)
	if err != nil {
		return nil, "", err
	}
	pkgs := images.ParseDpkgQuery(out)
	var lists [][]string // name==version lines; the venv's last, so its versions win
	if m.Installer == InstallerCompat {
		// The toolchain's own distributions (PyInstaller and its dependencies, installed with
		// pip there from local wheels, which pip freeze writes as file URLs): the venv's freeze
		// lists only what the venv itself holds.
		lists = append(lists, []string{images.CompatPython, "-m", "pip", "list", "--format=freeze", "--disable-pip-version-check"})
	}
	if images.Installer(m.Installer).Venv() {
		lists = append(lists, []string{m.Installer.python(), "-m", "pip", "freeze", "--all"})
	}
	for _, argv := range lists {
		freeze, err := builder.WithExec(argv).Stdout(ctx)
		if err != nil {
			return nil, "", err
		}
		for name, v := range images.ParseFreeze(freeze) {
			pkgs[name] = v
		}
	}
	if m.Installer == InstallerCompat { // what the interpreter is: the toolchain's own words
		info, err := compatInfo(ctx, builder)
		if err != nil {
			return nil, "", err
		}
		pkgs["python"] = compatPython(info)
	}
	v, err := builder.WithExec([]string{m.Installer.python(), "-m", "PyInstaller", "--version"}).Stdout(ctx)
	return pkgs, strings.TrimSpace(v), err
}

// runProbe runs `pybundle-probe <cmd>` on the options (typed JSON in, one JSON document out),
// after the shell prelude when one is given; exit 1 still carries a result.
func runProbe(ctx context.Context, ctr *dagger.Container, cmd string, opts, into any, prelude ...string) (*dagger.Container, error) {
	in, err := json.Marshal(opts)
	if err != nil {
		return nil, err
	}
	const optsFile = "/tmp/pybundle-probe-options.json"
	argv := []string{probePath, cmd, "--json", "--options", optsFile}
	if len(prelude) > 0 && prelude[0] != "" {
		argv = append([]string{"sh", "-c", prelude[0] + `; exec "$@"`, "sh"}, argv...)
	}
	run := ctr.WithNewFile(optsFile, string(in)).WithExec(argv, dagger.ContainerWithExecOpts{Expect: dagger.ReturnTypeAny})
	code, err := run.ExitCode(ctx)
	if err != nil {
		return nil, err
	}
	stdout, err := run.Stdout(ctx)
	if err != nil {
		return nil, err
	}
	if code > 1 || strings.TrimSpace(stdout) == "" {
		stderr, _ := run.Stderr(ctx)
		return nil, fmt.Errorf("probe exited %d: %s", code, strings.Join(diagnose.Tail(stderr, 10), "\n"))
	}
	if err := json.Unmarshal([]byte(stdout), into); err != nil {
		return nil, fmt.Errorf("probe output is not JSON: %w", err)
	}
	return run, nil
}

// python is the builder's interpreter.
func (i Installer) python() string { return images.Installer(i).Python() }

func jsonText(v any) (string, error) {
	b, err := json.MarshalIndent(v, "", "  ")
	return string(b) + "\n", err
}
