// Package verify checks a PyInstaller artifact where it will run: in a clean
// container without Python. It proves the file is there and executable, that
// its size is sane, that every lazily imported module really is inside the
// frozen app (PyInstaller exits 0 even when it is not), and that the glibc the
// bundle needs is not newer than the one the runtime provides.
//
// It has no engine dependency: the Dagger module runs it inside the container
// through cmd/pybundle-probe.
package verify

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"time"
)

// Check names, in the order Run performs them.
const (
	CheckExists     = "exists"
	CheckExecutable = "executable"
	CheckSize       = "size"
	CheckNoPython   = "no-python"
	CheckImports    = "imports"
	CheckGlibc      = "glibc"
	// CheckGlibcTarget fails when a file of the bundle needs a glibc above Options.GlibcTarget.
	CheckGlibcTarget = "glibc-target"
)

// Defaults applied by Run to zero Options fields.
const (
	DefaultMinSize = 1 << 20 // 1 MiB: a PyInstaller bundle with an interpreter is never smaller
	DefaultMaxSize = 3 << 30 // 3 GiB: above that something (a model, a venv) was swept in by mistake
	DefaultTimeout = 60 * time.Second
)

// DefaultPythonDirs are searched by the no-python check in addition to $PATH,
// because a container's PATH may be minimal while python3 still sits in /usr/bin.
var DefaultPythonDirs = []string{"/usr/bin", "/usr/local/bin", "/bin"}

// Options says what to verify.
type Options struct {
	// Artifact is the executable.
	Artifact string `json:"artifact"`
	// Bundle is the folder holding Artifact for a onedir build; for onefile it
	// is Artifact itself (the default when empty).
	Bundle string `json:"bundle,omitempty"`
	// MinSize and MaxSize bound the bundle's total size in bytes
	// (defaults DefaultMinSize and DefaultMaxSize).
	MinSize int64 `json:"min_size,omitempty"`
	MaxSize int64 `json:"max_size,omitempty"`
	// Modules must import inside the frozen app; these are the lazily imported
	// ones PyInstaller's analysis cannot see.
	Modules []string `json:"modules,omitempty"`
	// RuntimeGlibc overrides the glibc version of the runtime (e.g. "2.36");
	// empty means read it from the running system's libc.so.6.
	RuntimeGlibc string `json:"runtime_glibc,omitempty"`
	// GlibcTarget is the oldest glibc the bundle must run on (e.g. "2.31"): every file that
	// needs a newer one fails the glibc-target check, named with the versions it needs.
	GlibcTarget string `json:"glibc_target,omitempty"`
	// Timeout bounds the run of the artifact (default DefaultTimeout; emulated
	// runs under QEMU are slow).
	Timeout time.Duration `json:"timeout,omitempty"`
	// PythonSearchDirs are the directories the no-python check searches. nil
	// means the $PATH entries plus DefaultPythonDirs. Tests on a host that has
	// Python point this at a temporary directory.
	PythonSearchDirs []string `json:"python_search_dirs,omitempty"`
}

// GlibcNeed is a file of the bundle and GLIBC_x.y versions it needs.
type GlibcNeed struct {
	File     string   `json:"file"`
	Versions []string `json:"versions"`
}

// Check is the outcome of one named check.
type Check struct {
	Name   string `json:"name"`
	OK     bool   `json:"ok"`
	Detail string `json:"detail"`
}

// Result is what Run found. Field order is fixed so the JSON is deterministic.
type Result struct {
	Artifact string  `json:"artifact"`
	OK       bool    `json:"ok"`
	Checks   []Check `json:"checks"`
	// SizeBytes is the executable's size (onefile) or the sum of the regular
	// files under Bundle (onedir).
	SizeBytes int64 `json:"size_bytes"`
	// SHA256 is the hex sha256 of the executable file.
	SHA256 string `json:"sha256"`
	// BundleSHA256 (onedir only) digests the whole folder, so that two builds
	// can be compared for reproducibility: the sha256 of the lines
	// "<sha256 of content>  <relative path>\n" for every regular file, sorted by
	// path (the output format of sha256sum), and "-> <target>  <path>\n" for
	// symlinks.
	BundleSHA256 string `json:"bundle_sha256,omitempty"`
	// Manifest is every file of the bundle with its digest (onedir and onefile alike).
	Manifest *Manifest `json:"manifest,omitempty"`
	// GlibcFloor is the highest GLIBC_x.y needed by the executable or any
	// bundled shared library, and GlibcFloorFrom the file that needs it.
	GlibcFloor     string `json:"glibc_floor"`
	GlibcFloorFrom string `json:"glibc_floor_from"`
	// RuntimeGlibc is the glibc version of the system the check ran on.
	RuntimeGlibc string `json:"runtime_glibc"`
	// GlibcAbove are the files needing a glibc above Options.GlibcTarget, and those versions.
	GlibcAbove []GlibcNeed `json:"glibc_above,omitempty"`
	// GlibcMissing are the files needing a glibc above RuntimeGlibc, with the versions this
	// runtime lacks, in the order a start meets them (the executable, libpython, the rest by
	// name): why the bundle cannot start here.
	GlibcMissing []GlibcNeed `json:"glibc_missing,omitempty"`
	// OS names the runtime's system from its os-release, e.g. "Debian 11 (bullseye)".
	OS string `json:"os,omitempty"`
	// Python is the frozen interpreter's version, as reported by the runtime hook.
	Python string `json:"python"`
}

