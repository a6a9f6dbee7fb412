package main

import (
	"context"
	"encoding/json"
	"fmt"
	"path"
	"sort"
	"strings"

	"github.com/pybundle/pybundle/images"
	"github.com/pybundle/pybundle/internal/dagger"
	"github.com/pybundle/pybundle/pipeline/diagnose"
	"github.com/pybundle/pybundle/pipeline/pack"
	"github.com/pybundle/pybundle/pipeline/report"
	"github.com/pybundle/pybundle/pipeline/target"
)

const (
	ebToolDir    = "/opt/pybundle/electron-builder"
	ebAppDir     = "/work/app"
	ebDistDir    = "/work/app/dist"
	ebCheckDir   = "/work/check"
	electronDir  = "/opt/pybundle/electron-dist"
	ebBackendDir = "backend/dist" // where the app's extraResources take the backend from
)

// linuxPackageTargets are the electron-builder Linux targets pybundle builds and checks.
var linuxPackageTargets = map[string]bool{"dir": true, "tar.gz": true, "tar.xz": true, "zip": true, "deb": true, "rpm": true}

// ElectronBuilder returns the packaging container: Debian + Node.js + electron-builder 26.17.0
// installed from pybundle's lockfile (npm cache in a cache volume), 7-Zip, and pybundle's fpm
// replacement over dpkg-deb/rpmbuild, so deb and rpm build without Ruby.
func (m *Pybundle) ElectronBuilder() *dagger.Container {
	tool := dag.CurrentModule().Source().Directory("images/electron-builder")
	return dag.Container().From(m.BaseImage).
		WithMountedCache("/var/cache/apt/archives", dag.CacheVolume("pybundle-apt-electron-builder"), dagger.ContainerWithMountedCacheOpts{Sharing: dagger.CacheSharingModeLocked}).
		WithExec([]string{"sh", "-c", images.AptInstallScript(images.ElectronBuilderPackages)}).
		WithoutMount("/var/cache/apt/archives").
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

// packageResult is what Package found, for the report.
type packageResult struct {
	OK        bool           `json:"ok"`
	Artifact  pack.Artifact  `json:"artifact"`
	Update    []report.Check `json:"update_info,omitempty"`
	WinConfig *report.Check  `json:"win_config,omitempty"`
}

// Package builds the Electron app's installers around the verified backend from `build`, checks
// every output (backend at resources/backend/, outside app.asar, mode 0755; latest-*.yml
// digests; Windows asInvoker), starts the packaged app headless and requires its backend to
// answer /api/health and be gone after quit. Returns electron-builder's outputs plus report.json
// (the build's, with the package results) and summary.txt.
func (m *Pybundle) Package(
	ctx context.Context,
	// The Electron app: package.json with an electron-builder "build" section whose
	// extraResources take the backend from backend/dist/<name>.
	app *dagger.Directory,
	// The output of build (dist/ with report.json): only a verified backend is packaged.
	dist *dagger.Directory,
	// Target platform (Linux here; macOS and Windows package on native runners).
	// +optional
	// +default="linux/amd64"
	platform dagger.Platform,
	// electron-builder targets, comma-separated: dir, tar.gz, tar.xz, zip, deb, rpm.
	// +optional
	// +default="dir,tar.gz,deb"
	targets string,
	// Electron distribution to package (a folder). Empty: electron-builder downloads Electron.
	// +optional
	electronDist *dagger.Directory,
	// Backend executable name.
	// +optional
	// +default="peft_engine"
	name string,
	// Start the packaged app headless (xvfb-run) and require its backend to become healthy and
	// to be gone after quit. The app must support PEFT_SELFTEST=1.
	// +optional
	// +default=true
	startCheck bool,
) (*dagger.Directory, error) {
	t, err := target.Parse(string(platform))
	if err != nil {
		return nil, &diagnose.Error{Stage: "package", Target: string(platform), Reason: err.Error()}
	}
	fail := func(file, reason string, tail []string) error {
		return &diagnose.Error{Stage: "package", Target: t.String(), File: file, Reason: reason, Tail: tail}
	}
	if t.OS != "linux" {
		return nil, runnerError([]target.Target{t})
	}
	tlist, err := parsePackageTargets(targets)
	if err != nil {
		return nil, fail("", err.Error(), nil)
	}

	// The app: package.json with a build config.
	pj, err := app.File("package.json").Contents(ctx)
	if err != nil {
		return nil, fail("package.json", "not found in the app folder", nil)
	}
	var pkgJSON struct {
		Name        string          `json:"name"`
		Version     string          `json:"version"`
		ProductName string          `json:"productName"`
		Build       json.RawMessage `json:"build"`
	}
	if err := json.Unmarshal([]byte(pj), &pkgJSON); err != nil {
		return nil, fail("package.json", "not valid JSON: "+err.Error(), nil)
	}
	if len(pkgJSON.Build) == 0 {
		if _, err := app.File("electron-builder.yml").Name(ctx); err != nil {
			return nil, fail("package.json", `no electron-builder configuration: add a "build" section (or electron-builder.yml)`, nil)
		}
	}

	// Property 4: build → verify → package. Only a backend the report vouches for is packaged.
	entry, err := verifiedEntry(ctx, dist, t)
	if err != nil {
		return nil, fail("report.json", err.Error(), nil)
	}
	bundleDir := t.Slug()
	exeRelPath := strings.TrimPrefix(entry.Artifact, bundleDir+"/")
	onedir := strings.Contains(exeRelPath, "/")
	exeName := t.ExecutableName(name)

	ctr := m.ElectronBuilder().
		WithDirectory(ebAppDir, app, dagger.ContainerWithDirectoryOpts{Exclude: []string{"node_modules/", "dist/", "backend/dist/"}}).
		WithWorkdir(ebAppDir)
	if onedir {
		ctr = ctr.WithDirectory(path.Join(ebAppDir, ebBackendDir, name), dist.Directory(path.Join(bundleDir, name)))
	} else {
		ctr = ctr.WithFile(path.Join(ebAppDir, ebBackendDir, exeName), dist.File(path.Join(bundleDir, exeName)))
	}
	backendPath := path.Join(ebAppDir, ebBackendDir, exeRelPath)
	// The exec bit must survive into every package: a 0644 backend fails in the field with
	// `spawn … EACCES`, so it is refused here, naming the file.
	mode, err := ctr.WithExec([]string{"stat", "-c", "%a", backendPath}).Stdout(ctx)
	if err != nil {
		return nil, fail(entry.Artifact, "backend missing from dist: "+err.Error(), nil)
	}
	if mode = strings.TrimSpace(mode); mode != "755" {
		return nil, fail(entry.Artifact, fmt.Sprintf("backend is not executable (mode %s, want 755): the packaged app would fail with spawn EACCES; restore it with chmod 755", mode), nil)
	}
	if _, err := app.File("package-lock.json").Name(ctx); err == nil {
		ctr = ctr.WithMountedCache("/root/.npm", dag.CacheVolume("pybundle-npm")).
			WithExec([]string{"npm", "ci", "--omit=dev", "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel=error"})
	}
	args := []string{"electron-builder", "--linux"}
	args = append(args, tlist...)
	args = append(args, "--"+t.ElectronBuilderArch(), "--publish", "never")
	if electronDist != nil {
		ctr = ctr.WithDirectory(electronDir, electronDist)
		args = append(args, "-c.electronDist="+electronDir)
	}
	built := ctr.WithExec(args, dagger.ContainerWithExecOpts{Expect: dagger.ReturnTypeAny})
	code, err := built.ExitCode(ctx)
	if err != nil {
		return nil, fail("", err.Error(), nil)
	}
	if code != 0 {
		stdout, _ := built.Stdout(ctx)
		stderr, _ := built.Stderr(ctx)
		return nil, fail("package.json", fmt.Sprintf("electron-builder failed (exit %d)", code), diagnose.Tail(stdout+"\n"+stderr, 20))
	}

	// Check every output from the inside, with the probe.
	outs, err := built.Directory(ebDistDir).Entries(ctx)
	if err != nil {
		return nil, fail("", err.Error(), nil)
	}
	checker := built.WithFile(probePath, m.probe(target.Target{OS: "linux", Arch: hostPlatform(ctx).Arch}), dagger.ContainerWithFileOpts{Permissions: 0o755})
	var results []packageResult
	for _, o := range outs {
		o = strings.TrimSuffix(o, "/")
		kind := artifactKind(o)
		if kind == "" {
			continue
		}
		root := path.Join(ebCheckDir, o)
		extract := map[string]string{
			"dir":    fmt.Sprintf("ln -s %s/%s %s", ebDistDir, o, root),
			"tar.gz": fmt.Sprintf("mkdir -p %[1]s && tar -xzf %[2]s/%[3]s -C %[1]s", root, ebDistDir, o),
			"tar.xz": fmt.Sprintf("mkdir -p %[1]s && tar -xJf %[2]s/%[3]s -C %[1]s", root, ebDistDir, o),
			"zip":    fmt.Sprintf("mkdir -p %[1]s && 7za x -o%[1]s %[2]s/%[3]s >/dev/null", root, ebDistDir, o),
			"deb":    fmt.Sprintf("dpkg-deb -x %s/%s %s", ebDistDir, o, root),
			"rpm":    fmt.Sprintf("mkdir -p %[1]s && cd %[1]s && rpm2cpio %[2]s/%[3]s | cpio -idm --quiet", root, ebDistDir, o),
		}[kind]
		check := []string{probePath, "pack-check", "--json", "--root", root, "--name", name, "--exe", exeName,
			"--sha256", entry.SHA256, "--kind", kind, "--artifact-name", o, "--package-json", path.Join(ebAppDir, "package.json")}
		if yml := updateInfoFor(outs); yml != "" {
			check = append(check, "--update-info", path.Join(ebDistDir, yml))
		}
		run := checker.WithExec([]string{"sh", "-c", "mkdir -p " + ebCheckDir + " && " + extract}).
			WithExec(check, dagger.ContainerWithExecOpts{Expect: dagger.ReturnTypeAny})
		var r packageResult
		stdout, err := run.Stdout(ctx)
		if err != nil {
			return nil, fail(o, "extracting or checking failed: "+err.Error(), nil)
		}
		if err := json.Unmarshal([]byte(stdout), &r); err != nil {
			return nil, fail(o, "probe output is not JSON: "+err.Error(), diagnose.Tail(stdout, 5))
		}
		if !r.OK {
			return nil, fail(o, "packaged app check failed: "+failedChecks(r), nil)
		}
		results = append(results, r)
	}
	if len(results) == 0 {
		return nil, fail("", "electron-builder produced none of the requested targets: "+strings.Join(outs, ", "), nil)
	}

	// Property 3: the packaged app starts its backend and leaves no process behind on quit.
	if startCheck && contains(tlist, "dir") {
		exe := pkgJSON.Name
		if n := linuxExecutableName(pj); n != "" {
			exe = n
		}
		unpacked := path.Join(ebDistDir, "linux-unpacked")
		if t.Arch == "arm64" {
			unpacked = path.Join(ebDistDir, "linux-arm64-unpacked")
		}
		script := fmt.Sprintf(`set -u
out=$(PEFT_SELFTEST=1 timeout 120 xvfb-run -a %s/%s --no-sandbox 2>&1); rc=$?
echo "$out" | tail -n 30
sleep 1
left=$(pgrep -ax %s || true)
if [ -n "$left" ]; then echo "PYBUNDLE_LEFTOVER $left"; exit 5; fi
exit $rc`, unpacked, exe, shellQuoteArg(truncComm(exeName)))
		start := built.WithEnvVariable("PYBUNDLE_START_RUN", fmt.Sprint(len(results))).
			WithExec([]string{"sh", "-c", script}, dagger.ContainerWithExecOpts{Expect: dagger.ReturnTypeAny})
		code, err := start.ExitCode(ctx)
		if err != nil {
			return nil, fail("linux-unpacked", err.Error(), nil)
		}
		out, _ := start.Stdout(ctx)
		switch {
		case code == 5:
			return nil, fail("linux-unpacked", "backend process left running after the app quit", diagnose.Tail(out, 10))
		case code != 0 || !strings.Contains(out, `PEFT_SELFTEST {"ok":true`):
			return nil, fail("linux-unpacked", fmt.Sprintf("packaged app did not reach a healthy backend (exit %d)", code), diagnose.Tail(out, 15))
		}
	}

	// Merge into the build's report.
	rb, err := dist.File("report.json").Contents(ctx)
	if err != nil {
		return nil, fail("report.json", err.Error(), nil)
	}
	rep, err := report.Parse([]byte(rb))
	if err != nil {
		return nil, fail("report.json", err.Error(), nil)
	}
	for _, r := range results {
		checks := append([]report.Check{}, r.Artifact.Checks...)
		checks = append(checks, r.Update...)
		if r.WinConfig != nil {
			checks = append(checks, *r.WinConfig)
		}
		rep.Packages = append(rep.Packages, report.Package{Target: t.String(), Name: r.Artifact.Name, Kind: r.Artifact.Kind,
			BackendPath: r.Artifact.BackendPath, Checks: checks})
	}
	if startCheck && contains(tlist, "dir") {
		rep.Packages = append(rep.Packages, report.Package{Target: t.String(), Name: "linux-unpacked", Kind: "start",
			Checks: []report.Check{{Name: "start", OK: true, Detail: "packaged app reached a healthy backend under xvfb-run; no backend process left after quit"}}})
	}
	js, err := rep.JSON()
	if err != nil {
		return nil, err
	}
	out := built.Directory(ebDistDir).
		WithoutDirectory(".icon-set").
		WithoutFile("builder-debug.yml").
		WithNewFile("report.json", string(js)).
		WithNewFile("summary.txt", rep.Table())
	return out, nil
}

// verifiedEntry is the report entry of target t whose checks all passed.
func verifiedEntry(ctx context.Context, dist *dagger.Directory, t target.Target) (report.Entry, error) {
	rb, err := dist.File("report.json").Contents(ctx)
	if err != nil {
		return report.Entry{}, fmt.Errorf("dist has no report.json: pass the output of build (build → verify → package), never an unverified backend")
	}
	rep, err := report.Parse([]byte(rb))
	if err != nil {
		return report.Entry{}, err
	}
	for _, e := range rep.Entries {
		if e.Target == t.String() {
			if !e.OK() {
				return e, fmt.Errorf("the backend for %s did not pass verification: refusing to package it", t)
			}
			return e, nil
		}
	}
	return report.Entry{}, fmt.Errorf("no verified backend for %s in report.json (build it with --platforms %s)", t, t)
}

func parsePackageTargets(s string) ([]string, error) {
	var out []string
	seen := map[string]bool{}
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' }) {
		f = strings.ToLower(strings.TrimSpace(f))
		if !linuxPackageTargets[f] {
			known := make([]string, 0, len(linuxPackageTargets))
			for k := range linuxPackageTargets {
				known = append(known, k)
			}
			sort.Strings(known)
			return nil, fmt.Errorf("unknown package target %q: supported here: %s (AppImage, snap, nsis and dmg need tools Debian lacks or a native runner)", f, strings.Join(known, ", "))
		}
		if !seen[f] {
			seen[f] = true
			out = append(out, f)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no package targets given")
	}
	return out, nil
}

// artifactKind classifies one electron-builder output ("" = not an installer: yml, blockmaps…).
func artifactKind(name string) string {
	switch {
	case strings.HasSuffix(name, "-unpacked"):
		return "dir"
	case strings.HasSuffix(name, ".tar.gz"):
		return "tar.gz"
	case strings.HasSuffix(name, ".tar.xz"):
		return "tar.xz"
	case strings.HasSuffix(name, ".zip"):
		return "zip"
	case strings.HasSuffix(name, ".deb"):
		return "deb"
	case strings.HasSuffix(name, ".rpm"):
		return "rpm"
	}
	return ""
}

func updateInfoFor(outs []string) string {
	for _, o := range outs {
		if strings.HasPrefix(o, "latest") && strings.HasSuffix(o, ".yml") {
			return o
		}
	}
	return ""
}

func failedChecks(r packageResult) string {
	var bad []string
	all := append(append([]report.Check{}, r.Artifact.Checks...), r.Update...)
	if r.WinConfig != nil {
		all = append(all, *r.WinConfig)
	}
	for _, c := range all {
		if !c.OK {
			bad = append(bad, c.Name+": "+c.Detail)
		}
	}
	return strings.Join(bad, "; ")
}

// linuxExecutableName reads build.linux.executableName from package.json.
func linuxExecutableName(packageJSON string) string {
	var p struct {
		Build struct {
			Linux struct {
				ExecutableName string `json:"executableName"`
			} `json:"linux"`
			ExecutableName string `json:"executableName"`
		} `json:"build"`
	}
	if json.Unmarshal([]byte(packageJSON), &p) != nil {
		return ""
	}
	if p.Build.Linux.ExecutableName != "" {
		return p.Build.Linux.ExecutableName
	}
	return p.Build.ExecutableName
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// truncComm is a process name as the kernel keeps it (15 bytes), what pgrep -x matches.
func truncComm(name string) string {
	if len(name) > 15 {
		return name[:15]
	}
	return name
}

func shellQuoteArg(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }
