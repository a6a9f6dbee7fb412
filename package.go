package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/pybundle/pybundle/images"
	"github.com/pybundle/pybundle/internal/dagger"
	"github.com/pybundle/pybundle/pipeline/diagnose"
	"github.com/pybundle/pybundle/pipeline/pack"
	"github.com/pybundle/pybundle/pipeline/target"
)

// Paths inside the electron-builder container.
const (
	ebToolDir   = "/opt/pybundle/electron-builder"
	ebAppDir    = "/work/app"
	ebDistDir   = "/work/dist"
	ebOutDir    = "/work/installers"
	ebElectron  = "/work/electron"
	ebResult    = "/work/result.json"
	runnerPath  = "/usr/local/bin/pybundle-runner"
	runnerLimit = 30 * time.Minute
)

// ElectronBuilder returns the packaging container: Debian + Node.js + electron-builder 26.17.0
// installed from pybundle's lockfile (npm cache in a cache volume), 7-Zip, and pybundle's fpm
// replacement over dpkg-deb/rpmbuild, so deb and rpm build without Ruby.
//
// +cache="168h"
func (m *Pybundle) ElectronBuilder() *dagger.Container {
	tool := dag.CurrentModule().Source().Directory("images/electron-builder")
	return m.debian(dag.Container().From(m.BaseImage), "pybundle-apt-electron-builder", images.ElectronBuilderPackages).
		WithDirectory(ebToolDir, tool, dagger.ContainerWithDirectoryOpts{Include: []string{"package.json", "package-lock.json"}}).
		WithMountedCache("/root/.npm", dag.CacheVolume("pybundle-npm")).
		WithWorkdir(ebToolDir).
		WithExec([]string{"npm", "ci", "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel=error"}).
		WithoutMount("/root/.npm").
		WithFile("/usr/local/bin/fpm", tool.File("fpm"), dagger.ContainerWithFileOpts{Permissions: 0o755}).
		WithEnvVariable("PATH", ebToolDir+"/node_modules/.bin:${PATH}", dagger.ContainerWithEnvVariableOpts{Expand: true}).
		WithEnvVariable("USE_SYSTEM_FPM", "true").
		WithEnvVariable("ELECTRON_BUILDER_7ZIP_PATH", "/usr/bin/7za").
		WithEnvVariable("ELECTRON_SKIP_BINARY_DOWNLOAD", "1").
		WithEnvVariable("CI", "true")
}

