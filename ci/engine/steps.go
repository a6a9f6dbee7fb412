package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// logf prints one progress line with the elapsed time, like every long-running tool should.
var started = time.Now()

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "[engine %4.0fs] %s\n", time.Since(started).Seconds(), fmt.Sprintf(format, args...))
}

// run executes a command with its output appended to logs/<step>.log; on failure the error
// names the step and carries the log's last lines, so CI output shows why without digging.
func (s Settings) run(ctx context.Context, step string, env []string, name string, args ...string) error {
	if err := os.MkdirAll(s.Logs(), 0o755); err != nil {
		return err
	}
	logPath := filepath.Join(s.Logs(), step+".log")
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	defer f.Close()
	fmt.Fprintf(f, "\n$ %s %s\n", name, strings.Join(args, " "))
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.Env = append(os.Environ(), env...)
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("step %s: %s %s: %w\n%s", step, name, strings.Join(args, " "), err, tailFile(logPath, 25))
	}
	return nil
}

// output runs a command and returns its stdout (stderr in the error).
func output(ctx context.Context, name string, args ...string) (string, error) {
	var out, errb bytes.Buffer
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return out.String(), fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, strings.TrimSpace(errb.String()))
	}
	return out.String(), nil
}

// tailFile returns the last n lines of a file, indented, for error messages.
func tailFile(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	return tailLines(string(b), n)
}

func tailLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return "    " + strings.Join(lines, "\n    ")
}

func exists(p string) bool { _, err := os.Stat(p); return err == nil }

// installHostPackages installs the Debian packages providing missing host tools.
func (s Settings) installHostPackages(ctx context.Context) error {
	pkgs, _ := missingPackages(RealHost())
	if len(pkgs) == 0 {
		return nil
	}
	logf("installing host packages: %s", strings.Join(pkgs, " "))
	env := []string{"DEBIAN_FRONTEND=noninteractive"}
	if err := s.run(ctx, "apt", env, "apt-get", "update", "-qq"); err != nil {
		return err
	}
	args := append([]string{"install", "-y", "-qq", "--no-install-recommends", "ca-certificates"}, pkgs...)
	return s.run(ctx, "apt", env, "apt-get", args...)
}

