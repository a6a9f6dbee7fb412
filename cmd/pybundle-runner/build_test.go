package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"gotest.tools/v3/assert"

	"github.com/pybundle/pybundle/pipeline/plan"
	"github.com/pybundle/pybundle/pipeline/report"
	"github.com/pybundle/pybundle/pipeline/source"
	"github.com/pybundle/pybundle/pipeline/spec"
	"github.com/pybundle/pybundle/pipeline/target"
)

// The build tests run the whole command against fakes: a shell-script "python" that answers
// the probe, makes a venv holding itself (with the version it had then) and a fake
// "pyinstaller", and records pip's
// arguments; the fake pyinstaller either fails like a SyntaxError or writes a bundle whose
// executable speaks the runtime hook's import-check protocol. Nothing is installed, no
// PyInstaller runs: this tests the runner's wiring of the pipeline packages, not PyInstaller.

const fakePythonScript = `#!/bin/sh
echo "python $*" >> "$FAKE_LOG"
case "$1" in
*pybundle_trace.py)
  # The trace harness: record a dynamically imported module and a data file read, then serve.
  printf '{"python": "3.13.5", "modules": {"lazy_plugin": {"origin": "/site/lazy_plugin.py", "importer": "main.py:3"}}, "opened": ["data/seed.json"], "metadata": ["fastapi"]}' > "$PYBUNDLE_TRACE_OUT"
  shift 2
  PYBUNDLE_RUNNER_FAKE_BACKEND=1 exec "$FAKE_BACKEND_BIN" "$@";;
-c) echo "pybundle-python ${FAKE_VERSION:-3.13.5} @MACHINE@ $0"; exit 0;;
-m) case "$2" in
    venv) shift 2; [ "$1" = --clear ] && shift
          mkdir -p "$1/bin" && echo "home = /fake" > "$1/pyvenv.cfg" &&
          { echo '#!/bin/sh'; echo "FAKE_VERSION=${FAKE_VERSION:-3.13.5}"; grep -v '^#!\|^FAKE_VERSION=' "$0"; } > "$1/bin/python" &&
          chmod 755 "$1/bin/python" && cp "$FAKE_PYINSTALLER" "$1/bin/pyinstaller"; exit $?;;
    pip) [ "$3" = freeze ] && printf 'FastAPI==0.115.11\nPyInstaller==6.22.2\n'; exit ${FAKE_PIP_EXIT:-0};;
    PyInstaller) shift 2
          [ "$1" = --version ] && { echo "${FAKE_PYI_VERSION:-6.22.2}"; exit 0; }
          exec "$(dirname "$0")/pyinstaller" "$@";;
    esac;;
esac
echo "fake python: unexpected $*" >&2; exit 9
`

const fakePyInstallerScript = `#!/bin/sh
echo "pyinstaller $* HASHSEED=$PYTHONHASHSEED EPOCH=$SOURCE_DATE_EPOCH" >> "$FAKE_LOG"
while [ $# -gt 1 ]; do case "$1" in --distpath) dist="$2"; shift;; esac; shift; done
spec="$1"; name="${spec%.spec}"
[ -f "$spec" ] && [ -f pybundle_rth_check.py ] || { echo "spec or hook missing in $PWD" >&2; exit 1; }
if [ "$FAKE_COMPILE" = fail ]; then
  echo 'Traceback (most recent call last):'
  echo "  File \"$PWD/main.py\", line 7"
  echo '    def broken('
  echo "SyntaxError: expected ':'"
  exit 1
fi
mkdir -p "$dist/$name/_internal" &&
head -c 1200000 /dev/zero > "$dist/$name/_internal/blob" &&
cp "$FAKE_APP" "$dist/$name/$name" && chmod 755 "$dist/$name/$name"
`

// fakeAppScript answers verify's import check as the runtime hook does, and otherwise runs
// this test binary as the backend (see TestMain).
const fakeAppScript = `#!/bin/sh
if [ -n "$PYBUNDLE_IMPORT_CHECK" ]; then
  mods=$(printf '%s' "$PYBUNDLE_IMPORT_CHECK" | sed 's/,/", "/g')
  printf 'PYBUNDLE_CHECK {"ok": true, "imported": ["%s"], "failed": {}, "meipass": "x", "frozen": true, "python": "3.13.5", "dumped": 0}\n' "$mods"
  exit 0
fi
PYBUNDLE_RUNNER_FAKE_BACKEND=1 exec "$FAKE_BACKEND_BIN" "$@"
`

type fakes struct {
	python, log string
}

