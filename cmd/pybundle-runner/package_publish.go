package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/pybundle/pybundle/pipeline/diagnose"
	"github.com/pybundle/pybundle/pipeline/report"
)

// An output folder is replaced as a whole by each package run, so pybundle-runner must know
// it is one electron-builder or pybundle-runner made (never the home folder, /tmp or a folder
// of the user's), and a run that failed must leave the previous output as it was. Hence:
//
//  1. checkOutputFolder, before anything else runs, and again right before the folder is
//     taken over: a real folder, not a root or the home folder, empty or recognisably an
//     earlier output (see previousOutput).
//  2. stageOutput: electron-builder writes into a fresh staging folder beside the output
//     folder (same parent, so renames stay on one file system and are atomic), and the
//     previous output waits inside that staging folder while electron-builder runs.
//  3. publish, once every check passed: the staging folder is renamed into place and the
//     previous output in it removed. On any failure discard puts the previous output back
//     and removes the staging folder.

// builderMarkers are files electron-builder writes at the top of its output folder and
// nowhere else (app-builder-lib's packager): the effective configuration, written when it
// runs on a terminal outside CI, and the debug log, written with DEBUG=electron-builder. They
// recognise an output of electron-builder run by hand. pybundle-runner runs electron-builder
// with its output piped, so its own outputs usually have neither: they have a package report.
var builderMarkers = []string{"builder-effective-config.yaml", "builder-debug.yml"}

// heldName is where the previous output waits inside the staging folder while electron-builder
// runs. There electron-builder leaves it out of the app it packs (it leaves out its output
// folder and everything in it; anywhere else in the app folder it would pack it with the
// default files "**/*"), and checkOutputs skips it (its name starts with a dot).
const heldName = ".pybundle-previous"

// checkOutputFolder refuses an output folder pybundle-runner must not replace, and says
// which file to name in the error: refusals of the folder itself name it, overlaps with
// the other folders (checkFolders) name package.json, where it is usually set.
func checkOutputFolder(cfg packageConfig, outDir, backendDist string) (file string, err error) {
	fix := outputFix(cfg)
	if err := checkOutputIdentity(outDir, fix); err != nil {
		return displayPath(outDir, cfg.App), err
	}
	if err := checkFolders(cfg, outDir, backendDist); err != nil {
		return "package.json", err
	}
	if err := checkPreviousOutput(outDir, fix); err != nil {
		return displayPath(outDir, cfg.App), err
	}
	return "", nil
}

// outputFix is how the user points electron-builder elsewhere: where the folder was set.
func outputFix(cfg packageConfig) string {
	if cfg.Output != "" {
		return "set --output to a folder of its own"
	}
	return "set build.directories.output in package.json (or --output) to a folder of its own"
}

// checkOutputIdentity refuses folders that are never an output folder, whatever they hold: a
// file system's root, the home folder or one holding it (compared as they are on disk, so an
// alias through a symlinked parent is caught too), a symlink or junction (replacing it would
// replace the link, not the folder the user sees), and anything but a folder.
func checkOutputIdentity(outDir, fix string) error {
	if c := canonical(outDir); filepath.Dir(c) == c {
		return fmt.Errorf("electron-builder's output folder %s is the root of a file system: %s", outDir, fix)
	}
	if home, err := os.UserHomeDir(); err == nil && home != "" {
		switch {
		case sameFile(outDir, home):
			return fmt.Errorf("electron-builder's output folder %s is your home folder: %s", outDir, fix)
		case within(home, outDir):
			return fmt.Errorf("electron-builder's output folder %s holds your home folder: %s", outDir, fix)
		}
	}
	fi, err := os.Lstat(outDir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		return fmt.Errorf("electron-builder's output folder %s cannot be read: %v", outDir, cause(err))
	case fi.Mode()&(fs.ModeSymlink|fs.ModeIrregular) != 0:
		return fmt.Errorf("electron-builder's output folder %s is a symlink (or another kind of link): pybundle-runner replaces the output folder with each run and replaces only a real folder; %s", outDir, fix)
	case !fi.IsDir():
		return fmt.Errorf("electron-builder's output folder %s is not a folder: %s", outDir, fix)
	}
	return nil
}

