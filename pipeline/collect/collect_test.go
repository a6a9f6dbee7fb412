package collect

import (
	"os"
	"path/filepath"
	"testing"

	"gotest.tools/v3/assert"

	"github.com/pybundle/pybundle/pipeline/source"
	"github.com/pybundle/pybundle/pipeline/spec"
)

func tree(t *testing.T, files map[string]string) *source.Tree {
	t.Helper()
	dir := t.TempDir()
	for p, text := range files {
		full := filepath.Join(dir, filepath.FromSlash(p))
		assert.NilError(t, os.MkdirAll(filepath.Dir(full), 0o755))
		assert.NilError(t, os.WriteFile(full, []byte(text), 0o644))
	}
	tr, err := source.Read(dir, nil)
	assert.NilError(t, err)
	return tr
}

// A backend whose own modules are loaded in ways no scanner follows, and whose data lives
// everywhere: all of it is collected by construction.
func TestCollectFlatLayout(t *testing.T) {
	tr := tree(t, map[string]string{
		"main.py":                                       "import app",
		"app/__init__.py":                               "",
		"app/registry.py":                               "",
		"app/plugins/__init__.py":                       "",
		"app/plugins/pdf.py":                            "",
		"app/conf/modules.json":                         `["app.plugins.pdf"]`,
		"app/templates/index.html":                      "<html>",
		"app/templates/mail/hello.txt":                  "hi",
		"app/static/app.css":                            "body{}",
		"app/_speedups.cpython-313-x86_64-linux-gnu.so": "ELF",
		"migrations/env.py":                             "",
		"migrations/versions/001_init.py":               "",
		"migrations/alembic.ini":                        "",
		"seed.db":                                       "SQLite",
		"settings.toml":                                 "",
		".env":                                          "A=1",
		"README.md":                                     "",
		"pyproject.toml":                                "",
		"requirements.txt":                              "",
		"LICENSE":                                       "",
		"app/types.pyi":                                 "",
		"my-scripts/tool.py":                            "", // not importable: a folder with a dash
	})
	c, err := Collect(tr, Rules{Entry: "main.py"})
	assert.NilError(t, err)
	assert.DeepEqual(t, c.Roots, []string{"."})
	assert.DeepEqual(t, c.Modules, []string{"app", "app.plugins", "app.plugins.pdf", "app.registry", "migrations.env"})
	assert.DeepEqual(t, c.Datas, []spec.Data{
		{Src: ".env", Dest: "."},
		{Src: "app/conf", Dest: "app/conf"},
		{Src: "app/static", Dest: "app/static"},
		{Src: "app/templates", Dest: "app/templates"},
		// env.py is a module (namespace package) and a script Alembic loads by its path: the
		// whole folder goes where it lives; versions/ are scripts no import reaches.
		{Src: "migrations", Dest: "migrations"},
		{Src: "my-scripts", Dest: "my-scripts"},
		{Src: "seed.db", Dest: "."},
		{Src: "settings.toml", Dest: "."},
	})
	assert.DeepEqual(t, c.Binaries, []spec.Data{{Src: "app/_speedups.cpython-313-x86_64-linux-gnu.so", Dest: "app"}})
	assert.Equal(t, c.Summary.Files, 11)
	assert.Equal(t, c.Summary.Largest[0], FileBytes{Path: "app/conf/modules.json", Bytes: int64(len(`["app.plugins.pdf"]`))})
}

