package trace

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"

	"github.com/pybundle/pybundle/pipeline/collect"
	"github.com/pybundle/pybundle/pipeline/health"
	"github.com/pybundle/pybundle/pipeline/source"
	"github.com/pybundle/pybundle/pipeline/spec"
)

func writeTree(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for p, text := range files {
		full := filepath.Join(dir, filepath.FromSlash(p))
		assert.NilError(t, os.MkdirAll(filepath.Dir(full), 0o755))
		assert.NilError(t, os.WriteFile(full, []byte(text), 0o644))
	}
	return dir
}

func TestParse(t *testing.T) {
	r, err := Parse([]byte(`{"python": "3.13.5", "modules": {"ok.mod": {"origin": "/site/ok/mod.py"}, "": {}, "odd name": {}},
		"opened": ["conf/a.json"], "listed": ["migrations/versions"]}`))
	assert.NilError(t, err)
	assert.Equal(t, len(r.Modules), 1, "odd keys dropped")
	for _, bad := range []string{
		`{"opened": ["../etc/passwd"]}`, `{"opened": ["/etc/passwd"]}`, `{"listed": ["a/../../b"]}`,
		`{"modules": {"m": {"origin": "../x.py", "own": true}}}`, `{"opened": [""]}`, `not json`,
	} {
		_, err := Parse([]byte(bad))
		assert.Check(t, err != nil, bad)
	}
}

func TestAdditions(t *testing.T) {
	dir := writeTree(t, map[string]string{
		"main.py": "", "app/__init__.py": "", "app/registry.py": "", "app/conf/plugins.json": "[]",
		"migrations/versions/001_init.py": "", "migrations/versions/002_users.py": "", "notes/todo.txt": "",
	})
	tree, err := source.Read(dir, nil)
	assert.NilError(t, err)
	c, err := collect.Collect(tree, collect.Rules{Entry: "main.py", ExcludeData: []string{"migrations/", "notes/"}})
	assert.NilError(t, err)
	r := Result{
		Python: "3.13.5",
		Modules: map[string]Module{
			"app.registry":       {Origin: "app/registry.py", Own: true, Importer: "main.py:1", Static: true},
			"json":               {Origin: "/usr/lib/python3.13/json/__init__.py", Stdlib: true, Importer: "app/registry.py:2", Static: true},
			"fastapi":            {Origin: "/site/fastapi/__init__.py", Importer: "main.py:2", Static: true},
			"plugins_pdf":        {Origin: "/site/plugins_pdf.py", Importer: "app/registry.py:14"},
			"pkg_resources":      {Origin: "/site/pkg_resources/__init__.py", Importer: "/site/x.py:1", Static: true},
			"setuptools._vendor": {Origin: "/site/setuptools/_vendor/__init__.py", Importer: "/site/x.py:2", Static: true},
		},
		Opened:      []string{"app/conf/plugins.json", "app/registry.py", "notes/todo.txt", "missing.json"},
		Listed:      []string{"migrations/versions"},
		Metadata:    []string{"fastapi"},
		EntryPoints: map[string][]string{"myapp.plugins": {"plugins-pdf"}},
	}
	a := r.Additions(tree, c)
	assert.Equal(t, a.Modules, 6)
	assert.DeepEqual(t, a.HiddenImports, []string{"fastapi", "json", "pkg_resources", "plugins_pdf", "setuptools._vendor"})
	assert.DeepEqual(t, a.Required, []string{"fastapi", "pkg_resources", "plugins_pdf", "setuptools._vendor"})
	assert.DeepEqual(t, a.Added, []string{"plugins_pdf"}) // only what no import statement named
	assert.Equal(t, a.Importers["plugins_pdf"], "app/registry.py:14")
	assert.DeepEqual(t, a.Metadata, []string{"fastapi", "plugins-pdf"})
	assert.DeepEqual(t, a.Keep, []string{"pkg_resources", "setuptools"})
	// Read files not bundled otherwise: the excluded note the backend did read, and the migration
	// scripts of the folder it listed; not the imported module, not what is bundled already.
	assert.DeepEqual(t, a.Datas, []spec.Data{
		{Src: "migrations/versions/001_init.py", Dest: "migrations/versions"},
		{Src: "migrations/versions/002_users.py", Dest: "migrations/versions"},
		{Src: "notes/todo.txt", Dest: "notes"},
	})
}

