// Package plan turns a build request into a validated plan before any container, upload or
// PyInstaller run. Both executors run the same plan: the Dagger module in containers,
// pybundle-runner natively on a macOS, Windows or Linux machine. The executor supplies its
// roots (where the source copy, PyInstaller's output and work folders are) and its Python;
// the plan supplies everything relative to them: the bundle's layout, the spec and the runtime
// hook, PyInstaller's arguments and environment, the verify and health settings, and the
// report entry made of their results.
package plan

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/pybundle/pybundle/pipeline/collect"
	"github.com/pybundle/pybundle/pipeline/diagnose"
	"github.com/pybundle/pybundle/pipeline/entry"
	"github.com/pybundle/pybundle/pipeline/health"
	"github.com/pybundle/pybundle/pipeline/layout"
	"github.com/pybundle/pybundle/pipeline/scan"
	"github.com/pybundle/pybundle/pipeline/source"
	"github.com/pybundle/pybundle/pipeline/spec"
	"github.com/pybundle/pybundle/pipeline/target"
	"github.com/pybundle/pybundle/pipeline/trace"
	"github.com/pybundle/pybundle/pipeline/verify"
)

// MaxPythonFile is the largest Python file the scanner reads; a bigger one is no hand-written
// backend module (generated code is imported statically, which PyInstaller sees anyway).
const MaxPythonFile = 4 << 20

// Fixed build inputs that make two builds of the same source byte-identical: the hash seed
// (else base_library.zip's entry order changes), the timestamps (1980-01-01, the zip epoch) and
// no byte code written into the source copy.
var reproducible = []string{"PYTHONHASHSEED=0", "SOURCE_DATE_EPOCH=315532800", "PYTHONDONTWRITEBYTECODE=1"}

// Env is the environment PyInstaller runs in, on top of the executor's own (KEY=VALUE).
func Env() []string { return slices.Clone(reproducible) }

// EmulatedVerifyTimeout bounds verify's runs of the frozen app under QEMU (~30x slower).
const EmulatedVerifyTimeout = 10 * time.Minute

// Plan is one request, decided.
type Plan struct {
	Options Options
	// Entry is how the backend starts (found or given).
	Entry entry.Entry
	// Collection is what of the source goes into the bundle (own modules, data, binaries).
	Collection collect.Collection
	// Scan is what the lazy-import scanner found in the source (the same for every target).
	Scan scan.Result
	// Trace is what tracing the backend from source added ("" Python when not traced yet).
	Trace trace.Additions
	// Builds are one per target, in the order of Options.Platforms.
	Builds []Build
	tree   *source.Tree
	// otherFiles is the digest of the source's files other than Python (AnalysisInputs).
	otherFiles string
}

// Build is one target's build.
type Build struct {
	Bundle layout.Bundle
	// Start, Found, OwnModules, Data and Trace are the plan's facts the report entry repeats:
	// Found are the hidden imports found by scanning or given (own modules are counted, the
	// trace's additions are in Trace).
	Start entry.Entry
	Found []string
	// ImportCheck are the modules verify imports inside the frozen app: those loaded by name
	// at run time (found by the scanner or the trace, or given) and uvicorn's. Not every own
	// module: importing one can run it (a __main__.py, a script that starts a server); the
	// build-time guard proves those were collected.
	ImportCheck []string
	OwnModules  int
	Data        collect.Summary
	Trace       trace.Additions
	// Spec are the spec options, defaults applied.
	Spec   spec.Options
	Budget time.Duration
	WarmUp []string
	// Probe is how the backend is started and judged healthy.
	Probe Probe
	// Glibc is the oldest glibc a Linux bundle must run on ("" = no target).
	Glibc string
	// Project identifies the backend for its kept work folder (WorkCache.Project).
	Project string
	// Files are written into the root of the source copy before PyInstaller runs: the spec,
	// the runtime hook and, for a module or app entry, the launcher.
	Files []File
	// Bootloader is the bootloader the bundle starts with: with BootloaderStatic the executor
	// puts pybundle's own into PyInstaller's bootloader folder before it runs (the spec then
	// leaves the shared libpython out).
	Bootloader Bootloader
	// Incremental: PyInstaller runs without --clean, on a work folder the executor keeps
	// between builds (the Dagger module's WorkCache volume); see Options.Incremental.
	Incremental bool
	// Compress keeps PyInstaller's archive compression; see Options.Compress.
	Compress bool
}

