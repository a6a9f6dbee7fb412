package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"

	"github.com/pybundle/pybundle/pipeline/diagnose"
	"github.com/pybundle/pybundle/pipeline/layout"
	"github.com/pybundle/pybundle/pipeline/pack"
	"github.com/pybundle/pybundle/pipeline/report"
	"github.com/pybundle/pybundle/pipeline/target"
	"github.com/pybundle/pybundle/pipeline/verify"
)

var linuxAmd64 = target.Target{OS: "linux", Arch: "amd64"}

// writeDist writes a build output for t: the backend executable (content exe, mode), the
// layout (module: <slug>/…; runner: dist/<slug>/…) and a report.json vouching for it.
func writeDist(t *testing.T, dir string, tg target.Target, name string, onedir, runnerLayout bool, exe []byte, mode os.FileMode, checks ...report.Check) report.Entry {
	t.Helper()
	b := layout.Bundle{Target: tg, Name: name, Mode: layout.OneFile}
	if onedir {
		b.Mode = layout.OneDir
	}
	rel := b.Artifact()
	base := dir
	if runnerLayout {
		base = filepath.Join(dir, "dist")
	}
	p := filepath.Join(base, filepath.FromSlash(rel))
	assert.NilError(t, os.MkdirAll(filepath.Dir(p), 0o755))
	assert.NilError(t, os.WriteFile(p, exe, 0o600))
	assert.NilError(t, os.Chmod(p, mode))
	if onedir {
		assert.NilError(t, os.MkdirAll(filepath.Join(filepath.Dir(p), "_internal"), 0o755))
		assert.NilError(t, os.WriteFile(filepath.Join(filepath.Dir(p), "_internal", "lib.pyc"), []byte("pyc"), 0o644))
	}
	sha, err := fileSHA256(p)
	assert.NilError(t, err)
	if len(checks) == 0 {
		checks = []report.Check{{Name: "executable", OK: true}, {Name: "health", OK: true}}
	}
	mode2 := "onefile"
	if onedir {
		mode2 = "onedir"
	}
	root := p
	if onedir {
		root = filepath.Dir(p)
	}
	m, err := verify.TreeManifest(root)
	assert.NilError(t, err)
	e := report.Entry{Target: tg.String(), Mode: mode2, Artifact: rel, SHA256: sha, Checks: checks, Builder: "dagger",
		BundleSHA256: m.SHA256, Manifest: &m}
	rep := report.Report{Tool: "pybundle", Version: report.ToolVersion}
	rep.Add(e)
	js, err := rep.JSON()
	assert.NilError(t, err)
	assert.NilError(t, os.WriteFile(filepath.Join(dir, "report.json"), js, 0o644))
	return e
}

// bundleOf is the layout a report entry describes.
func bundleOf(t *testing.T, e report.Entry) layout.Bundle {
	t.Helper()
	b, err := layout.FromEntry(e.Target, e.Mode, e.Artifact)
	assert.NilError(t, err)
	return b
}

// writeTestReport writes a report holding e into dir.
func writeTestReport(t *testing.T, dir string, e report.Entry) {
	t.Helper()
	rep := report.New()
	rep.Add(e)
	js, err := rep.JSON()
	assert.NilError(t, err)
	assert.NilError(t, os.WriteFile(filepath.Join(dir, "report.json"), js, 0o644))
}

// rewriteChecks replaces the checks of the one entry in dir's report.
func rewriteChecks(t *testing.T, dir string, checks []report.Check) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "report.json"))
	assert.NilError(t, err)
	rep, err := report.Parse(b)
	assert.NilError(t, err)
	e := rep.Entries[0]
	e.Checks = checks
	writeTestReport(t, dir, e)
}

