package pack

import (
	"fmt"
	"slices"
	"strings"

	"github.com/pybundle/pybundle/pipeline/target"
)

// Kind is what one electron-builder output is, which decides how it is opened to be checked.
type Kind string

// Output kinds.
const (
	KindDir      Kind = "dir" // an unpacked app folder (linux-unpacked, win-unpacked, mac…)
	KindTarGz    Kind = "tar.gz"
	KindTarXz    Kind = "tar.xz"
	KindZip      Kind = "zip"
	KindDeb      Kind = "deb"
	KindRPM      Kind = "rpm"
	KindDmg      Kind = "dmg"
	KindPkg      Kind = "pkg"
	KindNSIS     Kind = "nsis" // an NSIS installer (nsis and portable targets): a Windows .exe
	Kind7z       Kind = "7z"
	KindMSI      Kind = "msi"
	KindAppImage Kind = "AppImage"
	KindSnap     Kind = "snap"
)

// Targets are the electron-builder targets pybundle packages per OS, spelled as
// electron-builder spells them. Which outputs a machine can open is Opener's business.
var Targets = map[string][]string{
	"darwin":  {"dir", "dmg", "zip", "pkg", "tar.gz", "tar.xz", "7z"},
	"windows": {"dir", "nsis", "portable", "zip", "msi", "7z", "tar.gz", "tar.xz"},
	"linux":   {"dir", "tar.gz", "tar.xz", "zip", "deb", "rpm", "AppImage", "snap", "7z"},
}

// DefaultTargets are what users install on each OS.
var DefaultTargets = map[string][]string{
	"darwin":  {"dmg", "zip"},
	"windows": {"nsis"},
	"linux":   {"dir", "tar.gz", "deb"},
}

// NativeOnly are the Linux targets pybundle's electron-builder container (Debian) cannot
// build, and why: they belong to a native runner with the tools.
var NativeOnly = map[string]string{
	"AppImage": "needs the AppImage runtime, which no Debian suite ships",
	"snap":     "needs snapcraft",
}

// InContainer refuses targets the electron-builder container cannot build.
func InContainer(targets []string) error {
	for _, t := range targets {
		if why, ok := NativeOnly[t]; ok {
			return fmt.Errorf("package target %q %s: build it with pybundle-runner package on a machine that has it", t, why)
		}
	}
	return nil
}

// ParseTargets splits a list of electron-builder targets (commas or spaces), spells each as
// electron-builder does and refuses names it does not build on goos; "" gives DefaultTargets.
func ParseTargets(s, goos string) ([]string, error) {
	known, ok := Targets[goos]
	if !ok {
		return nil, fmt.Errorf("electron-builder does not package for %s", goos)
	}
	if s == "" {
		return slices.Clone(DefaultTargets[goos]), nil
	}
	fields := strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' })
	if len(fields) == 0 {
		return nil, fmt.Errorf("no targets given in %q", s)
	}
	var out []string
	for _, f := range fields {
		i := slices.IndexFunc(known, func(k string) bool { return strings.EqualFold(k, f) })
		if i < 0 {
			return nil, fmt.Errorf("unknown %s target %q: supported: %s", goos, f, strings.Join(known, ", "))
		}
		if !slices.Contains(out, known[i]) {
			out = append(out, known[i])
		}
	}
	return out, nil
}

// TargetKind is the kind of output an electron-builder target produces.
func TargetKind(t string) Kind {
	if t == "portable" {
		return KindNSIS
	}
	return Kind(t)
}

// OutputKind classifies one entry of electron-builder's output folder; "" means it is no app
// output (blockmaps, latest*.yml, builder-debug.yml, .icon-set, the NSIS uninstaller…).
func OutputKind(name string, isDir bool) Kind {
	if strings.HasPrefix(name, ".") {
		return ""
	}
	if isDir {
		if strings.HasSuffix(name, "-unpacked") || name == "mac" || strings.HasPrefix(name, "mac-") {
			return KindDir
		}
		return ""
	}
	n := strings.ToLower(name)
	for _, k := range []Kind{KindTarGz, KindTarXz, KindZip, KindDeb, KindRPM, KindDmg, KindPkg, Kind7z, KindMSI, KindAppImage, KindSnap} {
		if strings.HasSuffix(n, "."+strings.ToLower(string(k))) {
			return k
		}
	}
	if strings.HasSuffix(n, ".exe") && !strings.HasPrefix(n, "__uninstaller") {
		return KindNSIS
	}
	return ""
}

// UnpackedDir is the folder electron-builder leaves the unpacked app in for t.
func UnpackedDir(t target.Target) string {
	arch := t.ElectronBuilderArch()
	switch t.OS {
	case "darwin":
		if arch == "x64" {
			return "mac"
		}
		return "mac-" + arch
	case "windows":
		if arch == "x64" {
			return "win-unpacked"
		}
		return "win-" + arch + "-unpacked"
	}
	if arch == "x64" {
		return "linux-unpacked"
	}
	return "linux-" + arch + "-unpacked"
}
