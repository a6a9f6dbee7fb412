package dispatch

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/pybundle/pybundle/pipeline/plan"
	"github.com/pybundle/pybundle/pipeline/target"
)

// Job is one target's build on one runner, as the dispatching container sees it. It is
// written by the module and read by `pybundle-probe dispatch`.
type Job struct {
	Runner Runner `json:"runner"`
	Target string `json:"target"` // e.g. windows/amd64
	// ID names the job's folder on the runner (pybundle-job-<ID>); unique per dispatch.
	ID string `json:"id"`
	// Key is the private key file (a mounted Dagger secret); KnownHosts the known_hosts file
	// that pins the runner's host key, or "" to accept any (a warning says so).
	Key        string `json:"key"`
	KnownHosts string `json:"known_hosts,omitempty"`
	// Binary is pybundle-runner built for Target; Source the backend source folder; Out the
	// folder that receives dist/, report.json and summary.txt (must not exist yet).
	Binary string `json:"binary"`
	Source string `json:"source"`
	Out    string `json:"out"`
	// Options are the build's options (the plan's), sent as pybundle-runner's --options file:
	// typed JSON, nothing re-spelled as flags.
	Options plan.Options `json:"options"`
	// Artifact is the executable's expected path inside dist/ (report.json's "artifact").
	Artifact string `json:"artifact"`
	// ConnectTimeout bounds each SSH handshake; Timeout the whole job.
	ConnectTimeout time.Duration `json:"connect_timeout"`
	Timeout        time.Duration `json:"timeout"`
}

// Defaults.
const (
	DefaultConnectTimeout = 15 * time.Second
	DefaultTimeout        = 45 * time.Minute
	// aliveInterval × aliveCount is how long a silent, dead link is tolerated.
	aliveInterval = 10
	aliveCount    = 3
)

var idRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,79}$`)

// Validate checks what Run relies on.
func (j Job) Validate() error {
	t, err := target.Parse(j.Target)
	switch {
	case err != nil:
		return fmt.Errorf("job: %v", err)
	case t.String() != j.Target:
		return fmt.Errorf("job: target %q is not canonical (%s)", j.Target, t)
	case !idRe.MatchString(j.ID):
		return fmt.Errorf("job: id %q: want letters, digits, '.', '_' and '-'", j.ID)
	case j.Runner.User == "" || j.Runner.Host == "" || j.Runner.Port == 0:
		return fmt.Errorf("job: runner incomplete: %+v", j.Runner)
	case j.Key == "" || j.Binary == "" || j.Source == "" || j.Out == "" || j.Artifact == "":
		return fmt.Errorf("job: key, binary, source, out and artifact are required")
	case j.Timeout < 0 || j.ConnectTimeout < 0:
		return fmt.Errorf("job: negative timeout")
	}
	if err := j.Runner.Validate(); err != nil {
		return fmt.Errorf("job: %v", err)
	}
	if err := j.Options.Validate(); err != nil {
		return fmt.Errorf("job: options: %v", err)
	}
	return nil
}

// WithDefaults fills in the timeouts.
func (j Job) WithDefaults() Job {
	if j.ConnectTimeout == 0 {
		j.ConnectTimeout = DefaultConnectTimeout
	}
	if j.Timeout == 0 {
		j.Timeout = DefaultTimeout
	}
	return j
}

func (j Job) target() target.Target { t, _ := target.Parse(j.Target); return t }

func (j Job) windows() bool { return j.target().OS == "windows" }

// Dir is the job's folder, relative to the runner login's home (where ssh starts commands).
func (j Job) Dir() string { return "pybundle-job-" + j.ID }

// BinaryName is pybundle-runner's file name on the runner.
func (j Job) BinaryName() string { return j.target().ExecutableName("pybundle-runner") }

// SSHArgs are the ssh options every step uses, then the destination. BatchMode: never wait
// for a password or a host-key prompt nobody can answer; keep-alives: a link that dies
// silently ends the step within aliveInterval×aliveCount seconds instead of hanging.
func (j Job) SSHArgs() []string {
	j = j.WithDefaults()
	args := []string{
		"-T",
		"-p", strconv.Itoa(j.Runner.Port),
		"-i", j.Key,
		"-o", "BatchMode=yes",
		"-o", "IdentitiesOnly=yes",
		"-o", "PasswordAuthentication=no",
		"-o", "KbdInteractiveAuthentication=no",
		"-o", "ConnectTimeout=" + strconv.Itoa(int(j.ConnectTimeout.Seconds())),
		"-o", "ServerAliveInterval=" + strconv.Itoa(aliveInterval),
		"-o", "ServerAliveCountMax=" + strconv.Itoa(aliveCount),
		"-o", "LogLevel=ERROR",
	}
	if j.KnownHosts != "" {
		args = append(args, "-o", "StrictHostKeyChecking=yes", "-o", "UserKnownHostsFile="+j.KnownHosts)
	} else {
		args = append(args, "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null")
	}
	return append(args, "-l", j.Runner.User, "--", j.Runner.Host)
}

// ConnectMarker is what the connect step's remote echo prints.
const ConnectMarker = "pybundle-runner-ok"

// ConnectCommand checks the login works; echo is a builtin of sh and cmd.exe alike. On Windows
// it also asks cmd.exe for %OS%, which only cmd.exe expands: the other commands are cmd.exe's.
func (j Job) ConnectCommand() string {
	if j.windows() {
		return "echo " + ConnectMarker + " %OS%"
	}
	return "echo " + ConnectMarker
}

// ConnectCheck judges the connect step's output: the marker, and on Windows cmd.exe's answer.
func (j Job) ConnectCheck(stdout string) error {
	if !strings.Contains(stdout, ConnectMarker) {
		return fmt.Errorf("%s logged in, but the shell did not echo %q (a login script that prints or exits?)", j.Runner.Address(), ConnectMarker)
	}
	if j.windows() && !strings.Contains(stdout, ConnectMarker+" Windows_NT") {
		return fmt.Errorf("%s's login shell is not cmd.exe (PowerShell as OpenSSH's DefaultShell?): pybundle's commands are cmd.exe's; set DefaultShell to C:\\Windows\\System32\\cmd.exe for the runner's account", j.Runner.Address())
	}
	return nil
}

// UploadCommand unpacks the job's tar stream in the home folder (it holds pybundle-job-<id>/).
func (j Job) UploadCommand() string { return "tar -xf -" }

// BuildCommand runs pybundle-runner on the uploaded source.
func (j Job) BuildCommand() string {
	dir := j.Dir()
	exe := dir + "/" + j.BinaryName()
	if j.windows() {
		exe = strings.ReplaceAll(exe, "/", `\`) // cmd.exe reads "a/b" as a and a switch /b
	}
	args := []string{exe, "build",
		"--source", dir + "/src",
		"--out", dir + "/out",
		"--platform", j.Target,
		"--options", dir + "/" + OptionsFile,
	}
	r := j.Runner
	for _, f := range []struct{ flag, v string }{
		{"--python", r.Python}, {"--python-version", r.PythonVersion}, {"--venv", r.Venv}, {"--wheelhouse", r.Wheelhouse},
	} {
		if f.v != "" {
			args = append(args, f.flag, f.v)
		}
	}
	return j.commandLine(args)
}

// OptionsFile is the job's options, next to the runner binary in the job folder.
const OptionsFile = "options.json"

// DownloadFiles are what the download step brings back, relative to the job's out folder.
var DownloadFiles = []string{"dist", "report.json", "summary.txt"}

// DownloadCommand streams the results as tar on stdout.
func (j Job) DownloadCommand() string {
	return j.commandLine(append([]string{"tar", "-cf", "-", "-C", j.Dir() + "/out"}, DownloadFiles...))
}

// KillCommand ends what is left of the job on the runner (after a timeout the remote build
// may run on): every process whose command line names the job's folder. The pattern's
// bracket keeps pkill from matching the shell that runs it.
func (j Job) KillCommand() string {
	if j.windows() {
		return `powershell -NoProfile -NonInteractive -Command "Get-CimInstance Win32_Process | Where-Object { $_.CommandLine -like '*` + j.Dir() + `*' -and $_.ProcessId -ne $PID } | ForEach-Object { Stop-Process -Id $_.ProcessId -Force -ErrorAction SilentlyContinue }"`
	}
	return "pkill -KILL -f '[" + j.Dir()[:1] + "]" + j.Dir()[1:] + "/'; true"
}

// CleanupCommand removes the job's folder.
func (j Job) CleanupCommand() string {
	if j.windows() {
		return `rmdir /s /q ` + strings.ReplaceAll(j.Dir(), "/", `\`)
	}
	return "rm -rf " + j.Dir()
}

// commandLine joins argv into one command line for the runner's login shell: POSIX sh on
// macOS and Linux, cmd.exe (OpenSSH for Windows' default) on Windows.
func (j Job) commandLine(argv []string) string {
	q := shQuote
	if j.windows() {
		q = cmdQuote
	}
	out := make([]string, len(argv))
	for i, a := range argv {
		out[i] = q(a)
	}
	return strings.Join(out, " ")
}

var (
	// plainArg is what needs no quotes in sh, bash and zsh alike; a word starting with '='
	// is zsh's =command expansion, so it is quoted.
	plainArg    = regexp.MustCompile(`^[A-Za-z0-9_./:,+@-][A-Za-z0-9_./=:,+@-]*$`)
	winPlainArg = regexp.MustCompile(`^[A-Za-z0-9_./=:,+@\\-]+$`)
)

// shQuote quotes s for POSIX sh: as is when it holds nothing special, else in single quotes.
func shQuote(s string) string {
	if plainArg.MatchString(s) {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// cmdQuote quotes s for cmd.exe and CommandLineToArgvW (how a Go program on Windows splits its
// command line): double quotes, embedded quotes and the backslashes before them escaped.
// Inside double quotes cmd.exe takes &|<>^ literally; % cannot be escaped there, which is why
// ParseRunner refuses it in runner settings.
func cmdQuote(s string) string {
	if winPlainArg.MatchString(s) { // backslashes are literal unless a quote follows them
		return s
	}
	var b strings.Builder
	b.WriteByte('"')
	slashes := 0
	for _, c := range s {
		switch c {
		case '\\':
			slashes++
			continue
		case '"':
			b.WriteString(strings.Repeat(`\`, 2*slashes+1))
			b.WriteRune(c)
		default:
			b.WriteString(strings.Repeat(`\`, slashes))
			b.WriteRune(c)
		}
		slashes = 0
	}
	b.WriteString(strings.Repeat(`\`, 2*slashes))
	b.WriteByte('"')
	return b.String()
}
