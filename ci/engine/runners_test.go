package main

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"

	"github.com/pybundle/pybundle/images"
)

func TestRunnersEnv(t *testing.T) {
	s := DefaultSettings()
	s.Root = "/cache"
	assert.Equal(t, runnersEnv(s), `export PYBUNDLE_SSH_RUNNER=ssh://pybundle@10.214.0.2:22
export PYBUNDLE_SSH_RUNNER_SLOW=ssh://pybundle@10.214.0.2:2022
export PYBUNDLE_SSH_RUNNER_BARE=ssh://pybundle@10.214.0.2:2222
export PYBUNDLE_SSH_KEY=/cache/run/ssh/id_ed25519
export PYBUNDLE_SSH_BAD_KEY=/cache/run/ssh/id_ed25519_unauthorized
export PYBUNDLE_SSH_KNOWN_HOSTS=/cache/run/ssh/known_hosts
export PYBUNDLE_SSH_RUNNER_VENV=/home/pybundle/venv
export PYBUNDLE_SSH_RUNNER_WHEELHOUSE=/home/pybundle/wheels
export PYBUNDLE_SSH_RUNNER_NETNS=pybundle-runner
export PYBUNDLE_SSH_RUNNER_HOME=/cache/rootfs/ssh-runner-python/home/pybundle
`)
}

// The lines are eval'd by ci/test.sh: a cache path with a space must survive as one value.
func TestRunnersEnvEvalsInBash(t *testing.T) {
	s := DefaultSettings()
	s.Root = "/tmp/cache with space"
	out, err := exec.Command("bash", "-c", runnersEnv(s)+`printf '%s\n' "$PYBUNDLE_SSH_KEY" "$PYBUNDLE_SSH_RUNNER_HOME"`).CombinedOutput()
	assert.NilError(t, err, string(out))
	assert.Equal(t, string(out), "/tmp/cache with space/run/ssh/id_ed25519\n/tmp/cache with space/rootfs/ssh-runner-python/home/pybundle\n")
}

// The runners must not sit in the engine's CNI network, or an engine container given the same
// address would shadow them (and the host's route to them would fight the bridge's).
func TestRunnerSubnetOutsideEngineNetwork(t *testing.T) {
	s := DefaultSettings()
	assert.Check(t, s.NetworkCIDR == "10.213.0.0/16")
	assert.Check(t, !strings.HasPrefix(runnerIP, "10.213."), runnerIP)
	assert.Check(t, strings.HasPrefix(runnerSubnet, "10.214.0.0/"))
}

func TestSSHDConfig(t *testing.T) {
	py := sshdConfig(sshRunners[0])
	for _, want := range []string{
		"Port 22\nPort 2022\n",
		"PasswordAuthentication no\n",
		"KbdInteractiveAuthentication no\n",
		"AuthenticationMethods publickey\n",
		"PermitRootLogin no\n",
		"AllowUsers pybundle\n",
		"Subsystem sftp internal-sftp\n",
		"HostKey /etc/ssh/ssh_host_ed25519_key\n",
		"UsePAM no\n",
	} {
		assert.Check(t, is.Contains(py, want))
	}
	bare := sshdConfig(sshRunners[1])
	assert.Check(t, is.Contains(bare, "Port 2222\n"))
	assert.Check(t, !strings.Contains(bare, "Port 22\n"))
	assert.Check(t, !strings.Contains(bare, "PasswordAuthentication yes"))
}

func TestSSHDStartScriptIsValidBash(t *testing.T) {
	script := sshdStartScript(sshRunners[0], "/tmp/cache with space/rootfs/ssh-runner-python")
	p := filepath.Join(t.TempDir(), "start.sh")
	assert.NilError(t, os.WriteFile(p, []byte(script), 0o755))
	out, err := exec.Command("bash", "-n", p).CombinedOutput()
	assert.NilError(t, err, string(out))
	assert.Check(t, is.Contains(script, "ip netns exec pybundle-runner unshare --mount"))
	assert.Check(t, is.Contains(script, `R="/tmp/cache with space/rootfs/ssh-runner-python"`))
	assert.Check(t, is.Contains(script, `exec chroot "$R" /usr/sbin/sshd -D -e -f /etc/ssh/pybundle_sshd_config`))
	// The wrapper's command line must name the rootfs for alive() before and after the execs.
	assert.Check(t, is.Contains(script, RunnerProc{Rootfs: "/x/ssh-runner-python"}.want()))
}

