// Package collect decides what of a backend's source tree goes into its bundle, by
// construction rather than by the import style of the backend:
//
//   - every Python module and package of the tree is collected (a hidden import the build-time
//     guard then requires), whatever loads it: an import statement, importlib with a name read
//     from a file or built from an environment variable, __import__ with fromlist, pkgutil;
//   - every other file is data (a Python file no import can reach, such as a migration script
//     named 001_init.py, too), bundled where it lives relative to its import root, so both
//     Path(__file__).parent / "conf/x.json" and sys._MEIPASS-relative lookups find it, onedir
//     and onefile alike; tooling files at the top (README, pyproject.toml, lock files…) are not;
//   - extension modules and shared libraries of the tree are binaries, at their place too.
//
// What is left out is pipeline/source's business (tests, venvs, node_modules, build outputs,
// hidden folders, the user's ignore list) plus the user's data excludes.
package collect

import (
	"fmt"
	"path"
	"slices"
	"sort"
	"strings"

	"github.com/pybundle/pybundle/pipeline/source"
	"github.com/pybundle/pybundle/pipeline/spec"
)

// Rules are the user's say in what is collected.
type Rules struct {
	// Entry is the entry script (relative, slash-separated): it is the bundle's script, not one
	// of its modules.
	Entry string
	// Paths are extra import roots (relative folders), beyond the source root and the entry's.
	Paths []string
	// ExcludeData are patterns (source.Match) of files that are not data even though they
	// would be (large fixtures, local databases).
	ExcludeData []string
	// Data are explicit data entries, SRC:DEST (SRC relative to the source root, a file or a
	// folder; DEST a folder relative to the bundle root).
	Data []spec.Data
	// Binaries are explicit binaries, SRC:DEST: files PyInstaller must treat as binaries
	// (their libraries followed, signed on macOS) that are not found as such by their name,
	// such as an executable tool. They are no longer data.
	Binaries []spec.Data
}

// Collection is what goes into the bundle from the tree.
type Collection struct {
	// Roots are the import roots (PyInstaller's pathex), relative to the source root, "."
	// first: where the backend's own modules are imported from.
	Roots []string
	// Modules are the backend's own modules, dotted, sorted (the entry excluded).
	Modules []string
	// Datas are the data entries: whole folders where a folder holds only data, single files
	// elsewhere, each at its place relative to its import root; then the explicit ones.
	Datas []spec.Data
	// Binaries are the tree's extension modules and shared libraries, at their place.
	Binaries []spec.Data
	// Summary describes the data collected, for the report.
	Summary Summary
}

// Summary is what the report says about the collected data.
type Summary struct {
	Files   int         `json:"files"`
	Bytes   int64       `json:"bytes"`
	Largest []FileBytes `json:"largest,omitempty"`
}

// FileBytes is one file and its size.
type FileBytes struct {
	Path  string `json:"path"`
	Bytes int64  `json:"bytes"`
}

// toolingFiles are files at the top of a project that belong to its tools, not to the running
// backend (compared in lower case).
var toolingFiles = map[string]bool{
	"pyproject.toml": true, "setup.cfg": true, "setup.py": true, "noxfile.py": true, "fabfile.py": true,
	"manifest.in": true, "requirements.txt": true, "requirements-dev.txt": true, "constraints.txt": true,
	"poetry.lock": true, "uv.lock": true, "pdm.lock": true, "pipfile": true, "pipfile.lock": true,
	"tox.ini": true, "pytest.ini": true, "mypy.ini": true, "ruff.toml": true, "pyrightconfig.json": true,
	"package.json": true, "package-lock.json": true, "tsconfig.json": true, "renovate.json": true,
	"makefile": true, "justfile": true, "dockerfile": true, "docker-compose.yml": true, "docker-compose.yaml": true,
	"compose.yml": true, "compose.yaml": true, "procfile": true, "pdm.toml": true, "uv.toml": true, "poetry.toml": true,
}

// toolingPrefixes are documentation files at the top, any extension (README.md, LICENSE.txt…).
var toolingPrefixes = []string{"readme", "license", "licence", "changelog", "changes", "contributing", "authors", "notice", "copying", "security", "code_of_conduct"}

// isTooling reports whether the top-level file name belongs to the project's tools.
func isTooling(name string) bool {
	n := strings.ToLower(name)
	if toolingFiles[n] || strings.HasPrefix(n, "requirements") && strings.HasSuffix(n, ".txt") || strings.HasPrefix(n, "dockerfile") {
		return true
	}
	for _, p := range toolingPrefixes {
		if n == p || strings.HasPrefix(n, p+".") || strings.HasPrefix(n, p+"-") || strings.HasPrefix(n, p+"_") {
			return true
		}
	}
	return false
}

// kind of a file of the tree.
type kind int

const (
	kindData kind = iota
	kindModule
	kindBinary
	kindSkip
)