func TestVerifiedEntry(t *testing.T) {
	dir := t.TempDir()
	_, _, _, err := verifiedEntry(dir, linuxAmd64)
	assert.ErrorContains(t, err, "dist has no readable report.json")
	assert.ErrorContains(t, err, "build → verify → package")

	want := writeDist(t, dir, linuxAmd64, "peft_engine", true, false, []byte("ELF"), 0o755)
	rep, e, b, err := verifiedEntry(dir, linuxAmd64)
	assert.NilError(t, err)
	assert.DeepEqual(t, e, want)
	assert.Equal(t, len(rep.Entries), 1)
	assert.Equal(t, b, layout.Bundle{Target: linuxAmd64, Name: "peft_engine", Mode: layout.OneDir}, "the layout is the entry's")

	_, _, _, err = verifiedEntry(dir, target.Target{OS: "darwin", Arch: "arm64"})
	assert.ErrorContains(t, err, "no verified backend for darwin/arm64 in report.json (it has: linux/amd64)")

	writeDist(t, dir, linuxAmd64, "peft_engine", true, false, []byte("ELF"), 0o755,
		report.Check{Name: "glibc", OK: false}, report.Check{Name: "health", OK: false})
	_, _, _, err = verifiedEntry(dir, linuxAmd64)
	assert.ErrorContains(t, err, "the backend for linux/amd64 did not pass verification (failed: glibc, health): refusing to package it")

	// Found by review: an entry with no checks vouched for its backend.
	writeDist(t, dir, linuxAmd64, "peft_engine", true, false, []byte("ELF"), 0o755, report.Check{})
	rewriteChecks(t, dir, nil)
	_, _, _, err = verifiedEntry(dir, linuxAmd64)
	assert.ErrorContains(t, err, "did not pass verification (failed: none run)")

	// An artifact that is not the layout its mode gives is refused, whatever the file system holds.
	e2 := writeDist(t, dir, linuxAmd64, "peft_engine", true, false, []byte("ELF"), 0o755)
	e2.Mode = "onefile"
	writeTestReport(t, dir, e2)
	_, _, _, err = verifiedEntry(dir, linuxAmd64)
	assert.ErrorContains(t, err, `artifact "linux-amd64/peft_engine/peft_engine" is not a onefile layout`)

	assert.NilError(t, os.WriteFile(filepath.Join(dir, "report.json"), []byte("{"), 0o644))
	_, _, _, err = verifiedEntry(dir, linuxAmd64)
	assert.ErrorContains(t, err, "report:")
}

func TestLocateBundle(t *testing.T) {
	for _, tc := range []struct {
		onedir, runner bool
	}{{true, false}, {false, false}, {true, true}, {false, true}} {
		dir := t.TempDir()
		e := writeDist(t, dir, linuxAmd64, "peft_engine", tc.onedir, tc.runner, []byte("ELF"), 0o755)
		b, err := locateBundle(dir, bundleOf(t, e))
		assert.NilError(t, err)
		base := dir
		if tc.runner {
			base = filepath.Join(dir, "dist")
		}
		assert.Equal(t, b.Exe, filepath.Join(base, filepath.FromSlash(e.Artifact)))
		assert.Equal(t, b.Onedir, tc.onedir)
		if tc.onedir {
			assert.Equal(t, b.Src, filepath.Join(base, "linux-amd64", "peft_engine"))
		} else {
			assert.Equal(t, b.Src, b.Exe)
		}
	}
	dir := t.TempDir()
	e := writeDist(t, dir, linuxAmd64, "peft_engine", true, false, []byte("ELF"), 0o755)
	assert.NilError(t, os.RemoveAll(filepath.Join(dir, "linux-amd64")))
	_, err := locateBundle(dir, bundleOf(t, e))
	assert.ErrorContains(t, err, "backend missing from dist: neither ")
}

func TestCheckHandoff(t *testing.T) {
	dir := t.TempDir()
	e := writeDist(t, dir, linuxAmd64, "peft_engine", true, false, []byte("ELF"), 0o755)
	b, err := locateBundle(dir, bundleOf(t, e))
	assert.NilError(t, err)
	assert.NilError(t, checkHandoff(b, e, "linux"))

	assert.NilError(t, os.Chmod(b.Exe, 0o644))
	assert.Error(t, checkHandoff(b, e, "linux"), "backend is not executable (mode 644, want 755): the packaged app would fail with spawn EACCES; restore it with chmod 755")
	assert.NilError(t, checkHandoff(b, e, "windows"), "Windows has no execute bit")
	assert.NilError(t, os.Chmod(b.Exe, 0o755))

	assert.NilError(t, os.WriteFile(b.Exe, []byte("ELF tampered"), 0o755))
	err = checkHandoff(b, e, "linux")
	assert.ErrorContains(t, err, "check sha256 failed: the backend has sha256 ")
	assert.ErrorContains(t, err, "report.json vouches for "+e.SHA256+": it is not the backend verify checked")

	assert.NilError(t, os.Remove(b.Exe))
	assert.NilError(t, os.Symlink("/bin/sh", b.Exe))
	assert.ErrorContains(t, checkHandoff(b, e, "linux"), "backend is not a regular file")

	// Found by review: only the executable's sha256 was checked; a changed _internal/ file
	// passed. The whole bundle is compared with its manifest.
	dir = t.TempDir()
	e = writeDist(t, dir, linuxAmd64, "peft_engine", true, false, []byte("ELF"), 0o755)
	b, err = locateBundle(dir, bundleOf(t, e))
	assert.NilError(t, err)
	assert.NilError(t, os.WriteFile(filepath.Join(b.Src, "_internal", "lib.pyc"), []byte("tampered"), 0o644))
	err = checkHandoff(b, e, "linux")
	assert.ErrorContains(t, err, "check bundle failed: the bundle is not the one verify checked")
	assert.ErrorContains(t, err, "_internal/lib.pyc: sha256")
	assert.NilError(t, os.WriteFile(filepath.Join(b.Src, "_internal", "extra.so"), nil, 0o644))
	assert.ErrorContains(t, checkHandoff(b, e, "linux"), "_internal/extra.so: not in the verified bundle")
	e.Manifest = nil
	assert.ErrorContains(t, checkHandoff(b, e, "linux"), "report.json has no manifest")
}

