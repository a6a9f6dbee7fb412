package main

// SSH runner fixture for the end-to-end tests of `build`'s dispatch to native runners: real
// OpenSSH servers (Debian's openssh-server) in a network namespace, reachable from the host and
// from containers of the Dagger engine.
//
//	go run ./ci/engine runners-up     # build the runner root filesystems once, (re)start fresh
//	go run ./ci/engine runners-env    # eval "$(go run ./ci/engine runners-env)" before go test
//	go run ./ci/engine runners-down   # stop what runners-up started, remove netns/veth/tc/rules
//
// Layout (addresses in runnerSubnet, NOT in the engine's CNI network 10.213.0.0/16):
//
//	host ── pbr-host 10.214.0.1/30 ══ veth ══ pbr-ns 10.214.0.2/30 ── netns pybundle-runner
//	  sshd chrooted into rootfs/ssh-runner-python: port 22, and port 2022 shaped to ~4 Mbit/s
//	  sshd chrooted into rootfs/ssh-runner-bare (no Python at all): port 2222
//
// Engine containers reach 10.214.0.2 through the engine's bridge, the host's routing (the
// engine's ip_forward=1) and the CNI MASQUERADE rule (their source becomes 10.214.0.1, so the
// namespace needs no route back). A FORWARD rule is added only when the host's filter table
// would drop that traffic, and removed by runners-down.

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/pybundle/pybundle/images"
)

const (
	runnerNetns  = "pybundle-runner"
	runnerHostIf = "pbr-host"
	runnerNsIf   = "pbr-ns"
	runnerHostIP = "10.214.0.1"
	runnerIP     = "10.214.0.2"
	runnerPrefix = 30
	runnerSubnet = "10.214.0.0/30"

	runnerUser   = "pybundle"
	runnerUID    = 1000
	runnerHome   = "/home/pybundle"
	runnerVenv   = runnerHome + "/venv"
	runnerWheels = runnerHome + "/wheels"
	// homeTemplate (inside each runner rootfs) is the prepared home; every runners-up copies it
	// back over /home/pybundle, so each test run starts with no job dirs and an untouched venv.
	homeTemplate = "/var/lib/pybundle-runner/home"

	slowPort = 2022
	slowRate = "4mbit"

	sshdConfigPath = "/etc/ssh/pybundle_sshd_config"
	pinnedPyInst   = images.PipRequirement
	ruleComment    = "pybundle-runner"
)

// sshRunner is one sshd instance and the root filesystem it is chrooted into.
type sshRunner struct {
	Name   string // rootfs/ssh-runner-<Name>
	Ports  []int
	Python bool // python runner: PythonRootfs + venv; bare: BaseRootfs, no Python
}

var sshRunners = []sshRunner{
	{Name: "python", Ports: []int{22, slowPort}, Python: true},
	{Name: "bare", Ports: []int{2222}},
}

// RunnerRootfs is the cached root filesystem of one runner.
func (l Layout) RunnerRootfs(name string) string {
	return filepath.Join(l.Root, "rootfs", "ssh-runner-"+name)
}

// RunnerDir holds the client keys, known_hosts and sshd start scripts (regenerated keys only
// when missing, so a test machine keeps one identity).
func (l Layout) RunnerDir() string { return filepath.Join(l.Run(), "ssh") }

func (l Layout) RunnerKey() string        { return filepath.Join(l.RunnerDir(), "id_ed25519") }
func (l Layout) RunnerBadKey() string     { return filepath.Join(l.RunnerDir(), "id_ed25519_unauthorized") }
func (l Layout) RunnerKnownHosts() string { return filepath.Join(l.RunnerDir(), "known_hosts") }
func (l Layout) RunnerStateFile() string  { return filepath.Join(l.Run(), "runners.json") }

// RunnerState records what runners-up started and changed, for runners-down.
type RunnerState struct {
	SSHD     []RunnerProc `json:"sshd,omitempty"`
	Netns    string       `json:"netns,omitempty"`
	HostIf   string       `json:"host_if,omitempty"`
	Iptables [][]string   `json:"iptables_added,omitempty"` // rules as added (-I …); removed with -D
}

// RunnerProc is one sshd wrapper: the pid spawn returned (unshare, whose command line names the
// rootfs) and that rootfs.
type RunnerProc struct {
	Name   string `json:"name"`
	PID    int    `json:"pid"`
	Rootfs string `json:"rootfs"`
}

// want is what the wrapper's command line contains while it is ours: the rootfs's base name is
// in the start script's file name and in unshare's arguments.
func (p RunnerProc) want() string { return filepath.Base(p.Rootfs) }

