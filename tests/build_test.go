package tests

import (
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"encoding/json"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"

	"github.com/pybundle/pybundle/pipeline/health"
	"github.com/pybundle/pybundle/pipeline/report"
	"github.com/pybundle/pybundle/pipeline/runson"
	"github.com/pybundle/pybundle/pipeline/spec"
	"github.com/pybundle/pybundle/pipeline/verify"
)

const long = 60 * time.Minute

// TestBuildLinuxAmd64AndArm64 is the main job on the bundled sample with both ways of building
// in one call: linux/arm64 in Dagger under QEMU (the one emulated build of a CI run) and
// linux/amd64 dispatched over SSH to the native runner (a real sshd in a network namespace,
// standing for the macOS/Windows machines this world lacks). Both artifacts come back verified
// and health-timed, in one report.
func TestBuildLinuxAmd64AndArm64(t *testing.T) {
	r := requireRunners(t)
	// Emulated arm64 is mostly one busy core for many minutes: the other tests run beside it.
	t.Parallel()
	out := filepath.Join(t.TempDir(), "dist")
	mustDagger(t, long, append(append([]string{"build", "--source", "testdata/backend", "--platforms", "linux/arm64, linux/amd64"},
		r.runnerArgs(r.offline(r.Runner), r.Key)...), "export", "--path", out)...)

	b, err := os.ReadFile(filepath.Join(out, "report.json"))
	assert.NilError(t, err)
	rep, err := report.Parse(b)
	assert.NilError(t, err)
	assert.Equal(t, len(rep.Entries), 2)
	assert.Equal(t, rep.Entries[0].Target, "linux/amd64", "entries sorted by target")
	assert.Equal(t, rep.Entries[1].Target, "linux/arm64")
	for _, e := range rep.Entries {
		t.Run(e.Target, func(t *testing.T) {
			assert.Check(t, e.OK(), "every check passed: %+v", e.Checks)
			assert.Equal(t, e.Mode, "onedir")
			exe := filepath.Join(out, filepath.FromSlash(e.Artifact))
			st, err := os.Stat(exe)
			assert.NilError(t, err, "artifact named in the report exists")
			assert.Check(t, st.Mode()&0o111 != 0, "executable bit kept through export: %v", st.Mode())
			assert.Equal(t, e.SHA256, fileSHA256(t, exe), "report digest is the exported file's")
			assert.Check(t, e.SizeBytes > 1<<20 && e.SizeBytes < 3<<30, "size %d", e.SizeBytes)
			assert.Check(t, e.StartupMS != nil && *e.StartupMS > 0)
			assert.Check(t, strings.HasPrefix(e.Python, "3.13."), e.Python)
			assert.Check(t, strings.HasPrefix(e.PyInstaller, "6.22.2"), e.PyInstaller)
			assert.Check(t, verify.CompareVersions(e.GlibcFloor, e.RuntimeGlibc) <= 0, "glibc %s ≤ %s", e.GlibcFloor, e.RuntimeGlibc)
			assert.Check(t, is.Contains(e.HiddenImports, "services.users"))
			assert.Check(t, is.Contains(e.HiddenImports, "plugins.csv_export"))
			assert.Equal(t, e.Emulated, e.Target == "linux/arm64", "arm64 runs under QEMU on this amd64 engine")
			if e.Target == "linux/amd64" {
				assert.Check(t, strings.HasPrefix(e.Builder, "runner:"), "amd64 came from the SSH runner: %s", e.Builder)
				assert.Check(t, is.Len(e.RunsOn, 0), "a runner runs no runtime matrix")
			} else {
				assert.Check(t, strings.HasPrefix(e.Builder, "dagger:"), "arm64 was built in Dagger: %s", e.Builder)
				// Emulated: started on its base runtime only, the older ones listed as skipped.
				assert.Check(t, is.Len(e.RunsOn, 3))
				for _, r := range e.RunsOn {
					if r.Runtime == "debian:trixie-slim" {
						assert.Check(t, r.OK && r.Required && r.Skipped == "", "%+v", r)
					} else {
						assert.Check(t, is.Equal(r.Skipped, runson.SkipEmulated), "%+v", r)
					}
				}
			}
			// The ELF machine of the artifact matches its target (no accidental host build).
			assert.Check(t, is.Contains(fileKind(t, exe), map[string]string{"linux/amd64": "x86-64", "linux/arm64": "aarch64"}[e.Target]))
		})
	}
	summary, err := os.ReadFile(filepath.Join(out, "summary.txt"))
	assert.NilError(t, err)
	assert.Check(t, is.Contains(string(summary), "linux/arm64"))
	assert.Check(t, is.Contains(string(summary), "(emulated)"))
}

