// Package images defines the containers pybundle builds on, as data: base image names, the
// pinned Debian packages of the builder, the pip path for users with PyPI, and the commands
// that install them. The Dagger module turns these into containers; keeping them here makes
// the pins reviewable in one place and testable without an engine.
package images

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
)

// Default public image names. An ordinary engine pulls them from Docker Hub; pybundle's own
// offline engine serves the same names from its registry mirror, built from Debian packages.
const (
	DefaultBase   = "debian:trixie-slim"
	DefaultGo     = "golang:1.26-trixie"
	DefaultPython = "python:3.13-slim"
)

// PyInstallerVersion is the PyInstaller every path installs (Debian: trixie-backports
// 6.22.2+ds-1~bpo13+1; pip: pyinstaller==6.22.2).
const PyInstallerVersion = "6.22.2"

// Package is one Debian package pinned to an exact version, optionally from a suite other than
// the base image's (the backports PyInstaller).
type Package struct {
	Name    string
	Version string // exact Debian version; a trailing * accepts any revision of it
	Suite   string // "" = the base suite; else e.g. trixie-backports
}

// Arg is the apt-get install argument: name=version (apt accepts a trailing * glob there).
func (p Package) Arg() string { return p.Name + "=" + p.Version }

// BuilderPackages are the builder's pins: Python 3.13 with FastAPI, uvicorn and pydantic from
// Debian trixie, and PyInstaller 6.22.2 from trixie-backports. Python itself is pinned by
// upstream version (3.13.5) with any Debian revision, because security updates replace
// revisions on the mirror and an exact revision pin would break every build the day one lands;
// the exact versions installed are printed in the report.
var BuilderPackages = []Package{
	{Name: "python3.13", Version: "3.13.5-*"},
	{Name: "python3-fastapi", Version: "0.115.11-*"},
	{Name: "python3-uvicorn", Version: "0.32.0-*"},
	{Name: "python3-pydantic", Version: "2.10.6-*"},
	{Name: "pyinstaller", Version: "6.22.2+ds-1~bpo13+1", Suite: "trixie-backports"},
	{Name: "python3-pyinstaller", Version: "6.22.2+ds-1~bpo13+1", Suite: "trixie-backports"},
	{Name: "pyinstaller-hooks-contrib", Version: "2026.*", Suite: "trixie-backports"},
}

// ElectronBuilderPackages make the packaging container: Node.js (Debian trixie's 20.19) to run
// electron-builder, 7-Zip instead of the 7zip-bin download, dpkg-deb/fakeroot and rpmbuild for
// pybundle's fpm replacement, and Xvfb to start the packaged app headless.
var ElectronBuilderPackages = []Package{
	{Name: "nodejs", Version: "20.19.*"},
	{Name: "npm", Version: "9.2.*"},
	{Name: "7zip"},
	{Name: "fakeroot"},
	{Name: "dpkg-dev"},
	{Name: "rpm"},
	{Name: "cpio"},
	{Name: "xz-utils"},
	{Name: "xvfb"},
	{Name: "xauth"},
	{Name: "procps"},
	{Name: "ca-certificates"},
}

// SignerPackages make the Authenticode signing container.
var SignerPackages = []Package{{Name: "osslsigncode"}, {Name: "ca-certificates"}}

// SSHClientPackages make the container that dispatches builds to native runners over SSH.
var SSHClientPackages = []Package{{Name: "openssh-client"}}

// ElectronBuilderVersion is the electron-builder images/electron-builder/package-lock.json pins.
const ElectronBuilderVersion = "26.17.0"

// ReportedPackages are the packages whose installed versions go into report.json.
var ReportedPackages = []string{"libc6", "python3.13", "python3-fastapi", "python3-uvicorn",
	"python3-pydantic", "python3-starlette", "pyinstaller", "pyinstaller-hooks-contrib"}

var debName = regexp.MustCompile(`^[a-z0-9][a-z0-9+.-]+$`)

// ParseExtra parses user-supplied extra Debian packages ("name" or "name=version"), for
// backends that depend on more than FastAPI. Invalid names are rejected, not passed to a shell.
func ParseExtra(specs []string) ([]Package, error) {
	var out []Package
	for _, s := range specs {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		name, version, _ := strings.Cut(s, "=")
		if !debName.MatchString(name) || strings.ContainsAny(version, " \t'\"$`;&|") {
			return nil, fmt.Errorf("invalid Debian package %q: want name or name=version", s)
		}
		out = append(out, Package{Name: name, Version: version})
	}
	return out, nil
}

