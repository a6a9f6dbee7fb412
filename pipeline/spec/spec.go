// Package spec writes the PyInstaller .spec file pybundle builds with, and
// the runtime hook the verifier drives.
//
// Why generate a spec instead of passing pyinstaller CLI flags:
//
//   - PyInstaller's dependency analysis cannot see modules imported by string
//     (importlib.import_module("services.users"), uvicorn's "auto" loop and
//     protocol choices). Such a build exits 0 and the executable dies at run
//     time with ModuleNotFoundError; warn-*.txt never lists them, and a typo
//     in --hidden-import only logs an ERROR. Only code that runs inside the
//     build, after Analysis, can check what was really collected, and only a
//     spec file can hold that code. The generated spec therefore fails the
//     build (exit 1, a line starting "PYBUNDLE BUILD CHECK FAILED:") when a
//     required module is not in a.pure.
//   - The spec sits in the source root, so SPECPATH is the source root: the
//     app's own packages are importable during analysis (collect_submodules
//     returns [] otherwise) and relative paths in it mean the same on every
//     builder and runner.
//   - Output is deterministic (sorted lists, no timestamps, no host paths), so
//     the spec can be a Dagger cache key and be diffed between targets.
package spec

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/pybundle/pybundle/pipeline/layout"
	"github.com/pybundle/pybundle/pipeline/target"
)

// Data is one datas entry. Src is relative to the source root (a file or a
// folder; a folder is copied recursively). Dest is the folder inside the
// bundle (relative to sys._MEIPASS, "." for its root) where the app looks
// the file up at run time.
type Data struct{ Src, Dest string }

// Options describe one spec. The zero value plus a Target is valid: see
// WithDefaults.
type Options struct {
	// Name is the executable's base name, without ".exe": PyInstaller
	// appends it on Windows itself. Default target.DefaultName.
	Name string
	// Entry is the script PyInstaller starts from, relative to the source
	// root, slash-separated. Default "main.py".
	Entry string
	// Target decides console vs windowed. Required.
	Target target.Target
	// Mode defaults to OneDir.
	Mode layout.Mode
	// HiddenImports are modules the app imports by string (from the
	// lazy-import scanner plus user extras). UvicornHiddenImports are always
	// added on top.
	HiddenImports []string
	Datas         []Data
	// Binaries are the source's own extension modules and shared libraries (Src relative to
	// the source root, Dest a bundle folder), as Datas.
	Binaries []Data
	// Paths are import roots beyond the source root (relative to it): PyInstaller's pathex.
	Paths []string
	// CollectSubmodules are packages whose every submodule is collected (PyInstaller's
	// collect_submodules at build time); the packages themselves are required.
	CollectSubmodules []string
	// CollectData are installed packages whose data files (templates, schemas,
	// certificates: anything not code) the app reads at run time; PyInstaller's
	// analysis follows imports only, so it never bundles them on its own.
	// PyInstaller's collect_data_files(package) at build time.
	CollectData []string
	// CollectAll are installed packages bundled whole: data files, shared
	// libraries and every submodule (PyInstaller's collect_all(package)), for
	// packages that load their own parts dynamically. The packages themselves
	// are required modules, as with CollectSubmodules.
	CollectAll []string
	// Metadata are distributions whose metadata the app reads at run time
	// (importlib.metadata.version, entry points): copied into the bundle.
	Metadata []string
	// Importers name, for a required module, the file:line that imports it; the guard's
	// failure then says where the module was needed.
	Importers map[string]string
	// Excludes are user extras; tkinter is always excluded (a GUI toolkit
	// has no business in a web backend, and it drags Tcl/Tk data along).
	Excludes []string
	// Slim also excludes setuptools, pkg_resources and _distutils_hack. They
	// only get in because click has a fallback `import importlib_metadata`
	// that PyInstaller resolves to setuptools' vendored copy, which also
	// adds the pkgres/setuptools runtime hooks: ~2 MB and ~200 ms of
	// start-up for nothing. Not the default only because a backend that
	// really uses pkg_resources would then fail at run time.
	Slim bool
	// Keep are modules never excluded, whatever Slim says: the backend was seen using them.
	Keep []string
	// RequiredModules are checked against a.pure by the build-time guard.
	// Empty means: every entry of HiddenImports (as given, before the
	// uvicorn extras are merged) plus UvicornRequired and the packages of
	// CollectSubmodules and CollectAll.
	RequiredModules []string

	// Release metadata. Each is rendered only for the targets where
	// PyInstaller uses it (it ignores the others with a warning), so one
	// configuration serves every target.

	// Icon is the executable's icon, relative to the source root: a .ico for
	// Windows, a .icns for macOS (PyInstaller converts other image formats
	// only if Pillow is installed). Windows and macOS targets only.
	Icon string
	// Version is the project's release metadata. When set, VersionFile
	// defaults to VersionFileName and the caller writes VersionResource's
	// text there (see VersionResourceFile); Validate checks that it renders.
	Version VersionInfo
	// VersionFile is the version resource file, relative to the spec's folder
	// (the source root), passed as version=. Windows targets only.
	VersionFile string
	// CodesignIdentity is the macOS signing identity ("Developer ID
	// Application: ..."); PyInstaller signs ad hoc without one. Entitlements
	// is the entitlements plist, relative to the source root, used while
	// signing. Both macOS targets only.
	CodesignIdentity string
	Entitlements     string

	// StaticLibpython is set when the bundle starts with pybundle's static bootloader, which
	// carries libpython itself (Linux only): the shared libpython is left out of the bundle and
	// a collected binary that links one fails the build (staticLibpythonBlock).
	StaticLibpython bool

	// AnalysisInputs are what the spec's incremental block compares to reuse an earlier
	// build's analysis (see incrementalPrelude); empty lists are valid (nothing to compare).
	AnalysisInputs AnalysisInputs
}

