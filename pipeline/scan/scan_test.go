package scan

import (
	"errors"
	"io/fs"
	"os"
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	"gotest.tools/v3/assert"
)

func mapFS(files map[string]string) fstest.MapFS {
	m := fstest.MapFS{}
	for p, src := range files {
		m[p] = &fstest.MapFile{Data: []byte(src)}
	}
	return m
}

func exprs(fs []Finding) []string {
	out := []string{}
	for _, f := range fs {
		out = append(out, f.Expr)
	}
	return out
}

// A small package every table case can load from: pkg/{a,b}.py, a subpackage with an
// __init__, and things that are not modules of pkg (a namespace dir, a data dir).
var pkgTree = map[string]string{
	"pkg/__init__.py":      "",
	"pkg/a.py":             "import csv\n",
	"pkg/b.py":             "import statistics\n",
	"pkg/sub/__init__.py":  "",
	"pkg/sub/c.py":         "",
	"pkg/ns/d.py":          "", // no __init__.py: not a subpackage of pkg's folder
	"pkg/data/seed.json":   "{}",
	"pkg/__pycache__/a.py": "", // never a module
}

var pkgChildren = []string{"pkg.a", "pkg.b", "pkg.sub"}

func with(extra map[string]string) map[string]string {
	out := map[string]string{}
	for p, s := range pkgTree {
		out[p] = s
	}
	for p, s := range extra {
		out[p] = s
	}
	return out
}

