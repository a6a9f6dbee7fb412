// Package target is pybundle's platform matrix: which os/arch pairs the
// Python backend can be frozen for, and every name and path that depends on
// the target (executable suffix, dist folder, where Electron finds the binary,
// the electron-builder flags).
//
// Keeping all of these in one place is deliberate. The product has three
// independent consumers of "where is the backend executable" — the PyInstaller
// build (dist/<slug>/...), electron-builder's extraResources, and the Electron
// main process at run time (process.resourcesPath) — and a mismatch between
// any two of them ships an app that cannot start its backend. Every path is
// derived from Target and ExecutableName here, never re-spelled elsewhere.
//
// Parsing goes through github.com/containerd/platforms so that the spellings
// Docker and Dagger users already type ("linux/x86_64", "linux/aarch64",
// "Linux/AMD64", "linux/arm64/v8") mean the same thing here as in the
// container engine that runs the build.
package target

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/containerd/platforms"
)

// DefaultName is the backend executable's base name (without ".exe"). The
// Electron main process looks for exactly this name, so it is the default
// everywhere a base name is taken.
const DefaultName = "peft_engine"

// Target is one build target. Values produced by Parse are normalized
// (lower case, canonical arch names, no variant for the supported set), so
// Targets can be compared with == and used as map keys.
type Target struct {
	OS, Arch, Variant string
}

// supported is the matrix pybundle can build. Kept sorted by String() so
// Supported() and error messages list it in a stable order.
//
// linux/arm/v7 and windows/386 are deliberately absent: electron-builder can
// package them, but nobody has verified a PyInstaller + FastAPI build there.
var supported = []Target{
	{OS: "darwin", Arch: "amd64"},
	{OS: "darwin", Arch: "arm64"},
	{OS: "linux", Arch: "amd64"},
	{OS: "linux", Arch: "arm64"},
	{OS: "windows", Arch: "amd64"},
}

// Supported returns the targets pybundle can build, sorted. The slice is a
// copy; callers may modify it.
func Supported() []Target { return slices.Clone(supported) }

// IsSupported reports whether t is one of Supported().
func (t Target) IsSupported() bool { return slices.Contains(supported, t) }

func supportedList() string {
	names := make([]string, len(supported))
	for i, t := range supported {
		names[i] = t.String()
	}
	return strings.Join(names, ", ")
}

// Aliases that containerd/platforms does not know but that people coming
// from electron-builder / Node (process.platform, process.arch) will type.
var (
	osAliases   = map[string]string{"mac": "darwin", "osx": "darwin", "win": "windows", "win32": "windows"}
	archAliases = map[string]string{"x64": "amd64"}
)

// Parse reads one target such as "linux/amd64". It accepts everything
// containerd/platforms accepts for an explicit os/arch pair (any case,
// x86_64 and aarch64, macos, arm64/v8) plus the Node spellings win, win32,
// mac, osx and x64, then requires the result to be in Supported().
//
// A bare OS ("linux") is rejected rather than resolved to the host's
// architecture: a build matrix must not change meaning with the machine it
// is evaluated on.
func Parse(s string) (Target, error) {
	in := strings.TrimSpace(s)
	parts := strings.Split(in, "/")
	if in == "" || len(parts) < 2 || len(parts) > 3 {
		return Target{}, fmt.Errorf("invalid platform %q: want <os>/<arch>; supported: %s", in, supportedList())
	}
	if a, ok := osAliases[strings.ToLower(parts[0])]; ok {
		parts[0] = a
	}
	if a, ok := archAliases[strings.ToLower(parts[1])]; ok {
		parts[1] = a
	}
	p, err := platforms.Parse(strings.Join(parts, "/"))
	if err != nil {
		return Target{}, fmt.Errorf("invalid platform %q: want <os>/<arch>; supported: %s", in, supportedList())
	}
	p = platforms.Normalize(p)
	t := Target{OS: p.OS, Arch: p.Architecture, Variant: p.Variant}
	// arm64 has a single variant in practice; platforms spells it v8 when
	// written out ("linux/arm64/v8") and "" otherwise. Both are the same
	// build, so fold them.
	if t.Arch == "arm64" && t.Variant == "v8" {
		t.Variant = ""
	}
	if !t.IsSupported() {
		return Target{}, fmt.Errorf("unknown platform %q: supported: %s", in, supportedList())
	}
	return t, nil
}