// setupFakes writes the fakes and points the FAKE_* variables at them.
func setupFakes(t *testing.T) fakes {
	t.Helper()
	if runtime.GOOS == "windows" {
		t.Skip("the fakes are shell scripts")
	}
	if _, err := target.Parse(runtime.GOOS + "/" + runtime.GOARCH); err != nil {
		t.Skipf("host %s/%s is not a pybundle target", runtime.GOOS, runtime.GOARCH)
	}
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		assert.NilError(t, os.WriteFile(p, []byte(text), 0o755))
		return p
	}
	f := fakes{
		python: write("python3.13", strings.ReplaceAll(fakePythonScript, "@MACHINE@", hostMachine())),
		log:    filepath.Join(dir, "calls.log"),
	}
	t.Setenv("FAKE_LOG", f.log)
	t.Setenv("FAKE_PYINSTALLER", write("pyinstaller", fakePyInstallerScript))
	t.Setenv("FAKE_APP", write("app", fakeAppScript))
	self, err := os.Executable()
	assert.NilError(t, err)
	t.Setenv("FAKE_BACKEND_BIN", self)
	return f
}

func (f fakes) calls(t *testing.T) string {
	b, err := os.ReadFile(f.log)
	assert.NilError(t, err)
	return string(b)
}

// backendCopy copies the sample backend into a temp folder (the tests prove it stays as it was).
func backendCopy(t *testing.T) string {
	src := filepath.Join(t.TempDir(), "backend")
	tree, err := source.Read(filepath.Join("..", "..", "testdata", "backend"), nil)
	assert.NilError(t, err)
	assert.NilError(t, tree.CopyTo(src))
	return src
}

func hostTarget() string { return runtime.GOOS + "/" + runtime.GOARCH }

func TestBuildCompileFailure(t *testing.T) {
	f := setupFakes(t)
	t.Setenv("FAKE_COMPILE", "fail")
	src := backendCopy(t)
	out := filepath.Join(t.TempDir(), "out")
	assert.NilError(t, os.MkdirAll(out, 0o755))
	assert.NilError(t, os.WriteFile(filepath.Join(out, "report.json"), []byte("{}"), 0o644)) // a previous run's
	a, stdout, stderr := testApp("", "")
	code := a.run(context.Background(), []string{"build", "--source", src, "--out", out, "--python", f.python})
	assert.Equal(t, code, exitFail, stderr.String())
	assert.Assert(t, strings.Contains(stderr.String(), fmt.Sprintf("pybundle-runner: compile %s: main.py:7: SyntaxError: expected ':'\n  last output:\n", hostTarget())), stderr.String())
	assert.Equal(t, stdout.String(), "", "no summary without a bundle")
	_, err := os.Stat(filepath.Join(out, "report.json"))
	assert.Assert(t, os.IsNotExist(err), "no report without a bundle, not even the previous run's")

	calls := f.calls(t)
	for _, want := range []string{
		"python -m venv " + filepath.Join(out, ".venv") + "\n",
		"python -m pip install --disable-pip-version-check -r " + filepath.Join(src, "requirements.txt") + " pyinstaller==6.22.2\n",
		"python -m PyInstaller --version\n",
		"pyinstaller --noconfirm --clean --log-level WARN --distpath " + filepath.Join(out, "dist", strings.ReplaceAll(hostTarget(), "/", "-")) +
			" --workpath " + filepath.Join(out, "work", "build") + " peft_engine.spec HASHSEED=0 EPOCH=315532800\n",
	} {
		assert.Assert(t, strings.Contains(calls, want), "want %q in\n%s", want, calls)
	}

	// The spec and the hook went to the copy, never into the source.
	for _, name := range []string{"peft_engine.spec", spec.RuntimeHookFile} {
		_, err := os.Stat(filepath.Join(out, "work", "src", name))
		assert.NilError(t, err)
		_, err = os.Stat(filepath.Join(src, name))
		assert.Assert(t, os.IsNotExist(err), "%s written into the source", name)
	}
	text, err := os.ReadFile(filepath.Join(out, "work", "src", "peft_engine.spec"))
	assert.NilError(t, err)
	assert.Assert(t, strings.Contains(string(text), "services.users"), "scanned hidden imports in the spec")
}

