package verify

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"
)

// standIn writes a shell script standing in for a frozen PyInstaller binary:
// body plays the part of the pybundle runtime hook. The test host has no
// PyInstaller build, and the hook's contract (env in, one PYBUNDLE_CHECK line
// out, exit 0 or 3) is all that verify relies on.
func standIn(t *testing.T, path, body string) string {
	t.Helper()
	assert.NilError(t, os.MkdirAll(filepath.Dir(path), 0o755))
	assert.NilError(t, os.WriteFile(path, []byte("#!/bin/sh\n"+body+"\n"), 0o755))
	return path
}

// hookOK answers the import check like a healthy frozen app and dumps a real
// shared library (the host's libc) so that the glibc floor has something to read.
func hookOK(t *testing.T) string {
	libc, err := FindLibc()
	assert.NilError(t, err)
	return fmt.Sprintf(`mkdir -p "$PYBUNDLE_DUMP_DIR/lib" && cp %s "$PYBUNDLE_DUMP_DIR/lib/libc.so.6" || exit 9
mods=$(echo "$PYBUNDLE_IMPORT_CHECK" | sed 's/[^,][^,]*/"&"/g')
echo "INFO some app log line"
echo 'PYBUNDLE_CHECK {"ok": true, "imported": ['"$mods"'], "failed": {}, "meipass": "/tmp/_MEIabc", "frozen": true, "python": "3.13.5", "dumped": 1}'
exit 0`, libc)
}

const hookImportFails = `echo 'Traceback: something' >&2
echo 'PYBUNDLE_CHECK {"ok": false, "imported": ["connectors.csv_export"], "failed": {"services.users": "ModuleNotFoundError: No module named '"'"'services.users'"'"'"}, "meipass": "/tmp/_MEIabc", "frozen": true, "python": "3.13.5", "dumped": 0}'
exit 3`

// noPython is a search directory guaranteed to hold no interpreter, because the
// test host does have Python on PATH.
func noPython(t *testing.T) []string { return []string{t.TempDir()} }

func names(cs []Check) []string {
	var out []string
	for _, c := range cs {
		out = append(out, c.Name)
	}
	return out
}

