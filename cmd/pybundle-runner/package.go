package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/pybundle/pybundle/pipeline/diagnose"
	"github.com/pybundle/pybundle/pipeline/health"
	"github.com/pybundle/pybundle/pipeline/layout"
	"github.com/pybundle/pybundle/pipeline/pack"
	"github.com/pybundle/pybundle/pipeline/report"
	"github.com/pybundle/pybundle/pipeline/target"
	"github.com/pybundle/pybundle/pipeline/verify"
)

// startCheckTimeout bounds the packaged app's self-test run.
const startCheckTimeout = 120 * time.Second

// leftoverWait is how long the backend may take to disappear after the app quit.
var leftoverWait = 5 * time.Second

// runPackage is the package stage on a native runner, the module's `package` for this
// machine's OS: the verified backend (Property 4: build → verify → package) is put where the
// app's electron-builder configuration takes it, electron-builder builds the targets, every
// output this machine can open is checked with pipeline/pack (Property 6 and 9, asInvoker),
// the unpacked app is started with PEFT_SELFTEST=1 (Property 3), and the build's report.json
// plus a packages section and summary.txt are written next to the outputs. All of it happens
// in a staging folder that replaces the output folder only when everything passed: a failed
// run leaves the previous output as it was (package_publish.go).
func (a *app) runPackage(ctx context.Context, args []string) (err error) {
	cfg, err := parsePackage(args, a.hostOS, a.hostArch, a.stderr)
	if err != nil {
		return err
	}
	if cfg.Result != "" {
		defer func() {
			if werr := writeResult(cfg.Result, err); werr != nil && err == nil {
				err = &diagnose.Error{Stage: "report", Target: cfg.Target.String(), File: cfg.Result, Reason: werr.Error()}
			}
		}()
	}
	t := cfg.Target
	fail := func(file, reason string, tail []string) error {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return &diagnose.Error{Stage: "package", Target: t.String(), File: file, Reason: reason, Tail: tail}
	}
	a.logf("pybundle-runner %s: package %s: app %s, backend from %s, targets %s", report.ToolVersion, t, cfg.App, cfg.Dist, strings.Join(cfg.Targets, ","))

	// The app and its electron-builder configuration.
	pj, err := os.ReadFile(filepath.Join(cfg.App, "package.json"))
	if err != nil {
		return fail("package.json", "not found in the app folder", nil)
	}
	ac, err := parseAppConfig(pj)
	if err != nil {
		return fail("package.json", err.Error(), nil)
	}
	if ac.Build == nil && !hasBuilderConfigFile(cfg.App) {
		return fail("package.json", `no electron-builder configuration: add a "build" section (or electron-builder.yml)`, nil)
	}
	outDir := cfg.Output
	if outDir == "" {
		if outDir, err = ac.outputDir(cfg.App); err != nil {
			return fail("package.json", err.Error(), nil)
		}
	}

	backendDist := filepath.Join(cfg.App, filepath.FromSlash(layout.AppBackendDir))
	// The output folder is replaced by this run's: refused before anything runs unless it is
	// one pybundle-runner may replace.
	if file, err := checkOutputFolder(cfg, outDir, backendDist); err != nil {
		return fail(file, err.Error(), nil)
	}

	// Property 4: only a backend the build's report vouches for is packaged.
	rep, entry, vouched, err := verifiedEntry(cfg.Dist, t)
	if err != nil {
		return fail("report.json", err.Error(), nil)
	}
	b, err := locateBundle(cfg.Dist, vouched)
	if err != nil {
		return fail(entry.Artifact, err.Error(), nil)
	}
	if err := checkHandoff(b, entry, a.hostOS); err != nil {
		return fail(entry.Artifact, err.Error(), nil)
	}
	a.logf("package: backend %s (sha256 %s, verified) → %s", entry.Artifact, short(entry.SHA256), displayPath(backendDist, cfg.App))
	if err := placeBackend(b, backendDist, entry, a.hostOS); err != nil {
		return fail(layout.AppBackendDir, err.Error(), nil)
	}

	// electron-builder: the app's own (npm ci from its lockfile) or one on PATH.
	if err := a.npmCI(ctx, cfg); err != nil {
		return err
	}
	prog, err := electronBuilderProgram(cfg.App, a.hostOS, exec.LookPath)
	if err != nil {
		return fail("package.json", err.Error(), nil)
	}
	env, signed := signingEnv(os.Environ(), a.hostOS)
	if !signed {
		a.logf("package: no CSC_LINK/CSC_NAME: unsigned build (CSC_IDENTITY_AUTO_DISCOVERY=false unless set)")
	}
	// npm ci may have taken minutes: the output folder is checked again as it is taken over.
	if file, err := checkOutputFolder(cfg, outDir, backendDist); err != nil {
		return fail(file, err.Error(), nil)
	}
	stage, err := stageOutput(outDir, a.logf)
	if err != nil {
		return fail(displayPath(outDir, cfg.App), err.Error(), nil)
	}
	defer stage.discard()
	argv := electronBuilderArgs(prog, t, cfg.Targets, builderOutputDir(cfg.App, stage.dir), cfg.ElectronDist)
	a.logf("package: %s", strings.Join(argv, " "))
	out, err := a.command(ctx, cfg.App, env, argv...)
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return fail("package.json", fmt.Sprintf("electron-builder failed (exit %d)", ee.ExitCode()), diagnose.Tail(out, 20))
		}
		return fail("package.json", "cannot run electron-builder: "+err.Error(), nil)
	}

	// Every output this machine can open, checked as the Linux stage checks its outputs.
	h := host{goos: a.hostOS, lookPath: exec.LookPath, sevenZip: findSevenZip(cfg.App, a.hostOS, a.hostArch, exec.LookPath)}
	pkgs, err := a.checkOutputs(ctx, cfg, h, stage.dir, entry, vouched, pj)
	if err != nil {
		return fail(displayPath(outDir, cfg.App), err.Error(), nil)
	}

	// Property 3: the packaged app starts its backend and leaves no process behind on quit.
	var startErr *diagnose.Error
	if cfg.StartCheck {
		var p report.Package
		p, startErr = a.startCheck(ctx, cfg, ac, stage.dir, vouched)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		pkgs = append(pkgs, p)
	}

	rep.Packages = append(rep.Packages, pkgs...)
	fmt.Fprint(a.stdout, rep.Table())
	// A failed run's outputs and report are not kept (the deferred discard removes them): the
	// error names the stage, the output and the check with the tail of what failed, --result
	// holds it, and the table above shows every check. Kept anywhere, they would be one more
	// folder to clean up, and their report one to mistake for the good output's.
	if err := packagesError(t, pkgs, startErr); err != nil {
		return err
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return a.publishOutput(cfg, stage, rep)
}