// UvicornHiddenImports are the implementation modules uvicorn picks by
// import string (uvicorn.config: LOOP_SETUPS, HTTP_PROTOCOLS, WS_PROTOCOLS,
// LIFESPAN, and the formatter classes named in LOGGING_CONFIG). Listing them
// all lets a uvicorn.run(..., loop=/http=/ws=) change work without a spec
// change; those whose optional dependency (uvloop, httptools, websockets,
// wsproto) is missing are still collected as modules and simply fail over
// at run time, as uvicorn intends.
var UvicornHiddenImports = []string{
	"uvicorn.lifespan",
	"uvicorn.lifespan.off",
	"uvicorn.lifespan.on",
	"uvicorn.logging",
	"uvicorn.loops",
	"uvicorn.loops.asyncio",
	"uvicorn.loops.auto",
	"uvicorn.loops.uvloop",
	"uvicorn.protocols",
	"uvicorn.protocols.http",
	"uvicorn.protocols.http.auto",
	"uvicorn.protocols.http.h11_impl",
	"uvicorn.protocols.http.httptools_impl",
	"uvicorn.protocols.websockets",
	"uvicorn.protocols.websockets.auto",
	"uvicorn.protocols.websockets.websockets_impl",
	"uvicorn.protocols.websockets.wsproto_impl",
}

// UvicornRequired are the modules uvicorn.run imports by string on every
// start with its defaults (loop="auto", http="auto", ws="auto",
// lifespan="auto" → on, and log_config's "()": "uvicorn.logging...").
// Without any one of them the backend cannot start, so the build-time guard
// requires them even though uvicorn itself is imported statically.
var UvicornRequired = []string{
	"uvicorn.lifespan.on",
	"uvicorn.logging",
	"uvicorn.loops.auto",
	"uvicorn.protocols.http.auto",
	"uvicorn.protocols.websockets.auto",
}

// alwaysExcluded and slimExcluded: see Options.Excludes and Options.Slim.
var (
	alwaysExcluded = []string{"tkinter"}
	slimExcluded   = []string{"_distutils_hack", "pkg_resources", "setuptools"}
)

// RuntimeHookFile is the file name the runtime hook must be written to, in
// the source root next to the spec (the spec refers to it via SPECPATH).
const RuntimeHookFile = "pybundle_rth_check.py"

// SpecFileName is the file the generated spec is written to in the source
// root. PyInstaller derives its work dir name from it.
func (o Options) SpecFileName() string { return o.WithDefaults().Name + ".spec" }

