// Package main is pybundle: it turns a Python (FastAPI) backend into a standalone executable
// per target, proves it starts in a clean container without Python, times its start to a
// healthy /api/health, and hands it to electron-builder.
//
// The module is a thin facade: every decision (targets, hidden imports, the spec, checks,
// timing, the report) lives in plain Go packages under pipeline/ that are tested without an
// engine; this file wires them to containers.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/pybundle/pybundle/images"
	"github.com/pybundle/pybundle/internal/dagger"
	"github.com/pybundle/pybundle/pipeline/diagnose"
	"github.com/pybundle/pybundle/pipeline/health"
	"github.com/pybundle/pybundle/pipeline/report"
	"github.com/pybundle/pybundle/pipeline/scan"
	"github.com/pybundle/pybundle/pipeline/spec"
	"github.com/pybundle/pybundle/pipeline/target"
	"github.com/pybundle/pybundle/pipeline/verify"

	"golang.org/x/sync/errgroup"
)

// Fixed build inputs that make two builds of the same source byte-identical: hash seed (else
// base_library.zip entry order changes) and timestamps (1980-01-01, the zip epoch).
const (
	version         = "0.1.0"
	sourceDateEpoch = "315532800"
	srcDir          = "/src"
	appDir          = "/opt/app"
	probePath       = "/usr/local/bin/pybundle-probe"
)

// Pybundle bundles Python backends into standalone executables.
type Pybundle struct {
	// +private
	BaseImage string
	// +private
	GoImage string
	// +private
	ExtraPackages []string
	// +private
	PythonImage string
	// +private
	Installer string
	// +private
	Wheelhouse *dagger.Directory
	// +private
	CacheBuster string
	// +private
	BuilderCacheBuster string
}

// New configures pybundle's base images.
func New(
	// Debian trixie base image of the builder and the Python-free runtime. Offline engines serve
	// this public name from their registry mirror.
	// +optional
	// +default="debian:trixie-slim"
	baseImage string,
	// Go image the verification probe is compiled in (cross-compiled for every target).
	// +optional
	// +default="golang:1.26-trixie"
	goImage string,
	// Extra Debian packages the backend needs at build time, as name or name=version.
	// +optional
	packages []string,
	// How the builder gets Python, PyInstaller and the backend's dependencies: "debian"
	// (pinned Debian packages) or "pip" (python image + the backend's requirements.txt).
	// +optional
	// +default="debian"
	installer string,
	// Python image of the pip installer.
	// +optional
	// +default="python:3.13-slim"
	pythonImage string,
	// Folder of wheels the pip installer installs from instead of an index (--no-index):
	// for air-gapped builds.
	// +optional
	wheelhouse *dagger.Directory,
	// Any new value rebuilds the bundle (PyInstaller, verify, health) instead of reusing a cached
	// result: for benchmarks, or to prove a build still works from scratch.
	// +optional
	cacheBuster string,
	// Any new value also rebuilds the builder image (apt or pip installs).
	// +optional
	builderCacheBuster string,
) (*Pybundle, error) {
	if _, err := images.ParseExtra(packages); err != nil {
		return nil, err
	}
	if installer != "debian" && installer != "pip" {
		return nil, fmt.Errorf("unknown installer %q: want debian or pip", installer)
	}
	return &Pybundle{BaseImage: baseImage, GoImage: goImage, ExtraPackages: packages,
		Installer: installer, PythonImage: pythonImage, Wheelhouse: wheelhouse,
		CacheBuster: cacheBuster, BuilderCacheBuster: builderCacheBuster}, nil
}

// Runtime returns the clean container artifacts are verified in: the base image, no Python.
func (m *Pybundle) Runtime(
	// Target platform, e.g. linux/amd64 or linux/arm64 (emulated when not the engine's own).
	// +optional
	// +default="linux/amd64"
	platform dagger.Platform,
) *dagger.Container {
	return dag.Container(dagger.ContainerOpts{Platform: platform}).From(m.BaseImage)
}

