// Package main is pybundle: it turns a Python (FastAPI) backend into a standalone executable
// per target, proves it starts in a clean container without Python, times its start to a
// healthy /api/health, and hands it to electron-builder.
//
// The module is a thin facade over pipeline/: pipeline/plan decides every build before anything
// runs (options, source, spec, layout, PyInstaller's command line, the report entry), and this
// package runs that plan in containers. pybundle-runner runs the same plan natively on macOS,
// Windows and Linux machines, and the module's package stage is pybundle-runner's, run in the
// electron-builder container.
package main

import (
	"context"
	"fmt"
	"os"
	"path"
	"slices"
	"strings"

	"github.com/pybundle/pybundle/images"
	"github.com/pybundle/pybundle/internal/dagger"
	"github.com/pybundle/pybundle/pipeline/diagnose"
	"github.com/pybundle/pybundle/pipeline/plan"
	"github.com/pybundle/pybundle/pipeline/runson"
	"github.com/pybundle/pybundle/pipeline/target"
)

// Paths inside pybundle's containers.
const (
	srcDir    = "/src"          // the source copy PyInstaller builds from (the spec's SPECPATH)
	distDir   = "/out/dist"     // PyInstaller's --distpath
	workDir   = "/tmp/pyi-work" // PyInstaller's --workpath
	appDir    = "/opt/app"      // the bundle in the clean runtime container
	probePath = "/usr/local/bin/pybundle-probe"
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
	Installer Installer
	// +private
	Wheelhouse *dagger.Directory
	// +private
	CacheBuster string
	// +private
	BuilderCacheBuster string
	// +private
	Runtimes []string
}

// Installer is how the builder gets Python, PyInstaller and the backend's dependencies.
type Installer string

const (
	// Pinned Debian packages (Python 3.13, FastAPI, uvicorn, pydantic, PyInstaller 6.22.2).
	InstallerDebian Installer = Installer(images.Debian)
	// The python image and a venv with the backend's requirements.txt and pyinstaller==6.22.2.
	InstallerPip Installer = Installer(images.Pip)
	// The pip installer's venv on pybundle's compat toolchain: Python 3.13 and PyInstaller 6.22.2
	// built on Debian 11, so bundles run on glibc 2.31 and later.
	InstallerCompat Installer = Installer(images.Compat)
)

// Mode is a bundle's layout.
type Mode string

const (
	// One folder: the executable beside _internal/ (fastest start).
	ModeOnedir Mode = "onedir"
	// One self-extracting executable.
	ModeOnefile Mode = "onefile"
)

// New configures pybundle's images and installer.
func New(
	// Debian trixie image of the builder and of the Python-free runtime (default
	// debian:trixie-slim; offline engines serve that public name from their registry mirror).
	// +optional
	baseImage string,
	// Go image the probe and pybundle-runner are compiled in (default golang:1.26-trixie).
	// +optional
	goImage string,
	// Extra Debian packages the backend needs at build time, as name or name=version.
	// +optional
	packages []string,
	// How the builder gets Python, PyInstaller and the backend's dependencies (default debian;
	// pip: the Python image and a venv; compat: a venv on pybundle's Debian 11 toolchain, for
	// bundles that run on Debian 11 and later).
	// +optional
	installer Installer,
	// Python image of the pip installer (default python:3.13-slim).
	// +optional
	pythonImage string,
	// Folder of wheels the pip and compat installers install from instead of an index
	// (--no-index): for air-gapped builds.
	// +optional
	wheelhouse *dagger.Directory,
	// Any new value rebuilds the bundle (PyInstaller, verify, health) instead of reusing a cached
	// result: for benchmarks, or to prove a build still works from scratch.
	// +optional
	cacheBuster string,
	// Any new value also rebuilds the builder image (apt or pip installs).
	// +optional
	builderCacheBuster string,
	// Images a Linux bundle is also started on (verify and health there), besides the base
	// image: default debian:bullseye-slim and debian:bookworm-slim (glibc 2.31 and 2.36). Each
	// gets a "runs on" row in the report; one the bundle does not run on is a fact, not a
	// failure, unless the glibc key covers its glibc. Give the base image alone to check only it.
	// +optional
	runtimes []string,
) (*Pybundle, error) {
	if _, err := images.ParseExtra(packages); err != nil {
		return nil, err
	}
	if _, err := runson.Matrix(or(baseImage, images.DefaultBase), runtimes); err != nil {
		return nil, err
	}
	inst, err := images.ParseInstaller(string(installer))
	if err != nil {
		return nil, err
	}
	return &Pybundle{
		BaseImage:          or(baseImage, images.DefaultBase),
		GoImage:            or(goImage, images.DefaultGo),
		ExtraPackages:      packages,
		Installer:          Installer(inst),
		PythonImage:        or(pythonImage, images.DefaultPython),
		Wheelhouse:         wheelhouse,
		CacheBuster:        cacheBuster,
		BuilderCacheBuster: builderCacheBuster,
		Runtimes:           runtimes,
	}, nil
}