// WithDefaults fills in the defaults and normalizes every list (sorted,
// deduplicated, uvicorn and exclude extras merged). It is idempotent, and
// Generate and Validate apply it themselves.
func (o Options) WithDefaults() Options {
	if o.Name == "" {
		o.Name = target.DefaultName
	}
	if o.Entry == "" {
		o.Entry = "main.py"
	}
	if o.Mode == "" {
		o.Mode = layout.OneDir
	}
	// Required is derived before the uvicorn extras are merged: the extras
	// are best effort (some exist only in some uvicorn versions), the
	// app's own string imports and UvicornRequired are not.
	if len(o.RequiredModules) == 0 {
		o.RequiredModules = concat(concat(concat(o.HiddenImports, UvicornRequired), o.CollectSubmodules), o.CollectAll)
	}
	o.CollectSubmodules = sortedSet(o.CollectSubmodules)
	o.CollectData = sortedSet(o.CollectData)
	o.CollectAll = sortedSet(o.CollectAll)
	if o.VersionFile == "" && !o.Version.IsZero() {
		o.VersionFile = VersionFileName
	}
	o.RequiredModules = sortedSet(o.RequiredModules)
	o.HiddenImports = sortedSet(concat(o.HiddenImports, UvicornHiddenImports))
	ex := concat(o.Excludes, alwaysExcluded)
	if o.Slim {
		ex = concat(ex, slimExcluded)
	}
	o.Keep = sortedSet(o.Keep)
	ex = slices.DeleteFunc(ex, func(e string) bool {
		return slices.ContainsFunc(o.Keep, func(k string) bool { return k == e || strings.HasPrefix(k, e+".") })
	})
	o.Excludes = sortedSet(ex)
	ds := slices.Clone(o.Datas)
	slices.SortFunc(ds, func(a, b Data) int {
		if c := strings.Compare(a.Src, b.Src); c != 0 {
			return c
		}
		return strings.Compare(a.Dest, b.Dest)
	})
	o.Datas = slices.Compact(ds)
	bs := slices.Clone(o.Binaries)
	slices.SortFunc(bs, func(a, b Data) int {
		if c := strings.Compare(a.Src, b.Src); c != 0 {
			return c
		}
		return strings.Compare(a.Dest, b.Dest)
	})
	o.Binaries = slices.Compact(bs)
	o.Paths = sortedSet(o.Paths)
	o.Metadata = sortedSet(o.Metadata)
	return o
}

// Validate checks the options Generate would use (defaults applied) and
// returns every problem it finds, each naming the offending value. Checking
// here rather than letting PyInstaller fail matters because PyInstaller
// does not fail: a bad hidden import is logged and ignored, a bad data path
// fails only after the minute-long analysis.
func (o Options) Validate() error {
	o = o.WithDefaults()
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }

	if err := checkName(o.Name); err != nil {
		errs = append(errs, err)
	}
	if err := checkRelPath("entry", o.Entry, false); err != nil {
		errs = append(errs, err)
	} else if !strings.HasSuffix(o.Entry, ".py") {
		add("entry %q: must be a .py file", o.Entry)
	}
	if _, err := layout.ParseMode(string(o.Mode)); err != nil {
		errs = append(errs, err)
	}
	if o.Target == (target.Target{}) {
		add("target is required")
	} else if !o.Target.IsSupported() {
		add("target %q is not supported", o.Target.String())
	}
	for _, d := range o.Datas {
		if err := checkRelPath("data source", d.Src, false); err != nil {
			errs = append(errs, err)
		}
		if err := checkRelPath("data destination", d.Dest, true); err != nil {
			errs = append(errs, err)
		}
	}
	for _, d := range o.Binaries {
		if err := checkRelPath("binary source", d.Src, false); err != nil {
			errs = append(errs, err)
		}
		if err := checkRelPath("binary destination", d.Dest, true); err != nil {
			errs = append(errs, err)
		}
	}
	for _, p := range o.Paths {
		if err := checkRelPath("path", p, false); err != nil {
			errs = append(errs, err)
		}
	}
	for _, m := range o.CollectSubmodules {
		if err := checkModule(m); err != nil {
			add("collect-submodules %q: %v", m, err)
		}
	}
	errs = append(errs, o.validateCollect()...)
	errs = append(errs, o.validateRelease()...)
	if err := o.validateStaticLibpython(); err != nil {
		errs = append(errs, err)
	}
	for _, m := range o.Metadata {
		if err := checkDistribution(m); err != nil {
			errs = append(errs, err)
		}
	}
	for m, at := range o.Importers {
		if err := checkText(at); err != nil {
			add("importer of %q: %v", m, err)
		}
	}
	for _, l := range []struct {
		what string
		mods []string
	}{{"hidden import", o.HiddenImports}, {"exclude", o.Excludes}, {"required module", o.RequiredModules}} {
		for _, m := range l.mods {
			if err := checkModule(m); err != nil {
				add("%s %q: %v", l.what, m, err)
			}
		}
	}
	// An excluded module can never be collected: the guard would fail the
	// build after the full analysis. Say so up front.
	for _, m := range concat(o.HiddenImports, o.RequiredModules) {
		for _, e := range o.Excludes {
			if m == e || strings.HasPrefix(m, e+".") {
				add("module %q is both needed and excluded (by %q)", m, e)
			}
		}
	}
	return errors.Join(dedupeErrs(errs)...)
}