// Builder returns the build container. Debian installer: Debian trixie with Python 3.13,
// FastAPI, uvicorn and pydantic, and PyInstaller 6.22.2 from trixie-backports, every version
// pinned. Pip installer: the Python image with a venv holding the backend's requirements.txt
// and pyinstaller==6.22.2 (hash-checked when the requirements carry hashes).
func (m *Pybundle) Builder(
	ctx context.Context,
	// Target platform; linux/arm64 is built under emulation unless the engine is arm64.
	// +optional
	// +default="linux/amd64"
	platform dagger.Platform,
	// The backend's requirements.txt (pip installer only).
	// +optional
	requirements *dagger.File,
) (*dagger.Container, error) {
	t, err := target.Parse(string(platform))
	if err != nil {
		return nil, &diagnose.Error{Stage: "builder", Target: string(platform), Reason: err.Error()}
	}
	if t.NeedsRunner() {
		return nil, runnerError([]target.Target{t})
	}
	if m.Installer == "pip" {
		return m.pipBuilder(ctx, t, requirements)
	}
	extra, err := images.ParseExtra(m.ExtraPackages)
	if err != nil {
		return nil, err
	}
	pkgs := append(append([]images.Package{}, images.BuilderPackages...), extra...)
	return m.Runtime(platform).
		WithEnvVariable("PYBUNDLE_BUILDER_CACHE_BUSTER", m.BuilderCacheBuster).
		WithMountedCache("/var/cache/apt/archives", dag.CacheVolume("pybundle-apt-"+t.Slug()), dagger.ContainerWithMountedCacheOpts{Sharing: dagger.CacheSharingModeLocked}).
		WithExec([]string{"sh", "-c", images.AptInstallScript(pkgs)}).
		WithoutMount("/var/cache/apt/archives").
		WithEnvVariable("PYTHONHASHSEED", "0").
		WithEnvVariable("SOURCE_DATE_EPOCH", sourceDateEpoch).
		WithEnvVariable("PYTHONDONTWRITEBYTECODE", "1").
		WithWorkdir(srcDir), nil
}

// pipBuilder is the pip installer's builder: for users with a package index (or a wheelhouse).
func (m *Pybundle) pipBuilder(ctx context.Context, t target.Target, requirements *dagger.File) (*dagger.Container, error) {
	if requirements == nil {
		return nil, &diagnose.Error{Stage: "builder", Target: t.String(), File: "requirements.txt",
			Reason: "the pip installer needs the backend's requirements.txt"}
	}
	text, err := requirements.Contents(ctx)
	if err != nil {
		return nil, &diagnose.Error{Stage: "builder", Target: t.String(), File: "requirements.txt", Reason: err.Error()}
	}
	extra, hashed, err := images.PipPlan(text)
	if err != nil {
		return nil, &diagnose.Error{Stage: "builder", Target: t.String(), File: "requirements.txt", Reason: err.Error()}
	}
	ctr := dag.Container(dagger.ContainerOpts{Platform: dagger.Platform(t.String())}).From(m.PythonImage).
		WithEnvVariable("PYBUNDLE_BUILDER_CACHE_BUSTER", m.BuilderCacheBuster).
		WithFile("/tmp/pybundle/requirements.txt", requirements)
	wheels := ""
	if m.Wheelhouse != nil {
		wheels = "/tmp/pybundle/wheels"
		ctr = ctr.WithDirectory(wheels, m.Wheelhouse)
	}
	ctr = ctr.WithExec([]string{"sh", "-c", images.PipInstallScript("/tmp/pybundle/requirements.txt", extra, hashed, wheels)},
		dagger.ContainerWithExecOpts{Expect: dagger.ReturnTypeAny})
	if code, err := ctr.ExitCode(ctx); err != nil || code != 0 {
		out, _ := ctr.Stderr(ctx)
		return nil, &diagnose.Error{Stage: "builder", Target: t.String(), File: "requirements.txt",
			Reason: "pip install failed", Tail: diagnose.Tail(out, 12)}
	}
	return ctr.
		WithEnvVariable("PATH", images.VenvDir+"/bin:${PATH}", dagger.ContainerWithEnvVariableOpts{Expand: true}).
		WithEnvVariable("PYTHONHASHSEED", "0").
		WithEnvVariable("SOURCE_DATE_EPOCH", sourceDateEpoch).
		WithEnvVariable("PYTHONDONTWRITEBYTECODE", "1").
		WithWorkdir(srcDir), nil
}

// Scan lists the modules the backend imports by string (invisible to PyInstaller), as JSON.
func (m *Pybundle) Scan(
	ctx context.Context,
	// Backend source folder (holds the entry point, e.g. main.py).
	source *dagger.Directory,
) (string, error) {
	res, err := scanSource(ctx, source)
	if err != nil {
		return "", err
	}
	b, err := json.MarshalIndent(res, "", "  ")
	return string(b) + "\n", err
}

