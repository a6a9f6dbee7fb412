package scan

import (
	"fmt"
	"math/rand/v2"
	"path"
	"slices"
	"sort"
	"strings"
	"testing"
	"testing/fstest"

	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"
)

// The property test builds random backends: random packages (nested sometimes), each
// module loaded lazily in a randomly chosen style, surrounded by decoys that look like
// imports but are not (comments, docstrings, strings, methods, skipped directories).
// The generator knows the truth for every site it writes, so it can check the scanner
// both ways: nothing loaded is missed, nothing unreal is added.

const (
	propertySeed  = 20261125
	propertyCases = 200
)

// Feature: python-backend-bundling, Property 1: Dependency Inclusion Completeness — every module the backend loads lazily by import string is in the bundle's hidden imports.
func TestPropertyDependencyInclusionCompleteness(t *testing.T) {
	master := rand.New(rand.NewPCG(propertySeed, 0))
	for c := range propertyCases {
		caseSeed := master.Uint64()
		g := generate(caseSeed)
		res, err := Scan(g.fsys())
		assert.NilError(t, err)
		where := fmt.Sprintf("property seed %d, case %d (case seed %d; regenerate with generate(%d)):\n%s",
			propertySeed, c, caseSeed, caseSeed, g.dump())

		// Completeness: every module the backend loads lazily is a hidden import.
		for _, m := range g.loaded() {
			assert.Assert(t, slices.Contains(res.HiddenImports, m), "lazily loaded %s not in hidden imports %v\n%s", m, res.HiddenImports, where)
		}
		// Soundness: every hidden import is a module of the tree or a literal target.
		for _, m := range res.HiddenImports {
			assert.Assert(t, g.real[m] || g.literal[m], "hidden import %s is neither a module nor a literal target\n%s", m, where)
		}
		// Every site is found, with the right line and modules; no decoy is.
		assert.Assert(t, is.DeepEqual(siteList(res.Findings), g.expected()), where)
		// Unresolvable sites are reported, never dropped.
		assert.Assert(t, is.DeepEqual(siteList(res.Unresolved), g.expectedUnresolved()), where)
	}
}

// site is a Finding reduced to what the generator predicts.
type site struct {
	File    string
	Line    int
	Call    string
	Modules []string
}

func siteList(fs []Finding) []site {
	out := []site{}
	for _, f := range fs {
		out = append(out, site{f.File, f.Line, f.Call, f.Modules})
	}
	return out
}

type genPackage struct {
	name     string // dotted
	dir      string
	modules  []string // direct children's last name part (modules and subpackages)
	parent   *genPackage
	children []*genPackage
}

type genFile struct {
	doc     []string // module docstring lines (may hold a decoy)
	imports map[string]bool
	blocks  []genBlock
}

type genBlock struct {
	lines []string
	call  int // index of the call line, -1 for a decoy
	want  *wantSite
}

type wantSite struct {
	file    string
	line    int // set when rendered
	call    string
	folder  *genPackage // modules = the folder's children
	modules []string    // otherwise these (nil: unresolved)
}

type generator struct {
	rng      *rand.Rand
	n        int
	pkgs     []*genPackage
	py       map[string]*genFile
	raw      map[string]string // files written as they are (data, skipped dirs, decoy files)
	real     map[string]bool   // modules of the tree
	literal  map[string]bool   // literal import targets (may be missing)
	want     map[string]bool   // modules loaded by a literal
	sites    []*wantSite
	rendered map[string]string
}

func generate(seed uint64) *generator {
	g := &generator{
		rng: rand.New(rand.NewPCG(seed, 1)),
		py:  map[string]*genFile{}, raw: map[string]string{},
		real: map[string]bool{"main": true}, literal: map[string]bool{}, want: map[string]bool{},
	}
	g.file("main.py")
	for range 1 + g.rng.IntN(3) {
		g.addPackage(nil, 0)
	}
	for _, p := range g.pkgs {
		for range g.rng.IntN(4) {
			g.addSite(p)
		}
	}
	if len(g.sites) == 0 {
		g.addSite(g.pkgs[0])
	}
	for range g.rng.IntN(6) {
		g.addDecoy()
	}
	g.render()
	return g
}

