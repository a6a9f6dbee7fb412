package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/pybundle/pybundle/images"
	"github.com/pybundle/pybundle/pipeline/pack"
	"github.com/pybundle/pybundle/pipeline/target"
)

// host is what decides which outputs this machine can open: its OS and the tools on PATH.
type host struct {
	goos     string
	lookPath func(string) (string, error)
	sevenZip string // a 7-Zip executable, "" if none
}

// extractable says whether an output of kind can be opened here, and if not, why. An output
// that cannot be opened is left out of the report (a check that cannot fail proves nothing).
func (h host) extractable(kind pack.Kind) (bool, string) {
	has := func(tool string) bool { _, err := h.lookPath(tool); return err == nil }
	switch kind {
	case pack.KindDir, pack.KindTarGz, pack.KindZip:
		return true, ""
	case pack.KindTarXz:
		if h.goos != "windows" && has("tar") {
			return true, ""
		}
		return false, "needs tar with xz support (not on this machine)"
	case pack.KindDeb:
		if has("dpkg-deb") {
			return true, ""
		}
		return false, "needs dpkg-deb (not on PATH)"
	case pack.KindRPM:
		if has("rpm2cpio") && has("cpio") {
			return true, ""
		}
		return false, "needs rpm2cpio and cpio (not on PATH)"
	case pack.KindDmg:
		if h.goos == "darwin" {
			return true, ""
		}
		return false, "a dmg is opened with hdiutil, on macOS only"
	case pack.KindPkg:
		if h.goos == "darwin" {
			return true, ""
		}
		return false, "a pkg is opened with pkgutil, on macOS only"
	case pack.KindNSIS, pack.Kind7z:
		if h.sevenZip != "" {
			return true, ""
		}
		return false, "needs 7-Zip (7z or 7za on PATH, ELECTRON_BUILDER_7ZIP_PATH, or the app's node_modules/7zip-bin)"
	}
	return false, "pybundle-runner cannot open " + string(kind) + " outputs"
}

// findSevenZip finds a 7-Zip executable: ELECTRON_BUILDER_7ZIP_PATH, 7z/7za/7zz on PATH, or
// the 7za electron-builder installs with the app (node_modules/7zip-bin).
func findSevenZip(appDir, goos, goarch string, lookPath func(string) (string, error)) string {
	if p := os.Getenv("ELECTRON_BUILDER_7ZIP_PATH"); p != "" {
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
			return p
		}
	}
	for _, n := range []string{"7z", "7za", "7zz"} {
		if p, err := lookPath(n); err == nil {
			return p
		}
	}
	dir := map[string]string{"darwin": "mac", "windows": "win", "linux": "linux"}[goos]
	arch := map[string]string{"amd64": "x64", "arm64": "arm64", "386": "ia32"}[goarch]
	exe := "7za"
	if goos == "windows" {
		exe += ".exe"
	}
	p := filepath.Join(appDir, "node_modules", "7zip-bin", dir, arch, exe)
	if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
		return p
	}
	return ""
}

// electronBuilderProgram is the app's own electron-builder (node_modules/.bin, a
// devDependency), else one on PATH. Never npx: it would download an unpinned version.
func electronBuilderProgram(appDir, goos string, lookPath func(string) (string, error)) (string, error) {
	name := "electron-builder"
	if goos == "windows" {
		name += ".cmd"
	}
	local := filepath.Join(appDir, "node_modules", ".bin", name)
	if fi, err := os.Stat(local); err == nil && !fi.IsDir() {
		return local, nil
	}
	if p, err := lookPath("electron-builder"); err == nil {
		return p, nil
	}
	return "", fmt.Errorf(`electron-builder not found in node_modules/.bin or on PATH: add it to the app's devDependencies ("electron-builder": %q) with its package-lock.json (pybundle-runner then runs npm ci), or put electron-builder on PATH; pybundle-runner never runs npx, which would download an unpinned version`, images.ElectronBuilderVersion)
}

// electronBuilderArgs is the electron-builder command line for t: the platform, the targets,
// the arch, no publishing, the output folder the runner checks and, when given, the Electron
// distribution to package.
func electronBuilderArgs(prog string, t target.Target, targets []string, outDir, electronDist string) []string {
	args := []string{prog, "--" + t.ElectronBuilderPlatform()}
	args = append(args, targets...)
	args = append(args, "--"+t.ElectronBuilderArch(), "--publish", "never", "-c.directories.output="+outDir)
	if electronDist != "" {
		args = append(args, "-c.electronDist="+electronDist)
	}
	return args
}

// signingEnv is the environment electron-builder runs in: the inherited one, plus
// CSC_IDENTITY_AUTO_DISCOVERY=false when no signing identity is configured (CSC_LINK,
// CSC_NAME, or WIN_CSC_LINK on Windows) and the variable is not set already, so a development
// build is unsigned rather than signed with whatever identity the keychain holds. signed
// reports whether an identity is configured.
func signingEnv(env []string, goos string) (out []string, signed bool) {
	get := func(k string) (string, bool) {
		for i := len(env) - 1; i >= 0; i-- {
			if v, ok := strings.CutPrefix(env[i], k+"="); ok {
				return v, true
			}
		}
		return "", false
	}
	for _, k := range []string{"CSC_LINK", "CSC_NAME"} {
		if v, _ := get(k); strings.TrimSpace(v) != "" {
			signed = true
		}
	}
	if v, _ := get("WIN_CSC_LINK"); goos == "windows" && strings.TrimSpace(v) != "" {
		signed = true
	}
	out = append([]string{}, env...)
	if _, set := get("CSC_IDENTITY_AUTO_DISCOVERY"); !signed && !set {
		out = append(out, "CSC_IDENTITY_AUTO_DISCOVERY=false")
	}
	return out, signed
}