func TestCheckFolders(t *testing.T) {
	root := t.TempDir()
	app, dist := filepath.Join(root, "app"), filepath.Join(root, "dist")
	cfg := packageConfig{App: app, Dist: dist}
	backendDist := filepath.Join(app, "backend", "dist")
	assert.NilError(t, checkFolders(cfg, filepath.Join(app, "dist"), backendDist))
	assert.NilError(t, checkFolders(cfg, filepath.Join(root, "installers"), backendDist))
	// The CI layout: the app at the root, the runner's --out beside its dist/.
	assert.NilError(t, checkFolders(packageConfig{App: app, Dist: filepath.Join(app, "out")}, filepath.Join(app, "dist"), backendDist))

	for _, tc := range []struct {
		out  string
		cfg  packageConfig
		want string
	}{
		{app, cfg, "is the app folder or contains it"},
		{root, cfg, "is the app folder or contains it"},
		{dist, cfg, "overlaps --dist"},
		{filepath.Join(dist, "installers"), cfg, "overlaps --dist"},
		// The module's build exported to <app>/dist, electron-builder's default output folder.
		{filepath.Join(app, "dist"), packageConfig{App: app, Dist: filepath.Join(app, "dist")}, "overlaps --dist"},
		{filepath.Join(app, "backend"), cfg, "overlaps " + backendDist},
		// A runner's --out that is the app's backend/: its dist/ holds the bundle itself.
		{filepath.Join(app, "dist"), packageConfig{App: app, Dist: filepath.Join(app, "backend")}, "must lie outside it"},
		{filepath.Join(app, "dist"), packageConfig{App: app, Dist: filepath.Join(backendDist, "x")}, "must lie outside it"},
		{filepath.Join(app, "dist"), packageConfig{App: app, Dist: dist, ElectronDist: filepath.Join(app, "dist", "electron")}, "overlaps --electron-dist"},
	} {
		assert.Check(t, is.ErrorContains(checkFolders(tc.cfg, tc.out, backendDist), tc.want), tc.out)
	}
}

func TestPlaceBackend(t *testing.T) {
	dir := t.TempDir()
	e := writeDist(t, dir, linuxAmd64, "peft_engine", true, false, []byte("ELF"), 0o755)
	b, err := locateBundle(dir, bundleOf(t, e))
	assert.NilError(t, err)
	backendDist := filepath.Join(t.TempDir(), "backend", "dist")
	assert.NilError(t, os.MkdirAll(filepath.Join(backendDist, "old_engine"), 0o755))
	assert.NilError(t, placeBackend(b, backendDist, e, "linux"))
	ents, err := os.ReadDir(backendDist)
	assert.NilError(t, err)
	assert.Equal(t, len(ents), 1, "replaced, not merged")
	_, err = os.Stat(filepath.Join(backendDist, "peft_engine", "_internal", "lib.pyc"))
	assert.NilError(t, err)
	other := e
	other.Manifest = &verify.Manifest{Files: []verify.FileDigest{{Path: "peft_engine", Mode: "0755", SHA256: strings.Repeat("0", 64)}}}
	assert.ErrorContains(t, placeBackend(b, backendDist, other, "linux"), "check bundle failed")
}

