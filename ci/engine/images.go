package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"

	"dagger.io/dagger"
)

// MirroredImage is one public image name the local registry serves, built from a Debian root
// filesystem, so module code keeps the ordinary public default (`debian:trixie-slim`) and it
// resolves here through the engine's docker.io mirror.
type MirroredImage struct {
	Ref     string            // path in the registry, e.g. library/debian:trixie-slim
	Rootfs  map[string]string // platform → root filesystem directory
	Env     []string          // image config environment
	Workdir string
}

const defaultPath = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// GoImageRef is the Go toolchain image pybundle compiles its probe with (cross-compiled, so
// amd64 only). Offline it is the Go SDK root filesystem: Debian + the machine's Go.
const GoImageRef = "library/golang:1.26-trixie"

// runtimeSuites are the older Debian releases a bundle is also started on (pipeline/runson's
// default runtime matrix: debian:bullseye-slim, debian:bookworm-slim), published for
// linux/amd64 only: the matrix of an emulated target is its base runtime alone (a start under
// QEMU takes ~40 s and an arm64 debootstrap ~3 min each, for rows nobody reads as native
// timings), so arm64 variants would cost CI time and never be pulled.
var runtimeSuites = []string{"bullseye", "bookworm"}

// mirroredImages lists the images `up` publishes. Platforms whose rootfs is missing (arm64
// skipped with --arm64=false) are left out of the index.
func mirroredImages(s Settings, withArm64 bool) []MirroredImage {
	debian := map[string]string{"linux/amd64": s.BaseRootfs("trixie", "amd64")}
	if withArm64 {
		debian["linux/arm64"] = s.BaseRootfs("trixie", "arm64")
	}
	imgs := []MirroredImage{
		{Ref: "library/debian:trixie-slim", Rootfs: debian, Env: []string{defaultPath}},
		{Ref: "library/debian:trixie", Rootfs: debian, Env: []string{defaultPath}},
		{Ref: GoImageRef, Rootfs: map[string]string{"linux/amd64": s.GoSDKRootfs()}, Env: goSDKEnv(), Workdir: "/go"},
		{Ref: PythonStandInRef, Rootfs: map[string]string{"linux/amd64": s.PythonRootfs()}, Env: []string{defaultPath}},
	}
	for _, suite := range runtimeSuites {
		imgs = append(imgs, MirroredImage{Ref: "library/debian:" + suite + "-slim",
			Rootfs: map[string]string{"linux/amd64": s.BaseRootfs(suite, "amd64")}, Env: []string{defaultPath}})
	}
	return imgs
}