// Err returns nil when r passed, else an error naming the artifact and the
// first failed check, for callers that want a one-line failure.
func (r Result) Err() error {
	for _, c := range r.Checks {
		if !c.OK {
			return fmt.Errorf("verify %s: check %s failed: %s", r.Artifact, c.Name, c.Detail)
		}
	}
	if !r.OK {
		return fmt.Errorf("verify %s: failed", r.Artifact)
	}
	return nil
}

// Run performs the checks in order: exists, executable, size, no-python,
// imports, glibc. It stops after a fatal check (a missing or non-executable
// artifact cannot be run) but always returns every check performed so far.
// Failed checks only make Result.OK false; the error is reserved for bad
// Options and for a cancelled ctx.
func Run(ctx context.Context, o Options) (r Result, err error) {
	o, err = o.withDefaults()
	r.Artifact = o.Artifact
	if err != nil {
		return r, err
	}
	add := func(name string, ok bool, format string, args ...any) {
		r.Checks = append(r.Checks, Check{Name: name, OK: ok, Detail: fmt.Sprintf(format, args...)})
	}
	defer func() { // r is the named result, so every return path gets OK set
		r.OK = len(r.Checks) > 0
		for _, c := range r.Checks {
			r.OK = r.OK && c.OK
		}
	}()

	onedir := o.Bundle != o.Artifact
	fi, err := os.Stat(o.Artifact)
	switch {
	case err != nil:
		add(CheckExists, false, "%s: %v", o.Artifact, cause(err))
		return r, nil
	case !fi.Mode().IsRegular():
		add(CheckExists, false, "%s: not a regular file (%s)", o.Artifact, fi.Mode().Type())
		return r, nil
	}
	if onedir {
		if msg := checkBundle(o.Bundle, o.Artifact); msg != "" {
			add(CheckExists, false, "%s", msg)
			return r, nil
		}
		add(CheckExists, true, "onedir: %s in %s", filepath.Base(o.Artifact), o.Bundle)
	} else {
		add(CheckExists, true, "onefile: %s", o.Artifact)
	}

	switch {
	// Windows has no execute bit (Go reports none there): an .exe is what makes a file runnable.
	case runtime.GOOS == "windows" && strings.EqualFold(filepath.Ext(o.Artifact), ".exe"):
		add(CheckExecutable, true, "Windows executable (.exe)")
	case fi.Mode().Perm()&0o111 == 0:
		add(CheckExecutable, false, "%s: mode %s has no execute bit (lost when copied or exported?)", o.Artifact, fi.Mode().Perm())
		return r, nil
	default:
		add(CheckExecutable, true, "mode %s", fi.Mode().Perm())
	}

	r.SizeBytes, r.SHA256, r.BundleSHA256, err = digest(o.Artifact, o.Bundle, onedir)
	if err == nil {
		var m Manifest
		if m, err = TreeManifest(o.Bundle); err == nil {
			r.Manifest = &m
		}
	}
	switch {
	case err != nil:
		add(CheckSize, false, "%v", err)
	case r.SizeBytes < o.MinSize:
		add(CheckSize, false, "%s is %s, below the minimum %s: not a complete PyInstaller bundle?", o.Bundle, humanBytes(r.SizeBytes), humanBytes(o.MinSize))
	case r.SizeBytes > o.MaxSize:
		add(CheckSize, false, "%s is %s, above the maximum %s: something large was bundled by mistake?", o.Bundle, humanBytes(r.SizeBytes), humanBytes(o.MaxSize))
	default:
		add(CheckSize, true, "%s (%d bytes), within %s..%s", humanBytes(r.SizeBytes), r.SizeBytes, humanBytes(o.MinSize), humanBytes(o.MaxSize))
	}

	if found := findPython(o.PythonSearchDirs); len(found) > 0 {
		add(CheckNoPython, false, "Python interpreter present at %s: the import check only proves the bundle is self-contained on a system without Python", listSome(found, 5))
	} else {
		add(CheckNoPython, true, "no python, python3 or python3.x in %s", strings.Join(o.PythonSearchDirs, ":"))
	}

	dumpDir, err := os.MkdirTemp("", "pybundle-dump-")
	if err != nil {
		return r, fmt.Errorf("verify %s: %w", o.Artifact, err)
	}
	defer os.RemoveAll(dumpDir)
	ic, err := runImportCheck(ctx, o, dumpDir)
	if err != nil {
		return r, err
	}
	r.Python = ic.python
	add(CheckImports, ic.ok, "%s", ic.detail)

	g := glibcCheck(o, onedir, dumpDir, ic)
	r.GlibcFloor, r.GlibcFloorFrom, r.RuntimeGlibc, r.GlibcMissing = g.floor, g.from, g.runtime, g.missing
	r.OS = SystemName()
	add(CheckGlibc, g.ok, "%s", g.detail)
	if o.GlibcTarget != "" {
		r.GlibcAbove = g.above
		ok, detail := glibcTargetCheck(o.GlibcTarget, g)
		add(CheckGlibcTarget, ok, "%s", detail)
	}
	return r, nil
}