// Result is what --result holds after `package`: whether it passed and, if not, the error as
// the module reports it (stage, target, file, reason, the output's tail).
type Result struct {
	OK    bool            `json:"ok"`
	Error *diagnose.Error `json:"error,omitempty"`
}

// writeResult writes the outcome err as a Result.
func writeResult(file string, err error) error {
	r := Result{OK: err == nil}
	if err != nil {
		var de *diagnose.Error
		if !errors.As(err, &de) {
			de = &diagnose.Error{Stage: "package", Reason: err.Error()}
		}
		r.Error = de
	}
	b, jerr := json.Marshal(r)
	if jerr != nil {
		return jerr
	}
	return os.WriteFile(file, append(b, '\n'), 0o644)
}

// packagesError is the error for the first failed check of the packages, nil if none.
func packagesError(t target.Target, pkgs []report.Package, startErr *diagnose.Error) error {
	for _, p := range pkgs {
		for _, c := range p.Checks {
			if c.OK {
				continue
			}
			if p.Kind == "start" && startErr != nil {
				return startErr
			}
			return &diagnose.Error{Stage: "package", Target: t.String(), File: p.Name,
				Reason: fmt.Sprintf("check %s failed: %s", c.Name, c.Detail)}
		}
	}
	return nil
}

// hasBuilderConfigFile reports whether the app configures electron-builder in a file of its
// own instead of package.json's "build".
func hasBuilderConfigFile(appDir string) bool {
	for _, n := range []string{"electron-builder.yml", "electron-builder.yaml", "electron-builder.json",
		"electron-builder.json5", "electron-builder.toml", "electron-builder.config.js", "electron-builder.config.cjs",
		"electron-builder.config.mjs", "electron-builder.config.ts"} {
		if _, err := os.Stat(filepath.Join(appDir, n)); err == nil {
			return true
		}
	}
	return false
}