func TestScanStyles(t *testing.T) {
	tests := []struct {
		name       string
		files      map[string]string
		hidden     []string
		unresolved []string // Expr of the unresolved sites
	}{
		{
			name:   "importlib literal, kept although missing",
			files:  with(map[string]string{"main.py": "import importlib\nimportlib.import_module(\"pkg.missing\")\n"}),
			hidden: []string{"pkg.missing"},
		},
		{
			name:   "from importlib import import_module",
			files:  with(map[string]string{"main.py": "from importlib import import_module\nm = import_module('pkg.a')\n"}),
			hidden: []string{"pkg.a"},
		},
		{
			name:   "aliased module",
			files:  with(map[string]string{"main.py": "import importlib as il\nil.import_module('pkg.b')\n"}),
			hidden: []string{"pkg.b"},
		},
		{
			name:   "aliased function",
			files:  with(map[string]string{"main.py": "from importlib import (\n    reload,\n    import_module as load,\n)\nload('pkg.a')\n"}),
			hidden: []string{"pkg.a"},
		},
		{
			name:   "__import__ with fromlist naming an attribute",
			files:  with(map[string]string{"main.py": "m = __import__(\"pkg.a\", fromlist=[\"x\"])\n"}),
			hidden: []string{"pkg.a"},
		},
		{
			name:   "__import__ fromlist entries that are submodules",
			files:  with(map[string]string{"main.py": "m = __import__('pkg', globals(), locals(), ['b', 'helper'])\n"}),
			hidden: []string{"pkg", "pkg.b"},
		},
		{
			name:   "builtins.__import__",
			files:  with(map[string]string{"main.py": "import builtins\nbuiltins.__import__('pkg.sub.c')\n"}),
			hidden: []string{"pkg.sub.c"},
		},
		{
			name:   "__import__ relative by level",
			files:  with(map[string]string{"pkg/sub/__init__.py": "c = __import__('c', globals(), locals(), ['x'], 1)\nb = __import__('b', level=2)\n"}),
			hidden: []string{"pkg.b", "pkg.sub.c"},
		},
		{
			name: "relative with package keyword and positional",
			files: with(map[string]string{"main.py": "import importlib\n" +
				"importlib.import_module('.a', package='pkg')\n" +
				"importlib.import_module(\".b\", \"pkg\")\n" +
				"importlib.import_module('..a', package='pkg.sub')\n"}),
			hidden: []string{"pkg.a", "pkg.b"},
		},
		{
			name:   "relative to __name__ in a package __init__",
			files:  with(map[string]string{"pkg/__init__.py": "import importlib\n\ndef load(name):\n    return importlib.import_module(\".\" + name, __name__)\n"}),
			hidden: pkgChildren,
		},
		{
			name:   "relative f-string to __package__ in a module",
			files:  with(map[string]string{"pkg/loader.py": "from importlib import import_module\n\ndef load(name):\n    return import_module(f\".{name}\", package=__package__)\n"}),
			hidden: []string{"pkg.a", "pkg.b", "pkg.loader", "pkg.sub"},
		},
		{
			name:   "f-string over __name__ in a package __init__",
			files:  with(map[string]string{"pkg/__init__.py": "import importlib\n\ndef load(name):\n    return importlib.import_module(f\"{__name__}.{name}\")\n"}),
			hidden: pkgChildren,
		},
		{
			name:   "f-string with a literal package",
			files:  with(map[string]string{"main.py": "from importlib import import_module\nimport_module(f'pkg.{name}')\n"}),
			hidden: pkgChildren,
		},
		{
			name:   "f-string with nested same quotes (Python 3.12+)",
			files:  with(map[string]string{"main.py": "import importlib\nimportlib.import_module(f\"pkg.{cfg[\"name\"]}\")\n"}),
			hidden: pkgChildren,
		},
		{
			name:   "concatenation",
			files:  with(map[string]string{"main.py": "import importlib\nimportlib.import_module('pkg.' + name.strip())\n"}),
			hidden: pkgChildren,
		},
		{
			name: "str.format, %-formatting and join",
			files: with(map[string]string{"pkg/__init__.py": "import importlib\n" +
				"importlib.import_module('pkg.{}'.format(name))\n" +
				"importlib.import_module('{0}.{n}'.format(__name__, n=name))\n" +
				"importlib.import_module('%s.%s' % (__name__, name))\n" +
				"importlib.import_module('pkg.%s' % name)\n" +
				"importlib.import_module('.'.join([__name__, name]))\n"}),
			hidden: pkgChildren,
		},
		{
			name:   "partial module name",
			files:  with(map[string]string{"pkg/__init__.py": "import importlib\nimportlib.import_module(f'{__name__}.s{x}')\n"}),
			hidden: []string{"pkg.sub"},
		},
		{
			name: "f-string details: conversions, nested specs, escapes, line joins",
			files: with(map[string]string{"pkg/__init__.py": `import importlib
importlib.import_module(f"{__name__}.{name!s:>{width}}")
importlib.import_module(F'{{braces}}.\N{BULLET}.{x}')
x = '''a
b''' + \
    'c'
importlib.import_module(rf"{__package__}.{n}")
`}),
			hidden:     pkgChildren,
			unresolved: []string{`F'{{braces}}.\N{BULLET}.{x}'`},
		},
		{
			name:   "literal built from __name__",
			files:  with(map[string]string{"pkg/__init__.py": "import importlib\nimportlib.import_module(f'{__name__}.a')\n"}),
			hidden: []string{"pkg.a"},
		},
		{
			name: "unresolvable sites are reported",
			files: with(map[string]string{"main.py": "import importlib\n" +
				"importlib.import_module(name)\n" +
				"importlib.import_module(f'{prefix}.{name}')\n" +
				"importlib.import_module('.a')\n" +
				"importlib.import_module('.a', package=pkg_name)\n" +
				"importlib.import_module('%(p)s.x' % vars)\n" +
				"importlib.import_module('nothere.' + name)\n" +
				"importlib.import_module(*args)\n" +
				"importlib.import_module('...a', package='pkg')\n" +
				"importlib.import_module(b'pkg.a')\n"}),
			hidden: []string{},
			unresolved: []string{"name", "f'{prefix}.{name}'", "'.a'", "'.a', package=pkg_name",
				"'%(p)s.x' % vars", "'nothere.' + name", "*args", "'...a', package='pkg'", "b'pkg.a'"},
		},
		{
			name: "decoys in comments, docstrings and strings",
			files: with(map[string]string{"main.py": `"""Loads plug-ins, e.g. importlib.import_module("ghost.doc")."""
import importlib

# importlib.import_module("ghost.comment")
EXAMPLE = 'importlib.import_module("ghost.single")'
MULTI = """
    __import__(
        "ghost.triple")
"""
RAW = r'import_module("ghost.raw\'")'
FMT = f"importlib.import_module('ghost.{1 + 1}')"


def import_module(name):  # a local helper of the same name is defined, not called
    return loader.import_module("ghost.method")


x = importlib.import_module("pkg.a")  # not importlib.import_module("ghost.tail")
`}),
			hidden: []string{"pkg.a"},
		},
		{
			name: "skipped directories and test files",
			files: with(map[string]string{
				"main.py":                         "",
				"build/lib/x.py":                  "import importlib\nimportlib.import_module('ghost.build')\n",
				"dist/x.py":                       "__import__('ghost.dist')\n",
				".venv/lib/site.py":               "__import__('ghost.venv')\n",
				"venv/x.py":                       "__import__('ghost.venv2')\n",
				"myenv/pyvenv.cfg":                "home = /usr/bin\n",
				"myenv/lib/x.py":                  "__import__('ghost.pyvenv')\n",
				"tests/test_app.py":               "__import__('ghost.tests')\n",
				"pkg/tests/helper.py":             "__import__('ghost.pkgtests')\n",
				"test_main.py":                    "__import__('ghost.testfile')\n",
				"main_test.py":                    "__import__('ghost.testfile2')\n",
				"conftest.py":                     "__import__('ghost.conftest')\n",
				"pkg/__pycache__/loader.py":       "__import__('ghost.pycache')\n",
				"node_modules/x/y.py":             "__import__('ghost.node')\n",
				"pkg/late.py":                     "from importlib import import_module\nimport_module('pkg.' + n)\n",
				"build.py":                        "", // only directories named build are skipped
				"pkg/tests/__init__.py":           "",
				"pkg/sub/__pycache__/__init__.py": "",
			}),
			hidden: []string{"pkg.a", "pkg.b", "pkg.late", "pkg.sub"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res, err := Scan(mapFS(tc.files))
			assert.NilError(t, err)
			assert.DeepEqual(t, res.HiddenImports, tc.hidden)
			want := tc.unresolved
			if want == nil {
				want = []string{}
			}
			assert.DeepEqual(t, exprs(res.Unresolved), want)
		})
	}
}

