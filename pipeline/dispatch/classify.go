package dispatch

import (
	"fmt"
	"regexp"
	"strings"
	"time"
)

// Kind is what went wrong with a step, as far as ssh's exit status and messages tell.
type Kind string

const (
	KindUnreachable    Kind = "unreachable"     // refused, no route, no such host
	KindConnectTimeout Kind = "connect-timeout" // no answer within the connect timeout
	KindAuth           Kind = "auth"            // the runner refused the key
	KindBadKey         Kind = "bad-key"         // the key given is not a usable private key
	KindHostKey        Kind = "host-key"        // host key unknown or changed
	KindNotSSH         Kind = "not-ssh"         // something answered, but not an SSH server
	KindLost           Kind = "connection-lost" // the link died mid-step
	KindTimeout        Kind = "timeout"         // the job's deadline passed
	KindMissingTool    Kind = "missing-tool"    // tar (or the runner binary) not found there
	KindWrongPlatform  Kind = "wrong-platform"  // the runner binary cannot run there
	KindBuildFailed    Kind = "build-failed"    // pybundle-runner ran and reported a failure
	KindRemote         Kind = "remote"          // anything else the remote command said
)

// Outcome is one finished step as Classify sees it.
type Outcome struct {
	Step     string // connect, upload, build, download
	Exit     int    // the ssh process's exit status; -1 when it was killed
	Stderr   string // what ssh (and the remote command) wrote to stderr
	TimedOut bool   // the job's deadline ended it
	Timeout  time.Duration
	Connect  time.Duration // the connect timeout in force
	Runner   string        // address, for messages
	Target   string
}

// reNotFound reads sh/dash "sh: 1: tar: not found", bash "bash: line 1: tar: command not
// found", zsh (macOS' login shell) "zsh:1: command not found: tar" and cmd.exe "'tar' is not
// recognized as an internal or external command".
var (
	reRefused  = regexp.MustCompile(`(?i)connect to host .*: (Connection refused|No route to host|Network is unreachable|Host is unreachable)`)
	reResolve  = regexp.MustCompile(`(?i)Could not resolve hostname [^:]*: (.*)`)
	reConnTO   = regexp.MustCompile(`(?i)connect to host .*: (Connection timed out|Operation timed out)`)
	reAuth     = regexp.MustCompile(`(?i)Permission denied \(([^)]*)\)`)
	reBadKey   = regexp.MustCompile(`(?i)Load key "[^"]*": (.*)`)
	reHostKey  = regexp.MustCompile(`(?i)Host key verification failed|REMOTE HOST IDENTIFICATION HAS CHANGED|No \S+ host key is known for`)
	reNotSSH   = regexp.MustCompile(`(?i)kex_exchange_identification|Bad protocol version identification|banner exchange`)
	reLost     = regexp.MustCompile(`(?i)Broken pipe|Connection reset|Connection closed by|closed by remote host|Timeout, server .* not responding|lost connection|client_loop: send disconnect`)
	reNotFound = regexp.MustCompile(`(?im)command not found: ([\w./\\-]+)|(?:^|\s|:)([\w./\\-]+): (?:command )?not found(?:$|[^:])|'([^']+)' is not recognized as an internal or external command`)
	reExecFmt  = regexp.MustCompile(`(?i)Exec format error|cannot execute binary file|cannot execute: required file not found|Bad CPU type in executable`)
	runnerLine = regexp.MustCompile(`(?m)^pybundle-runner: (.+)$`)
)