// TestCompileVerifyHealthOnefile runs the stages one by one, as an engineer reproducing a
// problem would, on a onefile bundle (the _MEI extraction dir must be gone after SIGTERM).
func TestCompileVerifyHealthOnefile(t *testing.T) {
	requireEngine(t)
	t.Parallel()
	dist := filepath.Join(t.TempDir(), "dist")
	mustDagger(t, long, "compile", "--source", "testdata/backend", "--mode", "onefile", "export", "--path", dist)
	exe := filepath.Join(dist, "peft_engine")
	st, err := os.Stat(exe)
	assert.NilError(t, err, "onefile: a single executable")
	assert.Check(t, st.Mode().IsRegular() && st.Mode()&0o111 != 0)

	var v verify.Result
	decode(t, mustDagger(t, long, "verify", "--dist", dist, "--mode", "onefile", "--modules", "services.users,connectors.cloud,plugins.audit"), &v)
	assert.Check(t, v.OK)
	names := map[string]bool{}
	for _, c := range v.Checks {
		names[c.Name] = c.OK
	}
	for _, want := range []string{"exists", "executable", "size", "no-python", "imports", "glibc"} {
		assert.Check(t, names[want], "check %s ran and passed: %+v", want, v.Checks)
	}
	assert.Equal(t, v.SHA256, fileSHA256(t, exe))

	var h health.Result
	decode(t, mustDagger(t, long, "health", "--dist", dist, "--mode", "onefile", "--runs", "3"), &h)
	assert.Check(t, h.OK, h.Reason)
	assert.Equal(t, len(h.Runs), 3)
	assert.Check(t, h.MinMS > 0 && h.MinMS <= h.MedianMS && h.MedianMS <= h.MaxMS)
	assert.Check(t, is.Len(h.Leftovers, 0), "no process or _MEI dir left behind")
	body := h.Runs[0].Body
	assert.Equal(t, body["status"], "ok")
	assert.Equal(t, body["frozen"], true)
}

// TestReproducibleBuilds: the same backend, from a source folder that differs only in a file
// that is not bundled, gives a byte-identical bundle (PYTHONHASHSEED=0, SOURCE_DATE_EPOCH).
func TestReproducibleBuilds(t *testing.T) {
	requireEngine(t)
	t.Parallel()
	other := filepath.Join(t.TempDir(), "backend")
	copyTree(t, filepath.Join(repoRoot(t), "testdata", "backend"), other)
	assert.NilError(t, os.WriteFile(filepath.Join(other, "README.md"), []byte("a different readme: a different build input, the same bundle\n"), 0o644))

	a := filepath.Join(t.TempDir(), "a")
	b := filepath.Join(t.TempDir(), "b")
	mustDagger(t, long, "compile", "--source", "testdata/backend", "export", "--path", a)
	mustDagger(t, long, "compile", "--source", other, "export", "--path", b)
	da, db := treeDigest(t, a), treeDigest(t, b)
	assert.Check(t, len(da) > 10)
	assert.DeepEqual(t, da, db)
}