// Package builds the Electron app's installers around the verified backend from `build`:
// pybundle-runner's package stage, run in the electron-builder container. It checks every
// output (backend at resources/backend/, outside app.asar, mode 0755, the verified sha256;
// latest-*.yml digests; Windows asInvoker), starts the packaged app headless and requires its
// backend to answer /api/health and be gone after quit. Returns electron-builder's outputs plus
// report.json (the build's, with the package results) and summary.txt.
//
// +cache="session"
func (m *Pybundle) Package(
	ctx context.Context,
	// The Electron app: package.json with an electron-builder "build" section whose
	// extraResources take the backend from backend/dist/.
	// +ignore=["**/node_modules", "dist", "backend/dist"]
	app *dagger.Directory,
	// The output of build (dist/ with report.json): only a verified backend is packaged.
	dist *dagger.Directory,
	// Target platform (Linux here; macOS and Windows package on native runners).
	// +optional
	// +default="linux/amd64"
	platform dagger.Platform,
	// electron-builder targets, comma-separated: dir, tar.gz, tar.xz, zip, 7z, deb, rpm
	// (default dir,tar.gz,deb).
	// +optional
	targets string,
	// Electron distribution to package (a folder). Empty: electron-builder downloads Electron.
	// +optional
	electronDist *dagger.Directory,
	// Start the packaged app headless (xvfb-run) and require its backend to become healthy and
	// to be gone after quit. The app must support PEFT_SELFTEST=1.
	// +optional
	// +default=true
	startCheck bool,
) (*dagger.Directory, error) {
	t, tl, err := packagePlan(string(platform), targets)
	if err != nil {
		return nil, err
	}
	host := hostPlatform(ctx)
	ctr := m.ElectronBuilder().
		WithFile(runnerPath, m.goBinary("./cmd/pybundle-runner", host), dagger.ContainerWithFileOpts{Permissions: 0o755}).
		WithDirectory(ebAppDir, app, dagger.ContainerWithDirectoryOpts{Exclude: []string{"node_modules/", "dist/", "backend/dist/"}}).
		WithDirectory(ebDistDir, dist).
		WithMountedCache("/root/.npm", dag.CacheVolume("pybundle-npm")).
		WithWorkdir(ebAppDir).
		// The start check runs the app anew on every call: its result is never a cached one.
		WithEnvVariable("PYBUNDLE_PACKAGE_RUN", strconv.FormatInt(time.Now().UnixNano(), 10))
	argv := []string{runnerPath, "package", "--platform", t.String(), "--app", ebAppDir, "--dist", ebDistDir,
		"--output", ebOutDir, "--targets", strings.Join(tl, ","), "--start-check=" + strconv.FormatBool(startCheck), "--result", ebResult}
	if electronDist != nil {
		ctr = ctr.WithDirectory(ebElectron, electronDist)
		argv = append(argv, "--electron-dist", ebElectron)
	}
	// Bounded: a hung electron-builder or app must not hold the pipeline forever.
	argv = append([]string{"timeout", "-k", "10", strconv.Itoa(int(runnerLimit.Seconds()))}, argv...)
	run := ctr.WithExec(argv, dagger.ContainerWithExecOpts{Expect: dagger.ReturnTypeAny})
	if err := runnerResult(ctx, run, t); err != nil {
		return nil, err
	}
	return run.Directory(ebOutDir).WithoutDirectory(".icon-set").WithoutFile("builder-debug.yml"), nil
}

// packagePlan checks package's arguments before any container runs: a Linux target, and
// electron-builder targets this container can build.
func packagePlan(platform, targets string) (target.Target, []string, error) {
	t, err := target.Parse(platform)
	if err != nil {
		return t, nil, &diagnose.Error{Stage: "package", Target: platform, Reason: err.Error()}
	}
	if t.OS != "linux" {
		return t, nil, runnerError([]target.Target{t})
	}
	tl, err := pack.ParseTargets(targets, t.OS)
	if err == nil {
		err = pack.InContainer(tl)
	}
	if err != nil {
		return t, nil, &diagnose.Error{Stage: "package", Target: t.String(), Reason: err.Error()}
	}
	return t, tl, nil
}

// runnerResult reads pybundle-runner's --result: its error as it reported it, or nil.
func runnerResult(ctx context.Context, run *dagger.Container, t target.Target) error {
	fail := func(reason string, tail []string) error {
		return &diagnose.Error{Stage: "package", Target: t.String(), Reason: reason, Tail: tail}
	}
	code, err := run.ExitCode(ctx)
	if err != nil {
		return fail(err.Error(), nil)
	}
	text, err := run.File(ebResult).Contents(ctx)
	if err != nil {
		stderr, _ := run.Stderr(ctx)
		return fail(fmt.Sprintf("pybundle-runner package exited %d without a result", code), diagnose.Tail(stderr, 15))
	}
	var res struct {
		OK    bool            `json:"ok"`
		Error *diagnose.Error `json:"error"`
	}
	if err := json.Unmarshal([]byte(text), &res); err != nil {
		return fail("pybundle-runner's result is not JSON: "+err.Error(), nil)
	}
	switch {
	case res.Error != nil:
		return res.Error
	case !res.OK || code != 0:
		return fail(fmt.Sprintf("pybundle-runner package failed (exit %d) without a reason (a pybundle bug)", code), nil)
	}
	return nil
}
