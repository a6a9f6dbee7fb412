package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/pybundle/pybundle/images"
)

// goSDKRootfs replaces the golang-alpine image the Go SDK runtime normally pulls: Debian trixie
// + git + CA certificates + this machine's Go + the codegen binary, with /go/pkg/mod and the
// build cache pre-filled with the module graph a pybundle module build needs. The engine copies
// both caches into its "gomod"/"gobuild" cache volumes, so loading our module is fast and works
// even when module downloads are off.
func (s Settings) goSDKRootfs(ctx context.Context, moduleDir string) error {
	g := s.GoSDKRootfs()
	marker := filepath.Join(g, ".pybundle-ready")
	if exists(marker) {
		logf("Go SDK rootfs cached")
		return nil
	}
	logf("building the Go SDK rootfs %s", g)
	tmp := g + ".tmp"
	_ = os.RemoveAll(tmp)
	if err := s.run(ctx, "gosdk-rootfs", nil, "cp", "-a", s.BaseRootfs("trixie", "amd64"), tmp); err != nil {
		return err
	}
	// The host's CA certificates go in first: the egress proxy intercepts TLS.
	if err := copyHostCAs(filepath.Join(tmp, "usr", "local", "share", "ca-certificates")); err != nil {
		return err
	}
	if err := s.chroot(ctx, tmp, "gosdk-rootfs", nil, `set -e
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends git openssh-client ca-certificates
update-ca-certificates
apt-get clean
rm -rf /var/lib/apt/lists/*`); err != nil {
		return err
	}
	goroot := runtime.GOROOT()
	if out, err := exec.Command("go", "env", "GOROOT").Output(); err == nil {
		goroot = strings.TrimSpace(string(out))
	}
	for _, c := range [][]string{
		{"mkdir", "-p", tmp + "/usr/local", tmp + "/go/pkg/mod", tmp + "/go/bin", tmp + "/root/.cache/go-build", tmp + "/tmp/pre", tmp + "/tmp/sdk"},
		{"cp", "-a", goroot, tmp + "/usr/local/go"},
		{"install", "-m755", s.BinPath("codegen"), tmp + "/usr/local/bin/codegen"},
		{"cp", "-r", filepath.Join(s.Src(), "sdk", "go") + "/.", tmp + "/tmp/sdk/"},
		{"cp", filepath.Join(moduleDir, "go.mod"), filepath.Join(moduleDir, "go.sum"), tmp + "/tmp/pre/"},
	} {
		if err := s.run(ctx, "gosdk-rootfs", nil, c[0], c[1:]...); err != nil {
			return err
		}
	}
	// The host's module cache serves as a file:// proxy first: everything dagger and pybundle
	// were built with is already there, so warming needs little network.
	hostCache, _ := exec.Command("go", "env", "GOMODCACHE").Output()
	dl := filepath.Join(strings.TrimSpace(string(hostCache)), "cache", "download")
	if err := os.MkdirAll(tmp+"/hostmod", 0o755); err != nil {
		return err
	}
	script := `set -e
go build std
cd /tmp/sdk && go mod download && go list -e -export=true -compiled=true -deps=true -test=false ./... >/dev/null
# The generated module requires what the SDK requires (warmed above) plus pybundle's own graph.
cd /tmp/pre && go mod download
cd / && rm -rf /tmp/sdk /tmp/pre`
	env := []string{"PATH=/go/bin:/usr/local/go/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		"HOME=/root", "GOPATH=/go", "CGO_ENABLED=0", "GOTOOLCHAIN=local", "GOFLAGS=-mod=mod",
		"GONOSUMDB=dagger.io/dagger,github.com/dagger/dagger",
		"GOPROXY=file:///hostmod," + s.GoProxy}
	if err := s.chrootBind(ctx, tmp, "gosdk-rootfs", env, script, dl, "/hostmod"); err != nil {
		return err
	}
	_ = os.Remove(tmp + "/hostmod")
	if err := os.WriteFile(filepath.Join(tmp, ".pybundle-ready"), nil, 0o644); err != nil {
		return err
	}
	_ = os.RemoveAll(g)
	return os.Rename(tmp, g)
}

// chroot runs a shell script inside a root filesystem with /proc mounted in a private mount
// namespace (nothing leaks onto the host's mount table).
func (s Settings) chroot(ctx context.Context, root, step string, env []string, script string) error {
	return s.chrootBind(ctx, root, step, env, script, "", "")
}

func (s Settings) chrootBind(ctx context.Context, root, step string, env []string, script, bindSrc, bindDst string) error {
	if err := os.WriteFile(filepath.Join(root, "tmp", "pybundle-step.sh"), []byte(script), 0o755); err != nil {
		return fmt.Errorf("step %s: %w", step, err)
	}
	defer os.Remove(filepath.Join(root, "tmp", "pybundle-step.sh"))
	mounts := fmt.Sprintf("mount -t proc proc %s/proc", shellQuote(root))
	if bindSrc != "" {
		mounts += fmt.Sprintf(" && mount --bind -o ro %s %s%s", shellQuote(bindSrc), shellQuote(root), bindDst)
	}
	if len(env) == 0 {
		env = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/root"}
	}
	quoted := make([]string, len(env))
	for i, e := range env {
		quoted[i] = shellQuote(e)
	}
	inner := fmt.Sprintf("%s && nice -n 10 chroot %s /usr/bin/env -i %s /bin/sh /tmp/pybundle-step.sh",
		mounts, shellQuote(root), strings.Join(quoted, " "))
	return s.run(ctx, step, nil, "unshare", "--mount", "--propagation", "private", "--fork", "--", "/bin/sh", "-c", inner)
}

// PythonStandInRef is the pip path's default image name. No registry is reachable here, so the
// mirror serves a STAND-IN under that name: Debian trixie's Python 3.13 with venv and pip, and
// the builder's pinned Debian packages (FastAPI, uvicorn, pydantic, PyInstaller 6.22.2) already
// installed, so an offline pip resolves the backend's requirements from the image's own
// site-packages and a local wheelhouse. Online users get the real python:3.13-slim.
const PythonStandInRef = "library/python:3.13-slim"

func (s Settings) pythonRootfs(ctx context.Context) error {
	p := s.PythonRootfs()
	if exists(filepath.Join(p, ".pybundle-ready")) {
		logf("python stand-in rootfs cached")
		return nil
	}
	logf("building the python:3.13-slim stand-in rootfs %s", p)
	tmp := p + ".tmp"
	_ = os.RemoveAll(tmp)
	if err := s.run(ctx, "python-rootfs", nil, "cp", "-a", s.BaseRootfs("trixie", "amd64"), tmp); err != nil {
		return err
	}
	pkgs := append([]images.Package{}, images.BuilderPackages...)
	for _, n := range []string{"python3-venv", "python3-pip", "python3-setuptools", "python3-wheel"} {
		pkgs = append(pkgs, images.Package{Name: n})
	}
	script := images.AptInstallScript(pkgs) + "ln -sf /usr/bin/python3 /usr/local/bin/python\napt-get clean\n"
	if err := s.chroot(ctx, tmp, "python-rootfs", nil, script); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(tmp, ".pybundle-ready"), nil, 0o644); err != nil {
		return err
	}
	_ = os.RemoveAll(p)
	return os.Rename(tmp, p)
}