// ident returns a fresh identifier; the prefix keeps it clear of keywords and test_.
func (g *generator) ident(prefix string) string {
	g.n++
	letters := make([]byte, 2+g.rng.IntN(5))
	for i := range letters {
		letters[i] = byte('a' + g.rng.IntN(26))
	}
	return fmt.Sprintf("%s%s%d", prefix, letters, g.n)
}

func (g *generator) file(p string) *genFile {
	if f, ok := g.py[p]; ok {
		return f
	}
	f := &genFile{imports: map[string]bool{}}
	g.py[p] = f
	return f
}

func (g *generator) addPackage(parent *genPackage, depth int) *genPackage {
	p := &genPackage{parent: parent}
	leaf := g.ident("pk")
	if parent == nil {
		p.name, p.dir = leaf, leaf
	} else {
		leaf = g.ident("sub")
		p.name, p.dir = parent.name+"."+leaf, parent.dir+"/"+leaf
		parent.modules = append(parent.modules, leaf)
		parent.children = append(parent.children, p)
	}
	g.pkgs = append(g.pkgs, p)
	g.real[p.name] = true
	g.file(p.dir + "/__init__.py")
	for range 1 + g.rng.IntN(6) {
		m := g.ident("m")
		p.modules = append(p.modules, m)
		g.real[p.name+"."+m] = true
		g.file(p.dir + "/" + m + ".py")
	}
	if depth < 2 && g.rng.IntN(3) == 0 {
		g.addPackage(p, depth+1)
	}
	// Things in a package folder that are not modules of it.
	if g.rng.IntN(3) == 0 {
		g.raw[p.dir+"/assets/seed.json"] = "{}\n"
	}
	if g.rng.IntN(3) == 0 {
		g.raw[p.dir+"/__pycache__/"+p.modules[0]+".cpython-313.pyc"] = "\x00\x0d\x0d\x0a"
	}
	if g.rng.IntN(4) == 0 {
		g.raw[p.dir+"/tests/test_"+p.modules[0]+".py"] = "import importlib\nimportlib.import_module(\"ghost_tests.x\")\n"
	}
	return p
}

func (g *generator) children(p *genPackage) []string {
	var out []string
	for _, m := range p.modules {
		out = append(out, p.name+"."+m)
	}
	sort.Strings(out)
	return out
}

func pick[T any](g *generator, xs []T) T { return xs[g.rng.IntN(len(xs))] }

// Places a call can be written from.
func (g *generator) initFile(p *genPackage) string { return p.dir + "/__init__.py" }

func (g *generator) memberFile(p *genPackage) string {
	var leaves []string
	for _, m := range p.modules {
		if g.py[p.dir+"/"+m+".py"] != nil {
			leaves = append(leaves, p.dir+"/"+m+".py")
		}
	}
	if len(leaves) == 0 {
		return g.initFile(p)
	}
	return pick(g, leaves)
}

func (g *generator) anyFile() string {
	files := make([]string, 0, len(g.py))
	for p := range g.py {
		files = append(files, p)
	}
	sort.Strings(files)
	return pick(g, files)
}

// callee is one way of spelling an import function: what to import, what to call, and
// the canonical name the scanner reports.
type callee struct{ imp, fn, call string }

var importModuleCallees = []callee{
	{"import importlib", "importlib.import_module", "importlib.import_module"},
	{"import importlib as il", "il.import_module", "importlib.import_module"},
	{"import importlib.util", "importlib.import_module", "importlib.import_module"},
	{"from importlib import import_module", "import_module", "import_module"},
	{"from importlib import import_module as load_module", "load_module", "import_module"},
}

var dunderCallees = []callee{
	{"", "__import__", "__import__"},
	{"import builtins", "builtins.__import__", "__import__"},
}

// style is one way of loading modules lazily: the arguments to write in file, and
// what the site must resolve to.
type style struct {
	dunder bool
	gen    func(g *generator, p *genPackage) (file string, args []string, s *wantSite)
}

func folderSite(p *genPackage) *wantSite { return &wantSite{folder: p} }

func (g *generator) literalSite(mods ...string) *wantSite {
	for _, m := range mods {
		g.literal[m] = true
		g.want[m] = true
	}
	return &wantSite{modules: mods}
}