// buildDagger gets github.com/dagger/dagger@Version with the ordinary go client and builds the
// CLI, engine, init, dnsname, dial-stdio and codegen. Cached by version: a second `up` skips it.
func (s Settings) buildDagger(ctx context.Context) error {
	bins := []string{"dagger", "engine", "init", "dialstdio", "dnsname", "codegen"}
	have := true
	for _, b := range bins {
		have = have && exists(s.BinPath(b))
	}
	if have {
		logf("dagger %s binaries cached in %s", s.Version, s.Bin())
		return nil
	}
	// The checksum database has no entry for these tags, hence GONOSUMDB; module paths only.
	env := []string{"GONOSUMDB=github.com/dagger/dagger,dagger.io/dagger", "GOFLAGS=-mod=mod", "CGO_ENABLED=0"}
	var out bytes.Buffer
	dl := exec.CommandContext(ctx, "go", "mod", "download", "-json", "github.com/dagger/dagger@"+s.Version, "dagger.io/dagger@"+s.Version)
	dl.Env = append(os.Environ(), env...)
	dl.Stdout, dl.Stderr = &out, &out
	if err := dl.Run(); err != nil {
		if m := refusedModule(out.String()); m != "" {
			return fmt.Errorf("step source: the Go module proxy refused %s: %w\n%s", m, err, tailLines(out.String(), 10))
		}
		return fmt.Errorf("step source: go mod download github.com/dagger/dagger@%s: %w\n%s", s.Version, err, tailLines(out.String(), 10))
	}
	dirs := map[string]string{}
	dec := json.NewDecoder(&out)
	for {
		var m struct{ Path, Dir, Error string }
		if err := dec.Decode(&m); err == io.EOF {
			break
		} else if err != nil {
			return fmt.Errorf("step source: reading go mod download output: %w", err)
		}
		if m.Error != "" {
			return fmt.Errorf("step source: the Go module proxy refused %s@%s: %s", m.Path, s.Version, m.Error)
		}
		dirs[m.Path] = m.Dir
	}
	logf("copying dagger %s source to %s", s.Version, s.Src())
	_ = os.RemoveAll(s.Src())
	if err := os.MkdirAll(filepath.Dir(s.Src()), 0o755); err != nil {
		return err
	}
	// go.mod replaces two nested modules: ./sdk/go (= dagger.io/dagger at the same tag) and
	// ./engine/distconsts (not on the proxy: recreated from constants).
	for _, c := range [][]string{
		{"cp", "-r", dirs["github.com/dagger/dagger"], s.Src()},
		{"mkdir", "-p", filepath.Join(s.Src(), "sdk", "go"), filepath.Join(s.Src(), "engine", "distconsts")},
		{"cp", "-r", dirs["dagger.io/dagger"] + "/.", filepath.Join(s.Src(), "sdk", "go")},
		{"chmod", "-R", "u+w", s.Src()},
	} {
		if err := s.run(ctx, "source", nil, c[0], c[1:]...); err != nil {
			return err
		}
	}
	dc := filepath.Join(s.Src(), "engine", "distconsts")
	if err := os.WriteFile(filepath.Join(dc, "go.mod"), []byte(distconstsMod), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dc, "consts.go"), []byte(distconstsGo), 0o644); err != nil {
		return err
	}
	logf("downloading dagger's module graph")
	modDL := exec.CommandContext(ctx, "go", "mod", "download")
	modDL.Dir = s.Src()
	modDL.Env = append(os.Environ(), env...)
	if b, err := modDL.CombinedOutput(); err != nil {
		if m := refusedModule(string(b)); m != "" {
			return fmt.Errorf("step source: the Go module proxy refused %s (needed by dagger %s): %w", m, s.Version, err)
		}
		return fmt.Errorf("step source: go mod download in %s: %w\n%s", s.Src(), err, tailLines(string(b), 10))
	}
	logf("compiling dagger %s (12-19 min cold on 2 cores, ~1 min warm)", s.Version)
	ld := fmt.Sprintf("-s -w -X github.com/dagger/dagger/engine.Version=%[1]s -X github.com/dagger/dagger/engine.Tag=%[1]s", s.Version)
	tmpBin := s.Bin() + ".tmp"
	_ = os.RemoveAll(tmpBin)
	if err := os.MkdirAll(tmpBin, 0o755); err != nil {
		return err
	}
	args := []string{"build", "-C", s.Src(), "-tags", "dfexcludepatterns,dfparents", "-trimpath", "-ldflags", ld, "-o", tmpBin + "/"}
	for _, b := range []string{"dagger", "engine", "init", "dialstdio", "dnsname", "codegen"} {
		args = append(args, "./cmd/"+b)
	}
	if err := s.run(ctx, "compile", env, "go", args...); err != nil {
		return err
	}
	_ = os.RemoveAll(s.Bin())
	return os.Rename(tmpBin, s.Bin()) // all or nothing: a failed build never leaves half a bin/
}

// debootstrap makes a minbase root filesystem once; it is built in a temporary folder and
// renamed, so an interrupted run never leaves a half-made rootfs that looks complete.
func (s Settings) debootstrap(ctx context.Context, dest, suite, arch string, include []string) error {
	if exists(filepath.Join(dest, "usr", "bin", "env")) {
		logf("rootfs %s cached", filepath.Base(dest))
		return nil
	}
	logf("debootstrap %s/%s -> %s", suite, arch, dest)
	tmp := dest + ".tmp"
	_ = os.RemoveAll(tmp)
	args := []string{"-n", "10", "debootstrap", "--variant=minbase", "--arch=" + arch}
	if len(include) > 0 {
		args = append(args, "--include="+strings.Join(include, ","))
	}
	args = append(args, suite, tmp, s.Mirror)
	if err := s.run(ctx, "debootstrap-"+filepath.Base(dest), nil, "nice", args...); err != nil {
		return err
	}
	_ = os.RemoveAll(dest)
	return os.Rename(tmp, dest)
}

