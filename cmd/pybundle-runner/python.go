package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// MinPython is the oldest Python the backend may be built with, whatever --python-version
// says (requirement 9: Python 3.10+; FastAPI and PyInstaller 6.22 need it too).
var MinPython = version{3, 10, 0}

// version is a Python version; Patch is -1 in a pin that accepts any patch.
type version struct{ Major, Minor, Patch int }

func (v version) String() string {
	if v.Patch < 0 {
		return fmt.Sprintf("%d.%d", v.Major, v.Minor)
	}
	return fmt.Sprintf("%d.%d.%d", v.Major, v.Minor, v.Patch)
}

func (v version) less(w version) bool {
	if v.Major != w.Major {
		return v.Major < w.Major
	}
	if v.Minor != w.Minor {
		return v.Minor < w.Minor
	}
	return v.Patch < w.Patch
}

// parseVersion reads what platform.python_version() prints: "3.13.5", "3.14.0rc1",
// "3.13.0+"; a missing patch counts as 0.
func parseVersion(s string) (version, error) {
	parts := strings.SplitN(strings.TrimSpace(s), ".", 3)
	if len(parts) < 2 {
		return version{}, fmt.Errorf("not a Python version: %q", s)
	}
	var n [3]int
	for i, p := range parts {
		digits := p
		if i == 2 { // "0rc1", "5+": the leading digits are the patch
			end := strings.IndexFunc(p, func(r rune) bool { return r < '0' || r > '9' })
			if end >= 0 {
				digits = p[:end]
			}
		}
		v, err := strconv.Atoi(digits)
		if err != nil || v < 0 {
			return version{}, fmt.Errorf("not a Python version: %q", s)
		}
		n[i] = v
	}
	return version{n[0], n[1], n[2]}, nil
}

// pin is the required Python: X.Y accepts any patch of X.Y, X.Y.Z only that release.
type pin struct{ version }

// parsePin reads --python-version; below MinPython is refused.
func parsePin(s string) (pin, error) {
	s = strings.TrimSpace(s)
	parts := strings.Split(s, ".")
	if len(parts) < 2 || len(parts) > 3 {
		return pin{}, fmt.Errorf("%q: want X.Y or X.Y.Z, e.g. %s", s, DefaultPythonVersion)
	}
	var n [3]int
	n[2] = -1
	for i, p := range parts {
		v, err := strconv.Atoi(p)
		if err != nil || v < 0 {
			return pin{}, fmt.Errorf("%q: want X.Y or X.Y.Z, e.g. %s", s, DefaultPythonVersion)
		}
		n[i] = v
	}
	p := pin{version{n[0], n[1], n[2]}}
	if (version{p.Major, p.Minor, max(p.Patch, 0)}).less(MinPython) {
		return pin{}, fmt.Errorf("%s is too old: pybundle needs Python %d.%d or newer", p, MinPython.Major, MinPython.Minor)
	}
	return p, nil
}

// matches reports whether a found Python satisfies the pin.
func (p pin) matches(v version) bool {
	if v.less(MinPython) || v.Major != p.Major || v.Minor != p.Minor {
		return false
	}
	return p.Patch < 0 || v.Patch == p.Patch
}

// pythonInfo is one Python that was found and ran.
type pythonInfo struct {
	Argv       []string // how it is invoked, e.g. ["python3"] or ["py", "-3.13"]
	Path       string   // Argv[0] resolved on PATH
	Executable string   // its sys.executable
	Version    version
	Machine    string // platform.machine(): x86_64, arm64, AMD64, aarch64
}

// invocation is Argv with its program resolved on PATH, for running it again.
func (p pythonInfo) invocation() []string {
	if p.Path == "" {
		return append([]string{}, p.Argv...)
	}
	return append([]string{p.Path}, p.Argv[1:]...)
}

// Arch is the Go name of the Python's architecture ("" when unknown).
func (p pythonInfo) Arch() string { return machineArch(p.Machine) }

func (p pythonInfo) String() string {
	return fmt.Sprintf("Python %s at %s (%s, via %s)", p.Version, p.Executable, p.Machine, strings.Join(p.Argv, " "))
}

// machineArch maps platform.machine() to GOARCH: Windows says AMD64/ARM64, Linux
// x86_64/aarch64, macOS x86_64/arm64.
func machineArch(m string) string {
	switch strings.ToLower(m) {
	case "x86_64", "amd64", "x64":
		return "amd64"
	case "arm64", "aarch64", "armv8", "armv8l":
		return "arm64"
	}
	return ""
}

// probeScript is what each candidate runs: one line the runner parses, executable last
// because it may contain spaces ("C:\Program Files\Python313\python.exe").
const probeScript = `import platform, sys; print("pybundle-python", platform.python_version(), platform.machine(), sys.executable)`

const probeMarker = "pybundle-python "

// parseProbe reads probeScript's line (the last one with the marker: site hooks may print).
func parseProbe(out string) (v version, machine, executable string, err error) {
	var line string
	for _, l := range strings.Split(strings.ReplaceAll(out, "\r\n", "\n"), "\n") {
		if strings.HasPrefix(l, probeMarker) {
			line = strings.TrimPrefix(l, probeMarker)
		}
	}
	f := strings.SplitN(strings.TrimSpace(line), " ", 3)
	if len(f) < 3 {
		return version{}, "", "", fmt.Errorf("unexpected answer %q", firstLine(out))
	}
	v, err = parseVersion(f[0])
	if err != nil {
		return version{}, "", "", err
	}
	return v, f[1], strings.TrimSpace(f[2]), nil
}