func classify(p string) kind {
	name := path.Base(p)
	ext := strings.ToLower(path.Ext(name))
	switch {
	case !strings.Contains(p, "/") && isTooling(name):
		return kindSkip
	case ext == ".py":
		return kindModule
	case ext == ".pyi" || name == "py.typed":
		return kindSkip // type stubs: no use at run time
	case ext == ".so" || ext == ".pyd" || ext == ".dylib" || ext == ".dll" || strings.Contains(name, ".so."):
		return kindBinary
	}
	return kindData
}

// Collect decides the collection of tree under the rules.
func Collect(tree *source.Tree, r Rules) (Collection, error) {
	roots, err := importRoots(tree, r)
	if err != nil {
		return Collection{}, err
	}
	c := Collection{Roots: roots}
	var data []source.File
	for _, f := range tree.Files {
		switch classify(f.Path) {
		case kindModule:
			if f.Path == r.Entry {
				continue
			}
			if m := moduleName(f.Path, roots); m != "" {
				c.Modules = append(c.Modules, m)
				// A module of a folder without __init__.py (a namespace package) is as often
				// a script a tool loads by its path (Alembic's migrations/env.py, a task
				// folder): PyInstaller would only put it in its archive, so it goes where it
				// lives as well.
				if inNamespaceFolder(tree, f.Path, roots) && !matchAny(r.ExcludeData, f.Path) {
					data = append(data, f)
				}
			} else if !matchAny(r.ExcludeData, f.Path) {
				// No import reaches a file like versions/001_init.py: whoever runs it reads it
				// as a file (migration tools do), so it goes where it lives, as data.
				data = append(data, f)
			}
		case kindBinary:
			c.Binaries = append(c.Binaries, spec.Data{Src: f.Path, Dest: destDir(f.Path, roots)})
		case kindData:
			if !matchAny(r.ExcludeData, f.Path) && !underAny(r.Binaries, f.Path) {
				data = append(data, f)
			}
		}
	}
	sort.Strings(c.Modules)
	c.Modules = slices.Compact(c.Modules)
	c.Datas = groupData(tree, data, roots)
	for _, d := range r.Data {
		if err := checkExplicit(tree, "data", d); err != nil {
			return Collection{}, err
		}
		c.Datas = append(c.Datas, d)
	}
	for _, d := range r.Binaries {
		if err := checkExplicit(tree, "binaries", d); err != nil {
			return Collection{}, err
		}
		c.Binaries = append(c.Binaries, d)
	}
	c.Summary = summarize(data)
	return c, nil
}

// importRoots are "." (the source root, PyInstaller's SPECPATH), the folder above the entry's
// top package (a src layout's src/), src/ when it holds packages, and the extra paths.
func importRoots(tree *source.Tree, r Rules) ([]string, error) {
	roots := []string{"."}
	add := func(p string) {
		if p != "" && !slices.Contains(roots, p) {
			roots = append(roots, p)
		}
	}
	// The entry's folder is where Python starts looking (sys.path[0]); when it is a package,
	// the folder above its top package is.
	dir := path.Dir(r.Entry)
	for dir != "." && tree.Has(dir+"/__init__.py") {
		dir = path.Dir(dir)
	}
	add(dir)
	for _, f := range tree.Files {
		if parts := strings.Split(f.Path, "/"); len(parts) == 3 && parts[0] == "src" && parts[2] == "__init__.py" {
			add("src")
			break
		}
	}
	for _, p := range r.Paths {
		p = path.Clean(p)
		if path.IsAbs(p) || p == ".." || strings.HasPrefix(p, "../") {
			return nil, fmt.Errorf("paths: %q must be a folder inside the source folder", p)
		}
		add(p)
	}
	return roots, nil
}

// ModuleName is the dotted name the tree's file p is imported under, "" if none.
func (c Collection) ModuleName(p string) string { return moduleName(p, c.Roots) }

// DestDir is the bundle folder the tree's file p goes to as data.
func (c Collection) DestDir(p string) string { return destDir(p, c.Roots) }

// rootOf is the deepest import root holding p.
func rootOf(p string, roots []string) string {
	best := "."
	for _, r := range roots {
		if r != "." && strings.HasPrefix(p, r+"/") && len(r) > len(best) {
			best = r
		}
	}
	return best
}

// relTo is p relative to root.
func relTo(p, root string) string {
	if root == "." {
		return p
	}
	return strings.TrimPrefix(p, root+"/")
}

// moduleName is the dotted name p is imported under from its import root, "" when it cannot
// be imported (a part that is no identifier).
func moduleName(p string, roots []string) string {
	rel := strings.TrimSuffix(relTo(p, rootOf(p, roots)), ".py")
	parts := strings.Split(rel, "/")
	if parts[len(parts)-1] == "__init__" {
		parts = parts[:len(parts)-1]
	}
	if len(parts) == 0 {
		return ""
	}
	for _, part := range parts {
		if !isIdentifier(part) {
			return ""
		}
	}
	return strings.Join(parts, ".")
}