// Runtime returns the clean container artifacts are verified in: the base image (or another
// runtime of the matrix), no Python.
//
// +cache="168h"
func (m *Pybundle) Runtime(
	// Target platform, e.g. linux/amd64 or linux/arm64 (emulated when not the engine's own).
	// +optional
	// +default="linux/amd64"
	platform dagger.Platform,
	// Image of the runtime, e.g. debian:bullseye-slim (default: the base image).
	// +optional
	image string,
) *dagger.Container {
	return dag.Container(dagger.ContainerOpts{Platform: platform}).From(or(image, m.BaseImage))
}

// Builder returns the build container. Debian installer: Debian trixie with Python 3.13,
// FastAPI, uvicorn and pydantic, and PyInstaller 6.22.2 from trixie-backports, every version
// pinned. Pip installer: the Python image with a venv holding the backend's requirements.txt
// and pyinstaller==6.22.2 (hash-checked when the requirements carry hashes). Compat installer:
// the same venv on pybundle's compat toolchain (compat-toolchain), PyInstaller already in it.
//
// +cache="168h"
func (m *Pybundle) Builder(
	ctx context.Context,
	// Target platform; linux/arm64 is built under emulation unless the engine is arm64.
	// +optional
	// +default="linux/amd64"
	platform dagger.Platform,
	// The backend's requirements.txt (pip and compat installers only).
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
	return m.builder(ctx, t, deps{requirements, plan.RequirementsFile})
}

// deps are the backend's dependencies for the builder: a requirements file (nil: none
// declared) and where they came from (requirements.txt, or pyproject.toml's [project]
// dependencies), which errors name.
type deps struct {
	file *dagger.File
	from string
}

// name is the file errors about the dependencies name.
func (d deps) name() string { return or(d.from, plan.RequirementsFile) }

// builder is the build container for t with the plan's environment. The pip installer
// installs the backend's dependencies, the Debian installer the Debian package of each.
func (m *Pybundle) builder(ctx context.Context, t target.Target, d deps) (*dagger.Container, error) {
	var ctr *dagger.Container
	var err error
	if images.Installer(m.Installer).Venv() {
		ctr, err = m.pipBuilder(ctx, t, d)
	} else {
		ctr, err = m.debianBuilder(ctx, t, d)
	}
	if err != nil {
		return nil, err
	}
	for _, kv := range plan.Env() {
		k, v, _ := strings.Cut(kv, "=")
		ctr = ctr.WithEnvVariable(k, v)
	}
	return ctr.WithWorkdir(srcDir), nil
}