// File is a generated file, by name relative to the source root.
type File struct {
	Name string
	Data []byte
}

// Target is the build's target.
func (b Build) Target() target.Target { return b.Bundle.Target }

// Read reads the source folder dir (on this machine) as the options say: their ignore patterns
// and the executor's own (its output folder inside the source, say).
func Read(o Options, dir string, ignore ...string) (*source.Tree, error) {
	tree, err := source.Read(dir, append(slices.Clone(o.Ignore), ignore...))
	if err != nil {
		return nil, &diagnose.Error{Stage: "plan", Target: Names(o.Platforms), Reason: err.Error()}
	}
	return tree, nil
}

// New checks the options against the source tree and decides every target's build. Any
// problem is one *diagnose.Error of stage "plan" naming the file or option: nothing has run yet.
func New(o Options, tree *source.Tree) (*Plan, error) {
	targets := Names(o.Platforms)
	fail := func(file string, err error) (*Plan, error) {
		return nil, &diagnose.Error{Stage: "plan", Target: targets, File: file, Reason: err.Error()}
	}
	if err := o.Validate(); err != nil {
		return fail("", err)
	}
	// The entry first (with the roots any layout has), then the collection (with its roots).
	pre, err := collect.Collect(tree, collect.Rules{Paths: o.Paths})
	if err != nil {
		return fail("", err)
	}
	e, err := entry.Find(treeSource{tree}, o.Entry, pre.ModuleName)
	if err != nil {
		return fail(o.Entry, err)
	}
	c, err := collect.Collect(tree, collect.Rules{Entry: e.ScriptFile(), Paths: o.Paths, ExcludeData: o.ExcludeData, Data: o.Data, Binaries: o.Binaries})
	if err != nil {
		return fail("", err)
	}
	for _, f := range []struct{ key, file string }{{"icon", o.Icon}, {"entitlements", o.Entitlements}} {
		if f.file != "" && !tree.Has(f.file) {
			return fail(f.file, fmt.Errorf("%s: %s is not a file of the source (or it is excluded)", f.key, f.file))
		}
	}
	res, err := scan.Files(tree.Paths(), func(p string) ([]byte, error) { return tree.ReadFile(p, MaxPythonFile) })
	if err != nil {
		return nil, &diagnose.Error{Stage: "scan", Target: targets, Reason: err.Error()}
	}
	other, err := otherFilesDigest(tree)
	if err != nil {
		return fail("", err)
	}
	p := &Plan{Options: o, Entry: e, Collection: c, Scan: res, tree: tree, otherFiles: other}
	if err := p.decide(); err != nil {
		return nil, err
	}
	return p, nil
}

// Has reports whether the source has the file p.
func (p *Plan) Has(file string) bool { return p.tree.Has(file) }

// WithTrace adds what tracing the backend from source found (trace.Result, read where it ran)
// and decides the builds again.
func (p *Plan) WithTrace(r trace.Result) error {
	p.Trace = r.Additions(p.tree, p.Collection)
	return p.decide()
}