// candidates lists how to invoke Python, in order of preference: --python alone when given;
// else the pinned minor by name, then the generic names, and on Windows the py launcher.
func candidates(goos, given string, p pin) [][]string {
	if given != "" {
		if _, err := os.Stat(given); err == nil {
			return [][]string{{given}} // a path, possibly with spaces
		}
		return [][]string{strings.Fields(given)} // a command: "py -3.13"
	}
	minor := fmt.Sprintf("%d.%d", p.Major, p.Minor)
	if goos == "windows" {
		// setup-python and the python.org installer put python.exe on PATH; the py launcher
		// picks a version by flag even when another one comes first on PATH.
		return [][]string{{"python"}, {"python3"}, {"py", "-" + minor}, {"py", "-3"}}
	}
	return [][]string{{"python" + minor}, {"python3"}, {"python"}}
}

// findPython tries the candidates and returns the first Python that matches the pin and, when
// wantArch is set, the target's architecture. The error lists every candidate and why it was
// passed over, plus how to install the right Python on this OS.
func findPython(ctx context.Context, goos, given string, p pin, wantArch, targetName string) (pythonInfo, error) {
	var tried []string
	for _, argv := range candidates(goos, given, p) {
		if len(argv) == 0 {
			continue
		}
		info, err := probePython(ctx, argv)
		name := strings.Join(argv, " ")
		switch {
		case err != nil:
			tried = append(tried, fmt.Sprintf("%s: %v", name, err))
		case !p.matches(info.Version):
			tried = append(tried, fmt.Sprintf("%s (%s): Python %s, not %s", name, info.Executable, info.Version, p))
		case wantArch != "" && info.Arch() != wantArch:
			tried = append(tried, fmt.Sprintf("%s (%s): Python %s for %s, but the target is %s", name, info.Executable, info.Version, info.Machine, targetName))
		default:
			return info, nil
		}
	}
	what := "no Python " + p.String()
	if given != "" {
		what = fmt.Sprintf("--python %s is not a usable Python %s", given, p)
	}
	return pythonInfo{}, fmt.Errorf("%s (tried: %s). Install it: %s; or pass --python PATH",
		what, strings.Join(tried, "; "), installHint(goos, p))
}

// probeWaitDelay is how long the probe waits for a python's stdout to close once the python
// exited or was killed: the answer is one line, already in the pipe by then.
const probeWaitDelay = time.Second

// probePython runs argv with probeScript.
func probePython(ctx context.Context, argv []string) (pythonInfo, error) {
	path, err := exec.LookPath(argv[0])
	if err != nil {
		if errors.Is(err, exec.ErrNotFound) {
			return pythonInfo{}, errors.New("not found on PATH")
		}
		return pythonInfo{}, cause(err)
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, path, append(append([]string{}, argv[1:]...), "-c", probeScript)...)
	// On the deadline kill the whole group: a wrapper (pyenv shim, a script) dies with its
	// python. A child that left the group may still hold stdout: WaitDelay stops waiting for
	// the pipe probeWaitDelay after the deadline, or after the python exited.
	inOwnGroup(cmd)
	cmd.WaitDelay = probeWaitDelay
	out, err := cmd.Output()
	if errors.Is(err, exec.ErrWaitDelay) {
		// The python exited successfully (Wait reports ErrWaitDelay only then) and what it
		// printed is read; only a lingering child's copy of stdout was given up on.
		err = nil
	}
	if err != nil {
		msg := err.Error()
		var ee *exec.ExitError
		if errors.As(err, &ee) && len(ee.Stderr) > 0 {
			msg += ": " + firstLine(string(ee.Stderr))
		}
		// Windows' python.exe "app execution alias" opens the Store instead of running.
		return pythonInfo{}, fmt.Errorf("%s did not run (%s)", path, msg)
	}
	v, machine, exe, err := parseProbe(string(out))
	if err != nil {
		return pythonInfo{}, fmt.Errorf("%s: %v", path, err)
	}
	return pythonInfo{Argv: argv, Path: path, Executable: exe, Version: v, Machine: machine}, nil
}

// installHint says how to get the pinned Python on goos (requirement 9.5).
func installHint(goos string, p pin) string {
	minor := fmt.Sprintf("%d.%d", p.Major, p.Minor)
	var h string
	switch goos {
	case "darwin":
		h = fmt.Sprintf("`brew install python@%s` (then python%s is on PATH), or the macOS installer from https://www.python.org/downloads/", minor, minor)
	case "windows":
		h = fmt.Sprintf("the Windows installer from https://www.python.org/downloads/ (tick \"Add python.exe to PATH\"; `py -%s` works either way), or `winget install Python.Python.%s`", minor, minor)
	default:
		h = fmt.Sprintf("`apt install python%s python%s-venv` (Debian 13 \"trixie\" ships it; elsewhere the deadsnakes PPA, pyenv or the distribution's equivalent)", minor, minor)
	}
	return h + fmt.Sprintf("; in GitHub Actions: actions/setup-python with python-version: '%s'", minor)
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexAny(s, "\r\n"); i >= 0 {
		s = s[:i]
	}
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}