func (o Options) withDefaults() (Options, error) {
	if o.Artifact == "" {
		return o, errors.New("verify: no artifact given")
	}
	o.Artifact = filepath.Clean(o.Artifact)
	if o.Bundle == "" {
		o.Bundle = o.Artifact
	}
	o.Bundle = filepath.Clean(o.Bundle)
	if o.MinSize == 0 {
		o.MinSize = DefaultMinSize
	}
	if o.MaxSize == 0 {
		o.MaxSize = DefaultMaxSize
	}
	if o.MinSize < 0 || o.MaxSize < o.MinSize {
		return o, fmt.Errorf("verify %s: size bounds %d..%d are not a range", o.Artifact, o.MinSize, o.MaxSize)
	}
	if o.Timeout == 0 {
		o.Timeout = DefaultTimeout
	}
	if o.Timeout < 0 {
		return o, fmt.Errorf("verify %s: negative timeout %s", o.Artifact, o.Timeout)
	}
	for _, m := range o.Modules {
		if m == "" || strings.ContainsAny(m, ", \t") {
			return o, fmt.Errorf("verify %s: invalid module name %q", o.Artifact, m)
		}
	}
	if o.PythonSearchDirs == nil {
		o.PythonSearchDirs = dedupe(append(filepath.SplitList(os.Getenv("PATH")), DefaultPythonDirs...))
	}
	return o, nil
}

// checkBundle returns why a onedir bundle is unusable, or "" when it is a
// directory that contains the artifact.
func checkBundle(bundle, artifact string) string {
	bi, err := os.Stat(bundle)
	if err != nil {
		return fmt.Sprintf("bundle %s: %v", bundle, cause(err))
	}
	if !bi.IsDir() {
		return fmt.Sprintf("bundle %s: not a directory (onedir) and not the artifact itself (onefile)", bundle)
	}
	rel, err := filepath.Rel(bundle, artifact)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return fmt.Sprintf("artifact %s is not inside bundle %s", artifact, bundle)
	}
	return ""
}

// pythonName matches interpreter names: python, python3, python3.13,
// python3.6m, python3.13t. Companions such as python3.11-config or
// python3.11-gdb.py are not interpreters and are not matched.
var pythonName = regexp.MustCompile(`^python(3(\.[0-9]+[a-z]*)?)?$`)

// findPython lists the Python interpreters in dirs, in search order. Anything
// named like an interpreter that is an executable file (after following
// symlinks) counts. Directories are resolved first, so /bin and /usr/bin of
// a merged-/usr system are searched once.
func findPython(dirs []string) []string {
	var found []string
	seen := map[string]bool{}
	for _, d := range dirs {
		if real, err := filepath.EvalSymlinks(d); err == nil {
			d = real
		}
		if d == "" || seen[d] {
			continue
		}
		seen[d] = true
		entries, err := os.ReadDir(d)
		if err != nil {
			continue
		}
		for _, e := range entries {
			if !pythonName.MatchString(e.Name()) {
				continue
			}
			p := filepath.Join(d, e.Name())
			if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0 {
				found = append(found, p)
			}
		}
	}
	return found
}

// listSome joins at most n items, saying how many were left out.
func listSome(items []string, n int) string {
	if len(items) <= n {
		return strings.Join(items, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(items[:n], ", "), len(items)-n)
}

// cause strips the *PathError wrapper whose path the caller already prints.
func cause(err error) error {
	if u := errors.Unwrap(err); u != nil {
		return u
	}
	return err
}

func dedupe(in []string) []string {
	seen := make(map[string]bool, len(in))
	out := in[:0:0]
	for _, s := range in {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

func humanBytes(n int64) string {
	const mib = 1 << 20
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.2f GiB", float64(n)/(1<<30))
	case n >= mib:
		return fmt.Sprintf("%.1f MiB", float64(n)/mib)
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