// inNamespaceFolder reports whether the module file p lies in a folder below its import root
// that has no __init__.py.
func inNamespaceFolder(tree *source.Tree, p string, roots []string) bool {
	dir := path.Dir(p)
	return path.Dir(relTo(p, rootOf(p, roots))) != "." && !tree.Has(dir+"/__init__.py")
}

func isIdentifier(s string) bool {
	for i, c := range s {
		if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || i > 0 && c >= '0' && c <= '9') {
			return false
		}
	}
	return s != ""
}

// destDir is the bundle folder a file of the tree goes to: its folder, relative to its root.
func destDir(p string, roots []string) string {
	return path.Dir(relTo(p, rootOf(p, roots)))
}

// groupData turns the data files into spec entries: a folder whose every file (recursively)
// is data, and which lies inside one import root, becomes one entry; other files are listed
// one by one. The source copy the build sees holds exactly the tree's files, so a folder entry
// copies no more than these.
func groupData(tree *source.Tree, data []source.File, roots []string) []spec.Data {
	isData := map[string]bool{}
	for _, f := range data {
		isData[f.Path] = true
	}
	// A folder is all-data when no file below it is anything else.
	mixed := map[string]bool{}
	for _, f := range tree.Files {
		if isData[f.Path] {
			continue
		}
		for d := path.Dir(f.Path); d != "."; d = path.Dir(d) {
			mixed[d] = true
		}
	}
	var out []spec.Data
	done := map[string]bool{}
	for _, f := range data {
		// The shallowest all-data folder holding f, below f's import root.
		root := rootOf(f.Path, roots)
		top := ""
		for d := path.Dir(f.Path); d != "." && d != root; d = path.Dir(d) {
			if mixed[d] || slices.Contains(roots, d) {
				break
			}
			top = d
		}
		switch {
		case top == "":
			out = append(out, spec.Data{Src: f.Path, Dest: destDir(f.Path, roots)})
		case !done[top]:
			done[top] = true
			out = append(out, spec.Data{Src: top, Dest: relTo(top, root)})
		}
	}
	return out
}

// underAny reports whether p is the source of one of the entries or lies below it.
func underAny(entries []spec.Data, p string) bool {
	return slices.ContainsFunc(entries, func(d spec.Data) bool { return p == d.Src || strings.HasPrefix(p, d.Src+"/") })
}

// checkExplicit refuses an explicit entry (of the option key) whose source is not in the tree.
func checkExplicit(tree *source.Tree, key string, d spec.Data) error {
	if tree.Has(d.Src) {
		return nil
	}
	for _, f := range tree.Files {
		if strings.HasPrefix(f.Path, d.Src+"/") {
			return nil
		}
	}
	return fmt.Errorf("%s %s:%s: %s is not a file or folder of the source (or it is excluded)", key, d.Src, d.Dest, d.Src)
}

func matchAny(patterns []string, p string) bool {
	for _, pat := range patterns {
		if source.Match(pat, p, false) {
			return true
		}
		for d := path.Dir(p); d != "."; d = path.Dir(d) {
			if source.Match(pat, d, true) {
				return true
			}
		}
	}
	return false
}

// maxLargest is how many of the largest data files the report names.
const maxLargest = 5

func summarize(data []source.File) Summary {
	s := Summary{Files: len(data)}
	by := slices.Clone(data)
	for _, f := range by {
		s.Bytes += f.Size
	}
	slices.SortStableFunc(by, func(a, b source.File) int {
		switch {
		case a.Size > b.Size:
			return -1
		case a.Size < b.Size:
			return 1
		}
		return strings.Compare(a.Path, b.Path)
	})
	for _, f := range by[:min(maxLargest, len(by))] {
		s.Largest = append(s.Largest, FileBytes{Path: f.Path, Bytes: f.Size})
	}
	return s
}

// ParseData reads an explicit data entry, SRC:DEST.
func ParseData(s string) (spec.Data, error) {
	src, dest, ok := strings.Cut(s, ":")
	src, dest = strings.TrimSpace(src), strings.TrimSpace(dest)
	if !ok || src == "" || dest == "" || path.Clean(src) == "." {
		return spec.Data{}, fmt.Errorf("%q: want SRC:DEST (a file or folder of the source, and the folder in the bundle)", s)
	}
	d := spec.Data{Src: path.Clean(src), Dest: path.Clean(dest)}
	for _, p := range []string{d.Src, d.Dest} {
		if path.IsAbs(p) || p == ".." || strings.HasPrefix(p, "../") || strings.Contains(p, `\`) {
			return spec.Data{}, fmt.Errorf("%q: %q must be relative, with '/', and stay inside", s, p)
		}
	}
	return d, nil
}