// checkPreviousOutput refuses an existing output folder holding anything but an earlier
// output (see previousOutput): pybundle-runner replaces it, and deletes only what it or
// electron-builder made.
func checkPreviousOutput(outDir, fix string) error {
	ents, err := os.ReadDir(outDir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		return fmt.Errorf("electron-builder's output folder %s cannot be read: %v", outDir, cause(err))
	case len(ents) == 0 || previousOutput(outDir):
		return nil
	}
	var names []string
	for _, e := range ents[:min(len(ents), 3)] {
		names = append(names, e.Name())
	}
	if len(ents) > 3 {
		names = append(names, "…")
	}
	return fmt.Errorf("electron-builder's output folder %s holds files pybundle-runner did not make (%s): each package run replaces that folder, so it must be empty or an earlier output (with the report.json of a package run, or electron-builder's %s); %s, or empty this one",
		outDir, strings.Join(names, ", "), strings.Join(builderMarkers, " or "), fix)
}

// previousOutput reports whether dir is recognisably an earlier output: it holds, at its top,
// the report.json of a package run (what every output pybundle-runner publishes has) or one
// of electron-builder's builderMarkers, as regular files. A build's dist/ (a report without
// packages) and any folder of the user's are not recognised.
func previousOutput(dir string) bool {
	for _, m := range builderMarkers {
		if isRegularFile(filepath.Join(dir, m)) {
			return true
		}
	}
	return isPackageReport(filepath.Join(dir, "report.json"))
}

// isPackageReport reports whether p is pybundle's report.json with a packages section.
func isPackageReport(p string) bool {
	if !isRegularFile(p) {
		return false
	}
	b, err := readBounded(p, report.MaxSize)
	if err != nil {
		return false
	}
	var r struct {
		Tool     string            `json:"tool"`
		Packages []json.RawMessage `json:"packages"`
	}
	return json.Unmarshal(b, &r) == nil && r.Tool == report.ToolName && len(r.Packages) > 0
}

// isRegularFile reports whether p is a regular file itself, not a link to one.
func isRegularFile(p string) bool {
	fi, err := os.Lstat(p)
	return err == nil && fi.Mode().IsRegular()
}

// outputStage is one run's output on its way to the output folder: electron-builder writes
// into dir, every check and the report use dir, and only publish makes it the output folder.
type outputStage struct {
	out       string // the output folder
	dir       string // the staging folder: a fresh sibling of out
	held      bool   // out existed: it waits in dir/heldName until published or put back
	published bool
	logf      func(format string, args ...any)
}

// stageOutput creates the staging folder beside out, after removing those of earlier runs
// that were killed, and moves the previous output (already checked) into it.
func stageOutput(out string, logf func(string, ...any)) (*outputStage, error) {
	parent := filepath.Dir(out)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return nil, fmt.Errorf("creating the folder of the output folder: %v", err)
	}
	if err := sweepStaleStages(out, logf); err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp(parent, stagePrefix(out)+"*")
	if err != nil {
		return nil, fmt.Errorf("creating a staging folder beside the output folder: %v", err)
	}
	s := &outputStage{out: out, dir: dir, logf: logf}
	// MkdirTemp's 0700 would be the published folder's mode: electron-builder makes it 0755.
	if err := os.Chmod(dir, 0o755); err != nil {
		s.discard()
		return nil, err
	}
	if err := s.hold(); err != nil {
		s.discard()
		return nil, err
	}
	return s, nil
}

// stagePrefix names the staging folders of out. It must not start with a dot: electron-builder
// leaves its output folder out of the app only when its path relative to the app does not
// start with "." (app-builder-lib's getMainFileMatchers), and the staging folder may well lie
// inside the app (the default output folder is <app>/dist).
func stagePrefix(out string) string {
	return "pybundle-staging-" + filepath.Base(out) + "-"
}

// isStageName reports whether name is a staging folder of out: stagePrefix then the digits
// os.MkdirTemp puts for its "*" (TestStageNames holds it to that).
func isStageName(out, name string) bool {
	rest, ok := strings.CutPrefix(name, stagePrefix(out))
	return ok && rest != "" && strings.Trim(rest, "0123456789") == ""
}

// hold moves the previous output, if any, into the staging folder.
func (s *outputStage) hold() error {
	if _, err := os.Lstat(s.out); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err := os.Rename(s.out, s.heldPath()); err != nil {
		return fmt.Errorf("moving the previous output into the staging folder %s: %v (is a file in it still open, or is the output folder a mount point?)", s.dir, err)
	}
	s.held = true
	s.logf("package: the previous output waits in %s while electron-builder runs: it is replaced only when every check passed", s.heldPath())
	return nil
}

func (s *outputStage) heldPath() string { return filepath.Join(s.dir, heldName) }