// verifiedEntry reads <dist>/report.json and returns it with the entry of target t, which must
// have passed every check, and the bundle the entry describes.
func verifiedEntry(dist string, t target.Target) (report.Report, report.Entry, layout.Bundle, error) {
	b, err := readBounded(filepath.Join(dist, "report.json"), report.MaxSize)
	if err != nil {
		return report.Report{}, report.Entry{}, layout.Bundle{}, fmt.Errorf("dist has no readable report.json (%v): pass the output of build (build → verify → package), never an unverified backend", err)
	}
	rep, err := report.Parse(b)
	if err != nil {
		return report.Report{}, report.Entry{}, layout.Bundle{}, err
	}
	e, err := rep.Verified(t)
	if err != nil {
		return rep, e, layout.Bundle{}, err
	}
	bundle, err := layout.FromEntry(e.Target, e.Mode, e.Artifact)
	return rep, e, bundle, err
}

// bundle is the verified backend in the build's output.
type bundle struct {
	Src    string // what is handed over: the onedir folder, or the onefile executable
	Exe    string // the executable
	Onedir bool
}

// locateBundle finds the entry's bundle. --dist is either the module's dist/ (report.json
// next to <os>-<arch>/) or a runner's --out (report.json next to dist/<os>-<arch>/).
func locateBundle(dist string, v layout.Bundle) (bundle, error) {
	var looked []string
	for _, base := range []string{dist, filepath.Join(dist, "dist")} {
		p := filepath.Join(base, filepath.FromSlash(v.Artifact()))
		if _, err := os.Lstat(p); err == nil {
			return bundle{Src: filepath.Join(base, filepath.FromSlash(v.RootInDist())), Exe: p, Onedir: v.Onedir()}, nil
		}
		looked = append(looked, p)
	}
	return bundle{}, fmt.Errorf("backend missing from dist: neither %s exists", strings.Join(looked, " nor "))
}

// checkHandoff checks the backend about to be packaged: a regular file, mode 0755 outside
// Windows (a 0644 backend fails in the field with `spawn … EACCES`), the very file report.json
// vouches for, and the whole bundle its manifest lists, recomputed here rather than trusted.
func checkHandoff(b bundle, e report.Entry, goos string) error {
	fi, err := os.Lstat(b.Exe)
	switch {
	case err != nil:
		return fmt.Errorf("backend missing from dist: %v", cause(err))
	case !fi.Mode().IsRegular():
		return fmt.Errorf("backend is not a regular file (%v)", fi.Mode().Type())
	case goos != "windows" && fi.Mode().Perm() != 0o755:
		return fmt.Errorf("backend is not executable (mode %o, want 755): the packaged app would fail with spawn EACCES; restore it with chmod 755", fi.Mode().Perm())
	}
	got, err := fileSHA256(b.Exe)
	if err != nil {
		return err
	}
	if want := strings.ToLower(e.SHA256); got != want {
		return fmt.Errorf("check sha256 failed: the backend has sha256 %s, report.json vouches for %s: it is not the backend verify checked (rebuild, or pass the dist this report belongs to)", got, want)
	}
	return checkBundle(b.Src, e, goos)
}

// checkBundle compares the bundle at src with the manifest report.json vouches for.
func checkBundle(src string, e report.Entry, goos string) error {
	if e.Manifest == nil {
		return fmt.Errorf("report.json has no manifest of the bundle: build it again with this pybundle version")
	}
	m, err := verify.TreeManifest(src)
	if err != nil {
		return err
	}
	if diff := e.Manifest.Diff(m, verify.CompareOptions{IgnoreModes: goos == "windows"}, 8); len(diff) > 0 {
		return fmt.Errorf("check bundle failed: the bundle is not the one verify checked (%s):\n  %s", e.Manifest.Summary(), strings.Join(diff, "\n  "))
	}
	return nil
}

