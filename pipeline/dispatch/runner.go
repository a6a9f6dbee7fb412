// Package dispatch sends a build to a native runner over SSH and brings the result back:
// PyInstaller is not a cross-compiler and Dagger runs Linux containers only, so darwin/* and
// windows/* bundles come out of a macOS or Windows machine running pybundle-runner (and a
// Linux target may be sent to one too, e.g. linux/arm64 to a native arm64 host instead of
// QEMU).
//
// The protocol needs only OpenSSH and tar on the runner (macOS, Linux and Windows 10+ ship
// both) and no shell syntax, so the same commands work under sh and cmd.exe:
//
//	connect   ssh HOST echo pybundle-runner-ok         reachability, auth, host key
//	upload    tar stream → ssh HOST tar -xf -          <home>/pybundle-job-<id>/{pybundle-runner,src/}
//	build     ssh HOST pybundle-job-<id>/pybundle-runner build --source … --out … --platform …
//	download  ssh HOST tar -cf - -C <job>/out dist report.json summary.txt → checked, then moved into place
//	cleanup   ssh HOST rm -rf <job>   (rmdir /s /q on Windows; best effort)
//
// Every step is bounded (connect timeout, keep-alives that drop a dead link within ~30 s, and
// one deadline for the whole job) and a failure is one error naming the step, the target and
// the runner. Nothing is written to the output folder unless the download completed and the
// artifact's bytes match the runner's report.
package dispatch

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/pybundle/pybundle/pipeline/target"
)

// Runner is one native runner reachable over SSH, with the pybundle-runner flags that belong
// to the machine rather than to the build.
type Runner struct {
	User string `json:"user"`
	Host string `json:"host"`
	Port int    `json:"port"`
	// Python is pybundle-runner's --python on that machine (a path or "py -3.13"); empty:
	// the runner looks for python3.13/python3/python (py on Windows).
	Python string `json:"python,omitempty"`
	// PythonVersion is --python-version (X.Y or X.Y.Z); empty: the runner's default.
	PythonVersion string `json:"python_version,omitempty"`
	// Venv is --venv, relative to the login's home unless absolute: a persistent venv makes
	// repeated builds skip pip's downloads. Empty: a fresh venv inside the job, removed after.
	Venv string `json:"venv,omitempty"`
	// Wheelhouse is --wheelhouse: pip installs only from that folder (offline runners).
	Wheelhouse string `json:"wheelhouse,omitempty"`
}

// queryKeys are the URL query parameters ParseRunner accepts, in the order String writes them.
var queryKeys = []string{"python", "python-version", "venv", "wheelhouse"}