func loadRunnerState(path string) (RunnerState, error) { return readJSON[RunnerState](path) }

func saveRunnerState(path string, st RunnerState) error { return writeJSON(path, st) }

// runnersEnv is what `runners-env` prints for eval.
func runnersEnv(s Settings) string {
	vars := [][2]string{
		{"PYBUNDLE_SSH_RUNNER", fmt.Sprintf("ssh://%s@%s:%d", runnerUser, runnerIP, 22)},
		{"PYBUNDLE_SSH_RUNNER_SLOW", fmt.Sprintf("ssh://%s@%s:%d", runnerUser, runnerIP, slowPort)},
		{"PYBUNDLE_SSH_RUNNER_BARE", fmt.Sprintf("ssh://%s@%s:%d", runnerUser, runnerIP, 2222)},
		{"PYBUNDLE_SSH_KEY", s.RunnerKey()},
		{"PYBUNDLE_SSH_BAD_KEY", s.RunnerBadKey()},
		{"PYBUNDLE_SSH_KNOWN_HOSTS", s.RunnerKnownHosts()},
		{"PYBUNDLE_SSH_RUNNER_VENV", runnerVenv},
		{"PYBUNDLE_SSH_RUNNER_WHEELHOUSE", runnerWheels},
		{"PYBUNDLE_SSH_RUNNER_NETNS", runnerNetns},
		{"PYBUNDLE_SSH_RUNNER_HOME", filepath.Join(s.RunnerRootfs("python"), strings.TrimPrefix(runnerHome, "/"))},
	}
	var b strings.Builder
	for _, v := range vars {
		fmt.Fprintf(&b, "export %s=%s\n", v[0], shellQuote(v[1]))
	}
	return b.String()
}

// sshdConfig is the whole sshd configuration of one runner: keys only, one user, SFTP (which
// scp uses since OpenSSH 9.0), and generous start-up limits for concurrent test connections.
func sshdConfig(r sshRunner) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# Generated by ci/engine runners-up: the %s SSH runner.\n", r.Name)
	for _, p := range r.Ports {
		fmt.Fprintf(&b, "Port %d\n", p)
	}
	b.WriteString(`ListenAddress 0.0.0.0
HostKey /etc/ssh/ssh_host_ed25519_key
PidFile none
UsePAM no
PubkeyAuthentication yes
AuthenticationMethods publickey
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitEmptyPasswords no
PermitRootLogin no
AllowUsers ` + runnerUser + `
AuthorizedKeysFile .ssh/authorized_keys
StrictModes yes
UseDNS no
LoginGraceTime 30
MaxStartups 64
MaxSessions 32
X11Forwarding no
PrintMotd no
LogLevel INFO
Subsystem sftp internal-sftp
`)
	return b.String()
}

// sshdStartScript starts one sshd: inside the runner netns, in a private mount namespace, with
// /proc, /dev, a fresh /tmp and /run mounted into the rootfs, chrooted, in the foreground.
// --kill-child: stopping the wrapper pid (recorded in state) stops sshd too.
func sshdStartScript(r sshRunner, rootfs string) string {
	return fmt.Sprintf(`#!/bin/bash
# Generated by ci/engine runners-up: sshd of the %[1]s runner, ports %[4]s.
set -e
exec ip netns exec %[2]s unshare --mount --propagation private --kill-child=SIGTERM -- /bin/bash -c '
set -e
R=%[3]s
mount -t proc proc "$R/proc"
mount --rbind /dev "$R/dev"
mount --make-rslave "$R/dev"
mount -t tmpfs -o mode=1777 tmpfs "$R/tmp"
mount -t tmpfs -o mode=755 tmpfs "$R/run"
mkdir -m 755 "$R/run/sshd"
exec chroot "$R" /usr/sbin/sshd -D -e -f %[5]s
'
`, r.Name, runnerNetns, shellQuote(rootfs), joinInts(r.Ports, ","), sshdConfigPath)
}

func joinInts(v []int, sep string) string {
	s := make([]string, len(v))
	for i, n := range v {
		s[i] = strconv.Itoa(n)
	}
	return strings.Join(s, sep)
}