// Spec returns the generated PyInstaller spec for one target.
func (m *Pybundle) Spec(
	ctx context.Context,
	// Backend source folder.
	source *dagger.Directory,
	// Target platform.
	// +optional
	// +default="linux/amd64"
	platform dagger.Platform,
	// Bundle layout: onedir (fastest start) or onefile.
	// +optional
	// +default="onedir"
	mode string,
	// Executable name (".exe" is added on Windows).
	// +optional
	// +default="peft_engine"
	name string,
	// Entry script, relative to the source folder.
	// +optional
	// +default="main.py"
	entry string,
	// Extra hidden imports beyond those the scanner finds.
	// +optional
	hiddenImports []string,
	// Keep setuptools/pkg_resources in the bundle (PyInstaller's default; slower start).
	// +optional
	noSlim bool,
) (*dagger.File, error) {
	_, opts, err := m.plan(ctx, source, string(platform), mode, name, entry, hiddenImports, noSlim)
	if err != nil {
		return nil, err
	}
	text, err := spec.Generate(opts)
	if err != nil {
		return nil, &diagnose.Error{Stage: "spec", Target: string(platform), Reason: err.Error()}
	}
	return dag.Directory().WithNewFile(opts.SpecFileName(), string(text)).File(opts.SpecFileName()), nil
}

// Compile builds the backend with PyInstaller for one target and returns PyInstaller's dist
// folder: <name>/<name> plus _internal/ (onedir) or the single <name> file (onefile).
func (m *Pybundle) Compile(
	ctx context.Context,
	// Backend source folder.
	source *dagger.Directory,
	// Target platform.
	// +optional
	// +default="linux/amd64"
	platform dagger.Platform,
	// Bundle layout: onedir (fastest start) or onefile.
	// +optional
	// +default="onedir"
	mode string,
	// Executable name (".exe" is added on Windows).
	// +optional
	// +default="peft_engine"
	name string,
	// Entry script, relative to the source folder.
	// +optional
	// +default="main.py"
	entry string,
	// Extra hidden imports beyond those the scanner finds.
	// +optional
	hiddenImports []string,
	// Keep setuptools/pkg_resources in the bundle (PyInstaller's default; slower start).
	// +optional
	noSlim bool,
) (*dagger.Directory, error) {
	c, err := m.compile(ctx, source, string(platform), mode, name, entry, hiddenImports, noSlim)
	if err != nil {
		return nil, err
	}
	return c.Dist, nil
}

// Verify runs the bundle in a fresh container without Python and checks it: the executable
// exists with its exec bit, the bundle is 1 MiB–3 GiB, its highest GLIBC symbol version is at
// most the runtime's, and the lazily imported modules import inside the frozen app. Returns the
// result as JSON; fails when a check fails.
func (m *Pybundle) Verify(
	ctx context.Context,
	// PyInstaller's dist folder, as returned by compile.
	dist *dagger.Directory,
	// Target platform the bundle was built for.
	// +optional
	// +default="linux/amd64"
	platform dagger.Platform,
	// Executable name.
	// +optional
	// +default="peft_engine"
	name string,
	// Modules that must import inside the frozen app (default: none beyond the executable starting).
	// +optional
	modules []string,
) (string, error) {
	t, err := target.Parse(string(platform))
	if err != nil {
		return "", &diagnose.Error{Stage: "verify", Target: string(platform), Reason: err.Error()}
	}
	res, err := m.verify(ctx, t, dist, name, modules)
	if err != nil {
		return "", err
	}
	b, _ := json.MarshalIndent(res, "", "  ")
	return string(b) + "\n", nil
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
	// Target platform the bundle was built for.
	// +optional
	// +default="linux/amd64"
	platform dagger.Platform,
	// Executable name.
	// +optional
	// +default="peft_engine"
	name string,
	// Longest acceptable time to the first healthy answer (Go duration). Emulated targets get 30×.
	// +optional
	// +default="5s"
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
) (string, error) {
	t, err := target.Parse(string(platform))
	if err != nil {
		return "", &diagnose.Error{Stage: "health", Target: string(platform), Reason: err.Error()}
	}
	res, err := m.health(ctx, t, dist, name, budget, port, runs, occupyPort)
	if err != nil {
		return "", err
	}
	b, _ := json.MarshalIndent(res, "", "  ")
	return string(b) + "\n", nil
}