func TestSelftestResult(t *testing.T) {
	s, ok := selftestResult("noise\nPEFT_DESKTOP version=0.1.0\nPEFT_SELFTEST {\"ok\":true,\"health\":{\"status\":\"ok\"},\"pid\":117}\n")
	assert.Check(t, ok)
	assert.DeepEqual(t, s, selftest{OK: true, PID: 117})
	s, ok = selftestResult(`PEFT_SELFTEST {"ok":false,"error":"backend exited with code 3"}`)
	assert.Check(t, ok)
	assert.DeepEqual(t, s, selftest{Error: "backend exited with code 3"})
	_, ok = selftestResult("BACKEND_READY port=8000\n")
	assert.Check(t, !ok)
	s, ok = selftestResult("PEFT_SELFTEST {garbage")
	assert.Check(t, ok && !s.OK)
	assert.Check(t, is.Contains(s.Error, "unreadable PEFT_SELFTEST line"))
}

func TestStartArgv(t *testing.T) {
	argv, how, err := startArgv("linux", "/d/linux-unpacked/peft-desktop", "", lookPathIn("xvfb-run"))
	assert.NilError(t, err)
	assert.DeepEqual(t, argv, []string{"/usr/bin/xvfb-run", "-a", "/d/linux-unpacked/peft-desktop", "--no-sandbox"})
	assert.Equal(t, how, "under xvfb-run")
	argv, _, err = startArgv("linux", "/d/linux-unpacked/peft-desktop", ":0", lookPathIn())
	assert.NilError(t, err)
	assert.DeepEqual(t, argv, []string{"/d/linux-unpacked/peft-desktop", "--no-sandbox"})
	_, _, err = startArgv("linux", "/x", "", lookPathIn())
	assert.ErrorContains(t, err, "no DISPLAY and no xvfb-run to start the packaged app: install xvfb and xauth, set DISPLAY, or pass --start-check=false")
	for _, goos := range []string{"darwin", "windows"} {
		argv, how, err = startArgv(goos, "/x/app", "", lookPathIn())
		assert.NilError(t, err)
		assert.DeepEqual(t, argv, []string{"/x/app"})
		assert.Equal(t, how, "natively")
	}
}

func TestFindAppExecutable(t *testing.T) {
	ac, err := parseAppConfig([]byte(`{"name":"peft-desktop","build":{"productName":"PeftDesktop","linux":{"executableName":"peft-desktop"}}}`))
	assert.NilError(t, err)
	touch := func(p string) {
		assert.NilError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		assert.NilError(t, os.WriteFile(p, nil, 0o755))
	}
	dir := t.TempDir()

	linux := filepath.Join(dir, "linux-unpacked")
	touch(filepath.Join(linux, "chrome-sandbox"))
	_, err = findAppExecutable("linux", linux, ac)
	assert.ErrorContains(t, err, "the app's executable is not in "+linux+": looked for peft-desktop, PeftDesktop")
	touch(filepath.Join(linux, "peft-desktop"))
	got, err := findAppExecutable("linux", linux, ac)
	assert.NilError(t, err)
	assert.Equal(t, got, filepath.Join(linux, "peft-desktop"))

	win := filepath.Join(dir, "win-unpacked")
	touch(filepath.Join(win, "ffmpeg.dll"))
	touch(filepath.Join(win, "Peft Desktop.exe"))
	got, err = findAppExecutable("windows", win, ac)
	assert.NilError(t, err)
	assert.Equal(t, got, filepath.Join(win, "Peft Desktop.exe"), "the only .exe")

	mac := filepath.Join(dir, "mac-arm64")
	touch(filepath.Join(mac, "PeftDesktop.app", "Contents", "MacOS", "PeftDesktop"))
	got, err = findAppExecutable("darwin", mac, ac)
	assert.NilError(t, err)
	assert.Equal(t, got, filepath.Join(mac, "PeftDesktop.app", "Contents", "MacOS", "PeftDesktop"))

	_, err = findAppExecutable("linux", filepath.Join(dir, "linux-arm64-unpacked"), ac)
	assert.ErrorContains(t, err, "electron-builder left no linux-arm64-unpacked to start")
}