// knownHosts lists each runner's host key under every name ssh may look it up by: port 22 is
// written without brackets by ssh itself, the bracketed [ip]:22 form is added for tools that
// always bracket.
func knownHosts(ip string, keys map[int]string) string {
	ports := make([]int, 0, len(keys))
	for p := range keys {
		ports = append(ports, p)
	}
	sort.Ints(ports)
	var b strings.Builder
	for _, p := range ports {
		f := strings.Fields(keys[p])
		if len(f) < 2 {
			continue
		}
		key := f[0] + " " + f[1] // drop the comment
		if p == 22 {
			fmt.Fprintf(&b, "%s %s\n", ip, key)
		}
		fmt.Fprintf(&b, "[%s]:%d %s\n", ip, p, key)
	}
	return b.String()
}

// tcCommands shape the slow port in both directions: packets leaving the namespace (server to
// client, source port 2022) on its veth end, packets entering it (client to server, destination
// port 2022) on the host's end. Everything else is unclassified and leaves HTB's direct queue
// unshaped (default 0).
func tcCommands() [][]string {
	var cmds [][]string
	for _, side := range []struct {
		pre   []string
		dev   string
		match string
	}{
		{nil, runnerHostIf, "dport"},
		{[]string{"-n", runnerNetns}, runnerNsIf, "sport"},
	} {
		tc := func(args ...string) []string { return append(append([]string{}, side.pre...), args...) }
		cmds = append(cmds,
			tc("qdisc", "replace", "dev", side.dev, "root", "handle", "1:", "htb", "default", "0"),
			tc("class", "add", "dev", side.dev, "parent", "1:", "classid", "1:20", "htb", "rate", slowRate, "ceil", slowRate, "burst", "16k", "cburst", "16k"),
			tc("filter", "add", "dev", side.dev, "parent", "1:", "protocol", "ip", "prio", "1", "u32",
				"match", "ip", side.match, strconv.Itoa(slowPort), "0xffff", "flowid", "1:20"),
		)
	}
	return cmds
}

// forwardRules returns the iptables rules (insert form) that let engine containers reach the
// runners through the host's FORWARD chain, or nothing when that chain accepts them anyway
// (policy ACCEPT and no DROP/REJECT rule in FORWARD itself). Narrow: SSH ports of one address
// in, established replies out.
func forwardRules(filterListing string) [][]string {
	blocks := false
	for _, line := range strings.Split(filterListing, "\n") {
		f := strings.Fields(line)
		switch {
		case len(f) == 3 && f[0] == "-P" && f[1] == "FORWARD" && f[2] != "ACCEPT":
			blocks = true
		case len(f) >= 2 && f[0] == "-A" && f[1] == "FORWARD" && (strings.HasSuffix(line, "-j DROP") || strings.Contains(line, "-j REJECT")):
			blocks = true
		}
	}
	if !blocks {
		return nil
	}
	var ports []int
	for _, r := range sshRunners {
		ports = append(ports, r.Ports...)
	}
	sort.Ints(ports)
	return [][]string{
		{"-I", "FORWARD", "1", "-d", runnerIP + "/32", "-p", "tcp", "-m", "multiport", "--dports", joinInts(ports, ","),
			"-m", "comment", "--comment", ruleComment, "-j", "ACCEPT"},
		{"-I", "FORWARD", "1", "-s", runnerIP + "/32", "-p", "tcp", "-m", "conntrack", "--ctstate", "ESTABLISHED,RELATED",
			"-m", "comment", "--comment", ruleComment, "-j", "ACCEPT"},
	}
}

// deleteRule turns a rule recorded in insert form into its -D form.
func deleteRule(rule []string) []string {
	if len(rule) < 2 || rule[0] != "-I" {
		return nil
	}
	out := []string{"-D", rule[1]}
	rest := rule[2:]
	if len(rest) > 0 {
		if _, err := strconv.Atoi(rest[0]); err == nil {
			rest = rest[1:] // the position
		}
	}
	return append(out, rest...)
}

