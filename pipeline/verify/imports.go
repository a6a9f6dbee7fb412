package verify

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/pybundle/pybundle/pipeline/diagnose"
)

// The contract with the runtime hook bundled into every pybundle build: with
// EnvImportCheck set, the frozen app imports the listed modules, copies its
// shared libraries into EnvDumpDir, prints one CheckLinePrefix line with a JSON
// object and exits (0 when all imported, 3 otherwise) without serving.
const (
	EnvImportCheck  = "PYBUNDLE_IMPORT_CHECK"
	EnvDumpDir      = "PYBUNDLE_DUMP_DIR"
	CheckLinePrefix = "PYBUNDLE_CHECK "
)

// sentinelModule is asked for when Options.Modules is empty: the hook needs a
// non-empty list to act (else the app would start serving), and "encodings" is
// in every frozen interpreter because Python cannot start without it.
const sentinelModule = "encodings"

// hookReport is the JSON on the PYBUNDLE_CHECK line.
type hookReport struct {
	OK       *bool             `json:"ok"`
	Imported []string          `json:"imported"`
	Failed   map[string]string `json:"failed"`
	Meipass  string            `json:"meipass"`
	Frozen   bool              `json:"frozen"`
	Python   string            `json:"python"`
	Dumped   int               `json:"dumped"`
}

type importResult struct {
	ok     bool
	detail string
	python string
	ran    bool // the hook answered, so the dump dir holds the bundle's libraries
}

// runImportCheck runs the artifact in import-check mode. The returned error is
// only for a cancelled ctx; everything else is a failed check.
func runImportCheck(ctx context.Context, o Options, dumpDir string) (importResult, error) {
	modules := o.Modules
	if len(modules) == 0 {
		modules = []string{sentinelModule}
	}
	runCtx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	cmd := exec.CommandContext(runCtx, o.Artifact)
	cmd.Env = append(os.Environ(), EnvImportCheck+"="+strings.Join(modules, ","), EnvDumpDir+"="+dumpDir)
	stdout, stderr := &diagnose.TailBuffer{Max: 1 << 20}, &diagnose.TailBuffer{Max: 64 << 10}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	// Own process group, killed as a whole: a onefile bootloader forks the real
	// interpreter, which must not outlive a timeout.
	setProcessGroup(cmd)
	cmd.Cancel = func() error { return killProcessGroup(cmd.Process) }
	cmd.WaitDelay = 2 * time.Second

	err := cmd.Run()
	if errors.Is(err, exec.ErrWaitDelay) {
		err = nil // exited fine; a stray descendant held the output open and is killed below
	}
	if cmd.Process != nil {
		_ = killProcessGroup(cmd.Process) // nothing may linger after the check
	}
	if ctx.Err() != nil {
		return importResult{}, fmt.Errorf("verify %s: %s check interrupted: %w", o.Artifact, CheckImports, ctx.Err())
	}
	tail := lastLines(stderr, 10)
	var exitErr *exec.ExitError
	switch {
	case err != nil && runCtx.Err() != nil:
		return importResult{detail: fmt.Sprintf("%s: no result within %s, killed; an app that starts serving instead means the pybundle runtime hook is not in the build%s", o.Artifact, o.Timeout, tail)}, nil
	case err != nil && !errors.As(err, &exitErr):
		hint := ""
		if errors.Is(err, fs.ErrNotExist) {
			hint = " (the file exists, so its interpreter does not: the ELF loader of another architecture or libc, or a #! line)"
		}
		return importResult{detail: fmt.Sprintf("%s: cannot run: %v%s", o.Artifact, err, hint)}, nil
	}
	code := cmd.ProcessState.ExitCode() // -1 when killed by a signal
	status := cmd.ProcessState.String() // "exit status 3", "signal: segmentation fault"

	line := lastCheckLine(stdout.Bytes())
	if line == nil {
		return importResult{detail: fmt.Sprintf("%s: %s and no %q line on stdout: runtime hook missing, or the app died before it ran%s", o.Artifact, status, strings.TrimSpace(CheckLinePrefix), tail)}, nil
	}
	var h hookReport
	if err := json.Unmarshal(line, &h); err != nil || h.OK == nil {
		return importResult{detail: fmt.Sprintf("%s: unreadable %s line %q: %v", o.Artifact, strings.TrimSpace(CheckLinePrefix), line, err)}, nil
	}
	res := importResult{python: h.Python, ran: true}
	var problems []string
	if !h.Frozen {
		problems = append(problems, "not running frozen (sys.frozen is false)")
	}
	if len(h.Failed) > 0 {
		names := make([]string, 0, len(h.Failed))
		for m := range h.Failed {
			names = append(names, m)
		}
		sort.Strings(names)
		for _, m := range names {
			problems = append(problems, fmt.Sprintf("%s: %s", m, h.Failed[m]))
		}
	}
	imported := make(map[string]bool, len(h.Imported))
	for _, m := range h.Imported {
		imported[m] = true
	}
	for _, m := range o.Modules {
		if !imported[m] && h.Failed[m] == "" {
			problems = append(problems, fmt.Sprintf("%s: not reported as imported", m))
		}
	}
	if *h.OK != (code == 0) {
		problems = append(problems, fmt.Sprintf("hook says ok=%t but the process ended with %s", *h.OK, status))
	} else if !*h.OK && len(problems) == 0 {
		problems = append(problems, "hook reports a failure without details")
	}
	if len(problems) > 0 {
		res.detail = fmt.Sprintf("%s (%s): %s", o.Artifact, status, strings.Join(problems, "; "))
		return res, nil
	}
	res.ok = true
	res.detail = fmt.Sprintf("imported %d module(s) in frozen Python %s; %d shared librar(y/ies) dumped", len(o.Modules), h.Python, h.Dumped)
	return res, nil
}

