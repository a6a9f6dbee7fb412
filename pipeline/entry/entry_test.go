package entry

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"gotest.tools/v3/assert"
)

// mapSource is a tree in memory.
type mapSource map[string]string

func (m mapSource) Paths() []string {
	var out []string
	for p := range m {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}
func (m mapSource) Has(p string) bool { _, ok := m[p]; return ok }
func (m mapSource) ReadFile(p string, max int64) ([]byte, error) {
	s, ok := m[p]
	if !ok {
		return nil, errors.New("no such file")
	}
	return []byte(s), nil
}

// namer names files relative to "." and "src" (as the collection would).
func namer(file string) string {
	rel := strings.TrimPrefix(file, "src/")
	rel = strings.TrimSuffix(strings.TrimSuffix(rel, ".py"), "/__init__")
	return strings.ReplaceAll(rel, "/", ".")
}

const runner = "import uvicorn\nfrom fastapi import FastAPI\napp = FastAPI()\n\nif __name__ == \"__main__\":\n    uvicorn.run(app)\n"

func TestFind(t *testing.T) {
	for _, tc := range []struct {
		name string
		src  mapSource
		spec string
		want Entry
	}{
		{"main.py", mapSource{"main.py": runner, "app.py": runner}, "", Entry{Kind: Script, File: "main.py", Why: "found main.py"}},
		{"server.py", mapSource{"server.py": runner, "lib.py": ""}, "", Entry{Kind: Script, File: "server.py", Why: "found server.py"}},
		{"a script calling uvicorn.run at the top", mapSource{"run.py": "import uvicorn\nuvicorn.run('x:app')\n"}, "",
			Entry{Kind: Script, File: "run.py", Why: "found run.py"}},
		{"main.py that only defines the app", mapSource{"main.py": "from fastapi import FastAPI\n\napi: FastAPI = FastAPI(title='x')\n"}, "",
			Entry{Kind: App, File: "main.py", Module: "main", Attr: "api",
				Why: "found main.py; it defines api but starts nothing, so it is served with uvicorn as main:api"}},
		{"src layout __main__", mapSource{"src/svc/__init__.py": "", "src/svc/__main__.py": "from svc.app import run\nrun()\n", "src/svc/app.py": ""}, "",
			Entry{Kind: Module, File: "src/svc/__main__.py", Module: "svc", Why: "found src/svc/__main__.py"}},
		{"an app object in a package", mapSource{"app/__init__.py": "", "app/main.py": "import fastapi\napplication = fastapi.FastAPI()\n"}, "",
			Entry{Kind: App, File: "app/main.py", Module: "app.main", Attr: "application",
				Why: "no script found; app/main.py defines the application application, served with uvicorn"}},
		{"starlette", mapSource{"web/asgi.py": "from starlette.applications import Starlette\nweb_app = Starlette(routes=[])\n"}, "",
			Entry{Kind: App, File: "web/asgi.py", Module: "web.asgi", Attr: "web_app",
				Why: "no script found; web/asgi.py defines the application web_app, served with uvicorn"}},
		{"given script", mapSource{"bin/serve.py": runner}, "bin/serve.py", Entry{Kind: Script, File: "bin/serve.py", Why: "given"}},
		{"given -m", mapSource{"svc/__init__.py": "", "svc/__main__.py": ""}, "-m svc", Entry{Kind: Module, File: "svc/__main__.py", Module: "svc", Why: "given"}},
		{"given app", mapSource{"svc/__init__.py": "", "svc/web.py": ""}, "svc.web:app", Entry{Kind: App, File: "svc/web.py", Module: "svc.web", Attr: "app", Why: "given"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Find(tc.src, tc.spec, namer)
			assert.NilError(t, err)
			assert.DeepEqual(t, got, tc.want)
		})
	}
}

func TestFindErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		src  mapSource
		spec string
		want string
	}{
		{"nothing", mapSource{"lib.py": "x = 1"}, "", "no entry point found"},
		{"two __main__", mapSource{"a/__init__.py": "", "a/__main__.py": "", "b/__init__.py": "", "b/__main__.py": ""}, "", `several packages can be run with -m (a/__main__.py, b/__main__.py)`},
		{"missing script", mapSource{}, "main.py", `entry "main.py": not found`},
		{"not python", mapSource{"run.sh": ""}, "run.sh", "must be a .py file"},
		{"bad attr", mapSource{"m.py": ""}, "m:1app", `"1app" is not a Python name`},
		{"empty -m", mapSource{}, "-m  ", `give the package to run`},
	} {
		_, err := Find(tc.src, tc.spec, namer)
		assert.ErrorContains(t, err, tc.want, tc.name)
	}
}

func TestEntryForms(t *testing.T) {
	assert.Equal(t, Entry{Kind: Script, File: "main.py"}.String(), "main.py")
	assert.Equal(t, Entry{Kind: Module, Module: "svc"}.String(), "-m svc")
	assert.Equal(t, Entry{Kind: App, Module: "app.main", Attr: "app"}.String(), "app.main:app")
	assert.Equal(t, Entry{Kind: Script, File: "main.py"}.ScriptFile(), "main.py")
	assert.Equal(t, Entry{Kind: App}.ScriptFile(), LauncherFile)
	assert.Assert(t, Entry{Kind: Script}.Launcher() == nil)
}

// The launchers are Python that runs: the module one runs the package's __main__, the app one
// serves the application on the port given as --port (or $PORT).
func TestLaunchersRun(t *testing.T) {
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("no python3")
	}
	dir := t.TempDir()
	write := func(p, text string) {
		full := filepath.Join(dir, filepath.FromSlash(p))
		assert.NilError(t, os.MkdirAll(filepath.Dir(full), 0o755))
		assert.NilError(t, os.WriteFile(full, []byte(text), 0o644))
	}
	write("svc/__init__.py", "")
	write("svc/__main__.py", "import sys\nprint('svc main', sys.argv[1:])\n")
	write(LauncherFile, string(Entry{Kind: Module, Module: "svc"}.Launcher()))
	out, err := exec.Command(py, filepath.Join(dir, LauncherFile), "--port", "9").CombinedOutput()
	assert.NilError(t, err, string(out))
	assert.Equal(t, strings.TrimSpace(string(out)), "svc main ['--port', '9']")

	// The app launcher with a stand-in uvicorn that prints what it was asked to serve.
	write("uvicorn.py", "def run(app, host, port):\n    print('serve', app, host, port)\n")
	write("web/__init__.py", "")
	write("web/asgi.py", "application = 'the-app'\n")
	app := Entry{Kind: App, Module: "web.asgi", Attr: "application"}
	write(LauncherFile, string(app.Launcher()))
	cmd := exec.Command(py, filepath.Join(dir, LauncherFile), "--port", "8123", "--unknown", "x")
	cmd.Env = append(os.Environ(), "PORT=1")
	out, err = cmd.CombinedOutput()
	assert.NilError(t, err, string(out))
	assert.Equal(t, strings.TrimSpace(string(out)), "serve the-app 127.0.0.1 8123")
	cmd = exec.Command(py, filepath.Join(dir, LauncherFile))
	cmd.Env = append(slices.DeleteFunc(os.Environ(), func(kv string) bool { return strings.HasPrefix(kv, "PORT=") }), "APP_PORT=8555")
	out, err = cmd.CombinedOutput()
	assert.NilError(t, err, string(out))
	assert.Equal(t, strings.TrimSpace(string(out)), "serve the-app 127.0.0.1 8555")
}