// TestAcceptSigned: a backend electron-builder signed has another sha256; on macOS and
// Windows that passes only when its signature verifies, and never on Linux.
func TestAcceptSigned(t *testing.T) {
	failedSHA := func() pack.Artifact {
		return pack.Artifact{Root: "/r", BackendPath: "PeftDesktop.app/Contents/Resources/backend/peft_engine/peft_engine", Checks: []pack.Check{
			{Name: pack.CheckLocation, OK: true},
			{Name: pack.CheckSHA256, Detail: "x: sha256 aa, the verified backend has bb: the packaged backend is not the verified one"},
		}}
	}
	var verified []string
	valid := func(p string) (string, error) {
		verified = append(verified, p)
		return "codesign --verify --strict: valid", nil
	}
	invalid := func(string) (string, error) { return "", errors.New("code object is not signed at all") }

	a := failedSHA()
	acceptSigned(&a, "darwin", valid)
	assert.Check(t, a.OK)
	assert.Check(t, a.Checks[1].OK)
	assert.Check(t, is.Contains(a.Checks[1].Detail, "signed while packaging (codesign --verify --strict: valid)"))
	assert.DeepEqual(t, verified, []string{filepath.Join("/r", "PeftDesktop.app", "Contents", "Resources", "backend", "peft_engine", "peft_engine")})

	a = failedSHA()
	acceptSigned(&a, "windows", invalid)
	assert.Check(t, !a.OK && !a.Checks[1].OK)
	assert.Check(t, is.Contains(a.Checks[1].Detail, "not the verified one; nor is it a signed copy of it: code object is not signed at all"))

	a = failedSHA()
	acceptSigned(&a, "linux", valid)
	assert.Check(t, !a.Checks[1].OK, "Linux packages are not signed: a digest mismatch stays a failure")

	a = failedSHA()
	a.Checks[1].Detail = "expected digest \"x\" is not a hex sha256"
	acceptSigned(&a, "darwin", valid)
	assert.Check(t, !a.Checks[1].OK, "only a digest mismatch can be explained by signing")
}

func TestPackagesError(t *testing.T) {
	ok := report.Package{Name: "linux-unpacked", Kind: "dir", Checks: []report.Check{{Name: "mode", OK: true}}}
	bad := report.Package{Name: "x.tar.gz", Kind: "tar.gz", Checks: []report.Check{{Name: "mode", OK: true}, {Name: "sha256", Detail: "differs"}}}
	start := report.Package{Name: "linux-unpacked", Kind: "start", Checks: []report.Check{{Name: "start", Detail: "left"}}}
	startErr := &diagnose.Error{Stage: "package", Target: "linux/amd64", File: "linux-unpacked", Reason: "left", Tail: []string{"out"}}
	assert.NilError(t, packagesError(linuxAmd64, []report.Package{ok}, nil))
	assert.Error(t, packagesError(linuxAmd64, []report.Package{ok, bad, start}, startErr), "package linux/amd64: x.tar.gz: check sha256 failed: differs")
	assert.Equal(t, packagesError(linuxAmd64, []report.Package{ok, start}, startErr), error(startErr))
}

// The whole command against fakes: a shell "electron-builder" in the app's node_modules/.bin
// lays out linux-unpacked (resources/app/, the backend from backend/dist, a shell "app") and a
// tar.gz of it; the fake app answers PEFT_SELFTEST like testdata/app. The backend is a copy of
// `sleep` under a name unique to the test, so pgrep -x sees only this test's processes.

const fakeElectronBuilder = `#!/bin/sh
echo "electron-builder $*" >> "$FAKE_LOG"
[ -n "$FAKE_EB_EXIT" ] && { echo "  ⨯ fake electron-builder failure" >&2; exit "$FAKE_EB_EXIT"; }
out=
for a in "$@"; do case "$a" in -c.directories.output=*) out="${a#-c.directories.output=}";; esac; done
u="$out/linux-unpacked"
mkdir -p "$u/resources/app" "$u/resources/backend" "$out/stage" &&
cp -a backend/dist/. "$u/resources/backend/" &&
echo '{"name":"peft-desktop"}' > "$u/resources/app/package.json" || exit 1
# What electron-builder packs with files "**/*": every top-level entry of the app but
# node_modules and its output folder, which it leaves out only when that folder's path
# relative to the app does not start with "." (app-builder-lib, getMainFileMatchers).
rel=$(realpath -m -s --relative-to="$(pwd -P)" "$out")
for f in * .[!.]*; do
  [ -e "$f" ] || [ -L "$f" ] || continue
  [ "$f" = node_modules ] && continue
  case "$rel" in .*) ;; *) [ "$f" = "$rel" ] && continue;; esac
  echo "$f"
done > "$u/resources/app/files.txt"
cp "$FAKE_APP" "$u/peft-desktop" && chmod 755 "$u/peft-desktop" &&
cp -a "$u" "$out/stage/peft-desktop-0.1.0" || exit 1
[ "$FAKE_EB_TAMPER" = mode ] && chmod 644 "$out"/stage/peft-desktop-0.1.0/resources/backend/*/*
tar -czf "$out/peft-desktop-0.1.0.tar.gz" -C "$out/stage" peft-desktop-0.1.0 && rm -rf "$out/stage"
echo "release notes" > "$out/builder-debug.yml"
[ -n "$FAKE_EB_WAIT" ] && { : > "$FAKE_EB_WAIT"; exec sleep 30; }
exit 0
`