// checkFolders refuses folder layouts where replacing electron-builder's output folder or
// replacing backend/dist would destroy the app or the build's output (the bundle lies in
// --dist, so it is safe too).
func checkFolders(cfg packageConfig, outDir, backendDist string) error {
	overlap := func(x, y string) bool { return sameFile(x, y) || within(x, y) || within(y, x) }
	switch {
	case sameFile(outDir, cfg.App) || within(cfg.App, outDir):
		return fmt.Errorf("electron-builder's output folder %s is the app folder or contains it: set build.directories.output to a folder of its own (pybundle-runner replaces it with each run's output)", outDir)
	case overlap(outDir, cfg.Dist):
		return fmt.Errorf("electron-builder's output folder %s overlaps --dist %s: pybundle-runner replaces it with each run's output; keep the build's output elsewhere", outDir, cfg.Dist)
	case overlap(outDir, backendDist):
		return fmt.Errorf("electron-builder's output folder %s overlaps %s, where the backend is put", outDir, backendDist)
	case overlap(backendDist, cfg.Dist):
		return fmt.Errorf("%s is replaced by the verified backend, so --dist %s must lie outside it (and not contain it)", backendDist, cfg.Dist)
	case cfg.ElectronDist != "" && overlap(outDir, cfg.ElectronDist):
		return fmt.Errorf("electron-builder's output folder %s overlaps --electron-dist %s", outDir, cfg.ElectronDist)
	}
	return nil
}

// placeBackend replaces backendDist with a copy of the verified bundle (modes and symlinks
// kept) and checks the copy is still the verified bundle, file for file.
func placeBackend(b bundle, backendDist string, e report.Entry, goos string) error {
	if err := os.RemoveAll(backendDist); err != nil {
		return err
	}
	if err := os.MkdirAll(backendDist, 0o755); err != nil {
		return err
	}
	dst := filepath.Join(backendDist, filepath.Base(b.Src))
	if err := copyTree(b.Src, dst); err != nil {
		return fmt.Errorf("copying the backend: %w", err)
	}
	if err := checkBundle(dst, e, goos); err != nil {
		return fmt.Errorf("the copy in %s: %w", backendDist, err)
	}
	return nil
}

// npmCI installs the app's dependencies from its lockfile when they are not installed yet:
// electron-builder is then the app's own devDependency, at the version the lockfile pins.
func (a *app) npmCI(ctx context.Context, cfg packageConfig) error {
	if _, err := os.Stat(filepath.Join(cfg.App, "package-lock.json")); err != nil || !cfg.NpmCI {
		return nil
	}
	if _, err := os.Stat(filepath.Join(cfg.App, "node_modules")); err == nil {
		a.logf("package: node_modules present: reusing it (remove it for a fresh npm ci)")
		return nil
	}
	npm, err := exec.LookPath("npm")
	if err != nil {
		return &diagnose.Error{Stage: "package", Target: cfg.Target.String(), File: "package-lock.json",
			Reason: "npm not found on PATH: install Node.js, or install the app's dependencies yourself and pass --no-npm-ci"}
	}
	a.logf("package: npm ci in %s", cfg.App)
	if out, err := a.command(ctx, cfg.App, withoutSecrets(os.Environ()), npm, "ci", "--no-audit", "--no-fund"); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return &diagnose.Error{Stage: "package", Target: cfg.Target.String(), File: "package-lock.json",
			Reason: "npm ci failed: " + err.Error(), Tail: diagnose.Tail(out, 12)}
	}
	return nil
}