// Generate returns the .spec text for o (after WithDefaults and Validate).
// The same options always give the same bytes, whatever the order of the
// input lists.
func Generate(o Options) ([]byte, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	o = o.WithDefaults()
	var b bytes.Buffer
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }

	w("# -*- mode: python ; coding: utf-8 -*-\n")
	w("# Generated by pybundle for %s (%s). Do not edit: regenerate instead.\n", o.Target, o.Mode)
	w("# Build from this directory (the source root), with the %s runtime hook next to it:\n", RuntimeHookFile)
	w("#   PYTHONHASHSEED=0 SOURCE_DATE_EPOCH=$(git log -1 --format=%%ct) pyinstaller --noconfirm --clean %s\n", o.Name+".spec")
	if o.rendersVersionFile() {
		w("# The Windows version resource %s must be next to it too.\n", o.VersionFile)
	}
	w("# PYTHONHASHSEED=0 makes the output byte-reproducible (base_library.zip order).\n")
	w("import os\n\n")
	w("%s\n", incrementalPrelude(o.AnalysisInputs))

	w("_datas = [\n")
	for _, d := range o.Datas {
		w("    (os.path.join(SPECPATH, %s), %s),\n", py(d.Src), py(d.Dest))
	}
	w("]\n")
	if len(o.Metadata) > 0 {
		w("# Metadata the app reads at run time (importlib.metadata: versions, entry points).\n")
		w("from PyInstaller.utils.hooks import copy_metadata\n")
		w("for _name in %s:\n", pyList(o.Metadata, ""))
		w("    try:\n")
		w("        _datas += copy_metadata(_name)\n")
		w("    except Exception as _e:\n")
		w("        print(\"PYBUNDLE NOTE: no installed metadata for %%s to copy (%%s)\" %% (_name, _e), flush=True)\n")
	}
	w("_hiddenimports = %s\n", pyList(o.HiddenImports, ""))
	if len(o.CollectSubmodules) > 0 {
		w("from PyInstaller.utils.hooks import collect_submodules\n")
		w("for _package in %s:\n", pyList(o.CollectSubmodules, ""))
		w("    _hiddenimports += collect_submodules(_package)\n")
	}
	w("%s", collectBlock(o))
	w("\n")
	w("a = Analysis(\n")
	w("    [os.path.join(SPECPATH, %s)],\n", py(o.Entry))
	w("    pathex=%s,\n", pathexList(o.Paths))
	w("%s", binariesArg(o))
	w("    datas=_datas,\n")
	w("    hiddenimports=_hiddenimports,\n")
	w("    hookspath=[],\n")
	w("    hooksconfig={},\n")
	w("    runtime_hooks=[os.path.join(SPECPATH, %s)],\n", py(RuntimeHookFile))
	// A tuple: PyInstaller appends "__main__" to a list given here, in place, so the analysis it
	// saves never equals the spec's next time and it is never reused (initialize_modgraph).
	w("    excludes=%s,\n", pyTuple(o.Excludes, "    "))
	w("    noarchive=False,\n")
	w("    optimize=0,\n")
	w(")\n\n")

	w("%s", guard(o.RequiredModules, o.Importers))
	if o.StaticLibpython {
		w("%s", staticLibpythonBlock())
	}

	w("pyz = PYZ(a.pure)\n\n")
	console := pyBool(!o.Target.ConsoleHidden())
	if o.Mode == layout.OneFile {
		w("exe = EXE(\n")
		w("    pyz, a.scripts, a.binaries, a.datas, [],\n")
		w("    name=%s,\n", py(o.Name))
		w("    debug=False,\n")
		w("    bootloader_ignore_signals=False,\n")
		w("    strip=False,\n")
		w("    upx=False,\n")
		w("    runtime_tmpdir=None,\n")
		w("    console=%s,\n", console)
		w("%s", releaseArgs(o))
		w(")\n")
	} else {
		w("exe = EXE(\n")
		w("    pyz, a.scripts, [],\n")
		w("    exclude_binaries=True,\n")
		w("    name=%s,\n", py(o.Name))
		w("    debug=False,\n")
		w("    bootloader_ignore_signals=False,\n")
		w("    strip=False,\n")
		w("    upx=False,\n")
		w("    console=%s,\n", console)
		w("%s", releaseArgs(o))
		w(")\n")
		w("coll = COLLECT(\n")
		w("    exe, a.binaries, a.datas,\n")
		w("    strip=False,\n")
		w("    upx=False,\n")
		w("    name=%s,\n", py(o.Name))
		w(")\n")
	}
	w("%s", incrementalTail)
	return b.Bytes(), nil
}