// ParseRunner reads a runner address:
//
//	ssh://user@host[:port][?python=…&python-version=…&venv=…&wheelhouse=…]
//
// The user is required (the engine's container user means nothing on the runner).
func ParseRunner(s string) (Runner, error) {
	var r Runner
	// Errors before the password check quote the address with any password hidden: one
	// typed into a wrong scheme, an empty login or a bad port must not reach a log either.
	shown := redactRaw(s)
	u, err := url.Parse(strings.TrimSpace(s))
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // url.Error repeats the raw address, password and all
		}
		return r, fmt.Errorf("runner %q: not a URL: %v", shown, err)
	}
	if u.User != nil {
		if _, hasPassword := u.User.Password(); hasPassword {
			shown = redact(u) // whatever the address's shape, the parser found a password: hide it
		}
	}
	if u.Scheme != "ssh" {
		return r, fmt.Errorf("runner %q: want ssh://user@host[:port]", shown)
	}
	if u.User == nil || u.User.Username() == "" {
		return r, fmt.Errorf("runner %q: give the login: ssh://user@%s", shown, u.Host)
	}
	if _, hasPassword := u.User.Password(); hasPassword {
		return r, fmt.Errorf("runner %q: no passwords in the address; pybundle logs in with the key given as a secret", redact(u))
	}
	// An IPv6 literal needs brackets: without them url.Parse reads "fe80::1" as host "fe80:"
	// and port 1, and "::" as host ":".
	if !strings.HasPrefix(u.Host, "[") && strings.Count(u.Host, ":") > 1 {
		return r, fmt.Errorf("runner %q: an IPv6 address goes in brackets: ssh://%s@[%s]:22", shown, u.User.Username(), u.Host)
	}
	if h := u.Hostname(); h == "" || strings.ContainsAny(h, ":") && net.ParseIP(h) == nil {
		return r, fmt.Errorf("runner %q: no host", shown)
	}
	if u.Path != "" && u.Path != "/" {
		return r, fmt.Errorf("runner %q: unexpected path %q (settings go in the query: ?venv=…)", s, u.Path)
	}
	r.User, r.Host, r.Port = u.User.Username(), u.Hostname(), 22
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return Runner{}, fmt.Errorf("runner %q: bad port %q", s, p)
		}
		r.Port = n
	}
	query, err := url.ParseQuery(u.RawQuery) // u.Query() silently drops a malformed pair
	if err != nil {
		return Runner{}, fmt.Errorf("runner %q: bad settings: %v", s, err)
	}
	for k, vs := range query {
		if len(vs) != 1 {
			return Runner{}, fmt.Errorf("runner %q: %s given %d times", s, k, len(vs))
		}
		switch v := vs[0]; k {
		case "python":
			r.Python = v
		case "python-version":
			r.PythonVersion = v
		case "venv":
			r.Venv = v
		case "wheelhouse":
			r.Wheelhouse = v
		default:
			return Runner{}, fmt.Errorf("runner %q: unknown setting %q (known: %s)", s, k, strings.Join(queryKeys, ", "))
		}
	}
	if err := r.Validate(); err != nil {
		return Runner{}, fmt.Errorf("runner %q: %v", s, err)
	}
	return r, nil
}

// Validate checks the runner's settings: they go on one command line for the runner's login
// shell (sh, or cmd.exe on Windows, which toggles quoting at every '"' and expands %VAR% even
// inside quotes), so nothing that shell could read as syntax may be in them, and they must be
// valid UTF-8 (Windows would turn anything else into U+FFFD, another path than the one given).
func (r Runner) Validate() error {
	if r.User == "" || r.Host == "" || r.Port < 1 || r.Port > 65535 {
		return fmt.Errorf("runner incomplete: user, host and a port 1-65535 are required")
	}
	for _, f := range []struct{ key, v string }{
		{"user", r.User}, {"host", r.Host}, {"python", r.Python}, {"python-version", r.PythonVersion}, {"venv", r.Venv}, {"wheelhouse", r.Wheelhouse},
	} {
		switch {
		case !utf8.ValidString(f.v):
			return fmt.Errorf("%s=%q: not valid UTF-8", f.key, f.v)
		case strings.ContainsAny(f.v, "\"%\r\n\x00"):
			return fmt.Errorf("%s=%q: quotes, %% and line breaks are not allowed", f.key, f.v)
		case strings.HasPrefix(f.v, "-"):
			return fmt.Errorf("%s=%q: must not start with '-'", f.key, f.v)
		}
	}
	return nil
}

// redactRaw hides the password of an address that may not parse: the userinfo is what
// precedes the last '@' of the authority (after "scheme://", up to the first '/', '?' or '#').
func redactRaw(s string) string {
	start := 0
	if i := strings.Index(s, "://"); i >= 0 {
		start = i + 3
	} else if strings.HasPrefix(strings.TrimSpace(s), "//") { // scheme-relative: //user:pw@host
		start = strings.Index(s, "//") + 2
	}
	end := len(s)
	if i := strings.IndexAny(s[start:], "/?#"); i >= 0 {
		end = start + i
	}
	at := strings.LastIndex(s[start:end], "@")
	if at < 0 {
		return s
	}
	user, _, hasPassword := strings.Cut(s[start:start+at], ":")
	if !hasPassword {
		return s
	}
	return s[:start] + user + ":xxxxx" + s[start+at:]
}

func redact(u *url.URL) string {
	c := *u
	c.User = url.User(u.User.Username())
	return c.String()
}

// String is the address as ParseRunner reads it, settings included (no secrets are part of
// a runner address).
func (r Runner) String() string {
	u := url.URL{Scheme: "ssh", User: url.User(r.User), Host: r.hostPort()}
	q := url.Values{}
	for k, v := range map[string]string{"python": r.Python, "python-version": r.PythonVersion, "venv": r.Venv, "wheelhouse": r.Wheelhouse} {
		if v != "" {
			q.Set(k, v)
		}
	}
	u.RawQuery = q.Encode()
	return u.String()
}