var styles = []style{
	// Over a whole package folder: any module of it may be configured.
	{gen: func(g *generator, p *genPackage) (string, []string, *wantSite) {
		return g.initFile(p), []string{`f"{__name__}.{name}"`}, folderSite(p)
	}},
	{gen: func(g *generator, p *genPackage) (string, []string, *wantSite) {
		return g.anyFile(), []string{fmt.Sprintf(`f"%s.{name}"`, p.name)}, folderSite(p)
	}},
	{gen: func(g *generator, p *genPackage) (string, []string, *wantSite) {
		return g.anyFile(), []string{fmt.Sprintf(`"%s." + name`, p.name)}, folderSite(p)
	}},
	{gen: func(g *generator, p *genPackage) (string, []string, *wantSite) {
		return g.initFile(p), []string{`"." + name`, pick(g, []string{"__name__", "package=__name__"})}, folderSite(p)
	}},
	{gen: func(g *generator, p *genPackage) (string, []string, *wantSite) {
		return g.memberFile(p), []string{`f".{name}"`, "package=__package__"}, folderSite(p)
	}},
	{gen: func(g *generator, p *genPackage) (string, []string, *wantSite) {
		return g.anyFile(), []string{fmt.Sprintf(`'%s.{}'.format(name)`, p.name)}, folderSite(p)
	}},
	{gen: func(g *generator, p *genPackage) (string, []string, *wantSite) {
		return g.initFile(p), []string{`"%s.%s" % (__name__, name)`}, folderSite(p)
	}},
	{gen: func(g *generator, p *genPackage) (string, []string, *wantSite) {
		return g.initFile(p), []string{`".".join([__name__, name])`}, folderSite(p)
	}},
	{gen: func(g *generator, p *genPackage) (string, []string, *wantSite) {
		return g.memberFile(p), []string{`__package__ + "." + name`}, folderSite(p)
	}},
	{dunder: true, gen: func(g *generator, p *genPackage) (string, []string, *wantSite) {
		return g.anyFile(), []string{fmt.Sprintf(`f"%s.{name}"`, p.name), `fromlist=["register"]`}, folderSite(p)
	}},
	// One module, named by a literal.
	{gen: func(g *generator, p *genPackage) (string, []string, *wantSite) {
		m := p.name + "." + pick(g, p.modules)
		return g.anyFile(), []string{fmt.Sprintf(pick(g, []string{`"%s"`, `'%s'`}), m)}, g.literalSite(m)
	}},
	{dunder: true, gen: func(g *generator, p *genPackage) (string, []string, *wantSite) {
		m := p.name + "." + pick(g, p.modules)
		args := pick(g, [][]string{{`"` + m + `"`}, {`"` + m + `"`, `fromlist=["register"]`}, {`"` + m + `"`, "globals()", "locals()", `["register"]`, "0"}})
		return g.anyFile(), args, g.literalSite(m)
	}},
	{gen: func(g *generator, p *genPackage) (string, []string, *wantSite) {
		leaf := pick(g, p.modules)
		pkg := pick(g, []string{`package="` + p.name + `"`, `"` + p.name + `"`})
		return g.anyFile(), []string{`".` + leaf + `"`, pkg}, g.literalSite(p.name + "." + leaf)
	}},
	{gen: func(g *generator, p *genPackage) (string, []string, *wantSite) {
		if len(p.children) == 0 {
			m := p.name + "." + pick(g, p.modules)
			return g.anyFile(), []string{`"` + m + `"`}, g.literalSite(m)
		}
		sub := pick(g, p.children) // from inside sub, ..leaf is a module of p
		leaf := pick(g, p.modules)
		return g.anyFile(), []string{`"..` + leaf + `"`, `package="` + sub.name + `"`}, g.literalSite(p.name + "." + leaf)
	}},
	{dunder: true, gen: func(g *generator, p *genPackage) (string, []string, *wantSite) {
		leaf := pick(g, p.modules)
		// fromlist entries that are modules get imported; "helpers" is an attribute.
		s := g.literalSite(p.name + "." + leaf)
		g.literal[p.name] = true
		s.modules = []string{p.name, p.name + "." + leaf}
		sort.Strings(s.modules)
		return g.anyFile(), []string{`"` + p.name + `"`, "globals()", "locals()", `["` + leaf + `", "helpers"]`}, s
	}},
	{dunder: true, gen: func(g *generator, p *genPackage) (string, []string, *wantSite) {
		leaf := pick(g, p.modules)
		return pick(g, []string{g.initFile(p), g.memberFile(p)}), []string{`"` + leaf + `"`, "globals()", "None", `["x"]`, "1"},
			g.literalSite(p.name + "." + leaf)
	}},
	{gen: func(g *generator, p *genPackage) (string, []string, *wantSite) {
		leaf := pick(g, p.modules)
		return g.initFile(p), []string{`f"{__name__}.` + leaf + `"`}, g.literalSite(p.name + "." + leaf)
	}},
	{gen: func(g *generator, p *genPackage) (string, []string, *wantSite) { // a literal with no file behind it
		m := p.name + "." + g.ident("missing")
		g.literal[m] = true
		return g.anyFile(), []string{`"` + m + `"`}, &wantSite{modules: []string{m}}
	}},
	// Unresolvable: must be reported.
	{gen: func(g *generator, p *genPackage) (string, []string, *wantSite) {
		return g.anyFile(), []string{pick(g, []string{"name", `f"{prefix}.{name}"`, "target()", `"%s.%s" % pair`, `"." + name`})}, &wantSite{}
	}},
}