func TestScanFindingDetails(t *testing.T) {
	src := `import importlib


def load(name):
    return importlib.import_module(  # the module is chosen by configuration
        f"{__name__}.{name}",
    )


def audit():
    return __import__(
        "pkg.a",
        fromlist=["record"],  # fromlist makes it return pkg.a itself
    )


def dynamic(name):
    return importlib.import_module(name)
`
	res, err := Scan(mapFS(with(map[string]string{"pkg/__init__.py": src})))
	assert.NilError(t, err)
	assert.DeepEqual(t, res.Findings, []Finding{
		{File: "pkg/__init__.py", Line: 5, Call: "importlib.import_module", Expr: `f"{__name__}.{name}"`, Modules: pkgChildren},
		{File: "pkg/__init__.py", Line: 11, Call: "__import__", Expr: `"pkg.a", fromlist=["record"]`, Modules: []string{"pkg.a"}},
		{File: "pkg/__init__.py", Line: 18, Call: "importlib.import_module", Expr: "name", Modules: []string{}},
	})
	assert.DeepEqual(t, res.Unresolved, []Finding{res.Findings[2]})
}

func TestScanSortsFindings(t *testing.T) {
	res, err := Scan(mapFS(with(map[string]string{
		"z.py":            "__import__('pkg.b')\n__import__('pkg.a')\n",
		"a.py":            "\n\n__import__('pkg.a')\n",
		"pkg/__init__.py": "__import__('pkg.sub')\n",
	})))
	assert.NilError(t, err)
	var got []string
	for _, f := range res.Findings {
		got = append(got, f.File+":"+f.Expr)
	}
	assert.DeepEqual(t, got, []string{"a.py:'pkg.a'", "pkg/__init__.py:'pkg.sub'", "z.py:'pkg.b'", "z.py:'pkg.a'"})
	assert.DeepEqual(t, res.HiddenImports, []string{"pkg.a", "pkg.b", "pkg.sub"})
}

func TestScanEmptyTree(t *testing.T) {
	res, err := Scan(fstest.MapFS{})
	assert.NilError(t, err)
	assert.DeepEqual(t, res, Result{HiddenImports: []string{}, Findings: []Finding{}, Unresolved: []Finding{}})
}

// failingFS fails to open one file, the way an unreadable file would.
type failingFS struct {
	files fstest.MapFS
	bad   string
}