const fakeElectronApp = `#!/bin/sh
[ "$PEFT_SELFTEST" = 1 ] || { echo "not a self-test run" >&2; exit 9; }
here=$(dirname "$0")
case "$FAKE_APP_MODE" in
fail) echo 'PEFT_SELFTEST {"ok":false,"error":"backend exited with code 3 during start-up"}'; exit 2;;
leave) "$here"/resources/backend/*/"$FAKE_BACKEND" 60 >/dev/null 2>&1 &
       echo "PEFT_SELFTEST {\"ok\":true,\"pid\":$!}"; exit 0;;
esac
echo "PEFT_SELFTEST {\"ok\":true,\"health\":{\"status\":\"ok\"},\"pid\":4242}" >> "$PEFT_SELFTEST_OUT"
`

type packageFixture struct {
	app, dist, name, log string
	entry                report.Entry
}

func setupPackageFixture(t *testing.T) packageFixture {
	t.Helper()
	if runtime.GOOS != "linux" {
		t.Skip("the fakes are Linux shell scripts and a Linux sleep")
	}
	for _, tool := range []string{"sh", "tar", "pgrep", "sleep", "realpath"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not on PATH", tool)
		}
	}
	dir := t.TempDir()
	var f packageFixture
	rnd := make([]byte, 4)
	_, _ = rand.Read(rnd)
	f.name = "pbt" + hex.EncodeToString(rnd) // unique: pgrep -x sees only this test's backends
	f.app, f.dist, f.log = filepath.Join(dir, "app"), filepath.Join(dir, "dist"), filepath.Join(dir, "log")
	sleep, err := exec.LookPath("sleep")
	assert.NilError(t, err)
	sleepBin, err := os.ReadFile(sleep)
	assert.NilError(t, err)
	f.entry = writeDist(t, f.dist, linuxAmd64, f.name, true, false, sleepBin, 0o755)

	bin := filepath.Join(f.app, "node_modules", ".bin")
	assert.NilError(t, os.MkdirAll(bin, 0o755))
	assert.NilError(t, os.WriteFile(filepath.Join(bin, "electron-builder"), []byte(fakeElectronBuilder), 0o755))
	appExe := filepath.Join(dir, "fake-app")
	assert.NilError(t, os.WriteFile(appExe, []byte(fakeElectronApp), 0o755))
	assert.NilError(t, os.WriteFile(filepath.Join(f.app, "package.json"), []byte(`{"name":"peft-desktop","version":"0.1.0",
  "build":{"appId":"x","linux":{"executableName":"peft-desktop"},"win":{"requestedExecutionLevel":"asInvoker"}}}`), 0o644))
	// A stale output of an earlier electron-builder run (by hand, on a terminal: it wrote its
	// effective configuration): must be gone, not checked.
	assert.NilError(t, os.MkdirAll(filepath.Join(f.app, "dist", "stale-unpacked"), 0o755))
	assert.NilError(t, os.WriteFile(filepath.Join(f.app, "dist", "builder-effective-config.yaml"), []byte("appId: x\n"), 0o644))

	t.Setenv("FAKE_LOG", f.log)
	t.Setenv("FAKE_APP", appExe)
	t.Setenv("FAKE_BACKEND", f.name)
	t.Setenv("DISPLAY", ":99") // no xvfb-run needed: the fake app draws nothing
	t.Setenv("CSC_LINK", "")
	t.Setenv("CSC_NAME", "")
	t.Setenv("CSC_IDENTITY_AUTO_DISCOVERY", "")
	os.Unsetenv("CSC_IDENTITY_AUTO_DISCOVERY")
	return f
}

func (f packageFixture) run(t *testing.T, extra ...string) (int, string, string) {
	t.Helper()
	a, stdout, stderr := testApp("linux", "amd64")
	args := append([]string{"package", "--app", f.app, "--dist", f.dist, "--targets", "dir,tar.gz"}, extra...)
	code := a.run(context.Background(), args)
	return code, stdout.String(), stderr.String()
}