// lastCheckLine returns the JSON of the last PYBUNDLE_CHECK line: the app or
// its libraries may print other lines around it.
func lastCheckLine(out []byte) []byte {
	var last []byte
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 64<<10), len(out)+1)
	for sc.Scan() {
		if rest, ok := bytes.CutPrefix(bytes.TrimRight(sc.Bytes(), "\r"), []byte(CheckLinePrefix)); ok {
			last = append([]byte(nil), rest...)
		}
	}
	return last
}

type glibcResult struct {
	ok                   bool
	detail               string
	floor, from, runtime string
	// inspected: every file's needs were read; above: those over Options.GlibcTarget;
	// missing: those over the runtime's glibc (what stops the bundle from starting there).
	inspected bool
	above     []GlibcNeed
	missing   []GlibcNeed
}

// glibcCheck finds the glibc floor of the executable and its shared libraries
// (on disk for onedir, from the hook's dump for onefile, whose libraries only
// exist inside the archive) and compares it with the runtime's glibc.
func glibcCheck(o Options, onedir bool, dumpDir string, ic importResult) glibcResult {
	var g glibcResult
	type file struct{ path, label string }
	files := []file{{o.Artifact, filepath.Base(o.Artifact)}}
	root, prefix := dumpDir, "_MEIPASS/"
	if onedir {
		root, prefix = o.Bundle, ""
	}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() || !isSharedLib(d.Name()) || p == o.Artifact {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		files = append(files, file{p, prefix + filepath.ToSlash(rel)})
		return nil
	})
	if err != nil {
		g.detail = fmt.Sprintf("listing shared libraries: %v", err)
		return g
	}
	needs := make([]GlibcNeed, 0, len(files))
	for _, f := range files {
		vs, err := GlibcVersionsNeeded(f.path)
		if err != nil {
			g.detail = fmt.Sprintf("%s: %v", f.label, err)
			return g
		}
		if len(vs) > 0 && CompareVersions(vs[len(vs)-1], g.floor) > 0 {
			g.floor, g.from = vs[len(vs)-1], f.label
		}
		if over := Above(vs, o.GlibcTarget); o.GlibcTarget != "" && len(over) > 0 {
			g.above = append(g.above, GlibcNeed{File: f.label, Versions: over})
		}
		needs = append(needs, GlibcNeed{File: f.label, Versions: vs})
	}
	g.inspected = onedir || ic.ran

	g.runtime = o.RuntimeGlibc
	var runtimeErr error
	if g.runtime == "" {
		var libc string
		if libc, runtimeErr = FindLibc(); runtimeErr == nil {
			g.runtime, runtimeErr = GlibcProvided(libc)
		}
	}
	g.missing = missingOn(needs, g.runtime, files[0].label)
	need := "no GLIBC_x.y needs"
	if g.floor != "" {
		need = fmt.Sprintf("needs GLIBC_%s (from %s)", g.floor, g.from)
	}
	switch {
	case !onedir && !ic.ran:
		g.detail = fmt.Sprintf("bundled libraries not inspected (the import check dumped none); the executable alone: %s", need)
	case g.floor == "":
		g.ok = true
		g.detail = fmt.Sprintf("%s in %d file(s)", need, len(files))
	case runtimeErr != nil:
		g.detail = fmt.Sprintf("%s but the runtime's glibc is unknown: %v", need, runtimeErr)
	case CompareVersions(g.floor, g.runtime) > 0:
		g.detail = fmt.Sprintf("%s but the runtime has glibc %s: build on the oldest system you support", need, g.runtime)
	default:
		g.ok = true
		g.detail = fmt.Sprintf("%s; runtime has glibc %s (%d file(s) inspected)", need, g.runtime, len(files))
	}
	return g
}

