package spec

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// pureUvicorn is the harness's PURE setting that passes the guard of a spec without hidden imports.
func pureUvicorn() string {
	b, _ := json.Marshal(UvicornRequired)
	return "PURE=" + string(b)
}

// runIncremental executes the spec of in (with PyInstaller stubbed, see specHarness) on the
// source folder src and the work folder work, as two builds in a row would, and reports whether
// the block reused the analysis.
func runIncremental(t *testing.T, dir, src, work string, in AnalysisInputs, after string) (reused bool, out string) {
	t.Helper()
	s, err := Generate(Options{Target: linux, AnalysisInputs: in})
	if err != nil {
		t.Fatal(err)
	}
	spec := writeFile(t, filepath.Join(dir, "peft_engine.spec"), s)
	harness := writeFile(t, filepath.Join(dir, "harness.py"), []byte(specHarness))
	out, code := run(t, dir, cleanEnv(pureUvicorn(), "SPECDIR="+src, "WORKPATH="+work, "AFTER="+after), harness, spec)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, out)
	}
	return strings.Contains(out, "PYBUNDLE INCREMENTAL: analysis reused"), out
}

// TestIncrementalReusesTheAnalysisOnlyWhenItsInputsMatch: the analysis of an earlier build in
// the same work folder is reused when only the bodies of Python code changed, and never when
// an import, a file other than Python, a ctypes user or dead code that imports changed.
func TestIncrementalReusesTheAnalysisOnlyWhenItsInputsMatch(t *testing.T) {
	python(t)
	dir := t.TempDir()
	src, work := filepath.Join(dir, "src"), filepath.Join(dir, "work")
	toc := filepath.Join(work, "Analysis-00.toc")
	in := AnalysisInputs{PythonFiles: []string{"main.py", "pkg/mod.py"}, OtherFiles: "digest-1"}
	writeFile(t, filepath.Join(src, "main.py"), []byte("import pkg.mod\nprint(pkg.mod.X)\n"))
	mod := filepath.Join(src, "pkg", "mod.py")
	steps := []struct {
		name   string
		mod    string // pkg/mod.py before the build ("" = as it was)
		other  string // the digest of the other files ("" = as it was)
		reused bool
	}{
		{"first build: nothing to reuse", "import json\nX = 1\n", "", false},
		{"no change", "", "", true},
		{"a body changed", "import json\nX = 2  # changed\n\ndef f():\n    return 'A.<locals>.B'\n", "", true},
		{"a comment and a blank line", "import json\n\nX = 2  # changed again\n\ndef f():\n    return 'A.<locals>.B'\n", "", true},
		{"an import added", "import json\nimport csv\nX = 2\n", "", false},
		{"an import moved into a function", "import json\nX = 2\ndef f():\n    import csv\n", "", true},
		{"a from-import list changed", "import json\nfrom os import path, sep\nX = 2\n", "", false},
		{"a data file changed", "", "digest-2", false},
		{"dead code that imports made live", "import json\nif False:\n    import csv\n", "", false},
		{"... and live", "import json\nif True:\n    import csv\n", "", false},
		{"a ctypes user", "import ctypes\nL = 'libfoo.so.1'\n", "", false},
		{"a ctypes user's body changed", "import ctypes\nL = 'libbar.so.1'\n", "", false},
		{"a syntax error", "import json\nX = (\n", "", false},
		{"fixed again", "import json\nX = 3\n", "", false},
		{"stable again", "import json\nX = 4\n", "", true},
	}
	for _, s := range steps {
		if s.mod != "" {
			writeFile(t, mod, []byte(s.mod))
		}
		if s.other != "" {
			in.OtherFiles = s.other
		}
		// PyInstaller writes the analysis it made; the stub does not: stand in for it.
		if _, err := os.Stat(toc); err != nil {
			writeFile(t, toc, []byte("analysis"))
		}
		reused, out := runIncremental(t, dir, src, work, in, "")
		if reused != s.reused {
			t.Errorf("%s: reused = %v, want %v\n%s", s.name, reused, s.reused, out)
		}
		st, err := os.Stat(toc)
		switch {
		case s.reused && (err != nil || !st.ModTime().Equal(time.Unix(4102444800, 0))):
			t.Errorf("%s: the reused analysis must look newer than every file it lists: %v %v", s.name, st, err)
		case !s.reused && err == nil:
			t.Errorf("%s: the stale analysis was left for PyInstaller to judge", s.name)
		}
	}
}