// debianBuilder is the Debian installer's builder: the pinned packages, the requirements'
// Debian packages and the user's extra ones.
func (m *Pybundle) debianBuilder(ctx context.Context, t target.Target, d deps) (*dagger.Container, error) {
	pkgs, err := m.debianPackages(ctx, d)
	if err != nil {
		return nil, &diagnose.Error{Stage: "builder", Target: t.String(), File: d.name(), Reason: err.Error()}
	}
	base := dag.Container(dagger.ContainerOpts{Platform: dagger.Platform(t.String())}).From(m.BaseImage).
		WithEnvVariable("PYBUNDLE_BUILDER_CACHE_BUSTER", m.BuilderCacheBuster).
		WithMountedCache("/var/cache/apt/archives", dag.CacheVolume("pybundle-apt-"+t.Slug()), dagger.ContainerWithMountedCacheOpts{Sharing: dagger.CacheSharingModeLocked})
	run := base.WithExec([]string{"sh", "-c", images.AptInstallScript(pkgs)}, dagger.ContainerWithExecOpts{Expect: dagger.ReturnTypeAny})
	code, err := run.ExitCode(ctx)
	if err != nil {
		return nil, &diagnose.Error{Stage: "builder", Target: t.String(), Reason: err.Error()}
	}
	if code != 0 {
		stderr, _ := run.Stderr(ctx)
		return nil, &diagnose.Error{Stage: "builder", Target: t.String(), File: d.name(),
			Reason: images.AptFailure(stderr), Tail: diagnose.Tail(stderr, 8)}
	}
	return run.WithoutMount("/var/cache/apt/archives"), nil
}

// debianPackages are what the Debian builder installs: the pins, the requirements' packages,
// the user's extras.
func (m *Pybundle) debianPackages(ctx context.Context, d deps) ([]images.Package, error) {
	extra, err := images.ParseExtra(m.ExtraPackages)
	if err != nil {
		return nil, err
	}
	pkgs := slices.Concat(images.BuilderPackages, extra)
	if d.file != nil {
		text, err := d.file.Contents(ctx)
		if err != nil {
			return nil, err
		}
		pkgs = append(pkgs, images.DebianPackagesFor(images.Requirements(text))...)
	}
	return pkgs, nil
}

// debian installs Debian packages into ctr, apt's downloads kept in the named cache volume.
func (m *Pybundle) debian(ctr *dagger.Container, cache string, pkgs []images.Package) *dagger.Container {
	return ctr.
		WithEnvVariable("PYBUNDLE_BUILDER_CACHE_BUSTER", m.BuilderCacheBuster).
		WithMountedCache("/var/cache/apt/archives", dag.CacheVolume(cache), dagger.ContainerWithMountedCacheOpts{Sharing: dagger.CacheSharingModeLocked}).
		WithExec([]string{"sh", "-c", images.AptInstallScript(pkgs)}).
		WithoutMount("/var/cache/apt/archives")
}

// pipBuilder is the pip and compat installers' builder: for users with a package index (or a
// wheelhouse). Its base is the Python image, or the compat toolchain.
func (m *Pybundle) pipBuilder(ctx context.Context, t target.Target, d deps) (*dagger.Container, error) {
	fail := func(reason string, tail []string) (*dagger.Container, error) {
		return nil, &diagnose.Error{Stage: "builder", Target: t.String(), File: d.name(), Reason: reason, Tail: tail}
	}
	if d.file == nil {
		return fail(noDepsForPip, nil)
	}
	text, err := d.file.Contents(ctx)
	if err != nil {
		return fail(err.Error(), nil)
	}
	extra, hashed, err := images.Installer(m.Installer).PipPlan(text)
	if err != nil {
		return fail(err.Error(), nil)
	}
	ctr := dag.Container(dagger.ContainerOpts{Platform: dagger.Platform(t.String())}).From(m.PythonImage)
	if m.Installer == InstallerCompat {
		if ctr, err = m.compatToolchain(ctx, t); err != nil {
			return nil, err
		}
	}
	ctr = ctr.WithEnvVariable("PYBUNDLE_BUILDER_CACHE_BUSTER", m.BuilderCacheBuster).
		WithFile("/tmp/pybundle/requirements.txt", d.file)
	wheels := ""
	if m.Wheelhouse != nil {
		wheels = "/tmp/pybundle/wheels"
		ctr = ctr.WithDirectory(wheels, m.Wheelhouse)
	}
	ctr = ctr.WithExec([]string{"sh", "-c", images.PipInstallScript("/tmp/pybundle/requirements.txt", extra, hashed, wheels)},
		dagger.ContainerWithExecOpts{Expect: dagger.ReturnTypeAny})
	if code, err := ctr.ExitCode(ctx); err != nil || code != 0 {
		out, _ := ctr.Stderr(ctx)
		return fail("pip install failed", diagnose.Tail(out, 12))
	}
	return ctr.WithEnvVariable("PATH", images.VenvDir+"/bin:${PATH}", dagger.ContainerWithEnvVariableOpts{Expand: true}), nil
}