// TestStaticBootloader: the sample, built as users build it, starts with pybundle's static
// bootloader (libpython linked in): the report says so, verify's glibc and imports checks and the
// health check passed in the clean runtime, the bundle holds no libpython3.13.so, and the
// executable links no libpython but exports the C API the extension modules resolve against.
func TestStaticBootloader(t *testing.T) {
	requireEngine(t)
	t.Parallel()
	out := filepath.Join(t.TempDir(), "dist")
	mustDagger(t, long, "build", "--source", "testdata/backend", "export", "--path", out)
	e := onlyEntry(t, out)
	assert.Equal(t, e.Bootloader, "static")
	assert.Check(t, e.OK(), "%+v", e.Checks)
	passed := map[string]bool{}
	for _, c := range e.Checks {
		passed[c.Name] = c.OK
	}
	for _, name := range []string{"glibc", "imports", "health"} {
		assert.Check(t, passed[name], "check %s passed: %+v", name, e.Checks)
	}
	assert.Assert(t, e.Manifest != nil)
	for _, f := range e.Manifest.Files {
		assert.Check(t, !spec.IsLibpython(path.Base(f.Path)), "the bundle ships %s", f.Path)
	}
	bundled := 0
	assert.NilError(t, filepath.WalkDir(filepath.Join(out, "linux-amd64"), func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			bundled++
			assert.Check(t, !spec.IsLibpython(d.Name()), "exported bundle holds %s", p)
		}
		return err
	}))
	assert.Check(t, bundled > 10)

	exe, err := elf.Open(filepath.Join(out, filepath.FromSlash(e.Artifact)))
	assert.NilError(t, err)
	defer exe.Close()
	libs, err := exe.ImportedLibraries()
	assert.NilError(t, err)
	for _, l := range libs {
		assert.Check(t, !spec.IsLibpython(l), "the executable links %s", l)
	}
	syms, err := exe.DynamicSymbols()
	assert.NilError(t, err)
	exported := map[string]bool{}
	for _, s := range syms {
		if s.Section != elf.SHN_UNDEF {
			exported[s.Name] = true
		}
	}
	for _, name := range []string{"Py_InitializeFromConfig", "PyUnicode_FromString", "_Py_NoneStruct", "PyExc_ValueError"} {
		assert.Check(t, exported[name], "the executable exports %s", name)
	}
	assert.Check(t, !exported["XML_ParserCreate"] && !exported["pyi_main"], "only the C API is exported")
}