// decide makes every target's build from the plan's facts.
func (p *Plan) decide() error {
	o, c := p.Options, p.Collection
	hook := spec.RuntimeHook()
	p.Builds = nil
	for _, t := range o.Platforms {
		hidden := slices.Concat(c.Modules, p.Scan.HiddenImports, o.HiddenImports, p.Trace.HiddenImports)
		so := spec.Options{
			Name:              o.Name,
			Entry:             p.Entry.ScriptFile(),
			Target:            t,
			Mode:              o.Mode,
			HiddenImports:     hidden,
			RequiredModules:   slices.Concat(c.Modules, p.Scan.HiddenImports, o.HiddenImports, p.Trace.Required, o.CollectSubmodules, o.CollectAll, spec.UvicornRequired),
			CollectSubmodules: o.CollectSubmodules,
			CollectData:       o.CollectData,
			CollectAll:        o.CollectAll,
			Datas:             slices.Concat(c.Datas, p.Trace.Datas),
			Binaries:          c.Binaries,
			Paths:             slices.DeleteFunc(slices.Clone(c.Roots), func(r string) bool { return r == "." }),
			Metadata:          sortedSet(slices.Concat(p.Trace.Metadata, o.CopyMetadata)),
			Importers:         p.Trace.Importers,
			Excludes:          o.Excludes,
			Slim:              o.Slim,
			Keep:              p.Trace.Keep,
			Icon:              o.Icon,
			CodesignIdentity:  o.CodesignIdentity,
			Entitlements:      o.Entitlements,
			StaticLibpython:   o.Bootloader.For(t) == BootloaderStatic,
			AnalysisInputs:    p.analysisInputs(),
		}
		if t.OS == "windows" && o.Version != "" { // a Windows version resource: only there
			so.Version = spec.VersionInfo{Name: o.ProductName, Version: o.Version, Description: o.Description, Company: o.Company, Copyright: o.Copyright}
		}
		so = so.WithDefaults()
		text, err := spec.Generate(so)
		if err != nil {
			return &diagnose.Error{Stage: "plan", Target: t.String(), Reason: err.Error()}
		}
		generated := []File{{Name: so.SpecFileName(), Data: text}, {Name: spec.RuntimeHookFile, Data: hook}}
		if name, res, err := so.VersionResourceFile(); err != nil {
			return &diagnose.Error{Stage: "plan", Target: t.String(), File: ConfigFile, Reason: err.Error()}
		} else if name != "" {
			generated = append(generated, File{Name: name, Data: res})
		}
		b := Build{
			Bundle: layout.Bundle{Target: t, Name: so.Name, Mode: so.Mode},
			Start:  p.Entry,
			Found:  sortedSet(slices.Concat(p.Scan.HiddenImports, o.HiddenImports, o.CollectSubmodules)),
			ImportCheck: slices.DeleteFunc(sortedSet(slices.Concat(p.Scan.HiddenImports, o.HiddenImports, o.CollectSubmodules,
				p.Trace.Added, spec.UvicornRequired)), func(m string) bool { return m == "__main__" || strings.HasSuffix(m, ".__main__") }),
			OwnModules:  len(c.Modules),
			Data:        c.Summary,
			Trace:       p.Trace,
			Spec:        so,
			Budget:      o.Budget,
			WarmUp:      o.WarmUp,
			Probe:       o.Probe(),
			Glibc:       o.Glibc,
			Project:     p.projectID(),
			Files:       generated,
			Bootloader:  o.Bootloader.For(t),
			Incremental: o.Incremental,
			Compress:    o.Compress,
		}
		if l := p.Entry.Launcher(); l != nil {
			b.Files = append(b.Files, File{Name: entry.LauncherFile, Data: l})
		}
		if err := b.Bundle.Validate(); err != nil {
			return &diagnose.Error{Stage: "plan", Target: t.String(), Reason: err.Error()}
		}
		p.Builds = append(p.Builds, b)
	}
	return nil
}