// The harness, for real: a backend serving /api/health that imports a plugin by a name read
// from a data file, reads metadata and lists a folder; the record says so.
func TestHarnessRecords(t *testing.T) {
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("no python3")
	}
	root := writeTree(t, map[string]string{
		"conf/plugins.txt":    "plugins.pdf\n",
		"plugins/__init__.py": "",
		"plugins/pdf.py":      "import json\nNAME = 'pdf'\n",
		"migrations/001_a.py": "",
		"server.py": `import http.server, importlib, importlib.metadata, json, os, sys, pathlib
name = (pathlib.Path(__file__).parent / "conf" / "plugins.txt").read_text().strip()
plugin = importlib.import_module(name)
os.listdir(os.path.join(os.path.dirname(__file__), "migrations"))
try:
    importlib.metadata.version("pybundle-no-such-distribution")
except importlib.metadata.PackageNotFoundError:
    pass
importlib.metadata.entry_points(group="pybundle.test.plugins")
port = int(sys.argv[sys.argv.index("--port") + 1])
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = json.dumps({"status": "ok", "plugin": plugin.NAME}).encode()
        self.send_response(200 if self.path in ("/api/health", "/warm") else 404)
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a):
        pass
http.server.HTTPServer(("127.0.0.1", port), H).serve_forever()
`,
	})
	harness := filepath.Join(t.TempDir(), HarnessFile)
	assert.NilError(t, os.WriteFile(harness, Harness(), 0o644))
	record := filepath.Join(t.TempDir(), "trace.json")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	res, err := health.Probe(ctx, health.Options{
		Artifact: py, Args: []string{harness, filepath.Join(root, "server.py")}, Dir: root,
		Env:    []string{EnvOut + "=" + record, EnvRoot + "=" + root},
		Budget: 60 * time.Second, WarmUp: []string{"/warm"}, Linger: time.Second,
	})
	assert.NilError(t, err)
	assert.Assert(t, res.OK, "%s\n%v", res.Reason, res.LogTail)
	assert.Equal(t, res.Runs[0].WarmUp[0].Status, 200)
	b, err := os.ReadFile(record)
	assert.NilError(t, err)
	r, err := Parse(b)
	assert.NilError(t, err)
	pdf, ok := r.Modules["plugins.pdf"]
	assert.Assert(t, ok, "the plugin imported by a name read from a file: %v", r.Modules)
	assert.Assert(t, pdf.Own && pdf.Origin == "plugins/pdf.py" && !pdf.Static, "%+v", pdf)
	assert.Equal(t, pdf.Importer, "server.py:3")
	assert.Assert(t, r.Modules["json"].Stdlib || r.Modules["json"].Importer == "", "%+v", r.Modules["json"])
	assert.Assert(t, is.Contains(r.Opened, "conf/plugins.txt"))
	// Not what the import system, metadata discovery or the run of the entry itself touched.
	assert.Assert(t, !slices.Contains(r.Opened, "plugins/pdf.py") && !slices.Contains(r.Opened, "server.py"), "%v", r.Opened)
	assert.Assert(t, !slices.Contains(r.Listed, ".") && !slices.Contains(r.Listed, "plugins"), "%v", r.Listed)
	assert.Assert(t, is.Contains(r.Listed, "migrations"))
	assert.Assert(t, is.Contains(r.Metadata, "pybundle-no-such-distribution"))
	_, ok = r.Modules["http.server"]
	assert.Assert(t, ok || r.Modules["http.server"].Stdlib, "modules imported by the backend are recorded")
}