func TestBuildSuccessWithFakes(t *testing.T) {
	f := setupFakes(t)
	src := backendCopy(t)
	out := filepath.Join(t.TempDir(), "out")
	a, stdout, stderr := testApp("", "")
	args := []string{"build", "--source", src, "--out", out, "--python", f.python, "--skip-health"}
	code := a.run(context.Background(), args)
	assert.Equal(t, code, exitPass, stderr.String())

	b, err := os.ReadFile(filepath.Join(out, "report.json"))
	assert.NilError(t, err)
	rep, err := report.Parse(b)
	assert.NilError(t, err)
	assert.Equal(t, rep.Tool, "pybundle")
	assert.Equal(t, rep.Version, report.ToolVersion)
	assert.Equal(t, len(rep.Entries), 1)
	e := rep.Entries[0]
	slug := strings.ReplaceAll(hostTarget(), "/", "-")
	assert.Equal(t, e.Target, hostTarget())
	assert.Equal(t, e.Mode, "onedir")
	assert.Equal(t, e.Artifact, slug+"/peft_engine/peft_engine")
	assert.Equal(t, e.Builder, "runner:testhost")
	assert.Equal(t, e.PyInstaller, "6.22.2")
	assert.Equal(t, e.Python, "3.13.5")
	// A runner freezes with its own Python: PyInstaller's stock bootloader, said once in the log.
	assert.Equal(t, e.Bootloader, "stock")
	assert.Equal(t, strings.Count(stderr.String(), "bootloader=static needs pybundle's own bootloader"), 1, stderr.String())
	assert.DeepEqual(t, e.Packages, map[string]string{"pip:fastapi": "0.115.11", "pip:pyinstaller": "6.22.2", "python": "3.13.5"})
	assert.Assert(t, e.StartupMS == nil)
	assert.Assert(t, e.SizeBytes > 1<<20)
	assert.Assert(t, e.OK(), "%+v", e.Checks)
	// The SBOM next to the bundle, referenced by path and digest: pip's distributions.
	assert.Equal(t, e.SBOM, slug+"/sbom.cdx.json")
	doc, err := os.ReadFile(filepath.Join(out, "dist", slug, "sbom.cdx.json"))
	assert.NilError(t, err)
	sum := sha256.Sum256(doc)
	assert.Equal(t, e.SBOMSHA256, hex.EncodeToString(sum[:]))
	assert.Assert(t, strings.Contains(string(doc), `"pkg:pypi/fastapi@0.115.11"`), string(doc))
	// The trace's additions: a dynamically imported module (required by the guard, with its
	// importer), the metadata read; the data file read is bundled already.
	assert.Assert(t, e.Trace != nil)
	assert.DeepEqual(t, e.Trace.Added, []string{"lazy_plugin"})
	assert.DeepEqual(t, e.Trace.Metadata, []string{"fastapi"})
	assert.Equal(t, len(e.Trace.Datas), 0)
	specText, err := os.ReadFile(filepath.Join(out, "work", "src", "peft_engine.spec"))
	assert.NilError(t, err)
	assert.Assert(t, strings.Contains(string(specText), `"lazy_plugin": "main.py:3",`), "the guard names the importer")
	assert.Assert(t, strings.Contains(string(specText), "copy_metadata"))
	assert.Assert(t, !strings.Contains(string(specText), "_libpython"), "the stock bootloader needs the shared libpython")
	var names []string
	for _, c := range e.Checks {
		names = append(names, c.Name)
		switch c.Name {
		case "no-python":
			assert.Equal(t, c.Detail, plan.NoPythonSkipped)
		case "health":
			assert.Equal(t, c.Detail, "skipped: --skip-health")
		}
	}
	assert.DeepEqual(t, names, []string{"exists", "executable", "size", "no-python", "imports", "glibc", "health"})
	assert.Assert(t, strings.Contains(stdout.String(), "TARGET"), stdout.String())
	summary, err := os.ReadFile(filepath.Join(out, "summary.txt"))
	assert.NilError(t, err)
	assert.Equal(t, string(summary), stdout.String())

	// A second run reuses the venv (made by a matching Python) and replaces the bundle.
	a, _, stderr = testApp("", "")
	assert.Equal(t, a.run(context.Background(), args), exitPass, stderr.String())
	assert.Equal(t, strings.Count(f.calls(t), "-m venv"), 1, f.calls(t))

	// A venv made by another Python is recreated (ours), or refused (--venv: the user's).
	t.Setenv("FAKE_VERSION", "3.13.6")
	pin := append(append([]string{}, args...), "--python-version", "3.13.6")
	a, _, stderr = testApp("", "")
	assert.Equal(t, a.run(context.Background(), pin), exitPass, stderr.String())
	assert.Assert(t, strings.Contains(f.calls(t), "-m venv --clear "+filepath.Join(out, ".venv")), f.calls(t))
	t.Setenv("FAKE_VERSION", "3.13.5")
	a, _, stderr = testApp("", "")
	assert.Equal(t, a.run(context.Background(), append(args, "--venv", filepath.Join(out, ".venv"), "--python-version", "3.13.5")), exitFail)
	assert.Assert(t, strings.Contains(stderr.String(), "runs Python 3.13.6 ("+hostMachine()+"); this build needs Python 3.13.5 for "+hostTarget()+": remove it or pass another --venv"), stderr.String())
}