func TestRunPackageWithFakes(t *testing.T) {
	f := setupPackageFixture(t)
	code, stdout, stderr := f.run(t)
	assert.Equal(t, code, exitPass, stderr)

	log, err := os.ReadFile(f.log)
	assert.NilError(t, err)
	assert.Check(t, is.Equal(strings.TrimSpace(string(log)), "electron-builder --linux dir tar.gz --x64 --publish never -c.directories.output="+builderOutput(t, f.log)))
	assert.Check(t, isStageName(filepath.Join(f.app, "dist"), builderOutput(t, f.log)), "electron-builder writes into a staging folder")
	assert.Check(t, is.Contains(stderr, "CSC_IDENTITY_AUTO_DISCOVERY=false"))

	out := filepath.Join(f.app, "dist")
	_, err = os.Stat(filepath.Join(out, "stale-unpacked"))
	assert.Check(t, os.IsNotExist(err), "the previous output is replaced")
	b, err := os.ReadFile(filepath.Join(out, "report.json"))
	assert.NilError(t, err)
	rep, err := report.Parse(b)
	assert.NilError(t, err)
	assert.Check(t, rep.OK())
	assert.Equal(t, len(rep.Entries), 1, "the build's entry is kept")
	var got []string
	for _, p := range rep.Packages {
		var names []string
		for _, c := range p.Checks {
			names = append(names, c.Name)
		}
		got = append(got, fmt.Sprintf("%s %s %s [%s]", p.Target, p.Name, p.Kind, strings.Join(names, " ")))
	}
	assert.DeepEqual(t, got, []string{
		"linux/amd64 linux-unpacked dir [resources location mode outside-asar sha256 bundle win-config]",
		"linux/amd64 linux-unpacked start [start]",
		"linux/amd64 peft-desktop-0.1.0.tar.gz tar.gz [resources location mode outside-asar sha256 bundle win-config]",
	})
	assert.Equal(t, rep.Packages[2].BackendPath, "peft-desktop-0.1.0/resources/backend/"+f.name+"/"+f.name)
	assert.Check(t, is.Contains(rep.Packages[1].Checks[0].Detail, "packaged app reached a healthy backend (pid 4242) on DISPLAY :99; no process of the app ("+f.name+" included) left after quit"))
	summary, err := os.ReadFile(filepath.Join(out, "summary.txt"))
	assert.NilError(t, err)
	assert.Equal(t, string(summary), stdout)
	assert.Check(t, is.Contains(stdout, "peft-desktop-0.1.0.tar.gz  tar.gz"))

	// The backend was put where the app's extraResources take it from.
	fi, err := os.Stat(filepath.Join(f.app, "backend", "dist", f.name, f.name))
	assert.NilError(t, err)
	assert.Equal(t, fi.Mode().Perm(), os.FileMode(0o755))
}

