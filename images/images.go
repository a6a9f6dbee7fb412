// Package images defines the containers pybundle builds on, as data: base image names, the
// pinned Debian packages of the builder, the pip path for users with PyPI, and the commands
// that install them. The Dagger module turns these into containers; keeping them here makes
// the pins reviewable in one place and testable without an engine.
package images

import (
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
)

// Default public image names: what the module uses when no image is given. An ordinary engine
// pulls them from Docker Hub; pybundle's own offline engine serves the same names from its
// registry mirror, built from Debian packages.
const (
	DefaultBase   = "debian:trixie-slim"
	DefaultGo     = "golang:1.26-trixie"
	DefaultPython = "python:3.13-slim"
)

// Installer is how the builder gets Python, PyInstaller and the backend's dependencies.
type Installer string

const (
	// Debian installs BuilderPackages (pinned Debian packages) into DefaultBase.
	Debian Installer = "debian"
	// Pip makes a venv in DefaultPython holding the backend's requirements.txt and
	// PipRequirement.
	Pip Installer = "pip"
	// Compat is the pip installer's flow on pybundle's compat toolchain (compat.go): Python
	// and PyInstaller built on CompatBase, so bundles run on glibc CompatGlibc; the venv
	// holds the backend's requirements only (PyInstaller is the toolchain's).
	Compat Installer = "compat"
)

// Installers are every installer, in the order the help lists them.
var Installers = []Installer{Debian, Pip, Compat}

// ParseInstaller reads an installer name; "" is Debian.
func ParseInstaller(s string) (Installer, error) {
	in := Installer(strings.ToLower(strings.TrimSpace(s)))
	if in == "" {
		return Debian, nil
	}
	if slices.Contains(Installers, in) {
		return in, nil
	}
	names := make([]string, len(Installers))
	for i, n := range Installers {
		names[i] = string(n)
	}
	return "", fmt.Errorf("unknown installer %q: want %s", s, strings.Join(names, ", "))
}

// Venv reports whether the installer installs the backend's requirements with pip into a venv
// (pip and compat) rather than as Debian packages.
func (i Installer) Venv() bool { return i == Pip || i == Compat }

// Python is the interpreter PyInstaller runs under in the installer's builder.
func (i Installer) Python() string {
	if i.Venv() {
		return VenvDir + "/bin/python"
	}
	return "/usr/bin/python3"
}

// PipPlan is PipPlan for the installer: the compat toolchain has PyInstaller already, so pip
// adds nothing and hashed requirements need not list it; a pin to another PyInstaller is
// refused as on the pip path.
func (i Installer) PipPlan(requirements string) (extra []string, hashed bool, err error) {
	extra, hashed, err = PipPlan(requirements)
	if i != Compat {
		return extra, hashed, err
	}
	if m := pipPinRe.FindStringSubmatch(requirements); m != nil && m[1] != PyInstallerVersion {
		return nil, hashed, err
	}
	return nil, hashed, nil
}

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

// GoTestPackages make the Go image able to run pybundle's unit tests: the race detector needs
// cgo, some tests run python3 and open xz archives.
var GoTestPackages = []Package{{Name: "gcc"}, {Name: "libc6-dev"}, {Name: "python3"}, {Name: "xz-utils"}}

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
	if len(extra) > 0 {
		b.WriteString(MirrorScript("/etc/apt"))
	}
	for _, s := range extra {
		fmt.Fprintf(&b, "echo \"deb $mirror %s main\" > /etc/apt/sources.list.d/%s.list\n", s, s)
	}
	b.WriteString("apt-get update -qq\n")
	fmt.Fprintf(&b, "apt-get install -y -qq --no-install-recommends %s\n", strings.Join(args, " "))
	b.WriteString("rm -rf /var/lib/apt/lists/*\n")
	return b.String()
}

// MirrorScript sets $mirror to the Debian mirror the image's own apt sources (under etc, e.g.
// /etc/apt) use, deb822 .sources first, then one-line .list entries: an added suite then comes
// from the same mirror or proxy as the rest, and no host name is written here. It runs under
// `set -e` (which command substitution inherits): a missing file must not end it early.
func MirrorScript(etc string) string {
	return `mirror=$( { sed -n 's/^URIs:[[:space:]]*\([^[:space:]]*\).*/\1/p' ` + etc + `/sources.list.d/*.sources 2>/dev/null || true;` +
		` sed -n 's/^deb[[:space:]]\{1,\}\(\[[^]]*\][[:space:]]\{1,\}\)\{0,1\}\([^[:space:]]*\).*/\2/p' ` + etc + `/sources.list ` + etc + `/sources.list.d/*.list 2>/dev/null || true; } | head -n 1)
[ -n "$mirror" ] || { echo "pybundle: no Debian mirror found in the image's apt sources (` + etc + `)" >&2; exit 1; }
`
}

// DpkgQueryScript prints "name version" for each reported package the image has; packages
// it lacks (e.g. on the pip path's python image) are skipped, not an error.
func DpkgQueryScript(extra ...Package) string {
	names := slices.Clone(ReportedPackages)
	for _, p := range extra {
		names = append(names, p.Name)
	}
	return `dpkg-query -W -f '${Package} ${Version}\n' ` + strings.Join(names, " ") + " 2>/dev/null || true"
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

// ParseFreeze turns `pip freeze --all` output into the report's packages, "pip:<name>" (lower
// case) → version; editable and direct-URL lines have no version and are left out.
func ParseFreeze(out string) map[string]string {
	m := map[string]string{}
	for _, line := range strings.Split(out, "\n") {
		if name, v, ok := strings.Cut(strings.TrimSpace(line), "=="); ok && name != "" && v != "" {
			m["pip:"+strings.ToLower(name)] = v
		}
	}
	return m
}

// debianNames are the Debian package names of distributions whose name Debian spells another
// way than python3-<name> (compared normalized: lower case, runs of -_. as one -).
var debianNames = map[string]string{
	"pyyaml": "python3-yaml", "pillow": "python3-pil", "beautifulsoup4": "python3-bs4",
	"python-dotenv": "python3-dotenv", "python-multipart": "python3-multipart", "pyjwt": "python3-jwt",
	"scikit-learn": "python3-sklearn", "opencv-python": "python3-opencv", "opencv-python-headless": "python3-opencv",
	"psycopg2-binary": "python3-psycopg2", "pyzmq": "python3-zmq", "python-dateutil": "python3-dateutil",
	"python-jose": "python3-jose", "msgpack-python": "python3-msgpack", "pycryptodome": "python3-pycryptodome",
	"typing-extensions": "python3-typing-extensions", "websocket-client": "python3-websocket",
}

var (
	reqNameRe = regexp.MustCompile(`^([A-Za-z0-9][A-Za-z0-9._-]*)`)
	normRe    = regexp.MustCompile(`[-_.]+`)
)

// Requirements are the distribution names a requirements.txt asks for (normalized, in order,
// options, includes, URLs and comments left out; extras and version specifiers dropped).
func Requirements(text string) []string {
	var out []string
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(strings.SplitN(line, "#", 2)[0])
		if line == "" || strings.HasPrefix(line, "-") || strings.Contains(line, "://") {
			continue
		}
		if m := reqNameRe.FindString(line); m != "" {
			n := normRe.ReplaceAllString(strings.ToLower(m), "-")
			if !slices.Contains(out, n) {
				out = append(out, n)
			}
		}
	}
	return out
}

// DebianPackagesFor are the Debian packages that provide the backend's requirements for the
// Debian installer: python3-<name>, or Debian's own name for it. What the builder pins already
// (FastAPI, uvicorn, pydantic, PyInstaller) is left to the pins; the versions are Debian's,
// written into the report like every pinned package's.
func DebianPackagesFor(requirements []string) []Package {
	return debianPackagesFor(requirements)
}

// DebianName is the Debian package that ships the Python distribution dist (any spelling):
// python3-<name>, or Debian's own name for it.
func DebianName(dist string) string {
	n := strings.ToLower(normRe.ReplaceAllString(dist, "-"))
	if name, ok := debianNames[n]; ok {
		return name
	}
	return "python3-" + n
}

// ListDistributions prints every Python distribution the interpreter sees, one "name==version"
// per line (ParseFreeze reads it): the Debian builder has no pip to ask.
const ListDistributions = `import importlib.metadata as m
for d in m.distributions():
    if d.metadata["Name"] and d.version:
        print("%s==%s" % (d.metadata["Name"], d.version))
`

func debianPackagesFor(requirements []string) []Package {
	pinned := map[string]bool{}
	for _, p := range BuilderPackages {
		pinned[p.Name] = true
	}
	var out []Package
	for _, r := range requirements {
		name, ok := debianNames[r]
		if !ok {
			name = "python3-" + r
		}
		if r == "pyinstaller" || pinned[name] || slices.ContainsFunc(out, func(p Package) bool { return p.Name == name }) {
			continue
		}
		out = append(out, Package{Name: name})
	}
	return out
}

var aptMissingRe = regexp.MustCompile(`E: (?:Unable to locate package |Package '?)([a-z0-9][a-z0-9+.-]*)`)

// AptFailure explains a failed AptInstallScript from apt's stderr: a package Debian does not
// have is named, with what to do about it.
func AptFailure(stderr string) string {
	if m := aptMissingRe.FindStringSubmatch(stderr); m != nil {
		return fmt.Sprintf("Debian has no package %s (the builder installs python3-<name> for each requirement): use the pip installer (--installer pip) for dependencies Debian lacks, or give Debian's name with --packages", m[1])
	}
	return "apt-get install failed"
}