// HealthFromSource starts the backend from source with the builder's own Python and times it
// like health does: the baseline a bundle's start-up is compared against (benchmarks). Never
// cached.
//
// +cache="never"
func (m *Pybundle) HealthFromSource(
	ctx context.Context,
	// Backend source folder.
	source *dagger.Directory,
	// Entry script, relative to the source folder.
	// +optional
	// +default="main.py"
	entry string,
	// Start-ups to measure.
	// +optional
	// +default=10
	runs int,
	// Longest acceptable time to the first healthy answer (Go duration).
	// +optional
	// +default="10s"
	budget string,
) (string, error) {
	t := target.Target{OS: "linux", Arch: hostPlatform(ctx).Arch}
	var req *dagger.File
	if m.Installer == "pip" {
		req = source.File("requirements.txt")
	}
	builder, err := m.Builder(ctx, dagger.Platform(t.String()), req)
	if err != nil {
		return "", err
	}
	python := "/usr/bin/python3"
	if m.Installer == "pip" {
		python = images.VenvDir + "/bin/python"
	}
	ctr := builder.
		WithFile(probePath, m.probe(t), dagger.ContainerWithFileOpts{Permissions: 0o755}).
		WithDirectory(srcDir, source).
		WithEnvVariable("PYBUNDLE_HEALTH_RUN", strconv.FormatInt(time.Now().UnixNano(), 10))
	args := []string{probePath, "health", "--json", "--artifact", python, "--arg", entry, "--budget", budget,
		"--runs", strconv.Itoa(runs), "--env", "APP_DB_PATH=/tmp/pybundle-health.sqlite3"}
	var res health.Result
	if err := runProbe(ctx, ctr, args, &res); err != nil {
		return "", &diagnose.Error{Stage: "health", Target: t.String(), File: entry, Reason: err.Error()}
	}
	if !res.OK {
		return "", &diagnose.Error{Stage: "health", Target: t.String(), File: entry, Reason: res.Reason, Tail: res.LogTail}
	}
	b, _ := json.MarshalIndent(res, "", "  ")
	return string(b) + "\n", nil
}