func (g *generator) addSite(p *genPackage) {
	st := pick(g, styles)
	file, args, s := st.gen(g, p)
	cl := pick(g, importModuleCallees)
	if st.dunder {
		cl = pick(g, dunderCallees)
	}
	s.file, s.call = file, cl.call
	g.sites = append(g.sites, s)
	f := g.file(file)
	if cl.imp != "" {
		f.imports[cl.imp] = true
	}
	fn := g.ident("load_")
	lines := []string{fmt.Sprintf("def %s(name, prefix=None, pair=(), target=str):", fn)}
	if g.rng.IntN(3) == 0 {
		lines = append(lines, `    """Imported lazily, like importlib.import_module("ghost_doc.`+fn+`")."""`)
	}
	call := len(lines)
	switch g.rng.IntN(4) {
	case 0: // arguments on their own lines, with comments
		lines = append(lines, "    return "+cl.fn+"(  # chosen by configuration")
		for _, a := range args {
			lines = append(lines, "        "+a+",  # "+cl.fn+`("ghost_comment")`)
		}
		lines = append(lines, "    )")
	case 1: // argument on the next line
		lines = append(lines, "    module = "+cl.fn+"(", "        "+strings.Join(args, ", "), "    )", "    return module")
	default:
		tail := ""
		if g.rng.IntN(2) == 0 {
			tail = `  # e.g. __import__("ghost_tail.x")`
		}
		lines = append(lines, "    return "+cl.fn+"("+strings.Join(args, ", ")+")"+tail)
	}
	f.blocks = append(f.blocks, genBlock{lines: lines, call: call, want: s})
}

// Decoys: text that mentions import calls without being one.
var decoys = []func(g *generator) (string, []string){
	func(g *generator) (string, []string) {
		return g.anyFile(), []string{`# importlib.import_module("ghost_comment.` + g.ident("x") + `")`}
	},
	func(g *generator) (string, []string) {
		return g.anyFile(), []string{strings.ToUpper(g.ident("example_")) + ` = 'importlib.import_module("ghost_str.x")'`}
	},
	func(g *generator) (string, []string) {
		return g.anyFile(), []string{strings.ToUpper(g.ident("usage_")) + ` = """`, `    __import__(`, `        "ghost_triple.x")`, `"""`}
	},
	func(g *generator) (string, []string) {
		return g.anyFile(), []string{strings.ToUpper(g.ident("msg_")) + ` = f"""use importlib.import_module('ghost_fstr.{1 + 1}') or {'__import__("ghost_nested")'}"""`}
	},
	func(g *generator) (string, []string) {
		// In a file of its own: where it is defined, a bare import_module(…) is this one.
		name := g.ident("compat")
		g.real[name] = true
		return name + ".py", []string{"def import_module(name):  # a helper, defined not called", `    return registry.import_module("ghost_method." + name)`}
	},
	func(g *generator) (string, []string) {
		return g.anyFile(), []string{strings.ToUpper(g.ident("raw_")) + ` = r'importlib.import_module("ghost_raw\'")'`}
	},
}