// checkOutputs checks every output in outDir this machine can open. Outputs it cannot open
// are logged and left out of the report; each requested target must have produced an output,
// and at least one output must have been checked.
func (a *app) checkOutputs(ctx context.Context, cfg packageConfig, h host, outDir string, e report.Entry, v layout.Bundle, pj []byte) ([]report.Package, error) {
	ents, err := sortedOutputs(outDir)
	if err != nil {
		return nil, fmt.Errorf("electron-builder left no output folder: %v", cause(err))
	}
	var update []report.Check
	for _, d := range ents {
		if n := d.Name(); !d.IsDir() && strings.HasPrefix(n, "latest") && strings.HasSuffix(n, ".yml") {
			checks, err := pack.CheckUpdateInfo(filepath.Join(outDir, n))
			if err != nil {
				checks = []pack.Check{{Name: pack.CheckUpdateInfoDoc, Detail: err.Error()}}
			}
			update = append(update, checks...)
		}
	}
	winConfig := pack.CheckWinConfig(pj)

	var pkgs []report.Package
	var names, skipped []string
	kinds := map[pack.Kind]bool{}
	for _, d := range ents {
		name := d.Name()
		kind := pack.OutputKind(name, d.IsDir())
		if kind == "" {
			continue
		}
		kinds[kind] = true
		names = append(names, name)
		if ok, why := h.extractable(kind); !ok {
			a.logf("package: %s (%s) NOT CHECKED: %s; it is left out of report.json", name, kind, why)
			skipped = append(skipped, name)
			continue
		}
		p := report.Package{Target: cfg.Target.String(), Name: name, Kind: string(kind)}
		tmp, err := os.MkdirTemp("", "pybundle-package-")
		if err != nil {
			return nil, err
		}
		opened, err := a.openOutput(ctx, h, cfg.Target, kind, filepath.Join(outDir, name), tmp)
		if err != nil {
			if ctx.Err() != nil {
				os.RemoveAll(tmp)
				return nil, ctx.Err()
			}
			p.Checks = []report.Check{{Name: "extract", Detail: err.Error()}}
		} else {
			art := pack.CheckBackend(opened.Root, v, e.SHA256)
			acceptSigned(&art, a.hostOS, func(p string) (string, error) { return a.verifySignature(ctx, p) })
			pack.CheckBundle(&art, v, e.Manifest, bundleCompare(a.hostOS))
			opened.Cleanup()
			p.BackendPath = art.BackendPath
			p.Checks = slices.Concat(art.Checks, update, []report.Check{winConfig})
		}
		if err := os.RemoveAll(tmp); err != nil {
			a.logf("package: removing %s: %v", tmp, err)
		}
		for _, c := range p.Checks {
			a.logf("%-4s %-28s %-12s %s", okWord(c.OK), name, c.Name, c.Detail)
		}
		pkgs = append(pkgs, p)
	}
	var missing []string
	for _, tg := range cfg.Targets {
		if !kinds[pack.TargetKind(tg)] {
			missing = append(missing, tg)
		}
	}
	switch {
	case len(missing) > 0:
		return nil, fmt.Errorf("electron-builder produced no %s output (outputs: %s)", strings.Join(missing, ", "), listOrNone(names))
	case len(pkgs) == 0:
		return nil, fmt.Errorf("no output could be checked on this machine (%s): nothing would vouch for the installers", strings.Join(skipped, ", "))
	}
	return pkgs, nil
}

// acceptSigned re-judges a failed sha256 check when the host's packaging signs the backend
// (macOS codesign, Windows Authenticode): signing rewrites the executable, so its digest is no
// longer the verified one. The check passes when the signature verifies; the copy handed to
// electron-builder was checked against the verified sha256 before (checkHandoff,
// placeBackend), and a verifying signature on a modified file means it was signed after the
// change: by electron-builder. Elsewhere (Linux packages are not signed) nothing changes.
func acceptSigned(art *pack.Artifact, goos string, verify func(path string) (string, error)) {
	if goos != "darwin" && goos != "windows" || art.BackendPath == "" {
		return
	}
	i := slices.IndexFunc(art.Checks, func(c pack.Check) bool { return c.Name == pack.CheckSHA256 && !c.OK })
	if i < 0 || !strings.Contains(art.Checks[i].Detail, "not the verified one") {
		return
	}
	detail, err := verify(filepath.Join(art.Root, filepath.FromSlash(art.BackendPath)))
	if err != nil {
		art.Checks[i].Detail += fmt.Sprintf("; nor is it a signed copy of it: %v", err)
		return
	}
	art.Checks[i] = pack.Check{Name: pack.CheckSHA256, OK: true,
		Detail: fmt.Sprintf("%s: signed while packaging (%s), so its sha256 differs from the verified backend's; the copy handed to electron-builder had the verified sha256", art.BackendPath, detail)}
	art.OK = true
	for _, c := range art.Checks {
		art.OK = art.OK && c.OK
	}
}