// Build compiles, verifies and health-checks the backend for every target, concurrently, and
// returns dist/: <os>-<arch>/<bundle> per target, report.json and summary.txt. Nothing is
// returned when any target fails, so an export never replaces a good dist with a partial one.
func (m *Pybundle) Build(
	ctx context.Context,
	// Backend source folder (holds the entry point, e.g. main.py).
	source *dagger.Directory,
	// Comma-separated targets, e.g. linux/amd64,linux/arm64.
	// +optional
	// +default="linux/amd64"
	platforms string,
	// Bundle layout: onedir (fastest start) or onefile.
	// +optional
	// +default="onedir"
	mode string,
	// Executable name (".exe" is added on Windows).
	// +optional
	// +default="peft_engine"
	name string,
	// Entry script, relative to the source folder.
	// +optional
	// +default="main.py"
	entry string,
	// Extra hidden imports beyond those the scanner finds.
	// +optional
	hiddenImports []string,
	// Keep setuptools/pkg_resources in the bundle (PyInstaller's default; slower start).
	// +optional
	noSlim bool,
	// Start-up budget per native target (Go duration); emulated targets get 30×.
	// +optional
	// +default="5s"
	budget string,
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
	targets, err := target.ParseList(platforms)
	if err != nil {
		return nil, &diagnose.Error{Stage: "plan", Target: platforms, Reason: err.Error()}
	}
	rs, err := planRunners(targets, runner, runnerKey, runnerKnownHosts, runnerTimeout)
	if err != nil {
		return nil, err
	}
	reports := make([]report.Report, len(targets))
	bundles := make([]*dagger.Directory, len(targets))
	g, gctx := errgroup.WithContext(ctx)
	for i, t := range targets {
		g.Go(func() error {
			if _, remote := rs.routes[t]; remote {
				rep, dist, err := m.dispatchOne(gctx, source, t, rs, mode, name, entry, hiddenImports, noSlim, budget)
				reports[i], bundles[i] = rep, dist
				return err
			}
			e, dist, err := m.buildOne(gctx, source, t, mode, name, entry, hiddenImports, noSlim, budget)
			reports[i], bundles[i] = report.Report{Tool: "pybundle", Version: version, Entries: []report.Entry{e}}, dist
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	// One report: a runner's entries are merged as it wrote them (report.Merge refuses another
	// pybundle version or a second entry for a target).
	rep := report.Report{Tool: "pybundle", Version: version}
	out := dag.Directory()
	for i, t := range targets {
		if rep, err = report.Merge(rep, reports[i]); err != nil {
			return nil, &diagnose.Error{Stage: "report", Target: t.String(), File: "report.json", Reason: err.Error()}
		}
		out = out.WithDirectory(t.DistDir()[len("dist/"):], bundles[i])
	}
	js, err := rep.JSON()
	if err != nil {
		return nil, err
	}
	return out.WithNewFile("report.json", string(js)).WithNewFile("summary.txt", rep.Table()), nil
}

// compiled is one target's PyInstaller output and what went into it.
type compiled struct {
	Dist    *dagger.Directory
	Builder *dagger.Container
	Options spec.Options
	Scan    scan.Result
}

// buildOne is the per-target pipeline: compile → verify → health → report entry. The order is
// the point: nothing unverified reaches the report (Property 4).
func (m *Pybundle) buildOne(ctx context.Context, source *dagger.Directory, t target.Target, mode, name, entry string, hidden []string, noSlim bool, budget string) (report.Entry, *dagger.Directory, error) {
	start := time.Now()
	c, err := m.compile(ctx, source, t.String(), mode, name, entry, hidden, noSlim)
	if err != nil {
		return report.Entry{}, nil, err
	}
	v, err := m.verify(ctx, t, c.Dist, c.Options.Name, c.Options.RequiredModules)
	if err != nil {
		return report.Entry{}, nil, err
	}
	h, err := m.health(ctx, t, c.Dist, c.Options.Name, budget, 0, 1, false)
	if err != nil {
		return report.Entry{}, nil, err
	}
	pkgs, pyinstaller, err := m.builderVersions(ctx, c.Builder)
	if err != nil {
		return report.Entry{}, nil, &diagnose.Error{Stage: "report", Target: t.String(), Reason: err.Error()}
	}
	ms := h.MedianMS
	e := report.Entry{
		Target:        t.String(),
		Mode:          string(c.Options.Mode),
		Artifact:      artifactRel(t, c.Options),
		SizeBytes:     v.SizeBytes,
		SHA256:        v.SHA256,
		StartupMS:     &ms,
		Emulated:      h.Emulated,
		GlibcFloor:    v.GlibcFloor,
		RuntimeGlibc:  v.RuntimeGlibc,
		Python:        v.Python,
		PyInstaller:   pyinstaller,
		Packages:      pkgs,
		HiddenImports: c.Options.HiddenImports,
		DurationMS:    time.Since(start).Milliseconds(),
		Builder:       "dagger:" + m.Installer,
	}
	for _, ch := range v.Checks {
		e.Checks = append(e.Checks, report.Check{Name: ch.Name, OK: ch.OK, Detail: ch.Detail})
	}
	e.Checks = append(e.Checks, report.Check{Name: "health", OK: h.OK, Detail: fmt.Sprintf("first 200 after %.0f ms (budget %.0f ms)", h.MedianMS, h.BudgetMS)})
	return e, c.Dist, nil
}

// builderVersions reads what the builder really has: the reported Debian packages (some are
// absent on the pip path), pip's view of the venv on the pip path, and PyInstaller's own word.
func (m *Pybundle) builderVersions(ctx context.Context, builder *dagger.Container) (map[string]string, string, error) {
	out, err := builder.WithExec([]string{"sh", "-c", images.DpkgQueryScript()}).Stdout(ctx)
	if err != nil {
		return nil, "", err
	}
	pkgs := images.ParseDpkgQuery(out)
	if m.Installer == "pip" {
		freeze, err := builder.WithExec([]string{"python", "-m", "pip", "freeze", "--all"}).Stdout(ctx)
		if err != nil {
			return nil, "", err
		}
		for _, line := range strings.Split(freeze, "\n") {
			if name, v, ok := strings.Cut(strings.TrimSpace(line), "=="); ok {
				pkgs["pip:"+strings.ToLower(name)] = v
			}
		}
	}
	v, err := builder.WithExec([]string{"pyinstaller", "--version"}).Stdout(ctx)
	return pkgs, strings.TrimSpace(v), err
}

// artifactRel is the executable's path inside the returned dist/ folder.
func artifactRel(t target.Target, o spec.Options) string {
	p := t.ArtifactPath(o.Name, o.Mode == spec.OneDir)
	return strings.TrimPrefix(p, "dist/")
}

// plan validates the inputs and decides the spec options: it is where bad input (unknown
// target, no entry point, a bad name) is caught before any container runs.
func (m *Pybundle) plan(ctx context.Context, source *dagger.Directory, platform, mode, name, entry string, extraHidden []string, noSlim bool) (scan.Result, spec.Options, error) {
	t, err := target.Parse(platform)
	if err != nil {
		return scan.Result{}, spec.Options{}, &diagnose.Error{Stage: "spec", Target: platform, Reason: err.Error()}
	}
	md, err := spec.ParseMode(mode)
	if err != nil {
		return scan.Result{}, spec.Options{}, &diagnose.Error{Stage: "spec", Target: t.String(), Reason: err.Error()}
	}
	if entry == "" {
		entry = "main.py"
	}
	if _, err := source.File(entry).Name(ctx); err != nil {
		return scan.Result{}, spec.Options{}, &diagnose.Error{Stage: "spec", Target: t.String(), File: entry,
			Reason: "entry point not found in the source folder (pass --entry if it has another name)"}
	}
	// One local copy serves both the scanner and data-file discovery.
	local, err := localFS(ctx, source)
	if err != nil {
		return scan.Result{}, spec.Options{}, err
	}
	res, err := scan.Scan(os.DirFS(local))
	if err != nil {
		return scan.Result{}, spec.Options{}, &diagnose.Error{Stage: "scan", Target: t.String(), Reason: err.Error()}
	}
	o := spec.Options{
		Name:          name,
		Entry:         entry,
		Target:        t,
		Mode:          md,
		HiddenImports: append(append([]string{}, res.HiddenImports...), extraHidden...),
		Datas:         spec.DefaultDatas(os.DirFS(local)),
		Slim:          !noSlim,
	}.WithDefaults()
	if err := o.Validate(); err != nil {
		return scan.Result{}, spec.Options{}, &diagnose.Error{Stage: "spec", Target: t.String(), Reason: err.Error()}
	}
	return res, o, nil
}

// compile runs PyInstaller in the builder with the generated spec and runtime hook.
func (m *Pybundle) compile(ctx context.Context, source *dagger.Directory, platform, mode, name, entry string, hidden []string, noSlim bool) (*compiled, error) {
	res, o, err := m.plan(ctx, source, platform, mode, name, entry, hidden, noSlim)
	if err != nil {
		return nil, err
	}
	if o.Target.NeedsRunner() {
		return nil, runnerError([]target.Target{o.Target})
	}
	text, err := spec.Generate(o)
	if err != nil {
		return nil, &diagnose.Error{Stage: "spec", Target: o.Target.String(), Reason: err.Error()}
	}
	var requirements *dagger.File
	if m.Installer == "pip" {
		if _, err := source.File("requirements.txt").Name(ctx); err != nil {
			return nil, &diagnose.Error{Stage: "builder", Target: o.Target.String(), File: "requirements.txt",
				Reason: "the pip installer needs the backend's requirements.txt"}
		}
		requirements = source.File("requirements.txt")
	}
	builder, err := m.Builder(ctx, dagger.Platform(o.Target.String()), requirements)
	if err != nil {
		return nil, err
	}
	built := builder.
		WithEnvVariable("PYBUNDLE_CACHE_BUSTER", m.CacheBuster).
		WithDirectory(srcDir, source, dagger.ContainerWithDirectoryOpts{Exclude: []string{"build/", "dist/", "__pycache__/", "*.pyc", ".venv/", "venv/"}}).
		WithNewFile(path.Join(srcDir, o.SpecFileName()), string(text)).
		WithNewFile(path.Join(srcDir, spec.RuntimeHookFile), string(spec.RuntimeHook())).
		WithExec([]string{"pyinstaller", "--noconfirm", "--clean", "--log-level", "WARN",
			"--distpath", "/out/dist", "--workpath", "/tmp/pyi-build", o.SpecFileName()},
			dagger.ContainerWithExecOpts{Expect: dagger.ReturnTypeAny})
	code, err := built.ExitCode(ctx)
	if err != nil {
		return nil, &diagnose.Error{Stage: "compile", Target: o.Target.String(), Reason: err.Error()}
	}
	if code != 0 {
		stdout, _ := built.Stdout(ctx)
		stderr, _ := built.Stderr(ctx)
		return nil, diagnose.Compile(o.Target.String(), srcDir, stdout+"\n"+stderr)
	}
	return &compiled{Dist: built.Directory("/out/dist"), Builder: builder, Options: o, Scan: res}, nil
}

// probe cross-compiles pybundle-probe (static) for the target: the checks then run next to the
// artifact in a container that has nothing else to run them with.
func (m *Pybundle) probe(t target.Target) *dagger.File {
	return m.goBinary("./cmd/pybundle-probe", t)
}

// goBinary builds one of this repo's commands, static, for t (Go cross-compiles: a darwin or
// windows runner's pybundle-runner is built here too).
func (m *Pybundle) goBinary(pkg string, t target.Target) *dagger.File {
	include := []string{"go.mod", "go.sum", strings.TrimPrefix(pkg, "./") + "/**", "pipeline/**"}
	if pkg == "./cmd/pybundle-runner" {
		include = append(include, "images/*.go") // its pins
	}
	src := dag.CurrentModule().Source().Filter(dagger.DirectoryFilterOpts{Include: include, Exclude: []string{"**/*_test.go"}})
	out := "/out/" + path.Base(pkg)
	return dag.Container().From(m.GoImage).
		WithMountedCache("/go/pkg/mod", dag.CacheVolume("pybundle-go-mod")).
		WithMountedCache("/root/.cache/go-build", dag.CacheVolume("pybundle-go-build")).
		WithDirectory("/src", src).
		WithWorkdir("/src").
		WithEnvVariable("CGO_ENABLED", "0").
		WithEnvVariable("GOOS", t.OS).
		WithEnvVariable("GOARCH", t.Arch).
		WithEnvVariable("GOFLAGS", "-mod=mod").
		WithExec([]string{"go", "build", "-trimpath", "-ldflags", "-s -w", "-o", out, pkg}).
		File(out)
}

// checkContainer is the fresh, Python-free container holding the bundle and the probe.
func (m *Pybundle) checkContainer(t target.Target, dist *dagger.Directory) *dagger.Container {
	return m.Runtime(dagger.Platform(t.String())).
		WithFile(probePath, m.probe(t), dagger.ContainerWithFileOpts{Permissions: 0o755}).
		WithDirectory(appDir, dist).
		WithWorkdir("/tmp")
}

// hostPlatform is the engine's own platform: other linux arches run under QEMU.
func hostPlatform(ctx context.Context) target.Target {
	p, err := dag.DefaultPlatform(ctx)
	if err == nil {
		if t, err := target.Parse(string(p)); err == nil {
			return t
		}
	}
	return target.Target{OS: "linux", Arch: "amd64"}
}

func (m *Pybundle) verify(ctx context.Context, t target.Target, dist *dagger.Directory, name string, modules []string) (verify.Result, error) {
	if name == "" {
		name = target.DefaultName
	}
	exe, bundle := artifactPaths(ctx, t, dist, name)
	args := []string{probePath, "verify", "--json", "--artifact", exe, "--bundle", bundle}
	if len(modules) > 0 {
		args = append(args, "--modules", strings.Join(modules, ","))
	}
	if t.Emulated(hostPlatform(ctx)) {
		args = append(args, "--timeout", "10m")
	}
	var res verify.Result
	if err := runProbe(ctx, m.checkContainer(t, dist), args, &res); err != nil {
		return res, &diagnose.Error{Stage: "verify", Target: t.String(), File: exeRel(exe), Reason: err.Error()}
	}
	if !res.OK {
		return res, &diagnose.Error{Stage: "verify", Target: t.String(), File: exeRel(exe), Reason: res.Err().Error()}
	}
	return res, nil
}

func (m *Pybundle) health(ctx context.Context, t target.Target, dist *dagger.Directory, name, budget string, port, runs int, occupy bool) (health.Result, error) {
	if name == "" {
		name = target.DefaultName
	}
	if _, err := time.ParseDuration(budget); err != nil {
		return health.Result{}, &diagnose.Error{Stage: "health", Target: t.String(), Reason: fmt.Sprintf("invalid budget %q: %v", budget, err)}
	}
	if runs < 1 {
		runs = 1
	}
	exe, _ := artifactPaths(ctx, t, dist, name)
	args := []string{probePath, "health", "--json", "--artifact", exe, "--budget", budget,
		"--port", strconv.Itoa(port), "--runs", strconv.Itoa(runs),
		"--env", "APP_DB_PATH=/tmp/pybundle-health.sqlite3"}
	if t.Emulated(hostPlatform(ctx)) {
		args = append(args, "--emulated")
	}
	ctr := m.checkContainer(t, dist).
		// A timing that came from the cache would be a lie: every call measures anew.
		WithEnvVariable("PYBUNDLE_HEALTH_RUN", strconv.FormatInt(time.Now().UnixNano(), 10))
	if occupy {
		if port == 0 {
			return health.Result{}, &diagnose.Error{Stage: "health", Target: t.String(), Reason: "--occupy-port needs --port"}
		}
		args = append([]string{"sh", "-c", fmt.Sprintf("%s hold --port %d & sleep 0.3; exec \"$@\"", probePath, port), "sh"}, args...)
	}
	var res health.Result
	if err := runProbe(ctx, ctr, args, &res); err != nil {
		return res, &diagnose.Error{Stage: "health", Target: t.String(), File: exeRel(exe), Reason: err.Error()}
	}
	if !res.OK {
		return res, &diagnose.Error{Stage: "health", Target: t.String(), File: exeRel(exe), Reason: res.Reason, Tail: res.LogTail}
	}
	return res, nil
}

// runProbe runs the probe and decodes its one JSON document; exit 1 still carries a result.
func runProbe(ctx context.Context, ctr *dagger.Container, args []string, into any) error {
	run := ctr.WithExec(args, dagger.ContainerWithExecOpts{Expect: dagger.ReturnTypeAny})
	code, err := run.ExitCode(ctx)
	if err != nil {
		return err
	}
	stdout, err := run.Stdout(ctx)
	if err != nil {
		return err
	}
	if code > 1 || strings.TrimSpace(stdout) == "" {
		stderr, _ := run.Stderr(ctx)
		return fmt.Errorf("probe exited %d: %s", code, strings.Join(diagnose.Tail(stderr, 10), "\n"))
	}
	if err := json.Unmarshal([]byte(stdout), into); err != nil {
		return fmt.Errorf("probe output is not JSON: %w", err)
	}
	return nil
}

// artifactPaths finds the executable inside a dist folder: <name>/<name> (onedir) or <name>.
func artifactPaths(ctx context.Context, t target.Target, dist *dagger.Directory, name string) (exe, bundle string) {
	exeName := t.ExecutableName(name)
	if _, err := dist.Directory(name).Name(ctx); err == nil {
		return path.Join(appDir, name, exeName), path.Join(appDir, name)
	}
	return path.Join(appDir, exeName), path.Join(appDir, exeName)
}

func exeRel(p string) string { return strings.TrimPrefix(p, appDir+"/") }

// scanSource runs the lazy-import scanner over the source folder.
func scanSource(ctx context.Context, source *dagger.Directory) (scan.Result, error) {
	local, err := localFS(ctx, source)
	if err != nil {
		return scan.Result{}, err
	}
	return scan.Scan(os.DirFS(local))
}

// localFS exports the source into this module's own container so plain Go code (scanner, data
// file discovery) can read it; keyed by content digest, so each source is copied once.
func localFS(ctx context.Context, source *dagger.Directory) (string, error) {
	digest, err := source.Digest(ctx)
	if err != nil {
		return "", err
	}
	dir := path.Join(os.TempDir(), "pybundle-src", strings.TrimPrefix(digest, "sha256:"))
	if _, err := os.Stat(dir); err == nil {
		return dir, nil
	}
	// Targets build concurrently from the same source: each exports to its own temporary
	// folder, the first rename wins and the others drop their copy.
	if err := os.MkdirAll(path.Dir(dir), 0o755); err != nil {
		return "", err
	}
	tmp, err := os.MkdirTemp(path.Dir(dir), "export-")
	if err != nil {
		return "", err
	}
	if _, err := source.Export(ctx, tmp); err != nil {
		os.RemoveAll(tmp)
		return "", err
	}
	if err := os.Rename(tmp, dir); err != nil {
		os.RemoveAll(tmp)
		if _, statErr := os.Stat(dir); statErr != nil {
			return "", err
		}
	}
	return dir, nil
}