// missingOn are the files of needs that need a glibc above runtime, each with the versions the
// runtime lacks, in the order a start meets them: the executable (exe, the file the loader
// maps first), the bundled libpython (the bootloader loads it before any Python runs), then
// the others by name. A runtime matrix names what stops the bundle from starting on an older
// system without starting it. Nothing when the runtime's glibc is unknown.
func missingOn(needs []GlibcNeed, runtime, exe string) []GlibcNeed {
	if runtime == "" {
		return nil
	}
	var out []GlibcNeed
	for _, n := range needs {
		if over := Above(n.Versions, runtime); len(over) > 0 {
			out = append(out, GlibcNeed{File: n.File, Versions: over})
		}
	}
	rank := func(file string) int {
		switch {
		case file == exe:
			return 0
		case strings.HasPrefix(filepath.Base(file), "libpython"):
			return 1
		}
		return 2
	}
	slices.SortStableFunc(out, func(a, b GlibcNeed) int {
		if c := rank(a.File) - rank(b.File); c != 0 {
			return c
		}
		return strings.Compare(a.File, b.File)
	})
	return out
}

// maxGlibcFiles bounds the files a failed glibc-target check names (all are in the result).
const maxGlibcFiles = 12

// glibcTargetCheck judges the bundle against the oldest glibc it must run on.
func glibcTargetCheck(target string, g glibcResult) (bool, string) {
	switch {
	case !g.inspected:
		return false, fmt.Sprintf("cannot check glibc %s: the bundled libraries were not inspected", target)
	case len(g.above) == 0:
		return true, fmt.Sprintf("every file runs on glibc %s (the bundle needs at most %s)", target, or(g.floor, "none"))
	}
	// The files needing the newest glibc first: those are what holds the floor up.
	above := slices.Clone(g.above)
	slices.SortStableFunc(above, func(a, b GlibcNeed) int {
		return CompareVersions(b.Versions[len(b.Versions)-1], a.Versions[len(a.Versions)-1])
	})
	var files []string
	for _, n := range above[:min(len(above), maxGlibcFiles)] {
		files = append(files, fmt.Sprintf("%s (GLIBC_%s)", n.File, strings.Join(n.Versions, ", GLIBC_")))
	}
	more := ""
	if len(g.above) > maxGlibcFiles {
		more = fmt.Sprintf(" and %d more", len(g.above)-maxGlibcFiles)
	}
	return false, fmt.Sprintf("%d file(s) need a glibc above %s: %s%s; build on a system with glibc %s or older (README: glibc)",
		len(g.above), target, strings.Join(files, "; "), more, target)
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// lastLines formats the last n lines for appending to a check detail.
func lastLines(t *diagnose.TailBuffer, n int) string {
	lines := strings.Split(strings.TrimRight(string(t.Bytes()), "\n"), "\n")
	if len(lines) == 1 && lines[0] == "" {
		return ""
	}
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return "; stderr: " + strings.Join(lines, " | ")
}