// buildRunnerRootfs makes one runner's root filesystem once (tmp + rename, marker last):
// openssh-server from Debian, fresh host keys, the pybundle user (uid 1000) and its prepared
// home, saved as homeTemplate.
func (s Settings) buildRunnerRootfs(ctx context.Context, r sshRunner, requirements string) error {
	dest := s.RunnerRootfs(r.Name)
	base := s.BaseRootfs("trixie", "amd64")
	if r.Python {
		base = s.PythonRootfs()
	}
	if runnerRootfsCurrent(dest, base) {
		logf("runner rootfs %s cached", filepath.Base(dest))
		return nil
	}
	if !exists(filepath.Join(base, "usr", "bin", "env")) || (r.Python && !exists(filepath.Join(base, ".pybundle-ready"))) {
		return fmt.Errorf("step runner-%s: %s is missing: run `ci/engine up` first", r.Name, base)
	}
	logf("building the %s SSH runner rootfs %s", r.Name, dest)
	step := "runner-rootfs-" + r.Name
	tmp := dest + ".tmp"
	_ = os.RemoveAll(tmp)
	if err := s.run(ctx, step, nil, "cp", "-a", base, tmp); err != nil {
		return err
	}
	_ = os.Remove(filepath.Join(tmp, ".pybundle-ready"))
	if r.Python {
		b, err := os.ReadFile(requirements)
		if err != nil {
			return fmt.Errorf("step %s: %w", step, err)
		}
		if err := os.WriteFile(filepath.Join(tmp, "tmp", "pybundle-requirements.txt"), b, 0o644); err != nil {
			return err
		}
	}
	if err := s.chroot(ctx, tmp, step, nil, runnerBuildScript(r)); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(tmp, ".pybundle-ready"), []byte(runnerRootfsVersion+"\n"), 0o644); err != nil {
		return err
	}
	_ = os.RemoveAll(dest)
	return os.Rename(tmp, dest)
}

// runnerRootfsVersion is written into the marker; bump it when runnerBuildScript changes, so
// cached runner root filesystems are rebuilt.
const runnerRootfsVersion = "ssh-runner 1"

// runnerRootfsCurrent: the marker is there, of this version, and newer than the base's marker
// (a rebuilt python stand-in, e.g. new pins, means a rebuilt python runner).
func runnerRootfsCurrent(dest, base string) bool {
	marker := filepath.Join(dest, ".pybundle-ready")
	b, err := os.ReadFile(marker)
	if err != nil || strings.TrimSpace(string(b)) != runnerRootfsVersion {
		return false
	}
	mi, _ := os.Stat(marker)
	if bi, err := os.Stat(filepath.Join(base, ".pybundle-ready")); err == nil && bi.ModTime().After(mi.ModTime()) {
		return false
	}
	return true
}

// runnerBuildScript runs inside the new rootfs. A policy-rc.d keeps openssh-server's postinst
// from starting an sshd on the HOST's network during the install.
func runnerBuildScript(r sshRunner) string {
	var b strings.Builder
	b.WriteString("set -eu\nprintf '#!/bin/sh\\nexit 101\\n' > /usr/sbin/policy-rc.d\nchmod 755 /usr/sbin/policy-rc.d\n")
	b.WriteString(images.AptInstallScript([]images.Package{{Name: "openssh-server"}}))
	fmt.Fprintf(&b, `rm -f /usr/sbin/policy-rc.d
apt-get clean
rm -f /etc/ssh/ssh_host_*
ssh-keygen -q -t ed25519 -N '' -C pybundle-runner-%[1]s -f /etc/ssh/ssh_host_ed25519_key
useradd --create-home --uid %[2]d --user-group --shell /bin/bash %[3]s
usermod -p '*' %[3]s
install -d -m 755 -o %[3]s -g %[3]s %[4]s
`, r.Name, runnerUID, runnerUser, runnerWheels)
	if r.Python {
		// The exact offline install pybundle-runner performs: everything must already be
		// satisfied by the Debian packages the venv sees through --system-site-packages.
		fmt.Fprintf(&b, `setpriv --reuid=%[1]d --regid=%[1]d --clear-groups env -i HOME=%[2]s PATH=/usr/local/bin:/usr/bin:/bin sh -euc '
cd %[2]s
python3.13 -m venv --system-site-packages %[3]s
%[3]s/bin/pip install --no-index --find-links %[4]s -r /tmp/pybundle-requirements.txt %[5]s
%[3]s/bin/python -c "import fastapi, uvicorn, pydantic, PyInstaller; print(\"venv ok: PyInstaller\", PyInstaller.__version__)"
'
rm -rf %[2]s/.cache /tmp/pybundle-requirements.txt
`, runnerUID, runnerHome, runnerVenv, runnerWheels, pinnedPyInst)
	} else {
		b.WriteString(`if ls /usr/bin/python* /usr/local/bin/python* >/dev/null 2>&1; then echo "bare runner has Python" >&2; exit 1; fi
`)
	}
	fmt.Fprintf(&b, "mkdir -p %[1]s\nrm -rf %[2]s\ncp -a %[3]s %[2]s\n", filepath.Dir(homeTemplate), homeTemplate, runnerHome)
	return b.String()
}

