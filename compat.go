package main

import (
	"context"
	"strings"

	"github.com/pybundle/pybundle/images"
	"github.com/pybundle/pybundle/internal/dagger"
	"github.com/pybundle/pybundle/pipeline/diagnose"
	"github.com/pybundle/pybundle/pipeline/target"
)

// compatStockBootloader is why the compat installer builds with PyInstaller's stock bootloader
// (compiled on Debian 11 with the toolchain): pybundle's static one carries Debian trixie's
// libpython3.13.a, which needs trixie's glibc.
const compatStockBootloader = "the compat installer freezes with its own Python, built on Debian 11, and PyInstaller's bootloader compiled there"

// CompatToolchain returns pybundle's compat toolchain, the base of `--installer compat`: CPython
// of the Debian builder's upstream version (trixie's python3.13 source package), built on Debian
// 11 (glibc 2.31) as a shared library with PGO and LTO, with PyInstaller 6.22.2 (trixie-backports'
// source, its bootloader compiled there) and its pure-Python dependencies (Debian's packages)
// installed. /opt/pybundle/python3.13/pybundle-compat.txt says what it was built from. Built once
// per engine (~17 min cold on 2 cores) and cached.
//
// +cache="168h"
func (m *Pybundle) CompatToolchain(
	ctx context.Context,
	// Target platform (linux/amd64: the one the toolchain is built for).
	// +optional
	// +default="linux/amd64"
	platform dagger.Platform,
) (*dagger.Container, error) {
	t, err := target.Parse(string(platform))
	if err != nil {
		return nil, &diagnose.Error{Stage: "compat-toolchain", Target: string(platform), Reason: err.Error()}
	}
	return m.compatToolchain(ctx, t)
}

// compatToolchain fetches the sources in the base image (trixie, whose apt sources name the
// suites) and builds the toolchain on images.CompatBase. Neither depends on the builder's cache
// buster: the toolchain is built once per engine, the venvs on top of it as often as asked.
func (m *Pybundle) compatToolchain(ctx context.Context, t target.Target) (*dagger.Container, error) {
	fail := func(reason string, tail []string) (*dagger.Container, error) {
		return nil, &diagnose.Error{Stage: "compat-toolchain", Target: t.String(), Reason: reason, Tail: tail}
	}
	if t.OS != "linux" {
		return fail("the compat toolchain is a Linux one (macOS and Windows bundles are built on native runners)", nil)
	}
	steps, err := images.CompatBuildSteps(t.Arch)
	if err != nil {
		return fail(err.Error(), nil)
	}
	host := hostPlatform(ctx)
	sources := dag.Container(dagger.ContainerOpts{Platform: dagger.Platform(host.String())}).From(m.BaseImage).
		WithNewFile(images.CompatFetch, images.CompatFetchScript()).
		WithExec([]string{"sh", images.CompatFetch}, dagger.ContainerWithExecOpts{Expect: dagger.ReturnTypeAny})
	if code, err := sources.ExitCode(ctx); err != nil || code != 0 {
		out, _ := sources.Stderr(ctx)
		return fail("fetching the sources of python3.13 and pyinstaller from the base image's apt sources failed", diagnose.Tail(out, 12))
	}
	base := dag.Container(dagger.ContainerOpts{Platform: dagger.Platform(t.String())}).From(images.CompatBase).
		WithMountedCache("/var/cache/apt/archives", dag.CacheVolume("pybundle-apt-compat-"+t.Slug()), dagger.ContainerWithMountedCacheOpts{Sharing: dagger.CacheSharingModeLocked}).
		WithExec([]string{"sh", "-c", images.AptInstallScript(images.CompatBuildPackages)}).
		WithoutMount("/var/cache/apt/archives")
	run := base.
		WithMountedDirectory(images.CompatSources, sources.Directory(images.CompatSources)).
		WithNewFile(images.CompatWheeler, images.DebWheelPy)
	for _, st := range steps { // one exec each: Dagger caches CPython's compile apart from the rest
		run = run.WithNewFile(images.CompatBuild, st.Script).
			WithExec([]string{"sh", images.CompatBuild}, dagger.ContainerWithExecOpts{Expect: dagger.ReturnTypeAny})
		code, err := run.ExitCode(ctx)
		if err != nil {
			return fail(st.Name+": "+err.Error(), nil)
		}
		if code != 0 {
			out, _ := run.Stderr(ctx)
			return fail("building the compat toolchain failed: "+st.Name, diagnose.Tail(out, 30))
		}
	}
	return run.WithoutFile(images.CompatBuild).WithoutMount(images.CompatSources).
		WithEnvVariable("PATH", images.CompatPrefix+"/bin:${PATH}", dagger.ContainerWithEnvVariableOpts{Expand: true}), nil
}

// compatInfo is what the toolchain says it was built from (its first line: Python's version and
// the system it was built on), for the report and the work folder's key.
func compatInfo(ctx context.Context, toolchain *dagger.Container) (string, error) {
	return toolchain.File(images.CompatInfo).Contents(ctx)
}

// compatPython is the report's packages["python"] on the compat path: the first line of the
// toolchain's info without its "pybundle compat toolchain for …: " lead.
func compatPython(info string) string {
	first, _, _ := strings.Cut(info, "\n")
	if _, rest, ok := strings.Cut(first, ": "); ok {
		return rest
	}
	return first
}

// DebianWheels makes pure-Python wheels of Debian packages (python3-starlette, python3-anyio…):
// a wheelhouse for `--installer pip|compat --wheelhouse` on a machine with no package index.
// Each package's dist-packages folder and metadata become one py3-none-any wheel; a package
// with compiled code is refused.
//
// +cache="168h"
func (m *Pybundle) DebianWheels(
	ctx context.Context,
	// Debian packages of pure Python, as name or name=version (e.g. python3-starlette).
	packages []string,
) (*dagger.Directory, error) {
	pkgs, err := images.ParseExtra(packages)
	if err != nil || len(pkgs) == 0 {
		reason := "give the Debian packages to make wheels of (--packages python3-starlette,…)"
		if err != nil {
			reason = err.Error()
		}
		return nil, &diagnose.Error{Stage: "debian-wheels", Reason: reason}
	}
	const out = "/tmp/pybundle-wheels"
	host := hostPlatform(ctx)
	builder, err := m.debianBuilder(ctx, host, deps{})
	if err != nil {
		return nil, err
	}
	run := builder.WithNewFile(images.CompatWheeler, images.DebWheelPy).
		WithExec([]string{"sh", "-c", images.DebianWheelsScript(pkgs, images.CompatWheeler, out)}, dagger.ContainerWithExecOpts{Expect: dagger.ReturnTypeAny})
	code, err := run.ExitCode(ctx)
	if err != nil {
		return nil, &diagnose.Error{Stage: "debian-wheels", Target: host.String(), Reason: err.Error()}
	}
	if code != 0 {
		stderr, _ := run.Stderr(ctx)
		return nil, &diagnose.Error{Stage: "debian-wheels", Target: host.String(), Reason: "making wheels of " + strings.Join(packages, ", ") + " failed",
			Tail: diagnose.Tail(stderr, 12)}
	}
	return run.Directory(out), nil
}