// bundleCompare is how a packaged bundle is compared with its manifest on goos: where
// packaging signs code (macOS, Windows), binaries may differ from the verified ones (their
// signatures are what vouches for them there, see acceptSigned); Windows has no modes.
func bundleCompare(goos string) verify.CompareOptions {
	switch goos {
	case "darwin", "windows":
		return verify.CompareOptions{IgnoreModes: goos == "windows", Signed: func(p string) bool {
			ext := strings.ToLower(filepath.Ext(p))
			return ext == "" || ext == ".so" || ext == ".dylib" || ext == ".exe" || ext == ".dll" || ext == ".pyd"
		}}
	}
	return verify.CompareOptions{}
}

// verifySignature checks the code signature of file with the OS's own tool.
func (a *app) verifySignature(ctx context.Context, file string) (string, error) {
	switch a.hostOS {
	case "darwin":
		out, err := a.quiet(ctx, "", "codesign", "--verify", "--strict", "--verbose=2", file)
		if err != nil {
			return "", toolError("codesign --verify --strict", err, out)
		}
		return "codesign --verify --strict: valid", nil
	case "windows":
		cmd := exec.CommandContext(ctx, "powershell", "-NoProfile", "-NonInteractive", "-Command",
			`$s = Get-AuthenticodeSignature -LiteralPath $env:PYBUNDLE_SIGNED_FILE; "$($s.Status) $($s.SignerCertificate.Subject)"`)
		cmd.Env = append(os.Environ(), "PYBUNDLE_SIGNED_FILE="+file)
		out, err := cmd.Output()
		status := strings.TrimSpace(string(out))
		if err != nil || !strings.HasPrefix(status, "Valid") {
			return "", fmt.Errorf("Authenticode signature %q (%v)", status, err)
		}
		return "Authenticode " + status, nil
	}
	return "", fmt.Errorf("no code signing on %s", a.hostOS)
}

// startCheck starts the unpacked app with PEFT_SELFTEST=1 — the app starts its backend, waits
// for /api/health, prints `PEFT_SELFTEST {"ok":true,…}`, stops the backend and quits — and
// then requires that no backend process is left. The package entry is returned either way;
// the error is set when the check failed.
func (a *app) startCheck(ctx context.Context, cfg packageConfig, ac appConfig, outDir string, v layout.Bundle) (report.Package, *diagnose.Error) {
	unpacked := pack.UnpackedDir(cfg.Target)
	p := report.Package{Target: cfg.Target.String(), Name: unpacked, Kind: "start"}
	failed := func(detail string, tail []string) (report.Package, *diagnose.Error) {
		p.Checks = []report.Check{{Name: "start", Detail: detail}}
		a.logf("FAIL %-28s %-12s %s", unpacked, "start", detail)
		return p, &diagnose.Error{Stage: "package", Target: cfg.Target.String(), File: unpacked, Reason: detail, Tail: tail}
	}
	dir := filepath.Join(outDir, unpacked)
	exe, err := findAppExecutable(a.hostOS, dir, ac)
	if err != nil {
		return failed(err.Error(), nil)
	}
	argv, how, err := startArgv(a.hostOS, exe, os.Getenv("DISPLAY"), exec.LookPath)
	if err != nil {
		return failed(err.Error(), nil)
	}
	backend := v.Exe()
	tmp, err := os.MkdirTemp("", "pybundle-selftest-")
	if err != nil {
		return failed(err.Error(), nil)
	}
	defer os.RemoveAll(tmp)
	selftestOut := filepath.Join(tmp, "selftest.txt")

	a.logf("package: starting %s %s with PEFT_SELFTEST=1 (timeout %s)", displayPath(exe, outDir), how, startCheckTimeout)
	run := a.runApp(ctx, argv, dir, append(withoutSecrets(withoutEnv(os.Environ(), "ELECTRON_RUN_AS_NODE")), "PEFT_SELFTEST=1", "PEFT_SELFTEST_OUT="+selftestOut))
	if ctx.Err() != nil {
		return p, nil
	}
	tail := diagnose.Tail(run.output, 15)
	lines := run.output
	if b, err := os.ReadFile(selftestOut); err == nil {
		lines = string(b) + "\n" + run.output
	}
	st, found := selftestResult(lines)

	// Leftovers are looked for even when the run failed: they are the worse news.
	switch {
	case len(run.leftovers) > 0:
		return failed(fmt.Sprintf("process left running after the app quit: %s (killed now)", strings.Join(run.leftovers, ", ")), tail)
	case run.timedOut:
		return failed(fmt.Sprintf("packaged app did not quit within %s (killed)", startCheckTimeout), tail)
	case !found:
		return failed(fmt.Sprintf("packaged app did not reach a healthy backend (%s; no PEFT_SELFTEST line: does the app support PEFT_SELFTEST=1?)", exitText(run.err)), tail)
	case !st.OK:
		return failed(fmt.Sprintf("packaged app did not reach a healthy backend (%s): %s", exitText(run.err), st.Error), tail)
	case run.err != nil:
		return failed(fmt.Sprintf("packaged app reported a healthy backend but %s", exitText(run.err)), tail)
	}
	detail := fmt.Sprintf("packaged app reached a healthy backend (pid %d) %s; no process of the app (%s included) left after quit", st.PID, how, backend)
	p.Checks = []report.Check{{Name: "start", OK: true, Detail: detail}}
	a.logf("ok   %-28s %-12s %s", unpacked, "start", detail)
	return p, nil
}