// ensureClientKeys makes the authorized and the unauthorized client key once.
func (s Settings) ensureClientKeys(ctx context.Context) error {
	if err := os.MkdirAll(s.RunnerDir(), 0o700); err != nil {
		return err
	}
	for _, k := range []struct{ path, comment string }{
		{s.RunnerKey(), "pybundle-test"},
		{s.RunnerBadKey(), "pybundle-test-unauthorized"},
	} {
		if exists(k.path) && exists(k.path+".pub") {
			continue
		}
		_ = os.Remove(k.path)
		_ = os.Remove(k.path + ".pub")
		if err := s.run(ctx, "runners", nil, "ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", k.comment, "-f", k.path); err != nil {
			return err
		}
	}
	return nil
}

// resetHome puts back the prepared home of one runner and authorizes the client key.
func (s Settings) resetHome(ctx context.Context, r sshRunner, pub []byte) error {
	root := s.RunnerRootfs(r.Name)
	home := filepath.Join(root, strings.TrimPrefix(runnerHome, "/"))
	if err := os.RemoveAll(home); err != nil {
		return err
	}
	if err := s.run(ctx, "runners", nil, "cp", "-a", filepath.Join(root, strings.TrimPrefix(homeTemplate, "/")), home); err != nil {
		return err
	}
	ssh := filepath.Join(home, ".ssh")
	if err := os.MkdirAll(ssh, 0o700); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(ssh, "authorized_keys"), pub, 0o600); err != nil {
		return err
	}
	for _, p := range []string{ssh, filepath.Join(ssh, "authorized_keys")} {
		if err := os.Chown(p, runnerUID, runnerUID); err != nil {
			return err
		}
	}
	return os.WriteFile(filepath.Join(root, strings.TrimPrefix(sshdConfigPath, "/")), []byte(sshdConfig(r)), 0o644)
}