// setupQEMU registers user-mode emulation for arm64 with the F flag (interpreter pinned at
// registration), so it also works inside chroots and the engine's containers.
func (s Settings) setupQEMU(ctx context.Context, st *State) error {
	if !exists("/proc/sys/fs/binfmt_misc/status") {
		if err := s.run(ctx, "qemu", nil, "mount", "-t", "binfmt_misc", "binfmt_misc", "/proc/sys/fs/binfmt_misc"); err != nil {
			return err
		}
		st.MountedBinfmt = true
	}
	if !exists("/proc/sys/fs/binfmt_misc/qemu-aarch64") {
		if err := s.run(ctx, "qemu", nil, "update-binfmts", "--enable", "qemu-aarch64"); err != nil {
			return err
		}
	}
	b, err := os.ReadFile("/proc/sys/fs/binfmt_misc/qemu-aarch64")
	if err != nil {
		return fmt.Errorf("step qemu: qemu-aarch64 is not registered with binfmt_misc: %w", err)
	}
	if !strings.Contains(string(b), "enabled") || !regexpFlagsF(string(b)) {
		return fmt.Errorf("step qemu: qemu-aarch64 is registered without the F flag; arm64 containers would not find their interpreter:\n%s", b)
	}
	return nil
}

func regexpFlagsF(entry string) bool {
	for _, l := range strings.Split(entry, "\n") {
		if strings.HasPrefix(l, "flags:") {
			return strings.Contains(l, "F")
		}
	}
	return false
}

// engineRootfs assembles the engine's root filesystem for this version from the shared Debian
// base plus the built binaries at the paths the engine expects (it was built for Wolfi).
func (s Settings) engineRootfs(ctx context.Context) error {
	r := s.EngineRootfs()
	marker := filepath.Join(r, ".pybundle-ready")
	if !exists(marker) {
		logf("assembling engine rootfs %s", r)
		_ = os.RemoveAll(r)
		if err := s.run(ctx, "engine-rootfs", nil, "cp", "-a", s.EngineBase(), r); err != nil {
			return err
		}
		script := `set -e
update-alternatives --set iptables /usr/sbin/iptables-legacy >/dev/null
update-alternatives --set ip6tables /usr/sbin/ip6tables-legacy >/dev/null
mkdir -p /opt/cni/bin /usr/local/bin /etc/dagger /var/lib/dagger /run/dagger /.oldroot /usr/local/share/dagger/content
for p in bridge loopback firewall host-local; do ln -sf /usr/lib/cni/$p /opt/cni/bin/$p; done
ln -sf /usr/sbin/runc /usr/local/bin/runc
ln -sf /usr/sbin/xtables-legacy-multi /usr/bin/xtables-legacy-multi
ln -sf /usr/sbin/xtables-nft-multi /usr/bin/xtables-nft-multi
`
		if err := s.run(ctx, "engine-rootfs", nil, "chroot", r, "/bin/sh", "-c", script); err != nil {
			return err
		}
		if err := os.WriteFile(marker, nil, 0o644); err != nil {
			return err
		}
	}
	// Binaries and CA certificates are refreshed every time: cheap, and a rebuilt engine or a
	// new host CA (the egress proxy intercepts TLS) must reach every container.
	for _, c := range [][2]string{
		{"engine", "/usr/local/bin/dagger-engine"},
		{"init", "/usr/local/bin/dagger-init"},
		{"dialstdio", "/usr/bin/dial-stdio"},
		{"dnsname", "/opt/cni/bin/dnsname"},
	} {
		if err := s.run(ctx, "engine-rootfs", nil, "install", "-m755", s.BinPath(c[0]), filepath.Join(r, c[1])); err != nil {
			return err
		}
	}
	_ = os.Symlink("/usr/bin/dial-stdio", filepath.Join(r, "usr", "bin", "buildctl"))
	if err := copyHostCAs(filepath.Join(r, "usr", "local", "share", "ca-certificates")); err != nil {
		return err
	}
	if err := s.run(ctx, "engine-rootfs", nil, "chroot", r, "update-ca-certificates"); err != nil {
		return err
	}
	cfg, err := engineJSON(s)
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(r, "etc", "dagger", "engine.json"), cfg, 0o644)
}