// TestBadInput: each mistake gives one clear error naming stage, target and file, a non-zero
// exit, and no output: a dist/ from an earlier good build stays as it was.
func TestBadInput(t *testing.T) {
	requireEngine(t)
	t.Parallel()
	for _, tc := range []struct {
		name string
		args []string
		want []string
	}{
		{"no entry point", []string{"build", "--source", "testdata/broken/no-entry"},
			[]string{"plan linux/amd64:", "entry: no entry point found", "set entry to a script"}},
		// Tracing runs the backend from source first: a backend that cannot start fails there,
		// before PyInstaller, naming the file and the Python error.
		{"syntax error", []string{"build", "--source", "testdata/broken/syntax-error"},
			[]string{"trace linux/amd64: main.py:", "SyntaxError"}},
		{"backend exits while traced", []string{"build", "--source", "testdata/broken/exits-on-start"},
			[]string{"trace linux/amd64: main.py:", "exited with code 3", "database schema version 7 is newer"}},
		// Without tracing, the later stages catch the same faults in the frozen app.
		{"syntax error, untraced", []string{"build", "--source", "testdata/broken/syntax-error", "--option", "trace=false"},
			[]string{"compile linux/amd64: main.py:", "SyntaxError"}},
		{"lazily imported module missing", []string{"build", "--source", "testdata/broken/missing-lazy", "--option", "trace=false"},
			[]string{"compile linux/amd64:", "services.billing"}},
		{"backend exits during start", []string{"build", "--source", "testdata/broken/exits-on-start", "--option", "trace=false"},
			[]string{"health linux/amd64: peft_engine/peft_engine:", "exited with code 3", "database schema version 7 is newer"}},
		{"never healthy within the budget", []string{"build", "--source", "testdata/broken/never-healthy", "--budget", "3s", "--option", "trace=false"},
			[]string{"health linux/amd64: peft_engine/peft_engine:", "not healthy within 3s"}},
		{"bundle needs a newer glibc than the target", []string{"build", "--source", "testdata/backend", "--option", "glibc=2.31"},
			[]string{"verify linux/amd64: peft_engine/peft_engine:", "check glibc-target failed", "need a glibc above 2.31:", "(GLIBC_2.38", "build on a system with glibc 2.31 or older"}},
		{"unknown platform", []string{"build", "--source", "testdata/backend", "--platforms", "linux/amd64,linux/sparc"},
			[]string{`unknown platform "linux/sparc"`, "linux/arm64"}},
		{"macOS without a runner", []string{"build", "--source", "testdata/backend", "--platforms", "darwin/arm64"},
			[]string{"plan darwin/arm64:", "darwin/arm64 needs a native runner", "--runner ssh://user@host"}},
		// The compat toolchain is built for linux/amd64 only (README: The compat builder).
		{"compat installer for linux/arm64", []string{"--installer", "compat", "build", "--source", "testdata/compat", "--platforms", "linux/arm64"},
			[]string{"plan linux/arm64:", "toolchain for linux/amd64 only", "--installer debian or pip, or on a runner"}},
		{"runner without a key", []string{"build", "--source", "testdata/backend", "--platforms", "windows/amd64", "--runner", "ssh://ci@winbox"},
			[]string{"plan windows/amd64:", "--runner-key is required"}},
		{"runner address without a login", []string{"build", "--source", "testdata/backend", "--platforms", "windows/amd64", "--runner", "ssh://winbox"},
			[]string{"plan windows/amd64:", "give the login: ssh://user@winbox"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dist := filepath.Join(t.TempDir(), "dist")
			assert.NilError(t, os.MkdirAll(dist, 0o755))
			assert.NilError(t, os.WriteFile(filepath.Join(dist, "previous-good-build"), []byte("keep me"), 0o644))

			r := dagger(t, long, append(tc.args, "export", "--path", dist)...)
			assert.Check(t, r.Code != 0, "bad input must fail")
			msg := errorLine(r.Stderr)
			for _, w := range tc.want {
				assert.Check(t, is.Contains(msg, w))
			}
			assert.DeepEqual(t, listTree(t, dist), []string{"previous-good-build"})
		})
	}
}

// TestPortAlreadyTaken: the health stage refuses a port another process holds, before it
// starts the backend, and says which port.
func TestPortAlreadyTaken(t *testing.T) {
	requireEngine(t)
	t.Parallel()
	dist := filepath.Join(t.TempDir(), "dist")
	mustDagger(t, long, "compile", "--source", "testdata/backend", "export", "--path", dist)
	r := dagger(t, long, "health", "--dist", dist, "--port", "8765", "--occupy-port")
	assert.Check(t, r.Code != 0)
	assert.Check(t, is.Contains(errorLine(r.Stderr), "health linux/amd64: peft_engine/peft_engine: port 8765 is already in use"))
}

// errorLine is dagger's final "Error: …" paragraph, where the module's error lands.
func errorLine(stderr string) string {
	i := strings.LastIndex(stderr, "\nError: ")
	if i < 0 {
		return stderr
	}
	return stderr[i+1:]
}

func decode(t *testing.T, out string, v any) {
	t.Helper()
	assert.NilError(t, json.Unmarshal([]byte(out), v), out)
}

// onlyEntry reads dist/report.json and returns its entry, requiring exactly one: a build of
// one target.
func onlyEntry(t *testing.T, dist string) report.Entry {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dist, "report.json"))
	assert.NilError(t, err)
	rep, err := report.Parse(b)
	assert.NilError(t, err)
	assert.Equal(t, len(rep.Entries), 1)
	return rep.Entries[0]
}

func fileSHA256(t *testing.T, p string) string {
	t.Helper()
	f, err := os.Open(p)
	assert.NilError(t, err)
	defer f.Close()
	h := sha256.New()
	_, err = io.Copy(h, f)
	assert.NilError(t, err)
	return hex.EncodeToString(h.Sum(nil))
}

