package dispatch

import (
	"strings"
	"testing"
	"time"

	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"
)

const runnerAddr = "ssh://pybundle@10.213.0.2:22"

// The stderr texts are OpenSSH 9.x client messages (Debian's ssh in the dispatch container;
// LogLevel=ERROR keeps the banner and warnings out) and what the runner's login shell or
// pybundle-runner print after them: dash on Debian, bash, zsh on macOS, cmd.exe on Windows.
func TestClassify(t *testing.T) {
	for _, tc := range []struct {
		name   string
		o      Outcome
		kind   Kind
		reason []string // each must be in the reason
		runner bool     // the reason names the runner's address
	}{
		// cannot reach
		{
			name: "refused",
			o:    Outcome{Step: "connect", Exit: 255, Stderr: "ssh: connect to host 10.0.0.9 port 22: Connection refused\r\n"},
			kind: KindUnreachable, reason: []string{"cannot reach", "Connection refused", "sshd"}, runner: true,
		},
		{
			name: "no route",
			o:    Outcome{Step: "connect", Exit: 255, Stderr: "ssh: connect to host 10.0.0.9 port 22: No route to host\n"},
			kind: KindUnreachable, reason: []string{"No route to host"}, runner: true,
		},
		{
			name: "network unreachable",
			o:    Outcome{Step: "connect", Exit: 255, Stderr: "ssh: connect to host 2001:db8::9 port 22: Network is unreachable\n"},
			kind: KindUnreachable, reason: []string{"Network is unreachable"}, runner: true,
		},
		{
			name: "unknown host",
			o:    Outcome{Step: "connect", Exit: 255, Stderr: "ssh: Could not resolve hostname nohost: Name or service not known\r\n"},
			kind: KindUnreachable, reason: []string{"cannot resolve", "Name or service not known"}, runner: true,
		},
		{
			name: "DNS down",
			o:    Outcome{Step: "connect", Exit: 255, Stderr: "ssh: Could not resolve hostname runner.internal: Temporary failure in name resolution\n"},
			kind: KindUnreachable, reason: []string{"Temporary failure in name resolution"}, runner: true,
		},
		{
			name: "unknown host, macOS wording",
			o:    Outcome{Step: "connect", Exit: 255, Stderr: "ssh: Could not resolve hostname nohost: nodename nor servname provided, or not known\n"},
			kind: KindUnreachable, reason: []string{"nodename nor servname provided"}, runner: true,
		},
		// no answer
		{
			name: "connect timed out",
			o:    Outcome{Step: "connect", Exit: 255, Stderr: "ssh: connect to host 10.0.0.9 port 22: Connection timed out\r\n"},
			kind: KindConnectTimeout, reason: []string{"did not answer within 15s", "Connection timed out", "SSH port open"}, runner: true,
		},
		{
			name: "connect timed out, BSD wording",
			o:    Outcome{Step: "connect", Exit: 255, Stderr: "ssh: connect to host 10.0.0.9 port 22: Operation timed out\n"},
			kind: KindConnectTimeout, reason: []string{"Operation timed out"}, runner: true,
		},
		{
			name: "login hung, ended by the step's bound",
			o: Outcome{Step: "connect", Exit: -1,
				Stderr: "\nssh: connect to host 10.213.0.2 port 22: Connection timed out"},
			kind: KindConnectTimeout, reason: []string{"did not answer"}, runner: true,
		},
		// refused login
		{
			name: "key refused",
			o:    Outcome{Step: "connect", Exit: 255, Stderr: "pybundle@10.213.0.2: Permission denied (publickey).\r\n"},
			kind: KindAuth, reason: []string{"refused the key", "(publickey)", "authorized_keys", "--runner-key"}, runner: true,
		},
		{
			name: "key refused, several methods offered",
			o:    Outcome{Step: "connect", Exit: 255, Stderr: "pybundle@10.213.0.2: Permission denied (publickey,password,keyboard-interactive).\n"},
			kind: KindAuth, reason: []string{"publickey,password,keyboard-interactive"}, runner: true,
		},
		{
			name: "bad key file",
			o: Outcome{Step: "connect", Exit: 255, Stderr: `Load key "/run/pybundle/runner-key": invalid format` + "\r\n" +
				"pybundle@10.213.0.2: Permission denied (publickey).\r\n"},
			kind: KindBadKey, reason: []string{"key cannot be used", "invalid format", "--runner-key", "no passphrase"},
		},
		{
			name: "key with a passphrase",
			o: Outcome{Step: "connect", Exit: 255, Stderr: `Load key "/run/pybundle/runner-key": incorrect passphrase supplied to decrypt private key` + "\n" +
				"pybundle@10.213.0.2: Permission denied (publickey).\n"},
			kind: KindBadKey, reason: []string{"incorrect passphrase"},
		},
		// host key
		{
			name: "host key unknown",
			o:    Outcome{Step: "connect", Exit: 255, Stderr: "No ED25519 host key is known for 10.213.0.2 and you have requested strict checking.\r\nHost key verification failed.\r\n"},
			kind: KindHostKey, reason: []string{"host key verification failed", "--runner-known-hosts", "ssh-keyscan"}, runner: true,
		},
		{
			name: "host key changed",
			o: Outcome{Step: "connect", Exit: 255, Stderr: `@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@
@    WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!     @
@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@
IT IS POSSIBLE THAT SOMEONE IS DOING SOMETHING NASTY!
Someone could be eavesdropping on you right now (man-in-the-middle attack)!
It is also possible that a host key has just been changed.
The fingerprint for the ED25519 key sent by the remote host is
SHA256:9mQ4Yp1b1mWq9kCq4Jm2Z0oYbK7mP5o6bYJ1o2VdT4k.
Please contact your system administrator.
Add correct host key in /job/known_hosts to get rid of this message.
Offending ED25519 key in /job/known_hosts:1
Host key for 10.213.0.2 has changed and you have requested strict checking.
Host key verification failed.
`},
			kind: KindHostKey, reason: []string{"has changed"}, runner: true,
		},
		{
			name: "host key failure alone",
			o:    Outcome{Step: "connect", Exit: 255, Stderr: "Host key verification failed.\n"},
			kind: KindHostKey, reason: []string{"host key verification failed"}, runner: true,
		},
		// not an SSH server
		{
			name: "closed before the banner",
			o:    Outcome{Step: "connect", Exit: 255, Stderr: "kex_exchange_identification: Connection closed by remote host\r\nConnection closed by 10.213.0.2 port 22\r\n"},
			kind: KindNotSSH, reason: []string{"not as an SSH server", "Connection closed by 10.213.0.2 port 22"}, runner: true,
		},
		{
			name: "an HTTP server on the port",
			o:    Outcome{Step: "connect", Exit: 255, Stderr: "kex_exchange_identification: banner line contains invalid characters\r\nbanner exchange: Connection to 10.213.0.2 port 80: invalid format\r\n"},
			kind: KindNotSSH, reason: []string{"not as an SSH server", "invalid format"}, runner: true,
		},
		{
			name: "kex failure after the login is a lost connection",
			o:    Outcome{Step: "upload", Exit: 255, Stderr: "kex_exchange_identification: read: Connection reset by peer\r\n"},
			kind: KindLost, reason: []string{"lost while copying the source"}, runner: true,
		},
		// lost on the way
		{
			name: "closed during the upload",
			o:    Outcome{Step: "upload", Exit: 255, Stderr: "Connection closed by 10.213.0.2 port 22\r\n"},
			kind: KindLost, reason: []string{"connection to", "was lost while copying the source to the runner", "Connection closed by 10.213.0.2 port 22", "nothing was kept"}, runner: true,
		},
		{
			name: "broken pipe during the build",
			o:    Outcome{Step: "build", Exit: 255, Stderr: "pybundle-runner: build linux/amd64 ...\nclient_loop: send disconnect: Broken pipe\r\n"},
			kind: KindLost, reason: []string{"lost while the runner was building", "client_loop: send disconnect: Broken pipe"}, runner: true,
		},
		{
			name: "keep-alives ran out during the download",
			o:    Outcome{Step: "download", Exit: 255, Stderr: "Timeout, server 10.213.0.2 not responding.\r\n"},
			kind: KindLost, reason: []string{"lost while copying the bundle back", "Timeout, server 10.213.0.2 not responding."}, runner: true,
		},
		{
			name: "closed by the remote host while logging in",
			o:    Outcome{Step: "connect", Exit: 255, Stderr: "Connection to 10.213.0.2 closed by remote host.\r\n"},
			kind: KindLost, reason: []string{"lost while logging in"}, runner: true,
		},
		{
			name: "ssh died without a word",
			o:    Outcome{Step: "upload", Exit: 255},
			kind: KindLost, reason: []string{"(ssh exit 255)"}, runner: true,
		},
		{
			name: "ssh killed",
			o:    Outcome{Step: "download", Exit: -1},
			kind: KindLost, reason: []string{"(ssh exit -1)"}, runner: true,
		},
		{
			name: "remote tar lost its stdin",
			o:    Outcome{Step: "upload", Exit: 2, Stderr: "tar: Unexpected EOF in archive\ntar: write error: Broken pipe\n"},
			kind: KindLost, reason: []string{"lost while copying the source"}, runner: true,
		},
		// missing tools
		{
			name: "no tar, dash",
			o:    Outcome{Step: "upload", Exit: 127, Stderr: "sh: 1: tar: not found\n"},
			kind: KindMissingTool, reason: []string{"tar not found on the runner", "PATH"}, runner: true,
		},
		{
			name: "no tar, bash",
			o:    Outcome{Step: "download", Exit: 127, Stderr: "bash: line 1: tar: command not found\n"},
			kind: KindMissingTool, reason: []string{": tar not found on the runner"}, runner: true,
		},
		{
			name: "no tar, zsh",
			o:    Outcome{Step: "upload", Exit: 127, Stderr: "zsh:1: command not found: tar\n"},
			kind: KindMissingTool, reason: []string{": tar not found on the runner"}, runner: true,
		},
		{
			name: "no tar, cmd.exe",
			o: Outcome{Step: "upload", Exit: 1, Stderr: "'tar' is not recognized as an internal or external command,\r\n" +
				"operable program or batch file.\r\n"},
			kind: KindMissingTool, reason: []string{": tar not found on the runner"}, runner: true,
		},
		{
			name: "runner binary gone",
			o:    Outcome{Step: "build", Exit: 127, Stderr: "sh: 1: pybundle-job-j1/pybundle-runner: not found\n"},
			kind: KindMissingTool, reason: []string{"pybundle-job-j1/pybundle-runner not found on the runner"}, runner: true,
		},
		{
			name: "exit 127 and nothing to say",
			o:    Outcome{Step: "build", Exit: 127, Stderr: "\n"},
			kind: KindMissingTool, reason: []string{"a command not found"}, runner: true,
		},
		// wrong platform
		{
			name: "exec format error",
			o:    Outcome{Step: "build", Exit: 126, Target: "darwin/arm64", Stderr: "bash: line 1: pybundle-job-j1/pybundle-runner: cannot execute binary file: Exec format error\n"},
			kind: KindWrongPlatform, reason: []string{"cannot run pybundle-runner built for darwin/arm64", "cannot execute binary file", "is it a darwin/arm64 machine"}, runner: true,
		},
		{
			name: "exec format error alone",
			o:    Outcome{Step: "build", Exit: 126, Target: "linux/arm64", Stderr: "cannot execute binary file: Exec format error\n"},
			kind: KindWrongPlatform, reason: []string{"linux/arm64"}, runner: true,
		},
		{
			name: "bad CPU type, zsh on macOS",
			o:    Outcome{Step: "build", Exit: 126, Target: "darwin/amd64", Stderr: "zsh:1: bad CPU type in executable: pybundle-job-j1/pybundle-runner\n"},
			kind: KindWrongPlatform, reason: []string{"bad CPU type in executable"}, runner: true,
		},
		// the build itself
		{
			name: "no Python on the runner",
			o: Outcome{Step: "build", Exit: 1, Stderr: "pybundle-runner: build linux/amd64 from pybundle-job-j1/src\n" +
				"pybundle-runner: env linux/amd64: no Python 3.13 found (tried python3.13, python3, python): install it or set ?python= in the runner address\n"},
			kind: KindBuildFailed, reason: []string{"the runner's build failed: env linux/amd64: no Python 3.13 found (tried python3.13, python3, python)"},
		},
		{
			name: "build failed, last runner line wins",
			o: Outcome{Step: "build", Exit: 1, Stderr: "pybundle-runner: venv ready\n  File \"/home/ci/pybundle-job-j1/src/main.py\", line 3\nSyntaxError: invalid syntax\n" +
				"pybundle-runner: compile linux/amd64: main.py:3: SyntaxError: invalid syntax\n"},
			kind: KindBuildFailed, reason: []string{"compile linux/amd64: main.py:3: SyntaxError"},
		},
		{
			name: "build failed without a runner line",
			o:    Outcome{Step: "build", Exit: 1, Stderr: "something went wrong\n"},
			kind: KindBuildFailed, reason: []string{"pybundle-runner exit 1"},
		},
		{
			name: "pip's connection trouble is the build's",
			o: Outcome{Step: "build", Exit: 1, Stderr: "WARNING: Retrying (Retry(total=4)) after connection broken by 'ProtocolError('Connection aborted.', ConnectionResetError(104, 'Connection reset by peer'))'\n" +
				"pybundle-runner: env linux/amd64: pip install failed: no network? set ?wheelhouse= for offline runners\n"},
			kind: KindBuildFailed, reason: []string{"pip install failed"},
		},
		{
			name: "a git+ssh dependency refused is the build's, not the runner's key",
			o: Outcome{Step: "build", Exit: 1, Stderr: "git@github.com: Permission denied (publickey).\nfatal: Could not read from remote repository.\n" +
				"pybundle-runner: env darwin/arm64: pip install failed\n"},
			kind: KindBuildFailed, reason: []string{"pip install failed"},
		},
		{
			name: "a git+ssh host key is the build's",
			o: Outcome{Step: "build", Exit: 1, Stderr: "Host key verification failed.\nfatal: Could not read from remote repository.\n" +
				"pybundle-runner: env darwin/arm64: pip install failed\n"},
			kind: KindBuildFailed, reason: []string{"pip install failed"},
		},
		{
			name: "a compiler missing during the build is the build's",
			o:    Outcome{Step: "build", Exit: 1, Stderr: "sh: 1: gcc: not found\npybundle-runner: env linux/amd64: pip install failed\n"},
			kind: KindBuildFailed, reason: []string{"pip install failed"},
		},
		{
			name: "arguments refused",
			o:    Outcome{Step: "build", Exit: 2, Stderr: "pybundle-runner: --python-version \"3.x\": want X.Y or X.Y.Z\n"},
			kind: KindBuildFailed, reason: []string{"refused the arguments", `--python-version "3.x"`},
		},
		// the deadline
		{
			name: "job deadline during the build",
			o:    Outcome{Step: "build", Exit: -1, TimedOut: true, Stderr: "pybundle-runner: compiling\n"},
			kind: KindTimeout, reason: []string{"did not finish within 45m0s", "the build step was running", "--runner-timeout"},
		},
		{
			name: "job deadline wins over what ssh said",
			o:    Outcome{Step: "upload", Exit: 255, TimedOut: true, Stderr: "Connection closed by 10.213.0.2 port 22\n"},
			kind: KindTimeout, reason: []string{"the upload step was running"},
		},
		// anything else
		{
			name: "tar failed on the runner",
			o:    Outcome{Step: "download", Exit: 2, Stderr: "tar: dist: Cannot stat: No such file or directory\ntar: Exiting with failure status due to previous errors\n"},
			kind: KindRemote, reason: []string{"the download step failed on " + runnerAddr + " (exit 2): tar: Exiting with failure status"},
		},
		{
			name: "a disk full on the runner",
			o:    Outcome{Step: "upload", Exit: 2, Stderr: "tar: pybundle-job-j1/src/main.py: Cannot write: No space left on device\n"},
			kind: KindRemote, reason: []string{"No space left on device"}, runner: true,
		},
		{
			name: "build exit 3",
			o:    Outcome{Step: "build", Exit: 3, Stderr: "pybundle-runner: verify linux/amd64: startup check failed\n"},
			kind: KindRemote, reason: []string{"the build step failed", "(exit 3)", "startup check failed"}, runner: true,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := tc.o
			o.Runner = runnerAddr
			o.Connect, o.Timeout = 15*time.Second, 45*time.Minute
			if o.Target == "" {
				o.Target = "linux/amd64"
			}
			kind, reason := Classify(o)
			assert.Equal(t, kind, tc.kind, reason)
			for _, r := range tc.reason {
				assert.Assert(t, is.Contains(reason, r))
			}
			if tc.runner {
				assert.Assert(t, is.Contains(reason, runnerAddr))
			}
			assert.Assert(t, !strings.Contains(reason, "\n"), "one line: %q", reason)
		})
	}
}

func TestLastLine(t *testing.T) {
	for in, want := range map[string]string{
		"":                "",
		"one":             "one",
		"a\nb\n":          "b",
		"a\r\nb\r\n\r\n":  "b",
		"a\n  b  \n\t \n": "b",
	} {
		assert.Equal(t, lastLine(in), want, "%q", in)
	}
}