func TestKnownHosts(t *testing.T) {
	py := "ssh-ed25519 AAAApython root@build\n"
	got := knownHosts("10.214.0.2", map[int]string{22: py, 2022: py, 2222: "ssh-ed25519 AAAAbare"})
	assert.Equal(t, got, `10.214.0.2 ssh-ed25519 AAAApython
[10.214.0.2]:22 ssh-ed25519 AAAApython
[10.214.0.2]:2022 ssh-ed25519 AAAApython
[10.214.0.2]:2222 ssh-ed25519 AAAAbare
`)
	assert.Equal(t, knownHosts("10.214.0.2", map[int]string{22: "garbage"}), "")
}

func TestTCCommandsShapeTheSlowPortBothWays(t *testing.T) {
	var joined []string
	for _, c := range tcCommands() {
		joined = append(joined, strings.Join(c, " "))
	}
	assert.DeepEqual(t, joined, []string{
		"qdisc replace dev pbr-host root handle 1: htb default 0",
		"class add dev pbr-host parent 1: classid 1:20 htb rate 4mbit ceil 4mbit burst 16k cburst 16k",
		"filter add dev pbr-host parent 1: protocol ip prio 1 u32 match ip dport 2022 0xffff flowid 1:20",
		"-n pybundle-runner qdisc replace dev pbr-ns root handle 1: htb default 0",
		"-n pybundle-runner class add dev pbr-ns parent 1: classid 1:20 htb rate 4mbit ceil 4mbit burst 16k cburst 16k",
		"-n pybundle-runner filter add dev pbr-ns parent 1: protocol ip prio 1 u32 match ip sport 2022 0xffff flowid 1:20",
	})
}

func TestForwardRules(t *testing.T) {
	t.Run("accepting chain: nothing added", func(t *testing.T) {
		assert.Check(t, is.Len(forwardRules("-P FORWARD ACCEPT\n-A FORWARD -j CNI-FORWARD\n"), 0))
	})
	for name, listing := range map[string]string{
		"drop policy":   "-P FORWARD DROP\n-A FORWARD -j CNI-FORWARD\n",
		"trailing drop": "-P FORWARD ACCEPT\n-A FORWARD -j CNI-FORWARD\n-A FORWARD -j DROP\n",
		"reject":        "-P FORWARD ACCEPT\n-A FORWARD -j REJECT --reject-with icmp-host-prohibited\n",
	} {
		t.Run(name, func(t *testing.T) {
			rules := forwardRules(listing)
			assert.Assert(t, is.Len(rules, 2))
			assert.Equal(t, strings.Join(rules[0], " "),
				"-I FORWARD 1 -d 10.214.0.2/32 -p tcp -m multiport --dports 22,2022,2222 -m comment --comment pybundle-runner -j ACCEPT")
			assert.Equal(t, strings.Join(deleteRule(rules[0]), " "),
				"-D FORWARD -d 10.214.0.2/32 -p tcp -m multiport --dports 22,2022,2222 -m comment --comment pybundle-runner -j ACCEPT")
			assert.Equal(t, strings.Join(deleteRule(rules[1]), " "),
				"-D FORWARD -s 10.214.0.2/32 -p tcp -m conntrack --ctstate ESTABLISHED,RELATED -m comment --comment pybundle-runner -j ACCEPT")
		})
	}
	assert.Check(t, deleteRule([]string{"-A", "X"}) == nil)
}

func TestRunnerStateRoundTripAndMissingFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "run", "runners.json")
	st, err := loadRunnerState(p)
	assert.NilError(t, err)
	assert.DeepEqual(t, st, RunnerState{})
	want := RunnerState{
		SSHD:     []RunnerProc{{Name: "python", PID: 41, Rootfs: "/c/rootfs/ssh-runner-python"}, {Name: "bare", PID: 42, Rootfs: "/c/rootfs/ssh-runner-bare"}},
		Netns:    "pybundle-runner",
		HostIf:   "pbr-host",
		Iptables: [][]string{{"-I", "FORWARD", "1", "-j", "ACCEPT"}},
	}
	assert.NilError(t, saveRunnerState(p, want))
	got, err := loadRunnerState(p)
	assert.NilError(t, err)
	assert.DeepEqual(t, got, want)
	assert.NilError(t, os.WriteFile(p, []byte("{"), 0o644))
	_, err = loadRunnerState(p)
	assert.Check(t, err != nil && strings.Contains(err.Error(), p))
}