// probe cross-compiles pybundle-probe (static) for the target: the checks then run next to the
// artifact in a container that has nothing else to run them with.
func (m *Pybundle) probe(t target.Target) *dagger.File {
	return m.goBinary("./cmd/pybundle-probe", t)
}

// goBinary builds one of this repo's commands, static, for t (Go cross-compiles: a darwin or
// windows runner's pybundle-runner is built here too).
func (m *Pybundle) goBinary(pkg string, t target.Target) *dagger.File {
	src := dag.CurrentModule().Source().Filter(dagger.DirectoryFilterOpts{
		Include: []string{"go.mod", "go.sum", strings.TrimPrefix(pkg, "./") + "/**", "pipeline/**", "images/*.go"},
		Exclude: []string{"**/*_test.go", "**/testdata/**"},
	})
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

// hostPlatform is the engine's own platform: other linux arches run under QEMU.
func hostPlatform(ctx context.Context) target.Target {
	if p, err := dag.DefaultPlatform(ctx); err == nil {
		if t, err := target.Parse(string(p)); err == nil {
			return t
		}
	}
	return target.Target{OS: "linux", Arch: "amd64"}
}

// localFS exports a directory into this module's own container so plain Go code (the plan) can
// read it; keyed by content digest, so each source is copied once.
func localFS(ctx context.Context, dir *dagger.Directory) (string, error) {
	digest, err := dir.Digest(ctx)
	if err != nil {
		return "", err
	}
	local := path.Join(os.TempDir(), "pybundle-src", strings.TrimPrefix(digest, "sha256:"))
	if _, err := os.Stat(local); err == nil {
		return local, nil
	}
	// Targets build concurrently from the same source: each exports to its own temporary
	// folder, the first rename wins and the others drop their copy.
	if err := os.MkdirAll(path.Dir(local), 0o755); err != nil {
		return "", err
	}
	tmp, err := os.MkdirTemp(path.Dir(local), "export-")
	if err != nil {
		return "", err
	}
	if _, err := dir.Export(ctx, tmp); err != nil {
		os.RemoveAll(tmp)
		return "", err
	}
	if err := os.Rename(tmp, local); err != nil {
		os.RemoveAll(tmp)
		if _, statErr := os.Stat(local); statErr != nil {
			return "", err
		}
	}
	return local, nil
}

// runnerError is the answer of the single-stage functions (builder, compile, package…) for a
// target only a native runner can build: they run in Dagger alone, `build` dispatches.
func runnerError(ts []target.Target) error {
	return &diagnose.Error{Stage: "plan", Target: plan.Names(ts),
		Reason: fmt.Sprintf("%s needs a native runner: PyInstaller is not a cross-compiler and Dagger runs Linux containers only: build with `build --runner ssh://user@host --runner-key …` (a native macOS/Windows runner), or run pybundle-runner on that machine (README: Native runners)", plan.Names(ts))}
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