func (f failingFS) Open(name string) (fs.File, error) {
	if name == f.bad {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrPermission}
	}
	return f.files.Open(name)
}

func TestScanErrorNamesTheFile(t *testing.T) {
	fsys := failingFS{files: mapFS(map[string]string{"main.py": "", "services/users.py": ""}), bad: "services/users.py"}
	_, err := Scan(fsys)
	assert.Assert(t, errors.Is(err, fs.ErrPermission))
	assert.Assert(t, strings.HasPrefix(err.Error(), "services/users.py: "), err.Error())
}

func TestScanToleratesBrokenPython(t *testing.T) {
	// Syntax errors are PyInstaller's to report; the scan goes on and reports what it can.
	res, err := Scan(mapFS(with(map[string]string{
		"main.py":   "def main()\n    x = 'unterminated\n    __import__('pkg.a')\n",
		"broken.py": "import importlib\nimportlib.import_module('pkg.b'\n",
		"eof.py":    `s = """never closed` + "\n__import__('ghost')\n",
	})))
	assert.NilError(t, err)
	assert.DeepEqual(t, res.HiddenImports, []string{"pkg.a"})
	assert.DeepEqual(t, exprs(res.Unresolved), []string{"'pkg.b'"})
}

// The sample backend every pipeline test builds: the list below is exactly what its
// PyInstaller build needs on top of static analysis.
func TestScanSampleBackend(t *testing.T) {
	res, err := Scan(os.DirFS("../../testdata/backend"))
	assert.NilError(t, err)
	assert.DeepEqual(t, res.HiddenImports, []string{
		"connectors.archive",
		"connectors.cloud",
		"connectors.inifile",
		"plugins.audit",
		"plugins.csv_export",
		"services.metrics",
		"services.reports",
		"services.users",
	})
	assert.DeepEqual(t, res.Unresolved, []Finding{})
	assert.DeepEqual(t, res.Findings, []Finding{
		{File: "connectors/__init__.py", Line: 10, Call: "import_module", Expr: `"connectors." + name`,
			Modules: []string{"connectors.archive", "connectors.cloud", "connectors.inifile"}},
		{File: "plugins/__init__.py", Line: 14, Call: "__import__", Expr: `"plugins.audit", fromlist=["record"]`,
			Modules: []string{"plugins.audit"}},
		{File: "plugins/__init__.py", Line: 15, Call: "importlib.import_module", Expr: `".csv_export", package="plugins"`,
			Modules: []string{"plugins.csv_export"}},
		{File: "services/__init__.py", Line: 11, Call: "importlib.import_module", Expr: `f"{__name__}.{name}"`,
			Modules: []string{"services.metrics", "services.reports", "services.users"}},
	})
	// Loaded by nothing, so not bundled on its account.
	assert.Check(t, !slices.Contains(res.HiddenImports, "plugins.legacy_xml"))
}

// The missing-lazy variant names services.billing literally; the scan must keep it so
// the build guard fails on it instead of the app failing at run time.
func TestScanMissingLazyKeepsLiteral(t *testing.T) {
	res, err := Scan(os.DirFS("../../testdata/broken/missing-lazy"))
	assert.NilError(t, err)
	assert.DeepEqual(t, res.HiddenImports, []string{"services.billing", "services.users"})
	_, err = fs.Stat(os.DirFS("../../testdata/broken/missing-lazy"), "services/billing.py")
	assert.Assert(t, errors.Is(err, fs.ErrNotExist))
}

// Line numbers must survive everything that spans lines without ending a statement.
func TestScanLineNumbers(t *testing.T) {
	src := "DOC = '''\none\ntwo'''\n" + // 1-3
		"x = 1 + \\\n    2\n" + // 4-5
		"y = f'''{\n    __name__\n}'''\n" + // 6-8
		"z = ('a'\n     'b')\r\n" + // 9-10, CRLF
		"s = 'a\\\nb'\n" + // 11-12: backslash-newline inside a string
		"__import__('pkg.a')\n" // 13
	res, err := Scan(mapFS(with(map[string]string{"main.py": src})))
	assert.NilError(t, err)
	assert.Equal(t, len(res.Findings), 1)
	assert.Equal(t, res.Findings[0].Line, 13)
}