// AptInstallScript is the shell script that installs pkgs in a Debian container: backports
// enabled but pinned per package (`-t` would drag unrelated backports in), recommends off,
// lists removed afterwards so the layer stays small.
func AptInstallScript(pkgs []Package) string {
	var args []string
	suites := map[string]bool{}
	for _, p := range pkgs {
		a := p.Name
		if p.Version != "" {
			a = p.Arg()
		}
		args = append(args, "'"+a+"'")
		if p.Suite != "" {
			suites[p.Suite] = true
		}
	}
	sort.Strings(args)
	var b strings.Builder
	b.WriteString("set -eu\nexport DEBIAN_FRONTEND=noninteractive\n")
	extra := make([]string, 0, len(suites))
	for s := range suites {
		extra = append(extra, s)
	}
	sort.Strings(extra)
	for _, s := range extra {
		fmt.Fprintf(&b, "echo 'deb http://deb.debian.org/debian %s main' > /etc/apt/sources.list.d/%s.list\n", s, s)
	}
	b.WriteString("apt-get update -qq\n")
	fmt.Fprintf(&b, "apt-get install -y -qq --no-install-recommends %s\n", strings.Join(args, " "))
	b.WriteString("rm -rf /var/lib/apt/lists/*\n")
	return b.String()
}

// DpkgQueryScript prints "name version" for each reported package the image has; packages
// it lacks (e.g. on the pip path's python image) are skipped, not an error.
func DpkgQueryScript() string {
	return `dpkg-query -W -f '${Package} ${Version}\n' ` + strings.Join(ReportedPackages, " ") + " 2>/dev/null || true"
}

// ParseDpkgQuery turns DpkgQueryScript output into name → version.
func ParseDpkgQuery(out string) map[string]string {
	m := map[string]string{}
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) == 2 {
			m[f[0]] = f[1]
		}
	}
	return m
}

// PipRequirement is the pip path's PyInstaller pin.
const PipRequirement = "pyinstaller==" + PyInstallerVersion

// VenvDir is where the pip path installs: a virtual environment that also sees the image's
// own site-packages, so packages the base image already carries satisfy requirements without
// a download (how the offline stand-in image works; a no-op on python:3.13-slim).
const VenvDir = "/opt/pybundle/venv"

var (
	pipPinRe  = regexp.MustCompile(`(?im)^\s*pyinstaller\s*==\s*([^\s;\\#]+)`)
	pipHashRe = regexp.MustCompile(`--hash[= ]`)
)

// PipPlan reads the backend's requirements.txt and decides what pip installs. With hashes
// (pip's --require-hashes mode: a swapped or tampered wheel fails the build) every
// requirement needs its hashes, so PyInstaller must be listed there, pinned to our version;
// without hashes pybundle adds the pin itself.
func PipPlan(requirements string) (extra []string, hashed bool, err error) {
	hashed = pipHashRe.MatchString(requirements)
	m := pipPinRe.FindStringSubmatch(requirements)
	switch {
	case m != nil && m[1] != PyInstallerVersion:
		return nil, hashed, fmt.Errorf("requirements.txt pins pyinstaller==%s; pybundle builds with %s", m[1], PyInstallerVersion)
	case m == nil && hashed:
		return nil, hashed, fmt.Errorf("requirements.txt uses --hash, so it must also list %s with its hashes", PipRequirement)
	case m == nil:
		return []string{PipRequirement}, hashed, nil
	}
	return nil, hashed, nil
}

// PipInstallScript creates the venv and installs the requirements (plus extra) into it, from
// the index or, when wheelhouse is set, only from that folder of wheels (--no-index).
func PipInstallScript(requirementsPath string, extra []string, hashed bool, wheelhouse string) string {
	args := []string{VenvDir + "/bin/python", "-m", "pip", "install", "--no-cache-dir", "--disable-pip-version-check"}
	if hashed {
		args = append(args, "--require-hashes")
	}
	if wheelhouse != "" {
		args = append(args, "--no-index", "--find-links", wheelhouse)
	}
	args = append(args, "-r", requirementsPath)
	args = append(args, extra...)
	for i, a := range args {
		args[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
	}
	return "set -eu\npython3 -m venv --system-site-packages " + VenvDir + "\n" + strings.Join(args, " ") + "\n"
}
