// Package scan finds the modules a Python backend imports by string, the imports that
// PyInstaller's static analysis cannot see, so that they can be passed to the build as
// hidden imports.
//
// PyInstaller follows import statements only. A module loaded with
// importlib.import_module(f"services.{name}") is left out of the bundle without a
// warning: the build exits 0 and the executable dies on first use with
// ModuleNotFoundError. Scan reads the source tree (plain Go, no Python needed) and
// turns every such call into module names:
//
//   - a literal ("plugins.audit", or ".csv_export" with package="plugins") names one
//     module, kept even when no such file exists, so the build guard can fail on it;
//   - a string assembled at run time over a package (f"{__name__}.{name}" inside
//     services/__init__.py, "connectors." + name, "pkg.{}".format(name), …) names every
//     module of that package's folder, since any of them may be configured;
//   - anything else (a bare variable, a computed package) is reported as Unresolved,
//     never dropped, so a human can add it by hand.
//
// Only the backend's own sources are read. Lazy imports inside installed packages
// (uvicorn picking its loop and protocol implementations by string) are the business
// of PyInstaller's hooks and of the spec. Not seen at all: an import function stored
// under another name at run time (load = importlib.import_module), a call written
// inside an f-string's replacement field, and extension modules (.so) of the tree.
package scan

import (
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"slices"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/pybundle/pybundle/pipeline/source"
)

// Finding is one dynamic import site.
type Finding struct {
	// File is the slash path relative to the source root, e.g. "services/__init__.py".
	File string `json:"file"`
	// Line is the line of the called name (the first line of a multi-line call).
	Line int `json:"line"`
	// Call is the function called, in canonical spelling whatever alias the file used:
	// "importlib.import_module", "import_module" or "__import__".
	Call string `json:"call"`
	// Expr is the argument text as written (all arguments, comments and line breaks
	// dropped), e.g. `".csv_export", package="plugins"`.
	Expr string `json:"expr"`
	// Modules is what the site resolves to (sorted); empty if unresolvable.
	Modules []string `json:"modules"`
}

// Result is what Scan found in a source tree.
type Result struct {
	// HiddenImports are the sorted, deduplicated dotted module names to pass to
	// PyInstaller. Each exists in the source tree or is a literal target; literals are
	// kept even when missing, because a missing module must fail the build, not the app.
	HiddenImports []string `json:"hidden_imports"`
	// Findings are all dynamic import sites, sorted by File and Line.
	Findings []Finding `json:"findings"`
	// Unresolved are the Findings whose target could not be determined (e.g. a bare
	// variable): they need a hidden import added by hand.
	Unresolved []Finding `json:"unresolved"`
}