// ParseList reads a comma- and/or whitespace-separated list of targets (the
// form a CLI flag or CI matrix variable takes). Duplicates — including
// different spellings of the same target — collapse, and the result is
// sorted, so the same set always yields the same build order and cache keys.
// Every bad entry is reported, not just the first.
func ParseList(csv string) ([]Target, error) {
	fields := strings.FieldsFunc(csv, func(r rune) bool {
		return r == ',' || r == ' ' || r == '\t' || r == '\n' || r == '\r'
	})
	if len(fields) == 0 {
		return nil, fmt.Errorf("no platforms given; supported: %s", supportedList())
	}
	var (
		out  []Target
		errs []error
	)
	for _, f := range fields {
		t, err := Parse(f)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	slices.SortFunc(out, func(a, b Target) int { return strings.Compare(a.String(), b.String()) })
	return out, nil
}

// String is the os/arch[/variant] form, as Dagger and docker --platform take it.
func (t Target) String() string { return platforms.Format(t.Platform()) }

// Slug is the String form with dashes, safe as a single path component
// (dist/<slug>/, artifact and cache names).
func (t Target) Slug() string { return strings.ReplaceAll(t.String(), "/", "-") }

// Platform is the OCI platform for Dagger (dag.Container(dagger.ContainerOpts{
// Platform: dagger.Platform(platforms.Format(t.Platform()))})).
func (t Target) Platform() platforms.Platform {
	return platforms.Platform{OS: t.OS, Architecture: t.Arch, Variant: t.Variant}
}

// ExecutableName is the file name of the frozen backend on this target.
// PyInstaller appends ".exe" on Windows by itself; this mirrors it so that
// the pipeline, electron-builder and the Electron main process agree. An
// empty base means DefaultName; a base that already ends in .exe is not
// doubled.
func (t Target) ExecutableName(base string) string {
	if base == "" {
		base = DefaultName
	}
	if t.OS == "windows" && !strings.HasSuffix(strings.ToLower(base), ".exe") {
		return base + ".exe"
	}
	return base
}

// NeedsRunner reports whether the target must be built on a native CI runner
// instead of in a Dagger container: PyInstaller is not a cross-compiler (it
// freezes the interpreter it runs under), and Dagger only runs Linux
// containers, so darwin and windows executables cannot come out of it.
func (t Target) NeedsRunner() bool { return t.OS != "linux" }

// Emulated reports whether building or verifying t in a container on the
// given engine host runs under QEMU binfmt emulation: a Linux target whose
// architecture differs from the engine's. Emulated PyInstaller builds work
// but are several times slower, and start-up timings taken under emulation
// are meaningless, so callers should skip or flag timing checks.
func (t Target) Emulated(host Target) bool {
	return t.OS == "linux" && t.Arch != host.Arch
}

// ElectronBuilderArch is the electron-builder --<arch> flag name (without
// dashes) for the target; "" if electron-builder has no such arch.
func (t Target) ElectronBuilderArch() string {
	switch t.Arch {
	case "amd64":
		return "x64"
	case "arm64":
		return "arm64"
	case "386":
		return "ia32"
	case "arm":
		if t.Variant == "" || t.Variant == "v7" {
			return "armv7l"
		}
	}
	return ""
}

// ElectronBuilderPlatform is the electron-builder platform flag (--linux,
// --win, --mac) without dashes; "" for an OS electron-builder does not build.
func (t Target) ElectronBuilderPlatform() string {
	switch t.OS {
	case "linux":
		return "linux"
	case "windows":
		return "win"
	case "darwin":
		return "mac"
	}
	return ""
}

// ConsoleHidden reports whether the executable must be built without a
// console window. On Windows a console-subsystem backend spawned by Electron
// flashes a black window (and keeps one open); elsewhere there is no such
// thing, and keeping the console build lets stdout/stderr reach Electron's
// logs.
func (t Target) ConsoleHidden() bool { return t.OS == "windows" }