// Classify turns a failed step into its kind and one sentence a person can act on.
func Classify(o Outcome) (Kind, string) {
	s := o.Stderr
	first := func(re *regexp.Regexp) string {
		if m := re.FindStringSubmatch(s); m != nil {
			for _, g := range m[1:] {
				if g != "" {
					return strings.TrimSpace(g)
				}
			}
			return strings.TrimSpace(m[0])
		}
		return ""
	}
	// ssh exits 255 on its own errors (and -1 is a step ended by its bound). Any other status
	// is the remote command's, so texts such as "Permission denied (publickey)" or "Host key
	// verification failed" in it are from the build (pip fetching a git+ssh dependency), not
	// about the link to the runner.
	sshFailed := o.Exit == 255 || o.Exit == -1
	switch {
	case o.TimedOut:
		return KindTimeout, fmt.Sprintf("the runner did not finish within %s (the %s step was running; raise --runner-timeout if the build is just slow)", o.Timeout, o.Step)
	case !sshFailed:
	case reBadKey.MatchString(s):
		return KindBadKey, fmt.Sprintf("the runner key cannot be used (%s): give the private key (OpenSSH or PEM format, no passphrase) as --runner-key", first(reBadKey))
	case reHostKey.MatchString(s):
		return KindHostKey, fmt.Sprintf("host key verification failed for %s: its key is not in --runner-known-hosts or has changed (get it with ssh-keyscan -p PORT HOST and check it out of band)", o.Runner)
	case reAuth.MatchString(s):
		return KindAuth, fmt.Sprintf("%s refused the key (Permission denied (%s)): add the public half of --runner-key to that login's authorized_keys", o.Runner, first(reAuth))
	case reConnTO.MatchString(s):
		return KindConnectTimeout, fmt.Sprintf("%s did not answer within %s (%s): is the machine up, and is its SSH port open to this engine?", o.Runner, o.Connect, first(reConnTO))
	case reRefused.MatchString(s):
		return KindUnreachable, fmt.Sprintf("cannot reach %s (%s): check the address and port and that sshd runs there", o.Runner, first(reRefused))
	case reResolve.MatchString(s):
		return KindUnreachable, fmt.Sprintf("cannot resolve the runner's host name in %s (%s)", o.Runner, first(reResolve))
	case reNotSSH.MatchString(s) && o.Step == "connect":
		return KindNotSSH, fmt.Sprintf("%s answered, but not as an SSH server (%s)", o.Runner, strings.TrimSpace(lastLine(s)))
	}
	if sshFailed || reLost.MatchString(s) && o.Exit != 0 && !runnerLine.MatchString(s) {
		what := map[string]string{
			"connect":  "while logging in",
			"upload":   "while copying the source to the runner",
			"build":    "while the runner was building",
			"download": "while copying the bundle back",
		}[o.Step]
		detail := strings.TrimSpace(lastLine(s))
		if detail == "" {
			detail = fmt.Sprintf("ssh exit %d", o.Exit)
		}
		return KindLost, fmt.Sprintf("the connection to %s was lost %s (%s); nothing was kept from this attempt", o.Runner, what, detail)
	}
	switch {
	case reExecFmt.MatchString(s):
		return KindWrongPlatform, fmt.Sprintf("%s cannot run pybundle-runner built for %s (%s): is it a %s machine?", o.Runner, o.Target, first(reExecFmt), o.Target)
	case o.Exit == 127 || reNotFound.MatchString(s) && o.Step != "build":
		tool := first(reNotFound)
		if tool == "" {
			tool = "a command"
		}
		return KindMissingTool, fmt.Sprintf("%s: %s not found on the runner (it needs OpenSSH's sshd and tar on the PATH of the login's shell)", o.Runner, tool)
	case o.Step == "build" && o.Exit == 1:
		if m := runnerLine.FindAllStringSubmatch(s, -1); m != nil {
			return KindBuildFailed, "the runner's build failed: " + m[len(m)-1][1]
		}
		return KindBuildFailed, "the runner's build failed (pybundle-runner exit 1; its output follows)"
	case o.Step == "build" && o.Exit == 2:
		if m := runnerLine.FindAllStringSubmatch(s, -1); m != nil {
			return KindBuildFailed, "pybundle-runner refused the arguments (a pybundle bug, or a runner setting in the address): " + m[len(m)-1][1]
		}
	}
	return KindRemote, fmt.Sprintf("the %s step failed on %s (exit %d): %s", o.Step, o.Runner, o.Exit, strings.TrimSpace(lastLine(s)))
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\r\n\t "), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}
