package spec

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/pybundle/pybundle/pipeline/layout"
)

// These tests run the generated Python with the host's python3 (any 3.x).
// PyInstaller is not needed: the spec is executed with stub Analysis/PYZ/
// EXE/COLLECT objects, which is enough to check that it parses, that every
// string reaches PyInstaller with the value we meant, and that the guard
// passes and fails when it should.

func python(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 not found on the host")
	}
	return p
}

// cleanEnv is the test process environment without PYBUNDLE_* variables, so
// a developer's shell cannot change what the hook does.
func cleanEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "PYBUNDLE_") {
			env = append(env, kv)
		}
	}
	return append(env, extra...)
}

func run(t *testing.T, dir string, env []string, args ...string) (stdout string, code int) {
	t.Helper()
	cmd := exec.Command(python(t), args...)
	cmd.Dir = dir
	cmd.Env = env
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		code = ee.ExitCode()
	default:
		t.Fatalf("python3 %v: %v", args, err)
	}
	if errb.Len() > 0 {
		t.Logf("stderr of python3 %v:\n%s", args, errb.String())
	}
	return out.String(), code
}

func writeFile(t *testing.T, p string, data []byte) string {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func checkSyntax(t *testing.T, file string) {
	t.Helper()
	out, code := run(t, filepath.Dir(file), cleanEnv(), "-c",
		"import ast,sys; ast.parse(open(sys.argv[1], encoding='utf-8').read(), sys.argv[1])", file)
	if code != 0 {
		t.Fatalf("%s is not valid Python (exit %d): %s", file, code, out)
	}
}

// nasty covers both layouts, every OS and strings that would break naive
// quoting (quotes of both kinds, unicode, U+2028, $ { } %).
var nasty = []Options{
	{Target: linux},
	{Target: windows, Mode: layout.OneFile},
	{Target: darwin, Mode: layout.OneDir, Slim: true},
	{
		Target:        windows,
		Name:          `it's ünïcødé`,
		Entry:         `src/it's "main".py`,
		HiddenImports: []string{"services.users"},
		Datas: []Data{
			{`q"uo'te/x.json`, `d "q"/ü`},
			{`tab and $dollar {brace} %s.json`, "."},
			{"emoji 😀\u2028.json", "."},
		},
	},
	{
		Target:           darwin,
		Mode:             layout.OneFile,
		Paths:            []string{`it's "src"`},
		CollectData:      []string{"certifi", "app.static"},
		CollectAll:       []string{"pkg"},
		Binaries:         []Data{{`lib/q"uo'te.so`, "lib"}},
		Icon:             `assets/it's "icon" $x {y} %s.icns`,
		Entitlements:     `ent "q" ü.plist`,
		CodesignIdentity: `Developer ID Application: O'Brien "Co" \ ü (AB12)`,
	},
	{
		Target:      windows,
		CollectAll:  []string{"pkg"},
		Icon:        "assets/ünï 😀.ico",
		Version:     VersionInfo{Name: `it's "P"`, Version: "1.2.3", Description: "a \\ b\nc \u2028 😀"},
		VersionFile: `ver "q".txt`,
	},
}

func TestGeneratedSpecIsValidPython(t *testing.T) {
	python(t)
	dir := t.TempDir()
	for i, o := range nasty {
		s, err := Generate(o)
		if err != nil {
			t.Fatalf("variant %d: %v", i, err)
		}
		checkSyntax(t, writeFile(t, filepath.Join(dir, fmt.Sprint(i), o.SpecFileName()), s))
	}
}

func TestRuntimeHookIsValidPython(t *testing.T) {
	python(t)
	checkSyntax(t, writeFile(t, filepath.Join(t.TempDir(), RuntimeHookFile), RuntimeHook()))
}

// specHarness executes a spec with PyInstaller's build objects stubbed out.
// Analysis reports the modules given in $PURE (JSON list) as collected and
// $BINARIES (JSON list of 3-lists) as binaries; the keyword arguments every
// stub received are printed as one JSON line "CALLS {...}".
const specHarness = `
import json, os, sys
calls = {}
class Analysis:
    def __init__(self, scripts, **kw):
        calls["Analysis"] = dict(kw, scripts=scripts)
        self.pure = [(m, "/site/" + m.replace(".", "/") + ".py", "PYMODULE") for m in json.loads(os.environ["PURE"]) or []]
        self.binaries = [tuple(b) for b in json.loads(os.environ.get("BINARIES", "[]")) or []]
        self.scripts, self.datas = ["scripts"], ["datas"]
def PYZ(pure):
    calls["PYZ"] = len(pure)
    return "pyz"
def _binaries(args):
    return sorted(x[0] for a in args if isinstance(a, list) for x in a if isinstance(x, tuple))
def EXE(*args, **kw):
    calls["EXE"] = dict(kw, args=[a if isinstance(a, str) else "list" for a in args], binaries=_binaries(args))
    return "exe"
def COLLECT(*args, **kw):
    calls["COLLECT"] = dict(kw, args=[a if isinstance(a, str) else "list" for a in args], binaries=_binaries(args))
# PyInstaller.utils.hooks.copy_metadata, stubbed: a distribution named "missing" is not installed.
import types
hooks = types.ModuleType("PyInstaller.utils.hooks")
def copy_metadata(name):
    if name == "missing":
        raise Exception("No package metadata was found for missing")
    return [("/site/%s.dist-info" % name, "%s.dist-info" % name)]
hooks.copy_metadata = copy_metadata
# is_package, collect_data_files and collect_all, stubbed: a name starting with "missing" is not
# an installed package. is_package records the import roots on sys.path when it was asked.
def is_package(name):
    calls.setdefault("is_package", []).append([name] + [p for p in sys.path if p.startswith("/src")])
    return not name.startswith("missing")
def collect_data_files(name):
    d = name.replace(".", "/")
    return [("/site/%s/data.json" % d, d)]
def collect_all(name):
    d = name.replace(".", "/")
    return [("/site/%s/all.txt" % d, d)], [("/site/%s/lib.so" % d, d)], [name, name + ".sub"]
hooks.is_package, hooks.collect_data_files, hooks.collect_all = is_package, collect_data_files, collect_all
for m in ("PyInstaller", "PyInstaller.utils", "PyInstaller.archive", "PyInstaller.building", "PyInstaller.lib",
          "PyInstaller.lib.modulegraph"):
    sys.modules[m] = types.ModuleType(m)
sys.modules["PyInstaller.utils.hooks"] = hooks
# What the incremental block (pybundle_incremental.py) patches and reads, stubbed.
import dis
def _module(name, **attrs):
    mod = types.ModuleType(name)
    mod.__dict__.update(attrs)
    sys.modules[name] = mod
    return mod
def replace_filename_in_code_object(co, filename):
    return co
class ZlibArchiveWriter:
    _COMPRESSION_LEVEL = 6
    @classmethod
    def _write_entry(cls, fp, entry, code_dict):
        raise AssertionError("not patched")
def iterate_instructions(co):
    yield from dis.get_instructions(co)
    yield None
    for k in co.co_consts:
        if isinstance(k, types.CodeType):
            yield from iterate_instructions(k)
_module("PyInstaller.building.utils", replace_filename_in_code_object=replace_filename_in_code_object, get_code_object=None)
_module("PyInstaller.building.api", get_code_object=None)
_module("PyInstaller.archive.writers", replace_filename_in_code_object=replace_filename_in_code_object,
        ZlibArchiveWriter=ZlibArchiveWriter, PYZ_ITEM_MODULE=0, PYZ_ITEM_PKG=1, PYZ_ITEM_NSPKG=2)
_module("PyInstaller.compat", BYTECODE_MAGIC=b"\x00\x00\r\n")
_module("PyInstaller.lib.modulegraph.util", iterate_instructions=iterate_instructions)
work = os.environ.get("WORKPATH") or os.path.join(os.path.dirname(os.path.abspath(sys.argv[1])), "work")
os.makedirs(work, exist_ok=True)
ns = dict(Analysis=Analysis, PYZ=PYZ, EXE=EXE, COLLECT=COLLECT, SPECPATH=os.environ.get("SPECDIR", "/src"), SPEC=sys.argv[1],
          workpath=work, os=os)
exec(compile(open(sys.argv[1], encoding="utf-8").read(), sys.argv[1], "exec"), ns)
if os.environ.get("AFTER"):  # a test's own code, run in the spec's namespace
    exec(os.environ["AFTER"], ns)
print("CALLS " + json.dumps(calls, sort_keys=True))
`

type specCalls struct {
	Analysis struct {
		Scripts       []string   `json:"scripts"`
		Pathex        []string   `json:"pathex"`
		Datas         [][]string `json:"datas"`
		Binaries      [][]string `json:"binaries"`
		HiddenImports []string   `json:"hiddenimports"`
		Excludes      []string   `json:"excludes"`
		RuntimeHooks  []string   `json:"runtime_hooks"`
		Noarchive     bool       `json:"noarchive"`
		Optimize      int        `json:"optimize"`
	}
	IsPackage [][]string `json:"is_package"`
	PYZ       *int
	EXE       map[string]any
	COLLECT   map[string]any
}

func execSpec(t *testing.T, o Options, pure []string, binaries [][]string) (calls *specCalls, stdout string, code int) {
	t.Helper()
	dir := t.TempDir()
	s, err := Generate(o)
	if err != nil {
		t.Fatal(err)
	}
	specFile := writeFile(t, filepath.Join(dir, o.SpecFileName()), s)
	harness := writeFile(t, filepath.Join(dir, "harness.py"), []byte(specHarness))
	pj, _ := json.Marshal(pure)
	bj, _ := json.Marshal(binaries)
	stdout, code = run(t, dir, cleanEnv("PURE="+string(pj), "BINARIES="+string(bj)), harness, specFile)
	for _, l := range strings.Split(stdout, "\n") {
		if rest, ok := strings.CutPrefix(l, "CALLS "); ok {
			calls = new(specCalls)
			if err := json.Unmarshal([]byte(rest), calls); err != nil {
				t.Fatalf("harness output %q: %v", rest, err)
			}
		}
	}
	return calls, stdout, code
}

func TestSpecValuesRoundTrip(t *testing.T) {
	python(t)
	o := Options{
		Target:        windows,
		Mode:          layout.OneFile,
		Name:          `it's ünïcødé`,
		Entry:         `src/it's "main".py`,
		HiddenImports: []string{"services.users"},
		Datas: []Data{
			{`q"uo'te/x.json`, `d "q"/ü`},
			{"emoji 😀\u2028.json", "."},
		},
		Slim: true,
	}
	d := o.WithDefaults()
	calls, out, code := execSpec(t, o, d.RequiredModules, nil)
	if code != 0 || calls == nil {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	a := calls.Analysis
	if want := []string{"/src/" + o.Entry}; !slices.Equal(a.Scripts, want) {
		t.Errorf("scripts = %q, want %q", a.Scripts, want)
	}
	var wantDatas [][]string
	for _, x := range d.Datas {
		wantDatas = append(wantDatas, []string{"/src/" + x.Src, x.Dest})
	}
	if !reflect.DeepEqual(a.Datas, wantDatas) {
		t.Errorf("datas = %q, want %q", a.Datas, wantDatas)
	}
	if !slices.Equal(a.HiddenImports, d.HiddenImports) || !slices.Equal(a.Excludes, d.Excludes) {
		t.Errorf("hiddenimports = %v, excludes = %v", a.HiddenImports, a.Excludes)
	}
	if !slices.Equal(a.Pathex, []string{"/src"}) || !slices.Equal(a.RuntimeHooks, []string{"/src/" + RuntimeHookFile}) ||
		a.Noarchive || a.Optimize != 0 {
		t.Errorf("analysis = %+v", a)
	}
	if calls.EXE["name"] != o.Name || calls.EXE["console"] != false || calls.COLLECT != nil {
		t.Errorf("EXE = %v, COLLECT = %v", calls.EXE, calls.COLLECT)
	}
	if !strings.Contains(out, "PYBUNDLE BUILD CHECK OK: 6 required modules collected\n") {
		t.Errorf("no OK line in:\n%s", out)
	}

	// onedir: EXE without binaries + COLLECT under the same name.
	calls, out, code = execSpec(t, Options{Target: linux}, UvicornRequired, nil)
	if code != 0 || calls == nil || calls.COLLECT == nil {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	if calls.EXE["exclude_binaries"] != true || calls.EXE["console"] != true || calls.COLLECT["name"] != "peft_engine" {
		t.Errorf("EXE = %v, COLLECT = %v", calls.EXE, calls.COLLECT)
	}
}

func TestSpecGuardFailsBuild(t *testing.T) {
	python(t)
	o := Options{Target: linux, HiddenImports: []string{"services.users", "services.reports"}}
	// services.reports was not collected (imported by string, or a typo).
	collected := []string{"main", "services", "services.users", "uvicorn", "uvicorn.lifespan.on", "uvicorn.logging",
		"uvicorn.loops.auto", "uvicorn.protocols.http.auto"}
	calls, out, code := execSpec(t, o, collected, nil)
	if code != 1 {
		t.Fatalf("exit %d, want 1:\n%s", code, out)
	}
	var line string
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "PYBUNDLE BUILD CHECK FAILED:") {
			line = l
		}
	}
	if !strings.Contains(line, "not collected: services.reports, uvicorn.protocols.websockets.auto (") ||
		!strings.Contains(line, "imported by string") {
		t.Errorf("failure line = %q\nfull output:\n%s", line, out)
	}
	if calls != nil || strings.Contains(out, "CHECK OK") {
		t.Errorf("build went on after the guard failed:\n%s", out)
	}
}

func TestSpecGuardSeesExtensionModules(t *testing.T) {
	python(t)
	// A required C extension is collected into a.binaries, not a.pure.
	o := Options{Target: linux, RequiredModules: []string{"pydantic_core._pydantic_core", "_json", "fast"}}
	binaries := [][]string{
		{"pydantic_core/_pydantic_core.cpython-313-x86_64-linux-gnu.so", "/x", "EXTENSION"},
		{"python3.13/lib-dynload/_json.cpython-313-x86_64-linux-gnu.so", "/y", "EXTENSION"},
		{"fast.cp313-win_amd64.pyd", "/z", "EXTENSION"},
		{"libssl.so.3", "/w", "BINARY"},
	}
	if _, out, code := execSpec(t, o, nil, binaries); code != 0 {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	// A plain BINARY with a module-like name does not count.
	o.RequiredModules = []string{"libssl"}
	if _, out, code := execSpec(t, o, nil, binaries); code != 1 || !strings.Contains(out, "not collected: libssl (") {
		t.Fatalf("exit %d:\n%s", code, out)
	}
}

// The guard names where a missing module was needed, when the plan knows (the trace saw it),
// and copy_metadata runs for each distribution, a missing one noted, not fatal.
func TestSpecGuardNamesImporterAndCopiesMetadata(t *testing.T) {
	python(t)
	o := Options{Target: linux, HiddenImports: []string{"plugins.pdf"}, Importers: map[string]string{"plugins.pdf": "app/registry.py:41"},
		Metadata: []string{"fastapi", "missing"}, Datas: []Data{{"conf", "conf"}}}
	d := o.WithDefaults()
	calls, out, code := execSpec(t, o, slices.DeleteFunc(slices.Clone(d.RequiredModules), func(m string) bool { return m == "plugins.pdf" }), nil)
	if code != 1 || !strings.Contains(out, "not collected: plugins.pdf (imported by app/registry.py:41)") {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	if !strings.Contains(out, "PYBUNDLE NOTE: no installed metadata for missing to copy") {
		t.Errorf("missing metadata not noted:\n%s", out)
	}
	calls, out, code = execSpec(t, o, d.RequiredModules, nil)
	if code != 0 || calls == nil {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	want := [][]string{{"/src/conf", "conf"}, {"/site/fastapi.dist-info", "fastapi.dist-info"}}
	if !reflect.DeepEqual(calls.Analysis.Datas, want) {
		t.Errorf("datas = %q, want %q", calls.Analysis.Datas, want)
	}
}

type hookReport struct {
	OK        bool              `json:"ok"`
	Imported  []string          `json:"imported"`
	Failed    map[string]string `json:"failed"`
	Meipass   *string           `json:"meipass"`
	Frozen    bool              `json:"frozen"`
	Python    string            `json:"python"`
	Dumped    *int              `json:"dumped"`
	DumpError string            `json:"dump_error"`
}

func parseReport(t *testing.T, stdout string) hookReport {
	t.Helper()
	var lines []string
	for _, l := range strings.Split(strings.TrimRight(stdout, "\n"), "\n") {
		if strings.HasPrefix(l, "PYBUNDLE_CHECK ") {
			lines = append(lines, l)
		}
	}
	if len(lines) != 1 {
		t.Fatalf("want exactly one PYBUNDLE_CHECK line, got %d in:\n%s", len(lines), stdout)
	}
	var r hookReport
	if err := json.Unmarshal([]byte(strings.TrimPrefix(lines[0], "PYBUNDLE_CHECK ")), &r); err != nil {
		t.Fatalf("%q: %v", lines[0], err)
	}
	if r.Meipass == nil || r.Dumped == nil || r.Python == "" || r.Failed == nil {
		t.Fatalf("report lacks keys: %s", lines[0])
	}
	return r
}

func TestRuntimeHookImportCheckNotFrozen(t *testing.T) {
	python(t)
	dir := t.TempDir()
	hook := writeFile(t, filepath.Join(dir, RuntimeHookFile), RuntimeHook())
	out, code := run(t, dir, cleanEnv("PYBUNDLE_IMPORT_CHECK=json,csv,does_not_exist"), hook)
	if code != 3 {
		t.Fatalf("exit %d, want 3:\n%s", code, out)
	}
	r := parseReport(t, out)
	if r.OK || r.Frozen || *r.Meipass != "" || *r.Dumped != 0 || !slices.Equal(r.Imported, []string{"json", "csv"}) {
		t.Errorf("report = %+v", r)
	}
	if got := r.Failed["does_not_exist"]; got != "ModuleNotFoundError: No module named 'does_not_exist'" || len(r.Failed) != 1 {
		t.Errorf("failed = %v", r.Failed)
	}
	if strings.Count(r.Python, ".") != 2 {
		t.Errorf("python = %q", r.Python)
	}

	// All good → exit 0, ok true.
	out, code = run(t, dir, cleanEnv("PYBUNDLE_IMPORT_CHECK= json , csv,"), hook)
	if r := parseReport(t, out); code != 0 || !r.OK || len(r.Imported) != 2 {
		t.Errorf("exit %d, report %+v", code, r)
	}
}

// bootloaderSim mimics the frozen executable closely enough for the hook:
// sys.frozen and sys._MEIPASS are set, and the scripts (the runtime hooks,
// then the entry script) run one after another in __main__'s namespace, as
// PyInstaller's bootloader runs them.
const bootloaderSim = `
import os, sys, __main__
sys.frozen = True
sys._MEIPASS = sys.argv[1]
sys.path.insert(0, sys.argv[2])
for _script in sys.argv[3:]:
    exec(compile(open(_script).read(), os.path.basename(_script), "exec"), __main__.__dict__)
`

func TestRuntimeHookFrozen(t *testing.T) {
	python(t)
	dir := t.TempDir()
	mei := filepath.Join(dir, "_MEIabc")
	for _, f := range []string{
		"libpython3.13.so.1.0",
		"lib-dynload/_json.cpython-313-x86_64-linux-gnu.so",
		"pydantic_core/_pydantic_core.cpython-313-x86_64-linux-gnu.so",
		"libssl.so.3",
		"base_library.zip",
		"data/seed.json",
		"notes.so.txt", // *.so.* matches this too: harmless, the verifier skips non-ELF files
	} {
		writeFile(t, filepath.Join(mei, f), []byte("\x7fELF"+f))
	}
	if err := os.Symlink("nowhere.so", filepath.Join(mei, "dangling.so")); err != nil {
		t.Fatal(err)
	}
	mods := filepath.Join(dir, "mods")
	// probe only imports after PyInstaller's own runtime hooks ran (as some
	// packages need pyi_rth_pkgutil & co.); helper is imported by such a hook.
	writeFile(t, filepath.Join(mods, "probe.py"), []byte(
		"import sys\nif not getattr(sys, 'rth_ran', False):\n    raise ImportError('imported before the runtime hooks ran')\n"))
	writeFile(t, filepath.Join(mods, "helper.py"), []byte("print('HELPER IMPORTED')\n"))
	hook := writeFile(t, filepath.Join(dir, RuntimeHookFile), RuntimeHook())
	rth := writeFile(t, filepath.Join(dir, "pyi_rth_fake.py"), []byte("import sys, helper\nsys.rth_ran = True\nprint('RTH RAN')\n"))
	mainPy := writeFile(t, filepath.Join(dir, "main.py"), []byte("print('APP STARTED')\n"))
	sim := writeFile(t, filepath.Join(dir, "sim.py"), []byte(bootloaderSim))
	dump := filepath.Join(dir, "out dir")
	args := []string{sim, mei, mods, hook, rth, mainPy}

	out, code := run(t, dir, cleanEnv("PYBUNDLE_DUMP_DIR="+dump, "PYBUNDLE_IMPORT_CHECK=probe,json"), args...)
	r := parseReport(t, out)
	if code != 0 || !r.OK || !r.Frozen || *r.Meipass != mei || *r.Dumped != 5 || !slices.Equal(r.Imported, []string{"probe", "json"}) {
		t.Fatalf("exit %d, report %+v\n%s", code, r, out)
	}
	if strings.Contains(out, "APP STARTED") {
		t.Errorf("the app ran after the check:\n%s", out)
	}
	if !strings.HasPrefix(out, "HELPER IMPORTED\nRTH RAN\nPYBUNDLE_CHECK ") {
		t.Errorf("the check must run after all runtime hooks, right before the entry script:\n%s", out)
	}
	for _, f := range []string{"libpython3.13.so.1.0", "lib-dynload/_json.cpython-313-x86_64-linux-gnu.so",
		"pydantic_core/_pydantic_core.cpython-313-x86_64-linux-gnu.so", "libssl.so.3"} {
		b, err := os.ReadFile(filepath.Join(dump, f))
		if err != nil || string(b) != "\x7fELF"+f {
			t.Errorf("%s: %q, %v", f, b, err)
		}
	}
	for _, f := range []string{"base_library.zip", "data/seed.json", "dangling.so"} {
		if _, err := os.Lstat(filepath.Join(dump, f)); err == nil {
			t.Errorf("%s must not be dumped", f)
		}
	}

	// A failing import → exit 3, still one line, app not started.
	out, code = run(t, dir, cleanEnv("PYBUNDLE_IMPORT_CHECK=services.users"), args...)
	if r := parseReport(t, out); code != 3 || r.OK || r.Failed["services.users"] == "" || strings.Contains(out, "APP STARTED") {
		t.Errorf("exit %d, report %+v\n%s", code, r, out)
	}

	// Nothing requested → the frozen app starts normally.
	out, code = run(t, dir, cleanEnv(), args...)
	if code != 0 || out != "HELPER IMPORTED\nRTH RAN\nAPP STARTED\n" {
		t.Errorf("exit %d, output %q", code, out)
	}
}

func TestRuntimeHookIsInertByDefault(t *testing.T) {
	python(t)
	dir := t.TempDir()
	hook := writeFile(t, filepath.Join(dir, RuntimeHookFile), RuntimeHook())
	out, code := run(t, dir, cleanEnv(), "-c",
		"import sys; ns = {}; exec(open(sys.argv[1]).read(), ns); "+
			"print('APP STARTED', sorted(k for k in ns if not k.startswith('__')))", hook)
	if code != 0 || out != "APP STARTED []\n" {
		t.Errorf("exit %d, output %q: the hook must do nothing and leave no names behind", code, out)
	}
}