// projectID digests what makes this backend this backend and not another: how it starts,
// its import roots and its own modules (names, not contents).
func (p *Plan) projectID() string {
	h := sha256.New()
	fmt.Fprintf(h, "%s\n%s\n%s\n", p.Entry.String(), strings.Join(p.Collection.Roots, ","), strings.Join(p.Collection.Modules, ","))
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// treeSource is a source tree as pipeline/entry reads it.
type treeSource struct{ *source.Tree }

func (s treeSource) ReadFile(p string, max int64) ([]byte, error) { return s.Tree.ReadFile(p, max) }

// For returns the build of target t.
func (p *Plan) For(t target.Target) (Build, bool) {
	i := slices.IndexFunc(p.Builds, func(b Build) bool { return b.Target() == t })
	if i < 0 {
		return Build{}, false
	}
	return p.Builds[i], true
}

// File is the generated file called name (nil if none).
func (b Build) File(name string) []byte {
	for _, f := range b.Files {
		if f.Name == name {
			return f.Data
		}
	}
	return nil
}

// SpecFile is the generated spec's name in the source root.
func (b Build) SpecFile() string { return b.Spec.SpecFileName() }

// PyInstallerArgs are the arguments after the Python interpreter: PyInstaller run as a module
// (a venv with system site packages has no pyinstaller script; Debian's python3 has the
// module) on the generated spec, from the source copy's root, writing the bundle into
// distPath and its work files into workPath (both the executor's, absolute). --clean empties
// the work folder first, unless the build is incremental: then the spec's block decides what
// of an earlier build's work folder is still valid.
func (b Build) PyInstallerArgs(distPath, workPath string) []string {
	args := []string{"-m", "PyInstaller", "--noconfirm"}
	if !b.Incremental {
		args = append(args, "--clean")
	}
	return append(args, "--log-level", "WARN", "--distpath", distPath, "--workpath", workPath, b.SpecFile())
}

// PyInstallerEnv is the environment of this build's PyInstaller run on top of Env. Unless
// Compress, the bundle's archives are stored uncompressed (PYINSTALLER_ZLIB_COMPRESSION_LEVEL=0,
// read by PyInstaller's archive writers). A onedir bundle then reads each module it imports
// straight from the PYZ instead of inflating it, like the from-source baseline reads its .pyc
// files: ~30 ms of CPU at every start on the sample (docs/BENCHMARKS.md, lab run S1), 1.1× →
// 1.0× from source. A onefile bundle extracts its libraries and data at every start: stored,
// that is a copy instead of an inflate of ~20 MiB, 1.32× → 0.95× from source (BENCHMARKS run
// 10). Both cost disk space, which the installers' own compression of the download gives back.
func (b Build) PyInstallerEnv() []string {
	if b.Compress {
		return nil
	}
	return []string{"PYINSTALLER_ZLIB_COMPRESSION_LEVEL=0"}
}

// VerifyOptions are verify's settings for the bundle PyInstaller wrote into distPath (a path
// of the machine verify runs on).
func (b Build) VerifyOptions(distPath string, emulated bool) verify.Options {
	o := verify.Options{
		Artifact: filepath.Join(distPath, filepath.FromSlash(b.Bundle.Rel())),
		Modules:  b.ImportCheck,
	}
	if b.Target().OS == "linux" {
		o.GlibcTarget = b.Glibc
	}
	if b.Bundle.Onedir() {
		o.Bundle = filepath.Join(distPath, filepath.FromSlash(b.Bundle.Root()))
	}
	if emulated {
		o.Timeout = EmulatedVerifyTimeout
	}
	return o
}

// HealthOptions are the health probe's settings for the bundle in distPath.
func (b Build) HealthOptions(distPath string, emulated bool) health.Options {
	return b.Probe.Apply(health.Options{
		Artifact: filepath.Join(distPath, filepath.FromSlash(b.Bundle.Rel())),
		Budget:   b.Budget,
		Emulated: emulated,
		WarmUp:   b.WarmUp,
	})
}

// Probe is how the backend is started and judged healthy: the same from source (tracing, the
// benchmarks' baseline) and frozen (health), on every executor.
type Probe struct {
	Path        string
	PortArgs    []string
	PortEnvOnly bool
	PortEnv     []string
	Env         []string
}

// Probe is the options' Probe.
func (o Options) Probe() Probe {
	return Probe{Path: o.HealthPath, PortArgs: o.PortArgs, PortEnvOnly: o.PortEnvOnly, PortEnv: o.PortEnv, Env: o.HealthEnv}
}

// Apply sets the probe's settings in h (its Env added after h's own).
func (p Probe) Apply(h health.Options) health.Options {
	h.Path, h.PortArgs, h.PortEnvOnly, h.PortEnv = p.Path, p.PortArgs, p.PortEnvOnly, p.PortEnv
	h.Env = append(slices.Clone(h.Env), p.Env...)
	return h
}

func names(ts []target.Target) []string {
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = t.String()
	}
	return out
}

// Names lists targets as os/arch strings.
func Names(ts []target.Target) string { return strings.Join(names(ts), ",") }

// describe is used by executors' logs.
func (b Build) String() string {
	return fmt.Sprintf("%s %s %s (entry %s)", b.Target(), b.Bundle.Mode, b.Bundle.Name, b.Spec.Entry)
}

// Checking is the Build of a bundle made elsewhere, for checking it alone (the module's
// verify and health functions): its layout, the modules that must import in it, and from the
// options its budget and how it is probed.
func Checking(b layout.Bundle, modules []string, o Options) (Build, error) {
	if err := b.Validate(); err != nil {
		return Build{}, &diagnose.Error{Stage: "plan", Target: b.Target.String(), Reason: err.Error()}
	}
	if o.Budget <= 0 {
		o.Budget = Defaults().Budget
	}
	return Build{Bundle: b, Spec: spec.Options{Target: b.Target, Name: b.Name, Mode: b.Mode}, ImportCheck: modules,
		Budget: o.Budget, WarmUp: o.WarmUp, Probe: o.Probe(), Glibc: o.Glibc}, nil
}

func sortedSet(xs []string) []string {
	out := slices.Clone(xs)
	slices.Sort(out)
	return slices.Compact(out)
}