// Address is user@host:port, for messages.
func (r Runner) Address() string { return "ssh://" + r.User + "@" + r.hostPort() }

func (r Runner) hostPort() string {
	h := r.Host
	if strings.Contains(h, ":") {
		h = "[" + h + "]"
	}
	return h + ":" + strconv.Itoa(r.Port)
}

// Route decides which targets go to which runner. specs are the --runner values:
//
//	ssh://…                 every target that needs a runner (darwin/*, windows/*)
//	windows=ssh://…         every windows/* target
//	darwin/arm64=ssh://…    that target only; also routes a linux/* target away from Dagger
//
// A more specific pattern wins. Linux targets stay in Dagger unless a pattern names their OS
// or target. Patterns for targets not being built are ignored (one CI configuration can list
// every runner). Targets that need a runner and have none are one error naming them all and
// saying how to give one.
func Route(targets []target.Target, specs []string) (map[target.Target]Runner, error) {
	var (
		fallback    *Runner
		byOS        = map[string]Runner{}
		byTarget    = map[target.Target]Runner{}
		fallbackRaw string
	)
	for _, s := range specs {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		pattern, addr, hasPattern := strings.Cut(s, "=")
		if !hasPattern || strings.Contains(pattern, "://") {
			pattern, addr = "", s
		}
		r, err := ParseRunner(addr)
		if err != nil {
			return nil, err
		}
		switch {
		case pattern == "":
			if fallback != nil {
				return nil, fmt.Errorf("two runners without a target (%s and %s): say which targets each builds, e.g. --runner windows/amd64=%s",
					fallbackRaw, r.Address(), r.Address())
			}
			fallback, fallbackRaw = &r, r.Address()
		case strings.Contains(pattern, "/"):
			t, err := target.Parse(pattern)
			if err != nil {
				return nil, fmt.Errorf("runner %s=%s: %v", pattern, r.Address(), err)
			}
			if prev, dup := byTarget[t]; dup {
				return nil, fmt.Errorf("two runners for %s: %s and %s", t, prev.Address(), r.Address())
			}
			byTarget[t] = r
		default:
			osName := strings.ToLower(strings.TrimSpace(pattern))
			if !knownOS(osName) {
				return nil, fmt.Errorf("runner %s=%s: unknown OS %q (want darwin, windows or linux, or a target such as darwin/arm64)", pattern, r.Address(), pattern)
			}
			if prev, dup := byOS[osName]; dup {
				return nil, fmt.Errorf("two runners for %s: %s and %s", osName, prev.Address(), r.Address())
			}
			byOS[osName] = r
		}
	}
	out := map[target.Target]Runner{}
	var missing []string
	for _, t := range targets {
		if r, ok := byTarget[t]; ok {
			out[t] = r
		} else if r, ok := byOS[t.OS]; ok {
			out[t] = r
		} else if t.NeedsRunner() && fallback != nil {
			out[t] = *fallback
		} else if t.NeedsRunner() {
			missing = append(missing, t.String())
		}
	}
	if len(missing) > 0 {
		return nil, &MissingRunnerError{Targets: missing}
	}
	return out, nil
}

func knownOS(s string) bool {
	for _, t := range target.Supported() {
		if t.OS == s {
			return true
		}
	}
	return false
}

// MissingRunnerError names the targets that need a native runner and were given none.
type MissingRunnerError struct{ Targets []string }

func (e *MissingRunnerError) Error() string {
	first, verb := e.Targets[0], "need"
	if len(e.Targets) == 1 {
		verb = "needs"
	}
	return fmt.Sprintf("%s %s a native runner: PyInstaller is not a cross-compiler and Dagger runs Linux containers only. "+
		"Give one with --runner ssh://user@host (all of them) or --runner %s=ssh://user@host, plus --runner-key env:SSH_KEY; "+
		"the machine needs Python %s and pybundle copies pybundle-runner there itself (README: Native runners)",
		strings.Join(e.Targets, ", "), verb, first, "3.13")
}