// Without requirements.txt, pip installs the [project] dependencies of pyproject.toml, as the
// module does.
func TestBuildProjectDependencies(t *testing.T) {
	f := setupFakes(t)
	src := backendCopy(t)
	assert.NilError(t, os.Remove(filepath.Join(src, "requirements.txt")))
	assert.NilError(t, os.WriteFile(filepath.Join(src, "pyproject.toml"), []byte("[project]\nname = 'b'\ndependencies = ['fastapi>=0.110']\n"), 0o644))
	out := filepath.Join(t.TempDir(), "out")
	a, _, stderr := testApp("", "")
	assert.Equal(t, a.run(context.Background(), []string{"build", "--source", src, "--out", out, "--python", f.python, "--skip-health"}), exitPass, stderr.String())
	gen := filepath.Join(out, "work", "requirements-from-pyproject.txt")
	assert.Assert(t, strings.Contains(f.calls(t), "-r "+gen), f.calls(t))
	b, err := os.ReadFile(gen)
	assert.NilError(t, err)
	assert.Equal(t, string(b), "fastapi>=0.110\n")

	// None declared: as in the module's Debian builder, the build uses what the Python has and
	// installs only PyInstaller, and says so.
	assert.NilError(t, os.Remove(filepath.Join(src, "pyproject.toml")))
	a, _, stderr = testApp("", "")
	assert.Equal(t, a.run(context.Background(), []string{"build", "--source", src, "--out", out, "--python", f.python, "--skip-health"}), exitPass, stderr.String())
	assert.Assert(t, strings.Contains(stderr.String(), "no requirements.txt and no [project] dependencies: installing only pyinstaller==6.22.2"), stderr.String())
	calls := strings.Split(f.calls(t), "\n")
	last := ""
	for _, c := range calls {
		if strings.Contains(c, "pip install") {
			last = c
		}
	}
	assert.Assert(t, strings.HasSuffix(last, "pip install --disable-pip-version-check pyinstaller==6.22.2"), last)
}

