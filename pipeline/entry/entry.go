// Package entry finds how a backend is started: a script (`python main.py`), a package run as
// a module (`python -m app`, a src layout's __main__.py), or an ASGI application object served
// by uvicorn (`uvicorn app.main:app`), which is how most FastAPI projects are started and has
// no script to freeze at all. For the last two pybundle writes a small launcher script that
// PyInstaller starts from.
package entry

import (
	"errors"
	"fmt"
	"path"
	"regexp"
	"slices"
	"strings"
)

// Kind is how the backend is started.
type Kind string

const (
	// Script: a file run as `python FILE`.
	Script Kind = "script"
	// Module: a package run as `python -m PKG`.
	Module Kind = "module"
	// App: an ASGI application object served by uvicorn (`uvicorn MODULE:ATTR`).
	App Kind = "app"
)

// LauncherFile is the generated launcher's name in the source root (Module and App kinds).
const LauncherFile = "pybundle_main.py"

// Entry is how the backend is started.
type Entry struct {
	Kind Kind `json:"kind"`
	// File is the script (Script), the package's __main__.py (Module) or the module file that
	// defines the application (App), relative to the source root.
	File string `json:"file"`
	// Module is the package (Module) or the module holding the application (App), dotted.
	Module string `json:"module,omitempty"`
	// Attr is the application object's name (App).
	Attr string `json:"attr,omitempty"`
	// Why says how it was chosen.
	Why string `json:"why"`
}

// Script is the file PyInstaller starts from: the entry script, or the launcher.
func (e Entry) ScriptFile() string {
	if e.Kind == Script {
		return e.File
	}
	return LauncherFile
}

// String is the entry as a user would give it.
func (e Entry) String() string {
	switch e.Kind {
	case Module:
		return "-m " + e.Module
	case App:
		return e.Module + ":" + e.Attr
	}
	return e.File
}

// Source is what Find reads: the tree's files and their text.
type Source interface {
	Paths() []string
	Has(p string) bool
	ReadFile(p string, max int64) ([]byte, error)
}

// maxRead bounds what is read of one candidate file.
const maxRead = 1 << 20

// ModuleNamer turns a file of the tree into the dotted name it is imported under ("" if none).
type ModuleNamer func(file string) string

// Find resolves spec (what the user gave: "", a script path, "-m pkg" or "module:attr") in
// the tree. Without a spec it looks for, in order: main.py; a top-level app.py, server.py,
// run.py, asgi.py, api.py, backend.py or serve.py; a single package with __main__.py (at the
// top or under src/); a module defining a FastAPI or Starlette application. A script that
// neither runs anything under `if __name__ == "__main__"` nor calls uvicorn.run but defines an
// application is served as that application.
func Find(src Source, spec string, name ModuleNamer) (Entry, error) {
	spec = strings.TrimSpace(spec)
	switch {
	case spec == "-m" || strings.HasPrefix(spec, "-m ") || strings.HasPrefix(spec, "-m\t"):
		return moduleEntry(src, strings.TrimSpace(spec[2:]), name, "given")
	case strings.Contains(spec, ":") && !strings.HasSuffix(spec, ".py"):
		mod, attr, _ := strings.Cut(spec, ":")
		return appEntry(src, strings.TrimSpace(mod), strings.TrimSpace(attr), name, "given")
	case spec != "":
		return scriptEntry(src, path.Clean(spec), name, "given")
	}
	for _, f := range []string{"main.py", "app.py", "server.py", "run.py", "asgi.py", "api.py", "backend.py", "serve.py"} {
		if src.Has(f) {
			return scriptEntry(src, f, name, "found "+f)
		}
	}
	var mains []string
	for _, p := range src.Paths() {
		parts := strings.Split(p, "/")
		if path.Base(p) == "__main__.py" && (len(parts) == 2 || len(parts) == 3 && parts[0] == "src") {
			mains = append(mains, p)
		}
	}
	if len(mains) == 1 {
		return moduleEntry(src, name(path.Dir(mains[0])+"/__init__.py"), name, "found "+mains[0])
	}
	if len(mains) > 1 {
		return Entry{}, fmt.Errorf("entry: several packages can be run with -m (%s): set entry to one of them, e.g. \"-m %s\"",
			strings.Join(mains, ", "), name(path.Dir(mains[0])+"/__init__.py"))
	}
	if e, ok := findApp(src, name); ok {
		return e, nil
	}
	return Entry{}, errors.New(`entry: no entry point found (no main.py, app.py or server.py, no package with __main__.py, no FastAPI or Starlette application): set entry to a script, "-m package" or "module:app"`)
}