func goSDKEnv() []string {
	return []string{"PATH=/go/bin:/usr/local/go/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		"GOPATH=/go", "GOTOOLCHAIN=local", "CGO_ENABLED=0", "GONOSUMDB=dagger.io/dagger,github.com/dagger/dagger"}
}

// manifestExists asks the registry whether ref (name:tag) is already there with every platform
// wanted, so a warm `up` publishes nothing.
func manifestExists(addr, ref string, platforms []string) bool {
	name, tag, _ := strings.Cut(ref, ":")
	out, err := exec.Command("curl", "-fsS", "--max-time", "5",
		"-H", "Accept: application/vnd.oci.image.index.v1+json",
		"-H", "Accept: application/vnd.docker.distribution.manifest.list.v2+json",
		"-H", "Accept: application/vnd.oci.image.manifest.v1+json",
		"-H", "Accept: application/vnd.docker.distribution.manifest.v2+json",
		"http://"+addr+"/v2/"+name+"/manifests/"+tag).Output()
	if err != nil {
		return false
	}
	var idx struct {
		Config    json.RawMessage `json:"config"` // a single-platform image manifest
		Manifests []struct {
			Platform struct{ OS, Architecture string } `json:"platform"`
		} `json:"manifests"`
	}
	if json.Unmarshal(out, &idx) != nil {
		return false
	}
	if len(idx.Config) > 0 {
		return len(platforms) == 1
	}
	have := map[string]bool{}
	for _, m := range idx.Manifests {
		have[m.Platform.OS+"/"+m.Platform.Architecture] = true
	}
	for _, p := range platforms {
		if !have[p] {
			return false
		}
	}
	return true
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// connect opens a Dagger session to our engine with our CLI (never a downloaded one).
func (s Settings) connect(ctx context.Context) (*dagger.Client, error) {
	os.Setenv("_EXPERIMENTAL_DAGGER_RUNNER_HOST", s.RunnerHost())
	os.Setenv("_EXPERIMENTAL_DAGGER_CLI_BIN", s.CLI())
	os.Setenv("DO_NOT_TRACK", "1")
	logPath := filepath.Join(s.Logs(), "images.log")
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return nil, err
	}
	c, err := dagger.Connect(ctx, dagger.WithLogOutput(f))
	if err != nil {
		return nil, fmt.Errorf("step images: connecting to the engine: %w\n%s", err, tailFile(logPath, 15))
	}
	return c, nil
}

func imageFromRootfs(c *dagger.Client, platform, rootfs string, img MirroredImage) *dagger.Container {
	ctr := c.Container(dagger.ContainerOpts{Platform: dagger.Platform(platform)}).
		WithRootfs(c.Host().Directory(rootfs, dagger.HostDirectoryOpts{Exclude: []string{"proc/*", "sys/*", "dev/*", "tmp/*", "var/cache/apt/archives/*.deb"}}))
	for _, kv := range img.Env {
		k, v, _ := strings.Cut(kv, "=")
		ctr = ctr.WithEnvVariable(k, v)
	}
	if img.Workdir != "" {
		ctr = ctr.WithWorkdir(img.Workdir)
	}
	return ctr
}

// publishImages pushes every mirrored image that the registry does not have yet.
func (s Settings) publishImages(ctx context.Context, c *dagger.Client, imgs []MirroredImage) error {
	for _, img := range imgs {
		plats := sortedKeys(img.Rootfs)
		if manifestExists(s.RegistryAddr, img.Ref, plats) {
			logf("image %s cached in the registry", img.Ref)
			continue
		}
		logf("publishing %s (%s)", img.Ref, strings.Join(plats, ", "))
		var variants []*dagger.Container
		for _, p := range plats {
			variants = append(variants, imageFromRootfs(c, p, img.Rootfs[p], img))
		}
		if _, err := c.Container().Publish(ctx, s.RegistryAddr+"/"+img.Ref, dagger.ContainerPublishOpts{PlatformVariants: variants}); err != nil {
			return fmt.Errorf("step images: publishing %s: %w", img.Ref, err)
		}
	}
	return nil
}

// goSDKContent exports the Go SDK image as an OCI layout into the engine's built-in content
// store and returns its manifest digest: the engine loads Go-SDK modules from it, never from a
// registry.
func (s Settings) goSDKContent(ctx context.Context, c *dagger.Client) (string, error) {
	tarPath := filepath.Join(s.Run(), "gosdk-image.tar")
	img := MirroredImage{Env: goSDKEnv(), Workdir: "/go"}
	if _, err := imageFromRootfs(c, "linux/amd64", s.GoSDKRootfs(), img).
		AsTarball(dagger.ContainerAsTarballOpts{ForcedCompression: dagger.ImageLayerCompressionZstd}).
		Export(ctx, tarPath); err != nil {
		return "", fmt.Errorf("step gosdk-image: export: %w", err)
	}
	oci := filepath.Join(s.Run(), "gosdk-oci")
	_ = os.RemoveAll(oci)
	if err := os.MkdirAll(oci, 0o755); err != nil {
		return "", err
	}
	if err := s.run(ctx, "gosdk-image", nil, "tar", "-xf", tarPath, "-C", oci); err != nil {
		return "", err
	}
	b, err := os.ReadFile(filepath.Join(oci, "index.json"))
	if err != nil {
		return "", fmt.Errorf("step gosdk-image: %w", err)
	}
	digest, err := indexDigest(b)
	if err != nil {
		return "", fmt.Errorf("step gosdk-image: %s: %w", filepath.Join(oci, "index.json"), err)
	}
	content := filepath.Join(s.EngineRootfs(), "usr", "local", "share", "dagger", "content")
	_ = os.RemoveAll(content)
	if err := os.MkdirAll(content, 0o755); err != nil {
		return "", err
	}
	if err := s.run(ctx, "gosdk-image", nil, "cp", "-r", filepath.Join(oci, "blobs"), content+"/"); err != nil {
		return "", err
	}
	_ = os.Remove(tarPath)
	return digest, nil
}

// indexDigest is the digest of the single manifest in an OCI index.json.
func indexDigest(index []byte) (string, error) {
	var idx struct {
		Manifests []struct{ Digest string } `json:"manifests"`
	}
	if err := json.Unmarshal(index, &idx); err != nil {
		return "", err
	}
	if len(idx.Manifests) != 1 || !strings.HasPrefix(idx.Manifests[0].Digest, "sha256:") {
		return "", fmt.Errorf("want exactly one sha256 manifest, got %d", len(idx.Manifests))
	}
	return idx.Manifests[0].Digest, nil
}
