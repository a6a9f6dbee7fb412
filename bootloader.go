package main

import (
	"context"

	"github.com/pybundle/pybundle/images"
	"github.com/pybundle/pybundle/internal/dagger"
	"github.com/pybundle/pybundle/pipeline/diagnose"
	"github.com/pybundle/pybundle/pipeline/plan"
	"github.com/pybundle/pybundle/pipeline/target"
)

// pipStockBootloader is why the pip installer builds with PyInstaller's stock bootloader:
// pybundle's static one carries Debian's libpython3.13.a, and the pip builder's Python is the
// python image's own.
const pipStockBootloader = "the pip installer freezes with the python image's own Python, not Debian's"

// Bootloader returns pybundle's own PyInstaller bootloader for a Linux target: `run` and
// `run_d` (debug) built in the Debian builder from Debian's source of its PyInstaller, patched
// to open itself instead of a shared libpython, with Debian's PGO-built libpython3.13.a linked
// in; and bootloader.txt, what it was built from. Bundles built with bootloader=static (the
// default) start with it: as fast as the backend from source, and no libpython3.13.so in them.
//
// +cache="168h"
func (m *Pybundle) Bootloader(
	ctx context.Context,
	// Target platform: linux/amd64 or linux/arm64 (built under emulation unless the engine is arm64).
	// +optional
	// +default="linux/amd64"
	platform dagger.Platform,
) (*dagger.Directory, error) {
	t, err := target.Parse(string(platform))
	if err != nil {
		return nil, &diagnose.Error{Stage: "bootloader", Target: string(platform), Reason: err.Error()}
	}
	if t.NeedsRunner() || t.OS != "linux" {
		return nil, &diagnose.Error{Stage: "bootloader", Target: t.String(), Reason: "pybundle builds its static bootloader for Linux targets only (macOS and Windows bundles start with PyInstaller's)"}
	}
	if m.Installer != InstallerDebian {
		why := pipStockBootloader
		if m.Installer == InstallerCompat {
			why = compatStockBootloader
		}
		return nil, &diagnose.Error{Stage: "bootloader", Target: t.String(), Reason: "the static bootloader is built with the Debian installer only: " + why}
	}
	builder, err := m.builder(ctx, t, deps{})
	if err != nil {
		return nil, err
	}
	return m.bootloader(ctx, t, builder)
}

// bootloader builds the static bootloader on top of builder, the very container the bundle is
// compiled in: its libpython3.13.a and PyInstaller are then exactly the ones the bundle's
// standard library and extension modules come from (a security update of python3.13 cannot
// leave the two apart), and Dagger caches the result per builder like the builder itself.
func (m *Pybundle) bootloader(ctx context.Context, t target.Target, builder *dagger.Container) (*dagger.Directory, error) {
	fail := func(reason string, tail []string) (*dagger.Directory, error) {
		return nil, &diagnose.Error{Stage: "bootloader", Target: t.String(), Reason: reason, Tail: tail}
	}
	script, err := images.BootloaderScript(t.Arch)
	if err != nil {
		return fail(err.Error(), nil)
	}
	run := m.debian(builder, "pybundle-apt-"+t.Slug(), images.BootloaderPackages).
		WithNewFile(images.BootloaderPatch, images.PyiDylibPythonPatch).
		WithNewFile(images.BootloaderBuild, script).
		WithExec([]string{"sh", images.BootloaderBuild}, dagger.ContainerWithExecOpts{Expect: dagger.ReturnTypeAny})
	code, err := run.ExitCode(ctx)
	if err != nil {
		return fail(err.Error(), nil)
	}
	if code != 0 {
		stderr, _ := run.Stderr(ctx)
		return fail("building pybundle's static bootloader failed (bootloader=stock builds with PyInstaller's own)", diagnose.Tail(stderr, 20))
	}
	return run.Directory(images.BootloaderOut), nil
}

// withBootloader puts the build's bootloader where the builder's PyInstaller takes it from:
// pybundle's static one for bootloader=static, PyInstaller's own (nothing to do) for stock.
func (m *Pybundle) withBootloader(ctx context.Context, b plan.Build, builder, ctr *dagger.Container) (*dagger.Container, error) {
	if b.Bootloader != plan.BootloaderStatic {
		return ctr, nil
	}
	t := b.Target()
	dir, err := images.BootloaderDir(t.Arch)
	if err != nil {
		return nil, &diagnose.Error{Stage: "bootloader", Target: t.String(), Reason: err.Error()}
	}
	bl, err := m.bootloader(ctx, t, builder)
	if err != nil {
		return nil, err
	}
	for _, f := range images.BootloaderFiles {
		ctr = ctr.WithFile(dir+"/"+f, bl.File(f), dagger.ContainerWithFileOpts{Permissions: 0o755})
	}
	return ctr, nil
}