// guard is the build-time check. Names collected as C extensions live in
// a.binaries (typecode EXTENSION, named by file path in PyInstaller 6), not
// in a.pure, so those are mapped back to module names too; otherwise a
// required extension module would fail the build although it is there.
func guard(required []string, importers map[string]string) string {
	var imp strings.Builder
	imp.WriteString("{")
	for _, m := range required {
		if at, ok := importers[m]; ok {
			fmt.Fprintf(&imp, "\n    %s: %s,", py(m), py(at))
		}
	}
	if imp.Len() > 1 {
		imp.WriteString("\n")
	}
	imp.WriteString("}")
	return `# Build-time guard: modules imported by string are invisible to PyInstaller's
# analysis (and a mistyped hidden import only logs an ERROR), so check what was
# actually collected and fail the build instead of shipping a broken executable.
_required = ` + pyList(required, "") + `
_importers = ` + imp.String() + `
_collected = {e[0] for e in a.pure}
for _e in a.binaries:
    if len(_e) >= 3 and _e[2] == "EXTENSION":
        _parts = _e[0].replace("\\", "/").split("/")
        if "lib-dynload" in _parts:
            _parts = _parts[_parts.index("lib-dynload") + 1:]
        _parts[-1] = _parts[-1].split(".")[0]
        _collected.add(".".join(_parts))
_missing = sorted(set(_required) - _collected)
if _missing:
    print("PYBUNDLE BUILD CHECK FAILED: required modules not collected: "
          + ", ".join(m + (" (imported by %s)" % _importers[m] if m in _importers else "") for m in _missing)
          + " (they are imported by string, so PyInstaller could not see them; list them as"
          + " hidden imports, and if they already are, check the name and that the module is"
          + " installed in the build environment)", flush=True)
    raise SystemExit(1)
print("PYBUNDLE BUILD CHECK OK: %d required modules collected" % len(_required), flush=True)

`
}