// publish makes the staging folder the output folder, then removes the previous output it
// took along. A previous output that cannot be removed (a file still open on Windows) is
// reported, not an error: the new output is in place, and the next run replaces it whole.
func (s *outputStage) publish() error {
	if err := os.Rename(s.dir, s.out); err != nil {
		return fmt.Errorf("publishing the checked output %s as the output folder: %v", s.dir, err)
	}
	s.published = true
	if s.held {
		if err := os.RemoveAll(filepath.Join(s.out, heldName)); err != nil {
			s.logf("package: removing the previous output %s: %v (remove it by hand)", filepath.Join(s.out, heldName), err)
		}
	}
	return nil
}

// discard undoes the stage after any failure: the previous output goes back to the output
// folder and the staging folder, with whatever electron-builder left in it, is removed. A
// previous output that cannot be put back keeps its staging folder (the next run puts it
// back, see sweepStaleStages). After publish it does nothing, so it can be deferred.
func (s *outputStage) discard() {
	if s.published {
		return
	}
	if s.held {
		if err := os.Rename(s.heldPath(), s.out); err != nil {
			s.logf("package: putting the previous output back: %v; it is in %s", err, s.heldPath())
			return
		}
		s.held = false
	}
	if err := os.RemoveAll(s.dir); err != nil {
		s.logf("package: removing the staging folder %s: %v", s.dir, err)
	}
}

// sweepStaleStages removes the staging folders of earlier runs for out that were killed
// before they could clean up: one inside the app would be packed by this run, electron-builder
// leaving out only its own output folder. The previous output one of them still holds goes
// back first when the output folder is missing. (Two runs for one output folder at a time are
// not supported: they would also replace each other's backend in the app.)
func sweepStaleStages(out string, logf func(string, ...any)) error {
	parent := filepath.Dir(out)
	ents, err := os.ReadDir(parent)
	if err != nil {
		return fmt.Errorf("reading the folder of the output folder: %v", cause(err))
	}
	for _, e := range ents {
		if !e.IsDir() || !isStageName(out, e.Name()) {
			continue
		}
		stale := filepath.Join(parent, e.Name())
		if err := putBackHeld(stale, out, logf); err != nil {
			return err
		}
		if err := os.RemoveAll(stale); err != nil {
			return fmt.Errorf("removing %s, the staging folder of an earlier run that was stopped: %v", stale, err)
		}
		logf("package: removed %s, the staging folder of an earlier run that was stopped", stale)
	}
	return nil
}

// putBackHeld moves the previous output a stale staging folder holds back to out when out is
// missing (the run holding it was killed). When out exists, it is newer and the held one goes
// with the staging folder.
func putBackHeld(stale, out string, logf func(string, ...any)) error {
	held := filepath.Join(stale, heldName)
	if fi, err := os.Lstat(held); err != nil || !fi.IsDir() {
		return nil
	}
	if _, err := os.Lstat(out); !errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err := os.Rename(held, out); err != nil {
		return fmt.Errorf("putting back the previous output %s an earlier, stopped run left: %v", held, err)
	}
	logf("package: put back the previous output an earlier, stopped run left in %s", stale)
	return nil
}

// builderOutputDir is the staging folder as electron-builder is told it: relative to the app
// when inside it. electron-builder leaves its output folder out of the app by the folder's
// path relative to its working directory, which node sees resolved through symlinks; an
// absolute path spelt through a symlink (macOS's /var is /private/var) would not be left out.
func builderOutputDir(appDir, dir string) string {
	if !within(dir, appDir) {
		return dir
	}
	rel, err := filepath.Rel(canonical(appDir), canonical(dir))
	if err != nil {
		return dir
	}
	return rel
}

// publishOutput writes report.json and summary.txt into the staging folder, beside the
// outputs they vouch for, and publishes it: outputs and report replace the previous ones
// together.
func (a *app) publishOutput(cfg packageConfig, stage *outputStage, rep report.Report) error {
	t := cfg.Target.String()
	js, err := rep.JSON()
	if err != nil {
		return &diagnose.Error{Stage: "package", Target: t, File: "report.json", Reason: err.Error()}
	}
	for _, f := range []struct {
		name string
		data []byte
	}{{"report.json", js}, {"summary.txt", []byte(rep.Table())}} {
		p := filepath.Join(stage.dir, f.name)
		if err := os.WriteFile(p, f.data, 0o644); err != nil {
			return &diagnose.Error{Stage: "report", Target: t, File: p, Reason: err.Error()}
		}
	}
	if err := stage.publish(); err != nil {
		return &diagnose.Error{Stage: "package", Target: t, File: displayPath(stage.out, cfg.App), Reason: err.Error()}
	}
	a.logf("package: published %s", stage.out)
	a.logf("report: %s", filepath.Join(stage.out, "report.json"))
	return nil
}