func runCmd(ctx context.Context, name string, args ...string) error {
	out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

func netnsExists(name string) bool { return exists(filepath.Join("/run/netns", name)) }
func linkExists(name string) bool  { return exec.Command("ip", "link", "show", name).Run() == nil }

// runnerNetwork makes the netns, the veth pair and the shaping of the slow port.
func (s Settings) runnerNetwork(ctx context.Context, st *RunnerState) error {
	if err := runCmd(ctx, "ip", "netns", "add", runnerNetns); err != nil {
		return err
	}
	st.Netns = runnerNetns
	if err := saveRunnerState(s.RunnerStateFile(), *st); err != nil {
		return err
	}
	if err := runCmd(ctx, "ip", "link", "add", runnerHostIf, "type", "veth", "peer", "name", runnerNsIf, "netns", runnerNetns); err != nil {
		return err
	}
	st.HostIf = runnerHostIf
	if err := saveRunnerState(s.RunnerStateFile(), *st); err != nil {
		return err
	}
	for _, c := range [][]string{
		{"addr", "add", fmt.Sprintf("%s/%d", runnerHostIP, runnerPrefix), "dev", runnerHostIf},
		{"link", "set", runnerHostIf, "up"},
		{"-n", runnerNetns, "link", "set", "lo", "up"},
		{"-n", runnerNetns, "addr", "add", fmt.Sprintf("%s/%d", runnerIP, runnerPrefix), "dev", runnerNsIf},
		{"-n", runnerNetns, "link", "set", runnerNsIf, "up"},
	} {
		if err := runCmd(ctx, "ip", c...); err != nil {
			return err
		}
	}
	for _, c := range tcCommands() {
		if err := runCmd(ctx, "tc", c...); err != nil {
			return err
		}
	}
	// The engine's iptables-legacy is what its CNI plugins use; the host may have none.
	if exists(filepath.Join(s.EngineRootfs(), "usr", "sbin", "iptables-legacy")) {
		out, err := s.iptables("-S", "FORWARD")
		if err != nil {
			return err
		}
		for _, rule := range forwardRules(out) {
			if _, err := s.iptables(rule...); err != nil {
				return err
			}
			st.Iptables = append(st.Iptables, rule)
			if err := saveRunnerState(s.RunnerStateFile(), *st); err != nil {
				return err
			}
			logf("host FORWARD chain would drop engine traffic: added iptables %s", strings.Join(rule, " "))
		}
	}
	return nil
}

func runnersUp(ctx context.Context, s Settings, moduleDir string, engineCheck bool) error {
	if os.Getuid() != 0 {
		return errors.New("must run as root: the runners need a network namespace, a veth pair, tc and chroots")
	}
	if err := s.installHostPackages(ctx); err != nil {
		return err
	}
	g, gctx := errgroup.WithContext(ctx)
	for _, r := range sshRunners {
		g.Go(func() error {
			return s.buildRunnerRootfs(gctx, r, filepath.Join(moduleDir, "testdata", "backend", "requirements.txt"))
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	if err := s.ensureClientKeys(ctx); err != nil {
		return err
	}
	// Always from scratch: whatever an earlier runners-up started goes, homes are reset.
	if err := runnersDown(s); err != nil {
		return err
	}
	pub, err := os.ReadFile(s.RunnerKey() + ".pub")
	if err != nil {
		return err
	}
	hostKeys := map[int]string{}
	for _, r := range sshRunners {
		if err := s.resetHome(ctx, r, pub); err != nil {
			return fmt.Errorf("step runners: resetting the %s runner's home: %w", r.Name, err)
		}
		k, err := os.ReadFile(filepath.Join(s.RunnerRootfs(r.Name), "etc", "ssh", "ssh_host_ed25519_key.pub"))
		if err != nil {
			return err
		}
		for _, p := range r.Ports {
			hostKeys[p] = string(k)
		}
	}
	if err := os.WriteFile(s.RunnerKnownHosts(), []byte(knownHosts(runnerIP, hostKeys)), 0o644); err != nil {
		return err
	}

	var st RunnerState
	if err := s.runnerNetwork(ctx, &st); err != nil {
		_ = saveRunnerState(s.RunnerStateFile(), st)
		return fmt.Errorf("step runners: network: %w", err)
	}
	for _, r := range sshRunners {
		// Named like the rootfs, so the wrapper pid's command line names it before and after the
		// exec chain (bash script → ip netns exec → unshare): see RunnerProc.want.
		script := filepath.Join(s.RunnerDir(), "start-ssh-runner-"+r.Name+".sh")
		if err := os.WriteFile(script, []byte(sshdStartScript(r, s.RunnerRootfs(r.Name))), 0o755); err != nil {
			return err
		}
		pid, err := spawn("/bin/bash", []string{script}, s.sshdLog(r))
		if err != nil {
			return fmt.Errorf("step runners: %w", err)
		}
		st.SSHD = append(st.SSHD, RunnerProc{Name: r.Name, PID: pid, Rootfs: s.RunnerRootfs(r.Name)})
		if err := saveRunnerState(s.RunnerStateFile(), st); err != nil {
			return err
		}
	}
	for i, r := range sshRunners {
		for _, p := range r.Ports {
			banner, err := waitBanner(fmt.Sprintf("%s:%d", runnerIP, p), st.SSHD[i], 20*time.Second)
			if err != nil {
				return fmt.Errorf("step runners: the %s runner on port %d: %w; log %s:\n%s", r.Name, p, err, s.sshdLog(r), tailFile(s.sshdLog(r), 20))
			}
			logf("%s runner answers on %s:%d: %s", r.Name, runnerIP, p, banner)
		}
	}
	if err := s.runnerSelfChecks(ctx); err != nil {
		return err
	}
	if engineCheck {
		if err := s.engineReachesRunner(ctx); err != nil {
			return err
		}
	}
	fmt.Fprintf(os.Stderr, "SSH runners up. Use them with:\n  eval \"$(go run ./ci/engine runners-env)\"\n")
	return nil
}

func (s Settings) sshdLog(r sshRunner) string {
	return filepath.Join(s.Logs(), "sshd-"+r.Name+".log")
}

// waitBanner connects until sshd sends its version line.
func waitBanner(addr string, p RunnerProc, timeout time.Duration) (string, error) {
	deadline := time.Now().Add(timeout)
	var last error
	for time.Now().Before(deadline) {
		if !alive(p.PID, p.want()) && !aliveAfter(p, 200*time.Millisecond) {
			return "", errors.New("sshd exited during start-up")
		}
		c, err := net.DialTimeout("tcp", addr, 2*time.Second)
		if err == nil {
			_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
			line, rerr := bufio.NewReader(c).ReadString('\n')
			c.Close()
			if rerr == nil && strings.HasPrefix(line, "SSH-2.0-") {
				return strings.TrimSpace(line), nil
			}
			err = fmt.Errorf("no SSH banner: %q %v", line, rerr)
		}
		last = err
		time.Sleep(200 * time.Millisecond)
	}
	return "", fmt.Errorf("no SSH banner within %s: %v", timeout, last)
}

// aliveAfter looks at p again after wait. /proc/PID/cmdline reads empty while a process is
// inside execve, and the start script execs its way through bash, ip netns exec and unshare:
// one empty read at that moment is no exit. (A local .ci/run's runners-up once failed with
// "sshd exited during start-up" and a log with no word from the new sshd; a second runners-up
// right after came up at once. This race is the likeliest reading of that.)
func aliveAfter(p RunnerProc, wait time.Duration) bool {
	time.Sleep(wait)
	return alive(p.PID, p.want())
}

func (s Settings) sshArgs(key string, port int) []string {
	return []string{"-F", "/dev/null", "-i", key, "-o", "IdentitiesOnly=yes", "-o", "UserKnownHostsFile=" + s.RunnerKnownHosts(),
		"-o", "StrictHostKeyChecking=yes", "-o", "BatchMode=yes", "-o", "ConnectTimeout=10", "-p", strconv.Itoa(port), runnerUser + "@" + runnerIP}
}

// runnerSelfChecks logs in for real from the host, the way the tests will.
func (s Settings) runnerSelfChecks(ctx context.Context) error {
	sshOut := func(key string, port int, cmd string) (string, error) {
		cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		out, err := exec.CommandContext(cctx, "ssh", append(s.sshArgs(key, port), cmd)...).CombinedOutput()
		return strings.TrimSpace(string(out)), err
	}
	out, err := sshOut(s.RunnerKey(), 22, "python3.13 --version && "+runnerVenv+"/bin/python -c 'import PyInstaller; print(\"PyInstaller\", PyInstaller.__version__)'")
	if err != nil || !strings.HasPrefix(out, "Python 3.13") {
		return fmt.Errorf("step runners: self-check ssh -p 22 python3.13 --version: %v: %s", err, out)
	}
	logf("ssh -p 22: %s", strings.ReplaceAll(out, "\n", ", "))
	if out, err := sshOut(s.RunnerKey(), 2222, "command -v python3 || command -v python3.13 || echo no-python"); err != nil || out != "no-python" {
		return fmt.Errorf("step runners: self-check: the bare runner must have no Python: %v: %s", err, out)
	}
	logf("ssh -p 2222: no-python")
	if out, err := sshOut(s.RunnerKey(), slowPort, "echo slow-ok"); err != nil || out != "slow-ok" {
		return fmt.Errorf("step runners: self-check ssh -p %d: %v: %s", slowPort, err, out)
	}
	if out, err := sshOut(s.RunnerBadKey(), 22, "true"); err == nil || !strings.Contains(out, "Permission denied") {
		return fmt.Errorf("step runners: self-check: the unauthorized key must be refused, got err=%v: %s", err, out)
	} else {
		logf("unauthorized key refused: %s", lastLine(out))
	}
	// scp speaks SFTP (OpenSSH >= 9.0): a round trip through the runner's /tmp.
	tmp, err := os.MkdirTemp("", "pybundle-scp")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	scp := []string{"-F", "/dev/null", "-i", s.RunnerKey(), "-o", "IdentitiesOnly=yes", "-o", "UserKnownHostsFile=" + s.RunnerKnownHosts(),
		"-o", "StrictHostKeyChecking=yes", "-o", "BatchMode=yes", "-P", "22"}
	remote := runnerUser + "@" + runnerIP + ":/tmp/pybundle-selfcheck"
	if out, err := exec.CommandContext(ctx, "scp", append(scp, s.RunnerKnownHosts(), remote)...).CombinedOutput(); err != nil {
		return fmt.Errorf("step runners: self-check scp upload: %v: %s", err, out)
	}
	if out, err := exec.CommandContext(ctx, "scp", append(scp, remote, filepath.Join(tmp, "back"))...).CombinedOutput(); err != nil {
		return fmt.Errorf("step runners: self-check scp download: %v: %s", err, out)
	}
	a, _ := os.ReadFile(s.RunnerKnownHosts())
	b, _ := os.ReadFile(filepath.Join(tmp, "back"))
	if string(a) != string(b) {
		return errors.New("step runners: self-check: scp round trip changed the file")
	}
	_, _ = sshOut(s.RunnerKey(), 22, "rm -f /tmp/pybundle-selfcheck")
	logf("scp round trip ok")
	return nil
}

// engineReachesRunner proves a container of OUR running engine reaches the python runner's
// port 22 (bridge → host routing → veth, source NATed by the CNI MASQUERADE rule) and reads its
// banner. By hand, the same check is:
//
//	export _EXPERIMENTAL_DAGGER_RUNNER_HOST=unix:///var/cache/pybundle/dagger/v0.19.10/engine-rootfs/run/dagger/engine.sock \
//	  PATH=/var/cache/pybundle/dagger/v0.19.10/bin:$PATH DO_NOT_TRACK=1 DAGGER_NO_NAG=1
//	dagger core container from --address debian:trixie-slim with-env-variable --name BUST --value "$(date +%s%N)" \
//	  with-exec --args bash,-c,'exec 3<>/dev/tcp/10.214.0.2/22 && head -n1 <&3' stdout
//
// A foreign engine (_EXPERIMENTAL_DAGGER_RUNNER_HOST given) or none running: skipped.
func (s Settings) engineReachesRunner(ctx context.Context) error {
	if h := os.Getenv("_EXPERIMENTAL_DAGGER_RUNNER_HOST"); h != "" && h != s.RunnerHost() {
		logf("engine reachability not checked: _EXPERIMENTAL_DAGGER_RUNNER_HOST is another engine (%s)", h)
		return nil
	}
	est, _ := loadState(s.StateFile())
	if !alive(est.EnginePID, s.EngineRootfs()) || !exists(s.Socket()) {
		logf("engine reachability not checked: pybundle's engine is not running")
		return nil
	}
	cctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	c, err := s.connect(cctx)
	if err != nil {
		return err
	}
	defer c.Close()
	out, err := c.Container().From("debian:trixie-slim").
		WithEnvVariable("PYBUNDLE_BUST", strconv.FormatInt(time.Now().UnixNano(), 10)).
		WithExec([]string{"bash", "-c", fmt.Sprintf("exec 3<>/dev/tcp/%s/22 && timeout 10 head -n1 <&3", runnerIP)}).
		Stdout(cctx)
	if err != nil || !strings.HasPrefix(out, "SSH-2.0-") {
		fwd, _ := os.ReadFile("/proc/sys/net/ipv4/ip_forward")
		return fmt.Errorf("step runners: a container of the engine cannot reach %s:22 (ip_forward=%s): %v %q",
			runnerIP, strings.TrimSpace(string(fwd)), err, out)
	}
	logf("engine container reaches %s:22: %s", runnerIP, strings.TrimSpace(out))
	return nil
}

// runnersDown stops what runners-up started and removes its network; the cached root
// filesystems, client keys and known_hosts stay. Nothing up: nothing to do, no error.
func runnersDown(s Settings) error {
	st, err := loadRunnerState(s.RunnerStateFile())
	if err != nil {
		return err
	}
	var errs []error
	roots := map[string]bool{}
	for _, r := range sshRunners {
		roots[s.RunnerRootfs(r.Name)] = true
	}
	for _, p := range st.SSHD {
		roots[p.Rootfs] = true
		if err := stopProcess(p.PID, p.want(), 10*time.Second); err != nil {
			errs = append(errs, err)
		}
	}
	// Login sessions call setsid(): they left sshd's process group. Every process whose root is
	// one of our runner root filesystems is ours (sessions, builds started over SSH, orphans of
	// a lost state file) and nothing else is.
	if err := stopChrooted(roots, 10*time.Second); err != nil {
		errs = append(errs, err)
	}
	for _, rule := range st.Iptables {
		if del := deleteRule(rule); del != nil {
			if _, err := s.iptables(del...); err != nil {
				errs = append(errs, err)
			}
		}
	}
	st.Iptables = nil
	if linkExists(runnerHostIf) {
		if err := runCmd(context.Background(), "ip", "link", "del", runnerHostIf); err != nil {
			errs = append(errs, err)
		}
	}
	if netnsExists(runnerNetns) {
		if err := runCmd(context.Background(), "ip", "netns", "del", runnerNetns); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		_ = saveRunnerState(s.RunnerStateFile(), st)
		return err
	}
	if err := os.Remove(s.RunnerStateFile()); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

// chrootedPids lists processes whose root directory is one of roots.
func chrootedPids(roots map[string]bool) []int {
	var pids []int
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if root, err := os.Readlink(filepath.Join("/proc", e.Name(), "root")); err == nil && roots[root] {
			pids = append(pids, pid)
		}
	}
	return pids
}

func stopChrooted(roots map[string]bool, grace time.Duration) error {
	pids := chrootedPids(roots)
	if len(pids) == 0 {
		return nil
	}
	for _, p := range pids {
		_ = syscall.Kill(p, syscall.SIGTERM)
	}
	deadline := time.Now().Add(grace)
	for time.Now().Before(deadline) && len(chrootedPids(roots)) > 0 {
		time.Sleep(200 * time.Millisecond)
	}
	for _, p := range chrootedPids(roots) {
		_ = syscall.Kill(p, syscall.SIGKILL)
	}
	time.Sleep(300 * time.Millisecond)
	if left := chrootedPids(roots); len(left) > 0 {
		return fmt.Errorf("runner processes %v survived SIGKILL", left)
	}
	return nil
}