// The first build in a fresh folder only records; a build whose spec differs in anything (here
// another python file list) does not reuse.
func TestIncrementalKeyCoversTheSpec(t *testing.T) {
	python(t)
	dir := t.TempDir()
	src, work := filepath.Join(dir, "src"), filepath.Join(dir, "work")
	writeFile(t, filepath.Join(src, "main.py"), []byte("X = 1\n"))
	in := AnalysisInputs{PythonFiles: []string{"main.py"}, OtherFiles: "d"}
	if reused, _ := runIncremental(t, dir, src, work, in, ""); reused {
		t.Fatal("a fresh work folder reused an analysis")
	}
	writeFile(t, filepath.Join(work, "Analysis-00.toc"), []byte("analysis"))
	if reused, _ := runIncremental(t, dir, src, work, in, ""); !reused {
		t.Fatal("the same spec did not reuse")
	}
	in.PythonFiles = append(in.PythonFiles, "other.py")
	if reused, _ := runIncremental(t, dir, src, work, in, ""); reused {
		t.Fatal("another spec reused the analysis")
	}
}

// canonicalCheck compiles two modules that share a nested class's qualified name (as pydantic's
// deprecated/decorator.py and v1/decorator.py do) in the order given, and prints the SHA-256 of
// the second one's marshal bytes as compiled and as _pb_canonical writes it.
const canonicalCheck = `
import hashlib, marshal, os
twin = "class ValidatedFunction:\n    def create_model(self):\n        class DecoratorBaseModel:\n            x = 1.5\n        return DecoratorBaseModel\n"
target = twin + "\nDOC = 'a string, not a name'\nSAME = 'a string, not a name'\nBIG = 10**30\n"
if os.environ["ORDER"] == "twin-first":
    keep = compile(twin, "twin.py", "exec")
co = compile(target, "target.py", "exec")
raw = marshal.dumps(co)
canon = _pb_canonical(co, "target.py")
data = marshal.dumps(canon)
assert marshal.loads(data).co_filename == "target.py"
ns2 = {}
exec(marshal.loads(data), ns2)
assert ns2["DOC"] == "a string, not a name" and ns2["BIG"] == 10**30 and ns2["ValidatedFunction"]().create_model().x == 1.5
print("RAW", hashlib.sha256(raw).hexdigest())
print("CANON", hashlib.sha256(data).hexdigest())
`

// TestCanonicalCodeDependsOnTheSourceAlone: the bytes PyInstaller writes for a module do not
// depend on what the process compiled before it (the reason a clean and an incremental build
// could differ), and the code still runs.
func TestCanonicalCodeDependsOnTheSourceAlone(t *testing.T) {
	python(t)
	hashes := map[string]map[string]string{}
	for _, order := range []string{"alone", "twin-first"} {
		dir := t.TempDir()
		s, err := Generate(Options{Target: linux})
		if err != nil {
			t.Fatal(err)
		}
		spec := writeFile(t, filepath.Join(dir, "peft_engine.spec"), s)
		harness := writeFile(t, filepath.Join(dir, "harness.py"), []byte(specHarness))
		out, code := run(t, dir, cleanEnv(pureUvicorn(), "ORDER="+order, "AFTER="+canonicalCheck), harness, spec)
		if code != 0 {
			t.Fatalf("%s: exit %d: %s", order, code, out)
		}
		hashes[order] = map[string]string{}
		for _, l := range strings.Split(out, "\n") {
			if k, v, ok := strings.Cut(l, " "); ok && (k == "RAW" || k == "CANON") {
				hashes[order][k] = v
			}
		}
	}
	if hashes["alone"]["CANON"] == "" || hashes["alone"]["CANON"] != hashes["twin-first"]["CANON"] {
		t.Errorf("canonical bytes depend on the compile order: %v", hashes)
	}
	t.Logf("marshal as compiled: %s order-dependent (host Python)", map[bool]string{true: "", false: "not"}[hashes["alone"]["RAW"] != hashes["twin-first"]["RAW"]])
}

// Every spec carries the block, whatever the build: a clean and an incremental build run the
// same code; the excludes are a tuple (a list is extended in place by PyInstaller, which then
// never reuses its analysis).
func TestEverySpecCarriesTheIncrementalBlock(t *testing.T) {
	for _, o := range nasty {
		s := mustGenerate(t, o)
		wantLines(t, s, "_pb_python_files = []", `_pb_data_digest = ""`, "_pb_utils.replace_filename_in_code_object = _pb_canonical",
			"os.replace(_pb_key_file + \".tmp\", _pb_key_file)")
		if a, p, e := strings.Index(s, "_pb_canonical"), strings.Index(s, "a = Analysis("), strings.Index(s, "_pb_key_file + \".tmp\""); a > p || e < p {
			t.Errorf("the block must come before the analysis and its record after the build")
		}
	}
	s := mustGenerate(t, Options{Target: linux, AnalysisInputs: AnalysisInputs{PythonFiles: []string{"main.py", `it's "q".py`}, OtherFiles: "ab12"}})
	wantLines(t, s, `"main.py",`, `"it's \"q\".py",`, `_pb_data_digest = "ab12"`, "excludes=(")
}