// A src layout started as a package: src/ is the import root, data goes relative to it.
func TestCollectSrcLayout(t *testing.T) {
	tr := tree(t, map[string]string{
		"src/svc/__init__.py":      "",
		"src/svc/__main__.py":      "",
		"src/svc/api/__init__.py":  "",
		"src/svc/api/routes.py":    "",
		"src/svc/queries/list.sql": "select 1",
		"config/defaults.yaml":     "a: 1",
	})
	c, err := Collect(tr, Rules{Entry: "pybundle_main.py"})
	assert.NilError(t, err)
	assert.DeepEqual(t, c.Roots, []string{".", "src"})
	assert.DeepEqual(t, c.Modules, []string{"svc", "svc.__main__", "svc.api", "svc.api.routes"})
	assert.DeepEqual(t, c.Datas, []spec.Data{{Src: "config", Dest: "config"}, {Src: "src/svc/queries", Dest: "svc/queries"}})
	assert.Equal(t, c.ModuleName("src/svc/api/routes.py"), "svc.api.routes")
	assert.Equal(t, c.DestDir("src/svc/queries/list.sql"), "svc/queries")
}

// An entry inside a folder that is not a package: its folder is where its imports start.
func TestCollectEntryFolder(t *testing.T) {
	tr := tree(t, map[string]string{"backend/server.py": "", "backend/routes.py": "", "backend/data/x.json": "{}"})
	c, err := Collect(tr, Rules{Entry: "backend/server.py"})
	assert.NilError(t, err)
	assert.DeepEqual(t, c.Roots, []string{".", "backend"})
	assert.DeepEqual(t, c.Modules, []string{"routes"})
	assert.DeepEqual(t, c.Datas, []spec.Data{{Src: "backend/data", Dest: "data"}})
}

func TestCollectRules(t *testing.T) {
	tr := tree(t, map[string]string{"main.py": "", "data/a.json": "", "data/big.bin": "xxxx", "fixtures/x.json": "", "lib/util.py": ""})
	c, err := Collect(tr, Rules{Entry: "main.py", ExcludeData: []string{"*.bin", "fixtures/"}, Paths: []string{"lib"},
		Data: []spec.Data{{Src: "fixtures/x.json", Dest: "extra"}}})
	assert.NilError(t, err)
	assert.DeepEqual(t, c.Roots, []string{".", "lib"})
	assert.DeepEqual(t, c.Modules, []string{"util"})
	assert.DeepEqual(t, c.Datas, []spec.Data{{Src: "data/a.json", Dest: "data"}, {Src: "fixtures/x.json", Dest: "extra"}})
	_, err = Collect(tr, Rules{Entry: "main.py", Data: []spec.Data{{Src: "nope", Dest: "."}}})
	assert.ErrorContains(t, err, "data nope:.: nope is not a file or folder of the source")
	_, err = Collect(tr, Rules{Entry: "main.py", Paths: []string{"../x"}})
	assert.ErrorContains(t, err, `paths: "../x" must be a folder inside the source folder`)
}

// Explicit binaries are binaries, no longer data; one that is not in the source is an error.
func TestCollectExplicitBinaries(t *testing.T) {
	tr := tree(t, map[string]string{"main.py": "", "tools/convert": "ELF", "tools/README.txt": "", "lib/libz.so.1": ""})
	c, err := Collect(tr, Rules{Entry: "main.py", Binaries: []spec.Data{{Src: "tools/convert", Dest: "bin"}}})
	assert.NilError(t, err)
	assert.DeepEqual(t, c.Binaries, []spec.Data{{Src: "lib/libz.so.1", Dest: "lib"}, {Src: "tools/convert", Dest: "bin"}})
	assert.DeepEqual(t, c.Datas, []spec.Data{{Src: "tools/README.txt", Dest: "tools"}})
	_, err = Collect(tr, Rules{Entry: "main.py", Binaries: []spec.Data{{Src: "build/tool", Dest: "."}}})
	assert.ErrorContains(t, err, "binaries build/tool:.: build/tool is not a file or folder of the source")
}

func TestParseData(t *testing.T) {
	d, err := ParseData(" conf/app.json : conf ")
	assert.NilError(t, err)
	assert.Equal(t, d, spec.Data{Src: "conf/app.json", Dest: "conf"})
	for _, bad := range []string{"conf", ":x", "x:", "/etc/passwd:.", "a:../up", `a\b:c`} {
		_, err := ParseData(bad)
		assert.Check(t, err != nil, bad)
	}
}
