// Package trace runs a backend from source before it is frozen and turns what it loaded into
// additions to the bundle: modules a static analysis cannot see (names computed at run time,
// entry points, plugins found by scanning packages), the metadata it read, the files it read
// (data outside any convention, Python files read as files such as migration scripts).
//
// The executor runs Harness with the backend's entry script in the builder, waits for a
// healthy /api/health and the warm-up paths (pipeline/health does both), stops it, and hands
// the JSON record to Parse; Result.Additions decides what the plan adds.
package trace

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"path"
	"slices"
	"sort"
	"strings"

	"github.com/pybundle/pybundle/pipeline/collect"
	"github.com/pybundle/pybundle/pipeline/source"
	"github.com/pybundle/pybundle/pipeline/spec"
)

// HarnessFile is the harness's file name. It is written outside the source copy: the trace
// records only what the backend does under its root.
const HarnessFile = "pybundle_trace.py"

//go:embed pybundle_trace.py
var harness []byte

// Harness is the Python source of the trace harness (see its header for the protocol).
func Harness() []byte { return slices.Clone(harness) }

// Environment variables the harness reads.
const (
	EnvOut   = "PYBUNDLE_TRACE_OUT"   // where the record is written
	EnvRoot  = "PYBUNDLE_TRACE_ROOT"  // the source copy's root
	EnvPaths = "PYBUNDLE_TRACE_PATHS" // the import roots, os.pathsep-separated, relative to the root
)

// MaxRecord bounds a record read back from a builder or a runner.
const MaxRecord = 32 << 20

// Module is one module the backend imported.
type Module struct {
	// Origin is the file it came from: relative to the source root when Own, else absolute.
	Origin string `json:"origin"`
	Own    bool   `json:"own"`
	Stdlib bool   `json:"stdlib"`
	// Importer is the file:line that first asked for it; Static says that line is an import
	// statement (which PyInstaller's analysis sees) rather than a dynamic import.
	Importer string `json:"importer"`
	Static   bool   `json:"static"`
}

// Result is the harness's record.
type Result struct {
	Python      string              `json:"python"`
	Modules     map[string]Module   `json:"modules"`
	Opened      []string            `json:"opened"`
	Listed      []string            `json:"listed"`
	Metadata    []string            `json:"metadata"`
	EntryPoints map[string][]string `json:"entry_points"`
}

// Parse reads a record, refusing one that names modules or files no backend has (a record is
// input from a machine that ran the user's code: treated as hostile).
func Parse(b []byte) (Result, error) {
	if len(b) > MaxRecord {
		return Result{}, fmt.Errorf("trace record: over %d bytes", MaxRecord)
	}
	var r Result
	if err := json.Unmarshal(b, &r); err != nil {
		return Result{}, fmt.Errorf("trace record: %w", err)
	}
	for name, m := range r.Modules {
		if err := spec.CheckModule(name); err != nil {
			delete(r.Modules, name) // e.g. a module object registered under an odd key: nothing to collect
			continue
		}
		if m.Own && !relClean(m.Origin) {
			return Result{}, fmt.Errorf("trace record: module %s: origin %q is not a clean relative path", name, m.Origin)
		}
	}
	for _, list := range [][]string{r.Opened, r.Listed} {
		for _, p := range list {
			if !relClean(p) {
				return Result{}, fmt.Errorf("trace record: %q is not a clean relative path", p)
			}
		}
	}
	return r, nil
}

func relClean(p string) bool {
	return p != "" && !path.IsAbs(p) && path.Clean(p) == p && p != ".." && !strings.HasPrefix(p, "../")
}

// Additions are what a trace adds to a plan.
type Additions struct {
	// Python is the interpreter the trace ran on ("" when there was no trace).
	Python string `json:"python,omitempty"`
	// Modules counts the modules the backend imported.
	Modules int `json:"modules,omitempty"`
	// HiddenImports are the imported modules that are not the backend's own.
	HiddenImports []string `json:"-"`
	// Required are the third-party ones the bundle must hold (the build-time guard checks).
	Required []string `json:"-"`
	// Added are the Required ones that were imported dynamically (not by an import
	// statement): what only tracing could find.
	Added []string `json:"added,omitempty"`
	// Importers name where each required module was asked for.
	Importers map[string]string `json:"-"`
	// Metadata are the distributions whose metadata the backend read.
	Metadata []string `json:"metadata,omitempty"`
	// Datas are files the backend read that no other rule bundles.
	Datas []spec.Data `json:"data,omitempty"`
	// Keep are modules the backend used that the slim defaults would leave out.
	Keep []string `json:"keep,omitempty"`
}

// slimModules are what spec's Slim leaves out; a backend seen using one keeps it.
var slimModules = []string{"_distutils_hack", "pkg_resources", "setuptools"}

// Additions decides what the record adds to the collection of tree.
func (r Result) Additions(tree *source.Tree, c collect.Collection) Additions {
	a := Additions{Python: r.Python, Modules: len(r.Modules), Importers: map[string]string{}}
	for name, m := range r.Modules {
		if m.Own {
			continue // the collection has every module of the tree
		}
		a.HiddenImports = append(a.HiddenImports, name)
		top, _, _ := strings.Cut(name, ".")
		if slices.Contains(slimModules, top) {
			a.Keep = append(a.Keep, top)
		}
		if m.Stdlib {
			continue
		}
		a.Required = append(a.Required, name)
		a.Importers[name] = m.Importer
		if !m.Static {
			a.Added = append(a.Added, name)
		}
	}
	// Entry-point providers' metadata is what entry_points() reads.
	meta := slices.Clone(r.Metadata)
	for _, providers := range r.EntryPoints {
		meta = append(meta, providers...)
	}
	a.Metadata = meta
	a.Datas = r.readFiles(tree, c)
	for _, l := range []*[]string{&a.HiddenImports, &a.Required, &a.Added, &a.Metadata, &a.Keep} {
		sort.Strings(*l)
		*l = slices.Compact(*l)
	}
	return a
}

// readFiles are the files the backend opened, or that lie in folders it listed, which the
// collection does not bundle yet: a Python file imported as a module is code, not data.
func (r Result) readFiles(tree *source.Tree, c collect.Collection) []spec.Data {
	imported := map[string]bool{}
	for _, m := range r.Modules {
		if m.Own {
			imported[m.Origin] = true
		}
	}
	want := map[string]bool{}
	for _, f := range r.Opened {
		want[f] = true
	}
	for _, d := range r.Listed {
		for _, f := range tree.Files {
			if path.Dir(f.Path) == d {
				want[f.Path] = true
			}
		}
	}
	var out []spec.Data
	for f := range want {
		if !tree.Has(f) || imported[f] || covered(c.Datas, f) {
			continue
		}
		out = append(out, spec.Data{Src: f, Dest: c.DestDir(f)})
	}
	slices.SortFunc(out, func(a, b spec.Data) int { return strings.Compare(a.Src, b.Src) })
	return out
}

// covered reports whether a data entry already bundles f.
func covered(datas []spec.Data, f string) bool {
	return slices.ContainsFunc(datas, func(d spec.Data) bool { return d.Src == f || strings.HasPrefix(f, d.Src+"/") })
}