// Scan reads every Python file under the root of fsys (the backend's source directory,
// the one holding main.py), leaving out what pipeline/source excludes from every backend, and
// returns its dynamic imports. Executors scan a source.Tree with Files instead.
func Scan(fsys fs.FS) (Result, error) {
	var files []string
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		if p == "." {
			return nil
		}
		if source.Excluded(p, d.IsDir(), fsys) {
			if d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if d.Type().IsRegular() {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		return Result{}, err
	}
	return Files(files, func(p string) ([]byte, error) { return fs.ReadFile(fsys, p) })
}

// Files scans the Python files among paths (slash-separated, relative to the source root);
// read returns one file's text (bounded by the caller).
func Files(paths []string, read func(p string) ([]byte, error)) (Result, error) {
	var files []string
	index := map[string]bool{} // dotted names of the modules in the tree
	for _, p := range paths {
		if !strings.HasSuffix(p, ".py") {
			continue
		}
		files = append(files, p)
		if m := moduleName(p); m != "" {
			index[m] = true
		}
	}
	sort.Strings(files)
	modules := make([]string, 0, len(index))
	for m := range index {
		modules = append(modules, m)
	}
	sort.Strings(modules)
	tree := sourceTree{index: index, modules: modules, expanded: map[string][]string{}}
	for _, m := range modules {
		tree.longest = max(tree.longest, len(m))
	}

	res := Result{HiddenImports: []string{}, Findings: []Finding{}, Unresolved: []Finding{}}
	for _, p := range files {
		src, err := read(p)
		if err != nil {
			return Result{}, fmt.Errorf("%s: %w", p, err)
		}
		res.Findings = append(res.Findings, scanFile(p, string(src), tree)...)
	}
	sort.SliceStable(res.Findings, func(i, j int) bool {
		a, b := res.Findings[i], res.Findings[j]
		if a.File != b.File {
			return a.File < b.File
		}
		return a.Line < b.Line
	})
	seen := map[string]bool{}
	for _, f := range res.Findings {
		if len(f.Modules) == 0 {
			res.Unresolved = append(res.Unresolved, f)
		}
		for _, m := range f.Modules {
			if !seen[m] {
				seen[m] = true
				res.HiddenImports = append(res.HiddenImports, m)
			}
		}
	}
	sort.Strings(res.HiddenImports)
	return res, nil
}

type sourceTree struct {
	index   map[string]bool
	modules []string // sorted
	longest int      // bytes in the longest module name

	// expanded caches what expand found for each pattern with holes (by pattern.key):
	// files repeat the same loader, and a hostile one repeats it a hundred thousand
	// times, each a regexp to compile and match against the tree.
	expanded map[string][]string
}

// moduleName is the dotted name a file is imported under, "" if it cannot be imported
// (a path part that is no identifier, or the root's own __init__.py).
func moduleName(p string) string {
	parts := strings.Split(strings.TrimSuffix(p, ".py"), "/")
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

// packageName is the file's __package__: what its relative imports are relative to.
func packageName(p string) string {
	if path.Base(p) == "__init__.py" {
		return moduleName(p)
	}
	if dir := path.Dir(p); dir != "." {
		return moduleName(dir + ".py")
	}
	return ""
}

// aliases are the names a file can call the import functions by.
type aliases struct {
	importlib    map[string]bool // names bound to the importlib module
	builtins     map[string]bool // names bound to the builtins module
	importModule map[string]bool // names bound to importlib.import_module
	dunderImport map[string]bool // names bound to __import__
}

// findAliases reads the file's import statements. It is file-wide, not scoped: an
// alias bound in one function is honoured everywhere, which can only add findings.
// The default spellings are always on, even without an import, so that a call is
// never missed because its import sits in another module.
func findAliases(toks []token) aliases {
	al := aliases{
		importlib:    map[string]bool{"importlib": true},
		builtins:     map[string]bool{"builtins": true},
		importModule: map[string]bool{"import_module": true},
		dunderImport: map[string]bool{"__import__": true},
	}
	for i := 0; i < len(toks); i++ {
		switch {
		case toks[i].is(tkName, "from"):
			// Only "importlib" and "builtins" matter, so the name is kept no longer
			// than they are: building a dotted name of a megabyte by concatenation
			// took minutes.
			j, mod, long := i+1, strings.Builder{}, false
			for j < len(toks) && (toks[j].is(tkOp, ".") || toks[j].is(tkOp, "...") ||
				(toks[j].kind == tkName && toks[j].text != "import")) {
				if !long && mod.Len()+len(toks[j].text) <= len("importlib") {
					mod.WriteString(toks[j].text)
				} else {
					long = true
				}
				j++
			}
			if j >= len(toks) || !toks[j].is(tkName, "import") {
				// raise … from …, yield from …. Any "from" among the tokens just
				// read would stop at the same token j and fail the same way, so go on
				// after them: rescanning from each took minutes on a run of "from".
				i = j - 1
				continue
			}
			names, end := importedNames(toks, j+1)
			from := mod.String()
			if long {
				from = "" // neither importlib nor builtins
			}
			for _, n := range names {
				bound := n.bound()
				switch {
				case from == "importlib" && (n.name == "import_module" || n.name == "*"):
					al.importModule[bound] = true
				case (from == "importlib" || from == "builtins") && n.name == "__import__":
					al.dunderImport[bound] = true
				}
			}
			i = end - 1
		case toks[i].is(tkName, "import"):
			names, end := importedNames(toks, i+1)
			for _, n := range names {
				top, _, _ := strings.Cut(n.name, ".")
				switch {
				case n.as == "" && top == "importlib": // import importlib(.util): binds importlib
					al.importlib[top] = true
				case n.as == "" && top == "builtins":
					al.builtins[top] = true
				case n.name == "importlib":
					al.importlib[n.as] = true
				case n.name == "builtins":
					al.builtins[n.as] = true
				}
			}
			i = end - 1
		}
	}
	return al
}

// importedName is one name of an import statement: "a.b" in "import a.b as c".
type importedName struct{ name, as string }

// bound is the name a from-import binds in the file.
func (n importedName) bound() string {
	if n.as != "" {
		return n.as
	}
	return n.name
}

// importedNames reads "a.b as c, d" (optionally parenthesized) and returns where it
// stopped.
func importedNames(toks []token, i int) ([]importedName, int) {
	var names []importedName
	paren := i < len(toks) && toks[i].is(tkOp, "(")
	if paren {
		i++
	}
	for i < len(toks) {
		t := toks[i]
		if t.is(tkOp, "*") {
			names = append(names, importedName{name: "*"})
			i++
		} else if t.kind == tkName {
			// Built in one piece: "import a.a.a…" of a megabyte, concatenated part by
			// part, took minutes.
			var name strings.Builder
			name.WriteString(t.text)
			i++
			for i+1 < len(toks) && toks[i].is(tkOp, ".") && toks[i+1].kind == tkName {
				name.WriteString(".")
				name.WriteString(toks[i+1].text)
				i += 2
			}
			n := importedName{name: name.String()}
			if i+1 < len(toks) && toks[i].is(tkName, "as") && toks[i+1].kind == tkName {
				n.as = toks[i+1].text
				i += 2
			}
			names = append(names, n)
		} else {
			break
		}
		if i < len(toks) && toks[i].is(tkOp, ",") {
			i++
			continue
		}
		break
	}
	if paren && i < len(toks) && toks[i].is(tkOp, ")") {
		i++
	}
	return names, i
}

// maxArgTokens bounds the arguments of a call the scanner evaluates. An ordinary call
// has a handful of tokens; one with more is reported unresolved without being
// evaluated, so that a hostile file (calls nested in calls, each argument holding the
// next) costs a bounded amount per call.
const maxArgTokens = 256

// maxExprBytes bounds Finding.Expr, which goes into logs: a longer argument text is
// cut short and ends in "…".
const maxExprBytes = 256

// scanFile returns the dynamic import sites of one file.
func scanFile(p, src string, tree sourceTree) []Finding {
	toks := tokenize(src)
	al := findAliases(toks)
	match := matchBrackets(toks)
	ev := &evaluator{modName: moduleName(p), pkgName: packageName(p)}
	var out []Finding
	for i := range toks {
		call, open := callAt(toks, i, al)
		if call == "" {
			continue
		}
		f := Finding{File: p, Line: toks[i].line, Call: call, Modules: []string{}}
		switch end := match[open]; {
		case end < 0:
			// An unclosed call (a broken file): report the rest of its line, resolve
			// nothing. The line is looked at no further than the report can show.
			rest := src[toks[open].end:]
			rest = rest[:min(len(rest), maxExprBytes+1)]
			if nl := strings.IndexAny(rest, "\r\n"); nl >= 0 {
				rest = rest[:nl]
			}
			f.Expr = clipExpr(strings.TrimSpace(rest), len(rest) > maxExprBytes)
		case end-open-1 > maxArgTokens:
			f.Expr = joinTokens(src, toks[open+1:end]) // unresolved: see maxArgTokens
		default:
			f.Expr = joinTokens(src, toks[open+1:end])
			ev.begin()
			if mods := resolve(call, splitArgs(toks[open+1:end]), ev, tree); mods != nil && !ev.opaque {
				f.Modules = mods
			}
		}
		out = append(out, f)
	}
	return out
}

// matchBrackets returns, for each token that opens a bracket, the index of the token
// closing it (-1 if none does; other tokens get 0). It gives what closing(toks, i)
// gives, for all brackets in one pass: calling closing for each call took minutes on a
// file of unclosed calls, each searching the rest of the file.
func matchBrackets(toks []token) []int {
	match := make([]int, len(toks))
	var open []int // brackets not closed yet, innermost last
	for i, t := range toks {
		switch bracket(t) {
		case 1:
			match[i] = -1
			open = append(open, i)
		case -1: // any closer closes the innermost bracket, as in closing
			if n := len(open); n > 0 {
				match[open[n-1]] = i
				open = open[:n-1]
			}
		}
	}
	return match
}

// callAt recognises a call of an import function at toks[i] and returns its canonical
// name and the index of its opening parenthesis.
func callAt(toks []token, i int, al aliases) (string, int) {
	t := toks[i]
	if t.kind != tkName {
		return "", -1
	}
	if i > 0 {
		// obj.import_module(…) is someone else's method; def import_module(…) is no call.
		if prev := toks[i-1]; prev.is(tkOp, ".") || prev.is(tkName, "def") || prev.is(tkName, "class") {
			return "", -1
		}
	}
	at := func(k int) token {
		if i+k < len(toks) {
			return toks[i+k]
		}
		return token{}
	}
	if at(1).is(tkOp, ".") && at(2).kind == tkName && at(3).is(tkOp, "(") {
		switch attr := at(2).text; {
		case attr == "import_module" && al.importlib[t.text]:
			return "importlib.import_module", i + 3
		case attr == "__import__" && (al.importlib[t.text] || al.builtins[t.text]):
			return "__import__", i + 3
		}
		return "", -1
	}
	if at(1).is(tkOp, "(") {
		switch {
		case al.importModule[t.text]:
			return "import_module", i + 1
		case al.dunderImport[t.text]:
			return "__import__", i + 1
		}
	}
	return "", -1
}

// resolve returns the modules a call imports, nil if that cannot be told.
func resolve(call string, args []callArg, ev *evaluator, tree sourceTree) []string {
	nameToks, ok := argument(args, 0, "name")
	if !ok {
		return nil
	}
	name := ev.expr(nameToks)
	if call == "__import__" {
		return resolveDunder(name, args, ev, tree)
	}
	if len(name) > 0 && !name[0].hole && strings.HasPrefix(name[0].lit, ".") {
		// import_module(".x", package=…): relative to the package argument, which
		// must be known; without one Python raises TypeError anyway.
		pkgToks, ok := argument(args, 1, "package")
		if !ok {
			return nil
		}
		base, ok := ev.expr(pkgToks).literal()
		if !ok {
			return nil
		}
		rest := strings.TrimLeft(name[0].lit, ".")
		level := len(name[0].lit) - len(rest)
		if name, ok = relative(cat(litPat(rest), name[1:]), base, level); !ok {
			return nil
		}
	}
	return expand(name, tree)
}

// resolveDunder handles __import__(name, globals, locals, fromlist, level): level > 0
// is relative to the calling file's package, and fromlist entries are imported as
// submodules when they are modules (they may be plain attributes, so only those found
// in the tree count).
func resolveDunder(name pattern, args []callArg, ev *evaluator, tree sourceTree) []string {
	if lt, ok := argument(args, 4, "level"); ok {
		if len(lt) != 1 || lt[0].kind != tkNumber || !isAllDigits(lt[0].text) {
			return nil
		}
		if level := atoi(lt[0].text); level > 0 {
			if name, ok = relative(name, ev.pkgName, level); !ok {
				return nil
			}
		}
	}
	mods := expand(name, tree)
	base, ok := name.literal()
	if !ok || len(mods) == 0 {
		return mods
	}
	if ft, ok := argument(args, 3, "fromlist"); ok && len(ft) >= 2 && closing(ft, 0) == len(ft)-1 {
		items, _ := splitTop(ft[1:len(ft)-1], func(t token) bool { return t.is(tkOp, ",") })
		for _, item := range items {
			if len(item) != 1 || item[0].kind != tkString {
				continue
			}
			if sub, ok := ev.literals(item).literal(); ok && tree.index[base+"."+sub] {
				mods = append(mods, base+"."+sub)
			}
		}
		sort.Strings(mods)
	}
	return mods
}

// relative applies Python's rule for a name imported level dots up from package base.
func relative(rest pattern, base string, level int) (pattern, bool) {
	if base == "" {
		return nil, false
	}
	bits := strings.Split(base, ".")
	if level-1 >= len(bits) {
		return nil, false // beyond the top-level package
	}
	base = strings.Join(bits[:len(bits)-(level-1)], ".")
	if len(rest) == 0 {
		return litPat(base), true
	}
	return cat(litPat(base+"."), rest), true
}

// expand turns a resolved name pattern into module names: a literal is itself; a
// pattern with holes needs a literal package prefix and matches modules of the tree.
func expand(name pattern, tree sourceTree) []string {
	if lit, ok := name.literal(); ok {
		if validModule(lit) {
			return []string{lit}
		}
		return nil
	}
	if len(name) == 0 || name[0].hole {
		return nil
	}
	dot := strings.LastIndex(name[0].lit, ".")
	if dot < 0 || !validModule(name[0].lit[:dot]) {
		return nil
	}
	key := name.key()
	out, ok := tree.expanded[key]
	if !ok {
		out = matchModules(name, tree)
		tree.expanded[key] = out
	}
	return slices.Clone(out) // the caller may append to it
}

// matchModules returns the modules of the tree that name, a pattern with holes after
// a literal prefix, matches.
func matchModules(name pattern, tree sourceTree) []string {
	// Each hole stands for at least one byte, so a pattern longer than every module
	// name matches none; this keeps a hostile name from becoming a huge regexp. Nor
	// does a literal that is not UTF-8 (module names are identifiers), and regexp
	// refuses to compile one.
	size := 0
	for _, s := range name {
		if !utf8.ValidString(s.lit) {
			return nil
		}
		size += max(len(s.lit), 1)
	}
	if size > tree.longest {
		return nil
	}
	// Only modules starting with the prefix can match: the regexp is compiled and run
	// for those alone, not for the whole tree.
	prefix := name[0].lit
	from := sort.SearchStrings(tree.modules, prefix)
	var re *regexp.Regexp
	var out []string
	for _, m := range tree.modules[from:] {
		if !strings.HasPrefix(m, prefix) {
			break
		}
		if re == nil {
			re = name.regexp()
		}
		if re.MatchString(m) {
			out = append(out, m)
		}
	}
	return out
}

func validModule(s string) bool {
	for _, part := range strings.Split(s, ".") {
		if !isIdentifier(part) {
			return false
		}
	}
	return true
}

// joinTokens rebuilds source text from tokens, keeping spacing within a line and
// dropping comments and line breaks, so a multi-line call reads as one line. It stops
// past maxExprBytes (the text is cut short there), so that its cost does not depend on
// how long the arguments are.
func joinTokens(src string, toks []token) string {
	var b strings.Builder
	full := false
	write := func(s string) {
		if room := maxExprBytes + 1 - b.Len(); len(s) > room {
			s, full = s[:room], true
		}
		b.WriteString(s)
	}
	var prev token
	for _, t := range toks {
		if full {
			break
		}
		if t.kind == tkNewline {
			continue
		}
		if prev.kind != 0 {
			gap := src[prev.end:t.start]
			switch {
			case !strings.ContainsAny(gap, "\r\n#\\"):
				write(gap)
			case prev.is(tkOp, "(") || prev.is(tkOp, "[") || prev.is(tkOp, "{") ||
				t.is(tkOp, ")") || t.is(tkOp, "]") || t.is(tkOp, "}") || t.is(tkOp, ","):
			default:
				write(" ")
			}
		}
		write(t.text)
		prev = t
	}
	text := strings.TrimSpace(b.String())
	if !full {
		text = strings.TrimSuffix(text, ",")
	}
	return clipExpr(text, full)
}

// clipExpr cuts text to maxExprBytes, at a character boundary, and marks it with "…"
// if it was cut (or the caller cut it already: cut).
func clipExpr(text string, cut bool) string {
	if len(text) <= maxExprBytes && !cut {
		return text
	}
	n := min(len(text), maxExprBytes)
	for k := 0; k < utf8.UTFMax && n > 0 && n < len(text) && !utf8.RuneStart(text[n]); k++ {
		n--
	}
	return strings.TrimSpace(text[:n]) + "…"
}