func scriptEntry(src Source, file string, name ModuleNamer, why string) (Entry, error) {
	if !strings.HasSuffix(file, ".py") {
		return Entry{}, fmt.Errorf("entry %q: a script must be a .py file (or give \"-m package\" or \"module:app\")", file)
	}
	if !src.Has(file) {
		return Entry{}, fmt.Errorf("entry %q: not found in the source folder", file)
	}
	text, err := src.ReadFile(file, maxRead)
	if err != nil {
		return Entry{}, fmt.Errorf("entry %q: %w", file, err)
	}
	if !runsSomething(text) {
		if attr := appObject(text); attr != "" {
			if mod := name(file); mod != "" {
				return Entry{Kind: App, File: file, Module: mod, Attr: attr,
					Why: why + fmt.Sprintf("; it defines %s but starts nothing, so it is served with uvicorn as %s:%s", attr, mod, attr)}, nil
			}
		}
	}
	return Entry{Kind: Script, File: file, Why: why}, nil
}

func moduleEntry(src Source, mod string, name ModuleNamer, why string) (Entry, error) {
	if mod == "" {
		return Entry{}, errors.New(`entry "-m": give the package to run, e.g. "-m app"`)
	}
	for _, p := range src.Paths() {
		if path.Base(p) == "__main__.py" && name(path.Dir(p)+"/__init__.py") == mod {
			return Entry{Kind: Module, File: p, Module: mod, Why: why}, nil
		}
	}
	return Entry{}, fmt.Errorf("entry \"-m %s\": no package %s with a __main__.py in the source folder", mod, mod)
}

func appEntry(src Source, mod, attr string, name ModuleNamer, why string) (Entry, error) {
	if !identRe.MatchString(attr) {
		return Entry{}, fmt.Errorf("entry %q: %q is not a Python name", mod+":"+attr, attr)
	}
	for _, p := range src.Paths() {
		if strings.HasSuffix(p, ".py") && name(p) == mod {
			return Entry{Kind: App, File: p, Module: mod, Attr: attr, Why: why}, nil
		}
	}
	return Entry{}, fmt.Errorf("entry %q: no module %s in the source folder", mod+":"+attr, mod)
}

var (
	identRe = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	// mainGuardRe: the file runs something when started as a script.
	mainGuardRe = regexp.MustCompile(`(?m)^if\s+__name__\s*==\s*['"]__main__['"]\s*:|^\s*uvicorn\.run\(`)
	// appRe: a module-level FastAPI or Starlette application object.
	appRe = regexp.MustCompile(`(?m)^([A-Za-z_][A-Za-z0-9_]*)\s*(?::[^=\n]+)?=\s*(?:fastapi\.|starlette\.applications\.)?(?:FastAPI|Starlette)\(`)
)

func runsSomething(text []byte) bool { return mainGuardRe.Match(text) }

// appObject is the name of the first module-level application object in text, "" if none.
func appObject(text []byte) string {
	if m := appRe.FindSubmatch(text); m != nil {
		return string(m[1])
	}
	return ""
}

// findApp looks for a module defining an application, shallowest first.
func findApp(src Source, name ModuleNamer) (Entry, bool) {
	paths := slices.Clone(src.Paths())
	slices.SortStableFunc(paths, func(a, b string) int { return strings.Count(a, "/") - strings.Count(b, "/") })
	for _, p := range paths {
		if !strings.HasSuffix(p, ".py") {
			continue
		}
		text, err := src.ReadFile(p, maxRead)
		if err != nil {
			continue
		}
		if attr := appObject(text); attr != "" {
			if mod := name(p); mod != "" {
				return Entry{Kind: App, File: p, Module: mod, Attr: attr,
					Why: fmt.Sprintf("no script found; %s defines the application %s, served with uvicorn", p, attr)}, true
			}
		}
	}
	return Entry{}, false
}

// Launcher is the generated script PyInstaller starts from for Module and App entries (nil for
// a Script). The App launcher takes --host and --port like the sample backends (the Electron
// side hands the port over as --port N and in $PORT/$APP_PORT), and imports the application
// statically, so PyInstaller's analysis follows it.
func (e Entry) Launcher() []byte {
	switch e.Kind {
	case Module:
		return []byte(fmt.Sprintf(`# Generated by pybundle: starts %[1]s as "python -m %[1]s" does.
import runpy

runpy.run_module(%[2]q, run_name="__main__", alter_sys=True)
`, e.Module, e.Module))
	case App:
		return []byte(fmt.Sprintf(`# Generated by pybundle: serves %[1]s:%[2]s with uvicorn, as "uvicorn %[1]s:%[2]s" does.
import argparse
import os

import uvicorn

from %[1]s import %[2]s as app


def main():
    env_port = os.environ.get("PORT") or os.environ.get("APP_PORT") or "8000"
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(env_port))
    args, _ = parser.parse_known_args()
    uvicorn.run(app, host=args.host, port=args.port)


if __name__ == "__main__":
    main()
`, e.Module, e.Attr))
	}
	return nil
}