func TestRunPackageFailures(t *testing.T) {
	f := setupPackageFixture(t)
	for _, tc := range []struct {
		name  string
		env   map[string]string
		prep  func(t *testing.T)
		args  []string
		code  int
		want  []string
		table bool // the report table is printed (a failure: with the failed check)
	}{
		{name: "mode lost in an output", env: map[string]string{"FAKE_EB_TAMPER": "mode"}, code: exitFail, table: true,
			want: []string{"package linux/amd64: peft-desktop-0.1.0.tar.gz: check mode failed: peft-desktop-0.1.0/resources/backend/" + f.name + "/" + f.name + ": mode 0644 lacks execute permission"}},
		{name: "self-test fails", env: map[string]string{"FAKE_APP_MODE": "fail"}, code: exitFail, table: true,
			want: []string{"package linux/amd64: linux-unpacked: packaged app did not reach a healthy backend (exit 2): backend exited with code 3 during start-up", "last output:"}},
		{name: "backend left running", env: map[string]string{"FAKE_APP_MODE": "leave"}, code: exitFail, table: true,
			prep: func(t *testing.T) {
				old := leftoverWait
				leftoverWait = time.Second
				t.Cleanup(func() { leftoverWait = old })
			},
			want: []string{"package linux/amd64: linux-unpacked: process left running after the app quit: pid "}},
		{name: "electron-builder fails", env: map[string]string{"FAKE_EB_EXIT": "3"}, code: exitFail,
			want: []string{"package linux/amd64: package.json: electron-builder failed (exit 3)", "fake electron-builder failure"}},
		{name: "requested target missing", args: []string{"--targets", "dir,tar.gz,zip"}, code: exitFail,
			want: []string{"package linux/amd64: dist: electron-builder produced no zip output (outputs: linux-unpacked, peft-desktop-0.1.0.tar.gz)"}},
		{name: "no start check", env: map[string]string{"FAKE_APP_MODE": "fail"}, args: []string{"--start-check=false"}, code: exitPass, table: true},
		{name: "tampered backend", code: exitFail,
			prep: func(t *testing.T) {
				p := filepath.Join(f.dist, "linux-amd64", f.name, f.name)
				fh, err := os.OpenFile(p, os.O_APPEND|os.O_WRONLY, 0)
				assert.NilError(t, err)
				_, err = fh.Write([]byte{0})
				assert.NilError(t, err)
				assert.NilError(t, fh.Close())
			},
			want: []string{"package linux/amd64: linux-amd64/" + f.name + "/" + f.name + ": check sha256 failed"}},
		{name: "no entry for the target", args: []string{"--platform", "linux/arm64"}, code: exitFail,
			want: []string{"package linux/arm64: report.json: no verified backend for linux/arm64 in report.json (it has: linux/amd64)"}},
		{name: "no package.json", prep: func(t *testing.T) { assert.NilError(t, os.Remove(filepath.Join(f.app, "package.json"))) }, code: exitFail,
			want: []string{"package linux/amd64: package.json: not found in the app folder"}},
		{name: "no build config", prep: func(t *testing.T) {
			assert.NilError(t, os.WriteFile(filepath.Join(f.app, "package.json"), []byte(`{"name":"x"}`), 0o644))
		}, code: exitFail, want: []string{`package linux/amd64: package.json: no electron-builder configuration: add a "build" section`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.NilError(t, os.RemoveAll(filepath.Join(f.app, "dist")))
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			pj, err := os.ReadFile(filepath.Join(f.app, "package.json"))
			assert.NilError(t, err)
			distReport, err := os.ReadFile(filepath.Join(f.dist, "report.json"))
			assert.NilError(t, err)
			exe := filepath.Join(f.dist, "linux-amd64", f.name, f.name)
			exeBytes, err := os.ReadFile(exe)
			assert.NilError(t, err)
			defer func() { // each case starts from the good fixture
				assert.NilError(t, os.WriteFile(filepath.Join(f.app, "package.json"), pj, 0o644))
				assert.NilError(t, os.WriteFile(filepath.Join(f.dist, "report.json"), distReport, 0o644))
				assert.NilError(t, os.WriteFile(exe, exeBytes, 0o755))
			}()
			if tc.prep != nil {
				tc.prep(t)
			}
			code, stdout, stderr := f.run(t, tc.args...)
			assert.Equal(t, code, tc.code, stderr)
			for _, w := range tc.want {
				assert.Check(t, is.Contains(stderr, w))
			}
			// Only a run that passed publishes its outputs and report.
			_, err = os.Stat(filepath.Join(f.app, "dist", "report.json"))
			assert.Check(t, err == nil == (tc.code == exitPass), "report.json published: %v", err)
			assert.Check(t, is.Equal(regexp.MustCompile(`TARGET +PACKAGE +KIND`).MatchString(stdout), tc.table), "the report table is printed")
			if tc.table && tc.code != exitPass {
				assert.Check(t, is.Contains(stdout, "FAIL"), "the table says what failed")
			}
			// No backend of this test is left running, whatever happened.
			out, _ := exec.Command("pgrep", "-x", f.name).Output()
			assert.Check(t, is.Equal(strings.TrimSpace(string(out)), ""), "pgrep -x %s", f.name)
		})
	}
}

// Found by review: the leftover check looked for processes by name, machine-wide, and killed
// them: another app's backend of the same name was killed too. Only the packaged app's own
// process tree is followed now; a same-named process outside it is left alone.
func TestStartCheckLeavesOtherProcessesAlone(t *testing.T) {
	f := setupPackageFixture(t)
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		t.Skip("no sleep")
	}
	other := filepath.Join(t.TempDir(), f.name)
	b, err := os.ReadFile(sleep)
	assert.NilError(t, err)
	assert.NilError(t, os.WriteFile(other, b, 0o755))
	cmd := exec.Command(other, "120")
	assert.NilError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })

	code, _, stderr := f.run(t)
	assert.Equal(t, code, exitPass, stderr)
	assert.NilError(t, cmd.Process.Signal(syscall.Signal(0)), "the other process still runs")
}