var skippedDecoys = []string{
	"build/lib/%s.py", "dist/%s/__init__.py", ".venv/lib/python3.13/site-packages/%s.py",
	"venv/%s.py", ".tox/py313/%s.py", "tests/test_%s.py", "test_%s.py", "%s_test.py", "__pycache__/%s.py",
}

func (g *generator) addDecoy() {
	if g.rng.IntN(3) == 0 {
		name := g.ident("ghost")
		p := fmt.Sprintf(pick(g, skippedDecoys), name)
		g.raw[p] = "import importlib\nimportlib.import_module(\"" + name + ".x\")\n"
		return
	}
	if g.rng.IntN(4) == 0 {
		f := g.file(g.initFile(pick(g, g.pkgs)))
		f.doc = []string{`"""Plug-ins are loaded by name:`, ``, `    importlib.import_module(f"ghost_doc.{name}")`, `"""`}
		return
	}
	file, lines := pick(g, decoys)(g)
	g.file(file).blocks = append(g.file(file).blocks, genBlock{lines: lines, call: -1})
}

func (g *generator) render() {
	g.rendered = map[string]string{}
	for p, f := range g.py {
		var lines []string
		lines = append(lines, f.doc...)
		var imps []string
		for imp := range f.imports {
			imps = append(imps, imp)
		}
		sort.Strings(imps)
		lines = append(lines, imps...)
		for _, b := range f.blocks {
			lines = append(lines, "", "")
			if b.want != nil {
				b.want.line = len(lines) + b.call + 1
			}
			lines = append(lines, b.lines...)
		}
		if len(lines) == 0 {
			g.rendered[p] = ""
			continue
		}
		g.rendered[p] = strings.Join(lines, "\n") + "\n"
	}
	for p, s := range g.raw {
		g.rendered[p] = s
	}
	g.raw["venvs/old/pyvenv.cfg"] = "home = /usr/bin\n"
	g.rendered["venvs/old/pyvenv.cfg"] = g.raw["venvs/old/pyvenv.cfg"]
	g.rendered["venvs/old/lib/site.py"] = "__import__(\"ghost_pyvenv.x\")\n"
}

func (g *generator) fsys() fstest.MapFS {
	m := fstest.MapFS{}
	for p, s := range g.rendered {
		m[p] = &fstest.MapFile{Data: []byte(s)}
	}
	return m
}

// loaded lists the modules the backend can load lazily: the literal targets that
// exist, and every module of a folder loaded over.
func (g *generator) loaded() []string {
	set := map[string]bool{}
	for m := range g.want {
		set[m] = true
	}
	for _, s := range g.sites {
		if s.folder != nil {
			for _, m := range g.children(s.folder) {
				set[m] = true
			}
		}
	}
	out := make([]string, 0, len(set))
	for m := range set {
		out = append(out, m)
	}
	sort.Strings(out)
	return out
}

func (g *generator) expected() []site {
	out := []site{}
	for _, s := range g.sites {
		mods := s.modules
		if s.folder != nil {
			mods = g.children(s.folder)
		}
		if mods == nil {
			mods = []string{}
		}
		out = append(out, site{s.file, s.line, s.call, mods})
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].File != out[j].File {
			return out[i].File < out[j].File
		}
		return out[i].Line < out[j].Line
	})
	return out
}

func (g *generator) expectedUnresolved() []site {
	out := []site{}
	for _, s := range g.expected() {
		if len(s.Modules) == 0 {
			out = append(out, s)
		}
	}
	return out
}

func (g *generator) dump() string {
	paths := make([]string, 0, len(g.rendered))
	for p := range g.rendered {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	var b strings.Builder
	for _, p := range paths {
		if path.Ext(p) == ".pyc" {
			continue
		}
		fmt.Fprintf(&b, "--- %s\n%s", p, g.rendered[p])
	}
	return b.String()
}