func copyHostCAs(dest string) error {
	if err := os.MkdirAll(dest, 0o755); err != nil {
		return err
	}
	files, _ := filepath.Glob("/usr/local/share/ca-certificates/*.crt")
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dest, filepath.Base(f)), b, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// registry runs Debian's docker-registry, unpacked from its .deb (no service, nothing
// installed on the host), on loopback. Its blobs live in the cache, so pushed images persist.
func (s Settings) registry(ctx context.Context, st *State) error {
	if registryUp(s.RegistryAddr) {
		logf("registry already answering on %s", s.RegistryAddr)
		return nil
	}
	dir := s.Registry()
	bin := filepath.Join(dir, "x", "usr", "bin", "docker-registry")
	if !exists(bin) {
		logf("fetching Debian's docker-registry")
		if err := os.MkdirAll(filepath.Join(dir, "deb"), 0o755); err != nil {
			return err
		}
		download := func() ([]byte, error) {
			dl := exec.CommandContext(ctx, "apt-get", "download", "docker-registry")
			dl.Dir = filepath.Join(dir, "deb")
			return dl.CombinedOutput()
		}
		if _, err := download(); err != nil {
			// A fresh machine's package lists may be missing or stale: refresh once.
			if err := s.run(ctx, "apt", nil, "apt-get", "update", "-qq"); err != nil {
				return err
			}
			if b, err := download(); err != nil {
				return fmt.Errorf("step registry: apt-get download docker-registry: %w\n%s", err, tailLines(string(b), 5))
			}
		}
		debs, _ := filepath.Glob(filepath.Join(dir, "deb", "docker-registry_*.deb"))
		if len(debs) == 0 {
			return errors.New("step registry: apt-get download left no docker-registry .deb")
		}
		if err := s.run(ctx, "registry", nil, "dpkg-deb", "-x", debs[0], filepath.Join(dir, "x")); err != nil {
			return err
		}
	}
	cfg := fmt.Sprintf("version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: %s\n  delete:\n    enabled: true\nhttp:\n  addr: %s\n",
		filepath.Join(dir, "data"), s.RegistryAddr)
	if err := os.WriteFile(filepath.Join(dir, "config.yml"), []byte(cfg), 0o644); err != nil {
		return err
	}
	pid, err := spawn(bin, []string{"serve", filepath.Join(dir, "config.yml")}, filepath.Join(s.Logs(), "registry.log"))
	if err != nil {
		return fmt.Errorf("step registry: %w", err)
	}
	st.RegistryPID = pid
	for i := 0; i < 50; i++ {
		if registryUp(s.RegistryAddr) {
			return nil
		}
		time.Sleep(200 * time.Millisecond)
	}
	return fmt.Errorf("step registry: not answering on %s within 10s\n%s", s.RegistryAddr, tailFile(filepath.Join(s.Logs(), "registry.log"), 15))
}

func registryUp(addr string) bool {
	return exec.Command("curl", "-fsS", "-o", "/dev/null", "--max-time", "2", "http://"+addr+"/v2/").Run() == nil
}

// spawn starts a long-running process in its own session, detached from ours, logging to a
// file; it outlives `up` and is stopped by `down` through its pid.
func spawn(name string, args []string, logPath string) (int, error) {
	if err := os.MkdirAll(filepath.Dir(logPath), 0o755); err != nil {
		return 0, err
	}
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	cmd := exec.Command(name, args...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = newSession()
	if err := cmd.Start(); err != nil {
		return 0, err
	}
	pid := cmd.Process.Pid
	_ = cmd.Process.Release()
	return pid, nil
}