// The build script is real shell, installs openssh-server without starting it, and proves the
// offline pip install on the python runner and the absence of Python on the bare one.
func TestRunnerBuildScript(t *testing.T) {
	for _, r := range sshRunners {
		script := runnerBuildScript(r)
		p := filepath.Join(t.TempDir(), "build.sh")
		assert.NilError(t, os.WriteFile(p, []byte(script), 0o755))
		out, err := exec.Command("sh", "-n", p).CombinedOutput()
		assert.NilError(t, err, string(out))
		assert.Check(t, strings.Index(script, "policy-rc.d") < strings.Index(script, "apt-get install"), r.Name)
		assert.Check(t, is.Contains(script, "'openssh-server'"))
		assert.Check(t, is.Contains(script, "useradd --create-home --uid 1000"))
		assert.Check(t, is.Contains(script, "cp -a /home/pybundle /var/lib/pybundle-runner/home"))
		if r.Python {
			assert.Check(t, is.Contains(script, "python3.13 -m venv --system-site-packages /home/pybundle/venv"))
			assert.Check(t, is.Contains(script, "/home/pybundle/venv/bin/pip install --no-index --find-links /home/pybundle/wheels -r /tmp/pybundle-requirements.txt "+images.PipRequirement))
		} else {
			assert.Check(t, !strings.Contains(script, "venv"))
		}
	}
}

func TestRunnerHostToolsAreInstallable(t *testing.T) {
	pkgs, _ := missingPackages(fakeHost(0, 0, "ssh", "ssh-keygen", "scp", "tc", "iptables"))
	assert.DeepEqual(t, pkgs, []string{"iproute2", "iptables", "openssh-client"})
}

func TestRunnerRootfsCurrent(t *testing.T) {
	d := t.TempDir()
	dest, base := filepath.Join(d, "runner"), filepath.Join(d, "base")
	assert.NilError(t, os.MkdirAll(dest, 0o755))
	assert.NilError(t, os.MkdirAll(base, 0o755))
	assert.Check(t, !runnerRootfsCurrent(dest, base), "no marker")
	assert.NilError(t, os.WriteFile(filepath.Join(dest, ".pybundle-ready"), nil, 0o644))
	assert.Check(t, !runnerRootfsCurrent(dest, base), "marker of an older build script")
	assert.NilError(t, os.WriteFile(filepath.Join(dest, ".pybundle-ready"), []byte(runnerRootfsVersion+"\n"), 0o644))
	assert.Check(t, runnerRootfsCurrent(dest, base), "base without marker (debootstrap)")
	assert.NilError(t, os.WriteFile(filepath.Join(base, ".pybundle-ready"), nil, 0o644))
	old := time.Now().Add(-time.Hour)
	assert.NilError(t, os.Chtimes(filepath.Join(base, ".pybundle-ready"), old, old))
	assert.Check(t, runnerRootfsCurrent(dest, base))
	assert.NilError(t, os.Chtimes(filepath.Join(base, ".pybundle-ready"), time.Now().Add(time.Hour), time.Now().Add(time.Hour)))
	assert.Check(t, !runnerRootfsCurrent(dest, base), "base rebuilt after the runner")
}

// waitBanner follows the sshd wrapper through its exec chain (each exec names the rootfs, as
// the real start script does) until the port sends a banner, and calls a wrapper that has
// really ended an exit.
func TestWaitBanner(t *testing.T) {
	marker := fmt.Sprintf("ssh-runner-test-%d", os.Getpid())
	p := RunnerProc{Name: "test", Rootfs: "/nonexistent/" + marker}

	cmd := exec.Command("bash", "-c", `exec bash -c 'exec sh -c "sleep 5; : $0" "$0"' "$0"`, marker)
	assert.NilError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	p.PID = cmd.Process.Pid

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	assert.NilError(t, err)
	defer ln.Close()
	go func() {
		time.Sleep(300 * time.Millisecond) // the first polls find nothing listening yet
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			_, _ = c.Write([]byte("SSH-2.0-OpenSSH_test\r\n"))
			c.Close()
		}
	}()
	banner, err := waitBanner(ln.Addr().String(), p, 10*time.Second)
	assert.NilError(t, err)
	assert.Equal(t, banner, "SSH-2.0-OpenSSH_test")

	dead := exec.Command("sh", "-c", ": "+marker)
	assert.NilError(t, dead.Run())
	start := time.Now()
	_, err = waitBanner("127.0.0.1:1", RunnerProc{Name: "test", PID: dead.Process.Pid, Rootfs: p.Rootfs}, 10*time.Second)
	assert.ErrorContains(t, err, "sshd exited during start-up")
	assert.Check(t, time.Since(start) < 5*time.Second, "an exit is seen at once, not at the time-out: %s", time.Since(start))
}
