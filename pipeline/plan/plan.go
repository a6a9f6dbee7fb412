// Package plan turns a build request into a validated plan before any container, upload or
// PyInstaller run. Both executors run the same plan: the Dagger module in containers,
// pybundle-runner natively on a macOS, Windows or Linux machine. The executor supplies its
// roots (where the source copy, PyInstaller's output and work folders are) and its Python;
// the plan supplies everything relative to them: the bundle's layout, the spec and the runtime
// hook, PyInstaller's arguments and environment, the verify and health settings, and the
// report entry made of their results.
package plan

import (
	"errors"
	"fmt"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/pybundle/pybundle/pipeline/diagnose"
	"github.com/pybundle/pybundle/pipeline/health"
	"github.com/pybundle/pybundle/pipeline/layout"
	"github.com/pybundle/pybundle/pipeline/scan"
	"github.com/pybundle/pybundle/pipeline/source"
	"github.com/pybundle/pybundle/pipeline/spec"
	"github.com/pybundle/pybundle/pipeline/target"
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
	// Scan is what the lazy-import scanner found in the source (the same for every target).
	Scan scan.Result
	// Datas are the data files bundled (the same for every target).
	Datas []spec.Data
	// Builds are one per target, in the order of Options.Platforms.
	Builds []Build
}

// Build is one target's build.
type Build struct {
	Bundle layout.Bundle
	// Spec are the spec options, defaults applied.
	Spec   spec.Options
	Budget time.Duration
	// Files are written into the root of the source copy before PyInstaller runs.
	Files []File
}

// File is a generated file, by name relative to the source root.
type File struct {
	Name string
	Data []byte
}

// Target is the build's target.
func (b Build) Target() target.Target { return b.Bundle.Target }

// New checks the options against the source tree and decides every target's build. Any
// problem is one *diagnose.Error of stage "plan" naming the file or option: nothing has run yet.
func New(o Options, tree *source.Tree) (*Plan, error) {
	targets := strings.Join(names(o.Platforms), ",")
	fail := func(file string, err error) (*Plan, error) {
		return nil, &diagnose.Error{Stage: "plan", Target: targets, File: file, Reason: err.Error()}
	}
	if err := o.Validate(); err != nil {
		return fail("", err)
	}
	o.Entry = path.Clean(filepath.ToSlash(o.Entry))
	if !tree.Has(o.Entry) {
		return fail(o.Entry, errors.New("entry point not found in the source folder (give the entry option if it has another name)"))
	}
	res, err := scan.Files(tree.Paths(), func(p string) ([]byte, error) { return tree.ReadFile(p, MaxPythonFile) })
	if err != nil {
		return nil, &diagnose.Error{Stage: "scan", Target: targets, Reason: err.Error()}
	}
	p := &Plan{Options: o, Scan: res, Datas: DefaultDatas(tree)}
	hook := spec.RuntimeHook()
	for _, t := range o.Platforms {
		so := spec.Options{
			Name:          o.Name,
			Entry:         o.Entry,
			Target:        t,
			Mode:          o.Mode,
			HiddenImports: appendNew(slices.Clone(res.HiddenImports), o.HiddenImports...),
			Datas:         p.Datas,
			Slim:          o.Slim,
		}.WithDefaults()
		text, err := spec.Generate(so)
		if err != nil {
			return nil, &diagnose.Error{Stage: "plan", Target: t.String(), Reason: err.Error()}
		}
		b := Build{
			Bundle: layout.Bundle{Target: t, Name: so.Name, Mode: so.Mode},
			Spec:   so,
			Budget: o.Budget,
			Files:  []File{{Name: so.SpecFileName(), Data: text}, {Name: spec.RuntimeHookFile, Data: hook}},
		}
		if err := b.Bundle.Validate(); err != nil {
			return nil, &diagnose.Error{Stage: "plan", Target: t.String(), Reason: err.Error()}
		}
		p.Builds = append(p.Builds, b)
	}
	return p, nil
}

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
// distPath and its work files into workPath (both the executor's, absolute).
func (b Build) PyInstallerArgs(distPath, workPath string) []string {
	return []string{"-m", "PyInstaller", "--noconfirm", "--clean", "--log-level", "WARN",
		"--distpath", distPath, "--workpath", workPath, b.SpecFile()}
}

// VerifyOptions are verify's settings for the bundle PyInstaller wrote into distPath (a path
// of the machine verify runs on).
func (b Build) VerifyOptions(distPath string, emulated bool) verify.Options {
	o := verify.Options{
		Artifact: filepath.Join(distPath, filepath.FromSlash(b.Bundle.Rel())),
		Modules:  b.Spec.RequiredModules,
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
	return health.Options{
		Artifact: filepath.Join(distPath, filepath.FromSlash(b.Bundle.Rel())),
		Budget:   b.Budget,
		Emulated: emulated,
	}
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
// verify and health functions): its layout, the modules that must import in it, its budget.
func Checking(b layout.Bundle, modules []string, budget time.Duration) (Build, error) {
	if err := b.Validate(); err != nil {
		return Build{}, &diagnose.Error{Stage: "plan", Target: b.Target.String(), Reason: err.Error()}
	}
	if budget <= 0 {
		budget = Defaults().Budget
	}
	return Build{Bundle: b, Spec: spec.Options{Target: b.Target, Name: b.Name, Mode: b.Mode, RequiredModules: modules}, Budget: budget}, nil
}