func check(t *testing.T, r Result, name string) Check {
	t.Helper()
	for _, c := range r.Checks {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("no %s check in %v", name, names(r.Checks))
	return Check{}
}

func allChecks() []string {
	return []string{CheckExists, CheckExecutable, CheckSize, CheckNoPython, CheckImports, CheckGlibc}
}

func TestRunOnefileOK(t *testing.T) {
	dir := t.TempDir()
	exe := standIn(t, filepath.Join(dir, "peft_engine"), hookOK(t))
	r, err := Run(context.Background(), Options{
		Artifact: exe, MinSize: 1, Modules: []string{"services.users", "connectors.csv_export"},
		PythonSearchDirs: noPython(t),
	})
	assert.NilError(t, err)
	assert.Assert(t, r.OK, "%+v", r)
	assert.NilError(t, r.Err())
	assert.DeepEqual(t, names(r.Checks), allChecks())
	assert.Equal(t, r.Python, "3.13.5")

	content, _ := os.ReadFile(exe)
	sum := sha256.Sum256(content)
	assert.Equal(t, r.SHA256, hex.EncodeToString(sum[:]))
	assert.Equal(t, r.SizeBytes, int64(len(content)))
	assert.Equal(t, r.BundleSHA256, "", "onefile has no bundle digest")

	libc, _ := FindLibc()
	want, _ := GlibcNeeds(libc)
	assert.Equal(t, r.GlibcFloor, want)
	assert.Equal(t, r.GlibcFloorFrom, "_MEIPASS/lib/libc.so.6")
	assert.Equal(t, r.RuntimeGlibc, hostGlibc(t))
}

func TestRunOnedir(t *testing.T) {
	libc, err := FindLibc()
	assert.NilError(t, err)
	libcBytes, err := os.ReadFile(libc)
	assert.NilError(t, err)

	bundle := filepath.Join(t.TempDir(), "peft_engine")
	exe := standIn(t, filepath.Join(bundle, "peft_engine"), hookOK(t))
	assert.NilError(t, os.MkdirAll(filepath.Join(bundle, "_internal", "data"), 0o755))
	assert.NilError(t, os.WriteFile(filepath.Join(bundle, "_internal", "libpython3.13.so.1.0"), libcBytes, 0o644))
	assert.NilError(t, os.WriteFile(filepath.Join(bundle, "_internal", "data", "seed.json"), []byte("{}\n"), 0o644))
	assert.NilError(t, os.Symlink("libpython3.13.so.1.0", filepath.Join(bundle, "_internal", "libpython3.so")))

	o := Options{Artifact: exe, Bundle: bundle, MinSize: 1, PythonSearchDirs: noPython(t)}
	r, err := Run(context.Background(), o)
	assert.NilError(t, err)
	assert.Assert(t, r.OK, "%+v", r)

	exeBytes, _ := os.ReadFile(exe)
	assert.Equal(t, r.SizeBytes, int64(len(exeBytes)+len(libcBytes)+3), "regular files only, symlink not counted")
	hex256 := func(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }
	manifest := hex256([]byte("{}\n")) + "  _internal/data/seed.json\n" +
		hex256(libcBytes) + "  _internal/libpython3.13.so.1.0\n" +
		"-> libpython3.13.so.1.0  _internal/libpython3.so\n" +
		hex256(exeBytes) + "  peft_engine\n"
	assert.Equal(t, r.BundleSHA256, hex256([]byte(manifest)))
	assert.Equal(t, r.SHA256, hex256(exeBytes))
	assert.Equal(t, r.GlibcFloorFrom, "_internal/libpython3.13.so.1.0", "read from the bundle on disk")

	t.Run("glibc target", func(t *testing.T) {
		// At the bundle's own floor: passes. Below it: fails naming the library and every
		// version above the target; the result lists them.
		o := o
		o.GlibcTarget = r.GlibcFloor
		r2, err := Run(context.Background(), o)
		assert.NilError(t, err)
		assert.Assert(t, r2.OK, "%+v", r2.Checks)
		assert.Equal(t, r2.Checks[len(r2.Checks)-1].Name, CheckGlibcTarget)
		assert.Equal(t, len(r2.GlibcAbove), 0)

		o.GlibcTarget = "2.2.5"
		r2, err = Run(context.Background(), o)
		assert.NilError(t, err)
		assert.Assert(t, !r2.OK)
		c := r2.Checks[len(r2.Checks)-1]
		assert.Equal(t, c.Name, CheckGlibcTarget)
		assert.Assert(t, is.Contains(c.Detail, "need a glibc above 2.2.5: "))
		assert.Assert(t, is.Contains(c.Detail, "_internal/libpython3.13.so.1.0 (GLIBC_"))
		assert.Assert(t, is.Contains(c.Detail, "GLIBC_"+r.GlibcFloor+")"), "the highest version is named")
		i := slices.IndexFunc(r2.GlibcAbove, func(n GlibcNeed) bool { return n.File == "_internal/libpython3.13.so.1.0" })
		assert.Assert(t, i >= 0, "%+v", r2.GlibcAbove)
		assert.Equal(t, r2.GlibcAbove[i].Versions[len(r2.GlibcAbove[i].Versions)-1], r.GlibcFloor)
	})

	t.Run("runtime older than the bundle", func(t *testing.T) {
		// A runtime whose glibc is below the floor: the result names the files that need more,
		// libpython before the other libraries, with only the versions the runtime lacks.
		o := o
		o.RuntimeGlibc = "2.2.5"
		r2, err := Run(context.Background(), o)
		assert.NilError(t, err)
		assert.Assert(t, len(r2.GlibcMissing) > 0, "%+v", r2)
		i := slices.IndexFunc(r2.GlibcMissing, func(n GlibcNeed) bool { return n.File == "_internal/libpython3.13.so.1.0" })
		assert.Assert(t, i == 0 || (i == 1 && r2.GlibcMissing[0].File == "peft_engine"), "the executable, then libpython: %+v", r2.GlibcMissing)
		top := r2.GlibcMissing[i].Versions
		assert.Equal(t, top[len(top)-1], r.GlibcFloor)
		for _, n := range r2.GlibcMissing {
			assert.Assert(t, CompareVersions(n.Versions[0], "2.2.5") > 0, "%+v", n)
		}
		assert.Equal(t, len(r.GlibcMissing), 0, "the host runs what it built: nothing missing")
	})

	t.Run("same content elsewhere gives the same digests", func(t *testing.T) {
		other := filepath.Join(t.TempDir(), "copy")
		assert.NilError(t, os.CopyFS(other, os.DirFS(bundle)))
		assert.NilError(t, os.Chmod(filepath.Join(other, "peft_engine"), 0o755))
		r2, err := Run(context.Background(), Options{Artifact: filepath.Join(other, "peft_engine"), Bundle: other, MinSize: 1, PythonSearchDirs: noPython(t)})
		assert.NilError(t, err)
		assert.Equal(t, r2.BundleSHA256, r.BundleSHA256)
		assert.Equal(t, r2.SHA256, r.SHA256)
	})

	t.Run("artifact outside the bundle", func(t *testing.T) {
		o := o
		o.Bundle = t.TempDir()
		r, err := Run(context.Background(), o)
		assert.NilError(t, err)
		assert.DeepEqual(t, names(r.Checks), []string{CheckExists})
		assert.Assert(t, is.Contains(r.Checks[0].Detail, "not inside bundle"))
	})
}

func TestRunFailures(t *testing.T) {
	for _, tc := range []struct {
		name   string
		setup  func(t *testing.T, exe string) Options // writes the artifact, returns options
		checks []string                               // the checks run, in order
		failed string                                 // the first failed check
		detail []string                               // substrings of its detail
		absent []string                               // must not be in its detail
	}{
		{
			name:   "missing artifact",
			setup:  func(t *testing.T, exe string) Options { return Options{Artifact: exe} },
			checks: []string{CheckExists}, failed: CheckExists,
			detail: []string{"no such file"},
		},
		{
			name: "directory instead of a file",
			setup: func(t *testing.T, exe string) Options {
				assert.NilError(t, os.Mkdir(exe, 0o755))
				return Options{Artifact: exe}
			},
			checks: []string{CheckExists}, failed: CheckExists,
			detail: []string{"not a regular file"},
		},
		{
			name: "no execute bit",
			setup: func(t *testing.T, exe string) Options {
				standIn(t, exe, hookOK(t))
				assert.NilError(t, os.Chmod(exe, 0o644))
				return Options{Artifact: exe, MinSize: 1}
			},
			checks: []string{CheckExists, CheckExecutable}, failed: CheckExecutable,
			detail: []string{"-rw-r--r--", "no execute bit"},
		},
		{
			name: "too small for a PyInstaller bundle",
			setup: func(t *testing.T, exe string) Options {
				standIn(t, exe, hookOK(t))
				return Options{Artifact: exe}
			},
			checks: allChecks(), failed: CheckSize,
			detail: []string{"below the minimum 1.0 MiB"},
		},
		{
			name: "too big",
			setup: func(t *testing.T, exe string) Options {
				standIn(t, exe, hookOK(t)+"\n# "+strings.Repeat("x", 2048))
				return Options{Artifact: exe, MinSize: 1, MaxSize: 1024}
			},
			checks: allChecks(), failed: CheckSize,
			detail: []string{"above the maximum 1.0 KiB"},
		},
		{
			name: "python present in the runtime",
			setup: func(t *testing.T, exe string) Options {
				standIn(t, exe, hookOK(t))
				bin := t.TempDir()
				assert.NilError(t, os.WriteFile(filepath.Join(bin, "python3.13"), []byte("#!/bin/sh\n"), 0o755))
				assert.NilError(t, os.WriteFile(filepath.Join(bin, "python3"), nil, 0o644)) // not executable: ignored
				assert.NilError(t, os.WriteFile(filepath.Join(bin, "python3-config"), nil, 0o755))
				assert.NilError(t, os.WriteFile(filepath.Join(bin, "python3.13-config"), nil, 0o755))
				link := filepath.Join(t.TempDir(), "bin-link") // like /bin -> usr/bin: searched once
				assert.NilError(t, os.Symlink(bin, link))
				return Options{Artifact: exe, MinSize: 1, PythonSearchDirs: []string{bin, link}}
			},
			checks: allChecks(), failed: CheckNoPython,
			detail: []string{"python3.13: the import check", "Python interpreter present"},
			absent: []string{"config", ", "},
		},
		{
			name: "lazily imported module missing from the build",
			setup: func(t *testing.T, exe string) Options {
				standIn(t, exe, hookImportFails)
				return Options{Artifact: exe, MinSize: 1, Modules: []string{"services.users", "connectors.csv_export"}}
			},
			checks: allChecks(), failed: CheckImports,
			detail: []string{"exit status 3", "services.users: ModuleNotFoundError: No module named 'services.users'"},
		},
		{
			name: "hook reports success but skipped a module",
			setup: func(t *testing.T, exe string) Options {
				standIn(t, exe, `echo 'PYBUNDLE_CHECK {"ok": true, "imported": [], "failed": {}, "frozen": true, "python": "3.13.5"}'`)
				return Options{Artifact: exe, MinSize: 1, Modules: []string{"services.users"}}
			},
			checks: allChecks(), failed: CheckImports,
			detail: []string{"services.users: not reported as imported"},
		},
		{
			name: "runtime hook missing",
			setup: func(t *testing.T, exe string) Options {
				standIn(t, exe, `echo "error while loading shared libraries: version 'GLIBC_2.38' not found" >&2; exit 127`)
				return Options{Artifact: exe, MinSize: 1}
			},
			checks: allChecks(), failed: CheckImports,
			detail: []string{"exit status 127", "no \"PYBUNDLE_CHECK\" line", "GLIBC_2.38' not found"},
		},
		{
			name: "app serves instead of answering",
			setup: func(t *testing.T, exe string) Options {
				standIn(t, exe, `echo serving; sleep 30`)
				return Options{Artifact: exe, MinSize: 1, Timeout: 300 * time.Millisecond}
			},
			checks: allChecks(), failed: CheckImports,
			detail: []string{"no result within 300ms", "runtime hook is not in the build"},
		},
		{
			name: "bundle needs a newer glibc than the runtime",
			setup: func(t *testing.T, exe string) Options {
				standIn(t, exe, hookOK(t))
				return Options{Artifact: exe, MinSize: 1, RuntimeGlibc: "2.0"}
			},
			checks: allChecks(), failed: CheckGlibc,
			detail: []string{"from _MEIPASS/lib/libc.so.6", "runtime has glibc 2.0"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			exe := filepath.Join(t.TempDir(), "peft_engine")
			o := tc.setup(t, exe)
			if o.PythonSearchDirs == nil {
				o.PythonSearchDirs = noPython(t)
			}
			start := time.Now()
			r, err := Run(context.Background(), o)
			assert.NilError(t, err)
			assert.Assert(t, time.Since(start) < 3*time.Second)
			assert.Assert(t, !r.OK)
			assert.DeepEqual(t, names(r.Checks), tc.checks)
			c := check(t, r, tc.failed)
			assert.Assert(t, !c.OK, "%s should fail: %+v", tc.failed, r.Checks)
			for _, s := range tc.detail {
				assert.Assert(t, is.Contains(c.Detail, s))
			}
			for _, s := range tc.absent {
				assert.Assert(t, !strings.Contains(c.Detail, s), "%q in %q", s, c.Detail)
			}
			err = r.Err()
			assert.ErrorContains(t, err, exe)
			assert.ErrorContains(t, err, "check "+tc.failed+" failed")
		})
	}
}

func TestRunImportFailureKeepsGlibcCheck(t *testing.T) {
	exe := standIn(t, filepath.Join(t.TempDir(), "peft_engine"), hookImportFails)
	r, err := Run(context.Background(), Options{Artifact: exe, MinSize: 1, PythonSearchDirs: noPython(t)})
	assert.NilError(t, err)
	g := check(t, r, CheckGlibc)
	assert.Assert(t, g.OK, "the hook answered (dumping nothing), so the floor is complete: %+v", g)
	assert.Equal(t, r.GlibcFloor, "", "a shell script needs no glibc")
}

func TestRunUsageErrors(t *testing.T) {
	for name, o := range map[string]Options{
		"no artifact":    {},
		"inverted sizes": {Artifact: "/x", MinSize: 10, MaxSize: 5},
		"bad module":     {Artifact: "/x", Modules: []string{"a,b"}},
	} {
		_, err := Run(context.Background(), o)
		assert.Assert(t, err != nil, name)
	}
}

func TestRunCancelled(t *testing.T) {
	exe := standIn(t, filepath.Join(t.TempDir(), "peft_engine"), "sleep 30")
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_, err := Run(ctx, Options{Artifact: exe, MinSize: 1, PythonSearchDirs: noPython(t)})
	assert.ErrorContains(t, err, "interrupted")
	assert.ErrorContains(t, err, exe)
}