// selftest is the app's `PEFT_SELFTEST {...}` line.
type selftest struct {
	OK    bool   `json:"ok"`
	Error string `json:"error"`
	PID   int    `json:"pid"`
}

// selftestResult parses the first PEFT_SELFTEST line of out.
func selftestResult(out string) (selftest, bool) {
	for _, l := range strings.Split(out, "\n") {
		i := strings.Index(l, "PEFT_SELFTEST {")
		if i < 0 {
			continue
		}
		var s selftest
		if err := json.Unmarshal([]byte(strings.TrimSpace(l[i+len("PEFT_SELFTEST "):])), &s); err != nil {
			return selftest{Error: "unreadable PEFT_SELFTEST line: " + err.Error()}, true
		}
		return s, true
	}
	return selftest{}, false
}

// findAppExecutable is the unpacked app's executable: <dir>/<name> (Linux), <dir>\<name>.exe
// (Windows) or <dir>/<Product>.app/Contents/MacOS/<name> (macOS), name from the app's
// configuration; when none of those exists, the only candidate there is.
func findAppExecutable(goos, dir string, ac appConfig) (string, error) {
	if _, err := os.Stat(dir); err != nil {
		return "", fmt.Errorf("electron-builder left no %s to start: %v", filepath.Base(dir), cause(err))
	}
	base := dir
	if goos == "darwin" {
		apps, _ := filepath.Glob(filepath.Join(dir, "*.app"))
		if len(apps) != 1 {
			return "", fmt.Errorf("%s holds %d .app bundles, want 1", filepath.Base(dir), len(apps))
		}
		base = filepath.Join(apps[0], "Contents", "MacOS")
	}
	names := ac.executableCandidates(goos)
	for _, n := range names {
		if fi, err := os.Stat(filepath.Join(base, n)); err == nil && fi.Mode().IsRegular() {
			return filepath.Join(base, n), nil
		}
	}
	// One executable file at the top is the app (Linux also has chrome-sandbox etc., so only
	// macOS's MacOS/ and Windows' .exe files are taken this way).
	var found []string
	ents, _ := os.ReadDir(base)
	for _, e := range ents {
		if e.Type().IsRegular() && (goos == "darwin" || goos == "windows" && strings.EqualFold(filepath.Ext(e.Name()), ".exe")) {
			found = append(found, e.Name())
		}
	}
	if len(found) == 1 {
		return filepath.Join(base, found[0]), nil
	}
	return "", fmt.Errorf("the app's executable is not in %s: looked for %s", base, strings.Join(names, ", "))
}