// treeDigest maps every file under root to its mode and sha256 and every link to its target
// (verify.TreeFiles), for comparing bundles.
func treeDigest(t *testing.T, root string) map[string]string {
	t.Helper()
	out, err := verify.TreeFiles(root)
	assert.NilError(t, err)
	return out
}

func listTree(t *testing.T, root string) []string {
	t.Helper()
	var out []string
	assert.NilError(t, filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == root {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		out = append(out, rel)
		return nil
	}))
	sort.Strings(out)
	return out
}

func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	out, err := exec.Command("cp", "-a", src, dst).CombinedOutput()
	assert.NilError(t, err, string(out))
}

// fileKind is `file`'s view of an ELF, read from its header by hand (no `file` needed):
// e_machine 0x3e = x86-64, 0xb7 = aarch64.
func fileKind(t *testing.T, p string) string {
	t.Helper()
	f, err := os.Open(p)
	assert.NilError(t, err)
	defer f.Close()
	hdr := make([]byte, 20)
	_, err = io.ReadFull(f, hdr)
	assert.NilError(t, err)
	if string(hdr[:4]) != "\x7fELF" {
		return "not ELF"
	}
	switch uint16(hdr[18]) | uint16(hdr[19])<<8 {
	case 0x3e:
		return "ELF x86-64"
	case 0xb7:
		return "ELF aarch64"
	}
	return "ELF other"
}

// TestPipInstaller: the pip installer (for users with a package index) run with no index at
// all: the backend's own wheel comes from a local wheelhouse (--no-index), the rest from the
// python image (offline: pybundle's stand-in for python:3.13-slim, see README).
func TestPipInstaller(t *testing.T) {
	requireEngine(t)
	t.Parallel()
	wheels := filepath.Join(t.TempDir(), "wheels")
	out, err := exec.Command("dagger", "core", "--progress=plain", "container", "from", "--address", "python:3.13-slim",
		"with-directory", "--path", "/b", "--source", filepath.Join(repoRoot(t), "testdata", "backend"),
		"with-exec", "--args", "python,-m,pip,wheel,--no-deps,--no-build-isolation,--no-index,-w,/wheels,/b",
		"directory", "--path", "/wheels", "export", "--path", wheels).CombinedOutput()
	assert.NilError(t, err, errorTail(string(out)))
	whl, _ := filepath.Glob(filepath.Join(wheels, "pybundle_sample_backend-1.0.0-*.whl"))
	assert.Equal(t, len(whl), 1, "the backend's own wheel was built")

	src := filepath.Join(t.TempDir(), "backend")
	copyTree(t, filepath.Join(repoRoot(t), "testdata", "backend"), src)
	assert.NilError(t, os.WriteFile(filepath.Join(src, "requirements.txt"),
		[]byte("pybundle-sample-backend==1.0.0\nfastapi\nuvicorn\npydantic\n"), 0o644))

	dist := filepath.Join(t.TempDir(), "dist")
	mustDagger(t, long, "--installer", "pip", "--wheelhouse", wheels, "build", "--source", src, "export", "--path", dist)
	e := onlyEntry(t, dist)
	assert.Check(t, e.OK())
	assert.Equal(t, e.Builder, "dagger:pip")
	assert.Equal(t, e.PyInstaller, "6.22.2")
	assert.Equal(t, e.Packages["pip:pybundle-sample-backend"], "1.0.0", "installed from the local wheel")

	// Hash mode needs PyInstaller's hashes too: caught before pip runs, naming the file.
	assert.NilError(t, os.WriteFile(filepath.Join(src, "requirements.txt"),
		[]byte("fastapi==0.115.11 --hash=sha256:0000000000000000000000000000000000000000000000000000000000000000\n"), 0o644))
	r := dagger(t, long, "--installer", "pip", "build", "--source", src)
	assert.Check(t, r.Code != 0)
	assert.Check(t, is.Contains(errorLine(r.Stderr), "builder linux/amd64: requirements.txt: requirements.txt uses --hash, so it must also list pyinstaller==6.22.2"))
}
