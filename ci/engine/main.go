// Command engine provisions pybundle's own Dagger engine on a machine with no Docker daemon and
// no container registry: it builds Dagger from the Go module proxy, builds the engine's root
// filesystem and base images from Debian packages, runs the engine natively, and undoes it all.
//
//	go run ./ci/engine up       # build what is missing (cached by version), start, print env
//	go run ./ci/engine status   # exit 0 when the engine answers
//	go run ./ci/engine env      # eval "$(go run ./ci/engine env)" to use it
//	go run ./ci/engine down     # stop what up started, undo bridge/NAT/ip_forward
//
// and the SSH runner fixture of the dispatch tests (runners.go), after up:
//
//	go run ./ci/engine runners-up     # sshd runners in netns pybundle-runner, fresh homes
//	go run ./ci/engine runners-env    # eval "$(go run ./ci/engine runners-env)": PYBUNDLE_SSH_*
//	go run ./ci/engine runners-down   # stop them, remove netns/veth/tc/rules
//
// Users with a normal Dagger install never need this: `dagger call …` works as usual.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"
)

func main() {
	if len(os.Args) < 2 {
		usage()
		os.Exit(2)
	}
	s := DefaultSettings()
	fs := flag.NewFlagSet(os.Args[1], flag.ExitOnError)
	fs.StringVar(&s.Root, "cache", s.Root, "cache root for binaries, root filesystems, engine state and registry (env PYBUNDLE_CACHE)")
	fs.StringVar(&s.Version, "version", s.Version, "github.com/dagger/dagger tag to build")
	fs.StringVar(&s.GoProxy, "goproxy", s.GoProxy, "GOPROXY inside Go-SDK containers (\"off\" keeps module loads offline; default: this machine's go env GOPROXY)")
	fs.StringVar(&s.Mirror, "mirror", s.Mirror, "Debian mirror for debootstrap (default: the one this machine's apt sources use)")
	timeout := fs.Duration("timeout", 120*time.Second, "how long to wait for the engine to answer")
	arm64 := fs.Bool("arm64", true, "register QEMU and publish linux/arm64 base images")
	moduleDir := fs.String("module", defaultModuleDir(), "the pybundle module whose Go dependencies the Go SDK image is warmed with")
	engineCheck := fs.Bool("engine-check", true, "runners-up: prove a container of the running engine reaches the runners")
	_ = fs.Parse(os.Args[2:])

	ctx := context.Background()
	var err error
	switch os.Args[1] {
	case "up":
		if err = s.fromMachine(); err == nil {
			err = up(ctx, s, *timeout, *arm64, *moduleDir)
		}
	case "down":
		err = down(s)
	case "status":
		if !status(s) {
			os.Exit(3)
		}
	case "env":
		fmt.Printf("export _EXPERIMENTAL_DAGGER_RUNNER_HOST=%s\nexport PATH=%s:$PATH\nexport DO_NOT_TRACK=1 DAGGER_NO_NAG=1\n", s.RunnerHost(), s.Bin())
	case "runners-up":
		err = runnersUp(ctx, s, *moduleDir, *engineCheck)
	case "runners-down":
		if err = runnersDown(s); err == nil {
			logf("SSH runners down: no sshd, netns %s or veth %s left", runnerNetns, runnerHostIf)
		}
	case "runners-env":
		fmt.Print(runnersEnv(s))
	default:
		usage()
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "ci/engine %s: %v\n", os.Args[1], err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: go run ./ci/engine up|down|status|env|runners-up|runners-down|runners-env [-cache DIR] [-version vX] [-timeout 120s] [-arm64=false] [-engine-check=false]")
}

func defaultModuleDir() string {
	if out, err := exec.Command("git", "rev-parse", "--show-toplevel").Output(); err == nil {
		return strings.TrimSpace(string(out))
	}
	wd, _ := os.Getwd()
	return wd
}

// engineBasePackages make the bookworm rootfs that stands in for the engine's container image.
var engineBasePackages = []string{"runc", "containernetworking-plugins", "dnsmasq-base", "iptables",
	"ca-certificates", "git", "openssh-client", "pigz", "xz-utils", "iproute2", "procps", "e2fsprogs"}

func up(ctx context.Context, s Settings, timeout time.Duration, arm64 bool, moduleDir string) error {
	cold := !exists(s.CLI())
	if err := preflight(RealHost(), s.Root, cold); err != nil {
		return err
	}
	if err := s.installHostPackages(ctx); err != nil {
		return err
	}
	if err := os.MkdirAll(s.Run(), 0o755); err != nil {
		return err
	}
	st, err := loadState(s.StateFile())
	if err != nil {
		return err
	}
	// A running engine is kept; the cheap, cached steps below still run so new images land.
	running := alive(st.EnginePID, s.EngineRootfs()) && status(s)

	// The compile is CPU-bound and the root filesystems are mostly download and unpack: run them
	// side by side (the cold path is dominated by the compile).
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return s.buildDagger(gctx) })
	g.Go(func() error { return s.debootstrap(gctx, s.EngineBase(), "bookworm", "amd64", engineBasePackages) })
	g.Go(func() error { return s.debootstrap(gctx, s.BaseRootfs("trixie", "amd64"), "trixie", "amd64", nil) })
	// The runtime matrix's older Debian releases: small minbase downloads, beside the compile
	// like the others, off its critical path (measured on a loaded 2-core machine: both in
	// 54 s wall, ~45 s of CPU; publishing them adds ~20 s after the engine is up).
	for _, suite := range runtimeSuites {
		g.Go(func() error { return s.debootstrap(gctx, s.BaseRootfs(suite, "amd64"), suite, "amd64", nil) })
	}
	if arm64 {
		g.Go(func() error {
			if err := s.setupQEMU(gctx, &st); err != nil {
				return err
			}
			return s.debootstrap(gctx, s.BaseRootfs("trixie", "arm64"), "trixie", "arm64", nil)
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	if err := s.engineRootfs(ctx); err != nil {
		return err
	}
	if err := s.goSDKRootfs(ctx, moduleDir); err != nil {
		return err
	}
	if err := s.pythonRootfs(ctx); err != nil {
		return err
	}
	if !running {
		s.recordHostNetwork(&st)
	}
	if err := s.registry(ctx, &st); err != nil {
		_ = saveState(s.StateFile(), st)
		return err
	}
	if err := saveState(s.StateFile(), st); err != nil {
		return err
	}

	digestFile := filepath.Join(s.Run(), "gosdk.digest")
	digest := cachedDigest(s, digestFile)
	if running && digest != "" {
		logf("engine already up")
	} else if err := s.startEngine(ctx, &st, digest, timeout); err != nil {
		return err
	}
	c, err := s.connect(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := s.publishImages(ctx, c, mirroredImages(s, arm64)); err != nil {
		return err
	}
	if digest == "" {
		logf("exporting the Go SDK image into the engine's built-in content")
		d, err := s.goSDKContent(ctx, c)
		if err != nil {
			return err
		}
		if err := os.WriteFile(digestFile, []byte(d+"\n"), 0o644); err != nil {
			return err
		}
		c.Close()
		if err := s.startEngine(ctx, &st, d, timeout); err != nil {
			return err
		}
	}
	if err := saveState(s.StateFile(), st); err != nil {
		return err
	}
	printEnv(s)
	return nil
}

// cachedDigest returns the Go SDK image digest recorded by an earlier up, if its blobs are
// still in the engine rootfs and the rootfs it was made from was not rebuilt since.
func cachedDigest(s Settings, digestFile string) string {
	b, err := os.ReadFile(digestFile)
	if err != nil {
		return ""
	}
	d := strings.TrimSpace(string(b))
	blob := filepath.Join(s.EngineRootfs(), "usr/local/share/dagger/content/blobs/sha256", strings.TrimPrefix(d, "sha256:"))
	bi, err1 := os.Stat(blob)
	ri, err2 := os.Stat(filepath.Join(s.GoSDKRootfs(), ".pybundle-ready"))
	if err1 != nil || err2 != nil || ri.ModTime().After(bi.ModTime()) {
		return ""
	}
	return d
}

func printEnv(s Settings) {
	fmt.Printf("_EXPERIMENTAL_DAGGER_RUNNER_HOST=%s\n", s.RunnerHost())
	fmt.Fprintf(os.Stderr, "engine up. Use it with:\n  export _EXPERIMENTAL_DAGGER_RUNNER_HOST=%s PATH=%s:$PATH\n", s.RunnerHost(), s.Bin())
}

func down(s Settings) error {
	st, err := loadState(s.StateFile())
	if err != nil {
		return err
	}
	if st.NetworkName == "" {
		st.NetworkName, st.Bridge = s.NetworkName, s.Bridge()
	}
	var errs []error
	if err := s.stopEngine(&st); err != nil {
		errs = append(errs, err)
	}
	if err := stopProcess(st.RegistryPID, "docker-registry", 10*time.Second); err != nil {
		errs = append(errs, err)
	}
	st.RegistryPID = 0
	errs = append(errs, s.restoreHostNetwork(st)...)
	if st.MountedBinfmt {
		_ = exec.Command("umount", "/proc/sys/fs/binfmt_misc").Run()
	}
	if err := errors.Join(errs...); err != nil {
		_ = saveState(s.StateFile(), st)
		return err
	}
	_ = os.Remove(s.StateFile())
	logf("engine and registry stopped, host network restored")
	return nil
}

// status prints what runs and whether the engine answers; true when it does.
func status(s Settings) bool {
	st, _ := loadState(s.StateFile())
	// The start script execs unshare, whose command line names our engine rootfs.
	engine := alive(st.EnginePID, s.EngineRootfs())
	registry := alive(st.RegistryPID, "docker-registry")
	answers := false
	if engine && exists(s.Socket()) {
		cmd := exec.Command(s.CLI(), "core", "version")
		cmd.Env = append(os.Environ(), "_EXPERIMENTAL_DAGGER_RUNNER_HOST="+s.RunnerHost(), "DO_NOT_TRACK=1")
		answers = cmd.Run() == nil
	}
	fwd, _ := os.ReadFile("/proc/sys/net/ipv4/ip_forward")
	fmt.Printf("engine:     pid %d running=%v answers=%v (%s)\n", st.EnginePID, engine, answers, s.RunnerHost())
	fmt.Printf("registry:   pid %d running=%v (%s)\n", st.RegistryPID, registry, s.RegistryAddr)
	fmt.Printf("bridge:     %s present=%v\n", s.Bridge(), exec.Command("ip", "link", "show", s.Bridge()).Run() == nil)
	fmt.Printf("ip_forward: %s (before up: %q)\n", strings.TrimSpace(string(fwd)), st.IPForwardBefore)
	return answers
}