func TestBuildStageErrors(t *testing.T) {
	f := setupFakes(t)
	for _, tc := range []struct {
		name  string
		setup func(t *testing.T, src string)
		args  []string
		env   map[string]string
		want  string
	}{
		{"no entry point", nil, []string{"--entry", "app.py"}, nil,
			`plan %s: app.py: entry "app.py": not found in the source folder`},
		{"hashes without pyinstaller", func(t *testing.T, src string) {
			assert.NilError(t, os.WriteFile(filepath.Join(src, "requirements.txt"), []byte("fastapi==0.115.11 --hash=sha256:00\n"), 0o644))
		}, nil, nil, "venv %s: requirements.txt: requirements.txt uses --hash, so it must also list pyinstaller==6.22.2 with its hashes"},
		{"pip fails", nil, nil, map[string]string{"FAKE_PIP_EXIT": "1"}, "venv %s: requirements.txt: pip install failed: exit status 1"},
		{"wrong pyinstaller", nil, nil, map[string]string{"FAKE_PYI_VERSION": "6.11.1"},
			`venv %s: requirements.txt: the venv has PyInstaller "6.11.1", pybundle builds with 6.22.2`},
		{"wrong python", nil, nil, map[string]string{"FAKE_VERSION": "3.12.8"}, "env %s: --python "},
		{"bad hidden import", nil, []string{"--hidden-imports", "not-a.module"}, nil, `plan %s: hidden import "not-a.module"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := backendCopy(t)
			if tc.setup != nil {
				tc.setup(t, src)
			}
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			out := filepath.Join(t.TempDir(), "out")
			a, _, stderr := testApp("", "")
			code := a.run(context.Background(), append([]string{"build", "--source", src, "--out", out, "--python", f.python}, tc.args...))
			assert.Equal(t, code, exitFail, stderr.String())
			want := "pybundle-runner: " + fmt.Sprintf(tc.want, hostTarget())
			assert.Assert(t, strings.Contains(stderr.String(), want), "want %q in\n%s", want, stderr)
		})
	}
}

func TestEnvCommand(t *testing.T) {
	f := setupFakes(t)
	out := t.TempDir()
	a, stdout, stderr := testApp("", "")
	assert.Equal(t, a.run(context.Background(), []string{"env", "--python", f.python, "--out", out}), exitPass, stderr.String())
	assert.Equal(t, stdout.String(), fmt.Sprintf("target       %s\npython       3.13.5 %s (%s, via %s)\npyinstaller  not installed yet: no venv at %s; `build` installs pyinstaller==6.22.2\n",
		hostTarget(), f.python, hostMachine(), f.python, filepath.Join(out, ".venv")))
	_, err := os.Stat(filepath.Join(out, ".venv"))
	assert.Assert(t, os.IsNotExist(err), "env installs nothing")

	// With a venv: its PyInstaller is reported.
	v := venv{Dir: filepath.Join(out, ".venv"), GOOS: runtime.GOOS}
	assert.NilError(t, os.MkdirAll(filepath.Dir(v.Python()), 0o755))
	assert.NilError(t, os.WriteFile(filepath.Join(v.Dir, "pyvenv.cfg"), nil, 0o644))
	b, _ := os.ReadFile(f.python)
	assert.NilError(t, os.WriteFile(v.Python(), b, 0o755))
	a, stdout, _ = testApp("", "")
	assert.Equal(t, a.run(context.Background(), []string{"env", "--python", f.python, "--out", out}), exitPass)
	assert.Assert(t, strings.Contains(stdout.String(), "pyinstaller  6.22.2 in "+v.Dir+"\n"), stdout.String())

	// No suitable Python: exit 1 with the instructions.
	a, _, stderr = testApp("", "")
	assert.Equal(t, a.run(context.Background(), []string{"env", "--python", f.python, "--python-version", "3.12"}), exitFail)
	assert.Assert(t, strings.Contains(stderr.String(), "Python 3.13.5, not 3.12"), stderr.String())
	assert.Assert(t, strings.Contains(stderr.String(), "actions/setup-python"), stderr.String())
}

func TestBuildHealth(t *testing.T) {
	f := setupFakes(t)
	src := backendCopy(t)
	out := filepath.Join(t.TempDir(), "out")
	args := []string{"build", "--source", src, "--out", out, "--python", f.python, "--budget", "20s"}
	a, stdout, stderr := testApp("", "")
	assert.Equal(t, a.run(context.Background(), args), exitPass, stderr.String())
	b, err := os.ReadFile(filepath.Join(out, "report.json"))
	assert.NilError(t, err)
	rep, err := report.Parse(b)
	assert.NilError(t, err)
	e := rep.Entries[0]
	assert.Assert(t, e.StartupMS != nil && *e.StartupMS > 0, "start-up time measured")
	h := e.Checks[len(e.Checks)-1]
	assert.Equal(t, h.Name, "health")
	assert.Assert(t, h.OK && strings.HasPrefix(h.Detail, "healthy after "), h.Detail)
	assert.Assert(t, strings.Contains(stdout.String(), " ms "), stdout.String())

	// A backend that dies during start-up: tracing it from source finds out first, before
	// PyInstaller runs, naming the stage and the backend's last words.
	t.Setenv("FAKE_BACKEND_EXIT", "3")
	a, _, stderr = testApp("", "")
	assert.Equal(t, a.run(context.Background(), args), exitFail)
	assert.Assert(t, strings.Contains(stderr.String(), fmt.Sprintf("pybundle-runner: trace %s: main.py: backend exited with code 3 during start-up", hostTarget())), stderr.String())
	assert.Assert(t, !strings.Contains(stderr.String(), "compile: PyInstaller"), "nothing compiled after a failed trace")

	// Without tracing, the frozen backend's health check fails: the report is written (it says
	// which check failed), the error names the stage, the target, the artifact and the
	// backend's last words.
	args = append(args, "--trace=false")
	a, stdout, stderr = testApp("", "")
	assert.Equal(t, a.run(context.Background(), args), exitFail)
	want := fmt.Sprintf("pybundle-runner: health %s: %s/peft_engine/peft_engine: backend exited with code 3 during start-up\n  last output:\n    RuntimeError: database schema version 7 is newer than this backend supports (5)",
		hostTarget(), strings.ReplaceAll(hostTarget(), "/", "-"))
	assert.Assert(t, strings.Contains(stderr.String(), want), stderr.String())
	assert.Assert(t, strings.Contains(stdout.String(), "FAIL: health"), stdout.String())
	b, err = os.ReadFile(filepath.Join(out, "report.json"))
	assert.NilError(t, err)
	rep, err = report.Parse(b)
	assert.NilError(t, err)
	assert.Assert(t, !rep.OK())
	assert.Assert(t, rep.Entries[0].StartupMS == nil)
}