// startArgv is how the unpacked app is started: on Linux with --no-sandbox (the chrome-sandbox
// helper is not setuid in an unpacked folder) and, without a DISPLAY, under `xvfb-run -a`.
func startArgv(goos, exe, display string, lookPath func(string) (string, error)) (argv []string, how string, err error) {
	if goos != "linux" {
		return []string{exe}, "natively", nil
	}
	if display != "" {
		return []string{exe, "--no-sandbox"}, "on DISPLAY " + display, nil
	}
	xvfb, err := lookPath("xvfb-run")
	if err != nil {
		return nil, "", fmt.Errorf("no DISPLAY and no xvfb-run to start the packaged app: install xvfb and xauth, set DISPLAY, or pass --start-check=false")
	}
	return []string{xvfb, "-a", exe, "--no-sandbox"}, "under xvfb-run", nil
}

// appRun is how one start of the packaged app went.
type appRun struct {
	output    string
	err       error
	timedOut  bool
	leftovers []string // processes of the app's tree still running after it quit (killed since)
}

// runApp starts the packaged app and follows its process tree (pipeline/health.Tree: only
// what this app started, never processes of the same name from elsewhere); after it quits,
// its tree may take leftoverWait to be gone, and whatever is left is killed and reported.
func (a *app) runApp(ctx context.Context, argv []string, dir string, env []string) appRun {
	sctx, cancel := context.WithTimeout(ctx, startCheckTimeout)
	defer cancel()
	cmd := exec.CommandContext(sctx, argv[0], argv[1:]...)
	cmd.Dir, cmd.Env = dir, env
	inOwnGroup(cmd)
	cmd.WaitDelay = 5 * time.Second
	buf := &diagnose.TailBuffer{Max: 256 << 10}
	w := io.MultiWriter(buf, a.stderr)
	cmd.Stdout, cmd.Stderr = w, w
	if a.hostOS == "linux" {
		_ = health.BecomeSubreaper() // orphans of the app's backend stay in its tree
	}
	var r appRun
	if err := cmd.Start(); err != nil {
		r.err = err
		return r
	}
	tree := health.TrackTree(cmd.Process.Pid)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for waiting := true; waiting; {
		select {
		case r.err = <-done:
			waiting = false
		case <-tick.C:
			tree.Scan()
		}
	}
	r.timedOut = errors.Is(sctx.Err(), context.DeadlineExceeded)
	r.output = string(buf.Bytes())
	deadline := time.Now().Add(leftoverWait)
	for r.leftovers = tree.Alive(); len(r.leftovers) > 0 && time.Now().Before(deadline); r.leftovers = tree.Alive() {
		time.Sleep(250 * time.Millisecond)
	}
	if len(r.leftovers) > 0 {
		tree.Kill()
	}
	return r
}

// signingPrefixes name the signing and notarization secrets: electron-builder gets them, never
// npm's lifecycle scripts or the app started for the check.
var signingPrefixes = []string{"CSC_", "WIN_CSC_", "APPLE_"}

// withoutSecrets is env without the signing secrets.
func withoutSecrets(env []string) []string {
	return slices.DeleteFunc(slices.Clone(env), func(kv string) bool {
		return slices.ContainsFunc(signingPrefixes, func(p string) bool { return strings.HasPrefix(kv, p) })
	})
}

func withoutEnv(env []string, key string) []string {
	return slices.DeleteFunc(slices.Clone(env), func(kv string) bool { return strings.HasPrefix(kv, key+"=") })
}

func exitText(err error) string {
	var ee *exec.ExitError
	switch {
	case err == nil:
		return "exit 0"
	case errors.As(err, &ee):
		return fmt.Sprintf("exit %d", ee.ExitCode())
	}
	return err.Error()
}

func listOrNone(xs []string) string {
	if len(xs) == 0 {
		return "none"
	}
	return strings.Join(xs, ", ")
}

// fileSHA256 is verify.FileSHA256 without the size.
func fileSHA256(p string) (string, error) {
	sum, _, err := verify.FileSHA256(p)
	return sum, err
}

func short(sha string) string {
	if len(sha) > 12 {
		return sha[:12]
	}
	return sha
}