func checkName(n string) error {
	switch {
	case n == "." || n == "..":
		return fmt.Errorf("name %q: not a file name", n)
	case strings.ContainsAny(n, `/\`):
		return fmt.Errorf("name %q: must be a plain file name, not a path", n)
	case strings.ContainsAny(n, `<>:"|?*`):
		return fmt.Errorf("name %q: contains a character Windows does not allow in file names", n)
	case strings.HasPrefix(n, "-"):
		return fmt.Errorf("name %q: must not start with '-'", n)
	case strings.HasSuffix(strings.ToLower(n), ".exe"):
		return fmt.Errorf("name %q: give the base name without .exe (PyInstaller adds it on Windows)", n)
	case strings.TrimSpace(n) != n || strings.HasSuffix(n, "."):
		return fmt.Errorf("name %q: must not start or end with spaces or end with '.'", n)
	}
	if err := checkText(n); err != nil {
		return fmt.Errorf("name %q: %v", n, err)
	}
	return nil
}

// checkRelPath accepts a slash-separated path relative to the source root
// (or to the bundle root) that cannot escape it.
func checkRelPath(what, p string, dotOK bool) error {
	if p == "" {
		return fmt.Errorf("%s: empty path", what)
	}
	if err := checkText(p); err != nil {
		return fmt.Errorf("%s %q: %v", what, p, err)
	}
	if strings.Contains(p, `\`) {
		return fmt.Errorf("%s %q: use '/' as separator", what, p)
	}
	if path.IsAbs(p) || (len(p) >= 2 && p[1] == ':') {
		return fmt.Errorf("%s %q: must be relative to the source root", what, p)
	}
	for _, seg := range strings.Split(p, "/") {
		if seg == ".." {
			return fmt.Errorf("%s %q: must not contain '..'", what, p)
		}
	}
	if p == "." && !dotOK {
		return fmt.Errorf("%s %q: must name a file or folder", what, p)
	}
	return nil
}

// checkText rejects what cannot round-trip through the spec or a file
// system: invalid UTF-8 and control characters (newlines would also break
// the header comment).
func checkText(s string) error {
	if !utf8.ValidString(s) {
		return errors.New("not valid UTF-8")
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return fmt.Errorf("contains control character %U", r)
		}
	}
	return nil
}

// pyKeywords are the hard keywords of Python 3.13: a module path component
// spelled like one cannot be imported with an import statement.
var pyKeywords = map[string]bool{
	"False": true, "None": true, "True": true, "and": true, "as": true, "assert": true,
	"async": true, "await": true, "break": true, "class": true, "continue": true,
	"def": true, "del": true, "elif": true, "else": true, "except": true,
	"finally": true, "for": true, "from": true, "global": true, "if": true,
	"import": true, "in": true, "is": true, "lambda": true, "nonlocal": true,
	"not": true, "or": true, "pass": true, "raise": true, "return": true,
	"try": true, "while": true, "with": true, "yield": true,
}

// checkDistribution accepts a distribution name as PEP 508 spells one.
func checkDistribution(n string) error {
	if n == "" {
		return errors.New("metadata: empty distribution name")
	}
	for i, c := range n {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || i > 0 && (c == '-' || c == '_' || c == '.')
		if !ok {
			return fmt.Errorf("metadata %q: not a distribution name", n)
		}
	}
	return nil
}

// CheckModule accepts a dotted module name as the spec takes it (ASCII identifiers, no keyword).
func CheckModule(m string) error { return checkModule(m) }

// checkModule accepts dotted ASCII identifiers. Non-ASCII identifiers are
// legal Python but unheard of in module names, and refusing them keeps the
// spec and every log line plain ASCII.
func checkModule(m string) error {
	if m == "" {
		return errors.New("empty module name")
	}
	for _, part := range strings.Split(m, ".") {
		if part == "" {
			return errors.New("empty component")
		}
		for i, c := range part {
			ok := c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (i > 0 && c >= '0' && c <= '9')
			if !ok {
				return fmt.Errorf("%q is not a Python identifier", part)
			}
		}
		if pyKeywords[part] {
			return fmt.Errorf("%q is a Python keyword", part)
		}
	}
	return nil
}

// py quotes s as a Python string literal. A JSON string is a valid Python
// literal with the same value (same escapes: \" \\ \n \t \uXXXX), and
// validated inputs are valid UTF-8, so nothing is replaced on the way.
func py(s string) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(s); err != nil {
		panic(err) // cannot happen for a string
	}
	return strings.TrimSuffix(b.String(), "\n")
}

// pyTuple renders a tuple one item per line, as pyList does a list.
func pyTuple(xs []string, indent string) string {
	if len(xs) == 0 {
		return "()"
	}
	l := pyList(xs, indent)
	return "(" + l[1:len(l)-1] + ")"
}

// pyList renders a list one item per line (diff-friendly) at the given indent.
func pyList(xs []string, indent string) string {
	if len(xs) == 0 {
		return "[]"
	}
	var b strings.Builder
	b.WriteString("[\n")
	for _, x := range xs {
		b.WriteString(indent + "    " + py(x) + ",\n")
	}
	b.WriteString(indent + "]")
	return b.String()
}

func pyBool(v bool) string {
	if v {
		return "True"
	}
	return "False"
}

func concat(a, b []string) []string { return append(slices.Clone(a), b...) }

func sortedSet(xs []string) []string {
	out := make([]string, 0, len(xs))
	for _, x := range xs {
		if x = strings.TrimSpace(x); x != "" {
			out = append(out, x)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func dedupeErrs(errs []error) []error {
	var out []error
	seen := map[string]bool{}
	for _, e := range errs {
		if !seen[e.Error()] {
			seen[e.Error()] = true
			out = append(out, e)
		}
	}
	return out
}
