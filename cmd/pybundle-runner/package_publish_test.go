package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"

	"github.com/pybundle/pybundle/pipeline/report"
)

// runCtx is run under ctx (a test cancels it to stand for Ctrl-C).
func (f packageFixture) runCtx(ctx context.Context, t *testing.T, extra ...string) (int, string, string) {
	t.Helper()
	a, stdout, stderr := testApp("linux", "amd64")
	args := append([]string{"package", "--app", f.app, "--dist", f.dist, "--targets", "dir,tar.gz"}, extra...)
	code := a.run(ctx, args)
	return code, stdout.String(), stderr.String()
}

// treeState is dir as the tests compare it: every path under it with its type, mode and, for
// a file, its content's sha256 and modification time, for a symlink its target. Equal states
// are a folder left exactly as it was.
func treeState(t *testing.T, dir string) map[string]string {
	t.Helper()
	state := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case d.Type()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			state[rel] = "symlink " + target
			return err
		case d.IsDir():
			state[rel] = "dir " + fi.Mode().String()
		default:
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			sum := sha256.Sum256(b)
			state[rel] = fi.Mode().String() + " " + hex.EncodeToString(sum[:]) + " " + fi.ModTime().String()
		}
		return nil
	})
	assert.NilError(t, err)
	return state
}

// entryNames are the names in dir, sorted: a staging folder left behind shows up here.
func entryNames(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	assert.NilError(t, err)
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

// builderOutput is the output folder electron-builder was told in the fake's log.
func builderOutput(t *testing.T, log string) string {
	t.Helper()
	b, err := os.ReadFile(log)
	assert.NilError(t, err)
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	for _, a := range strings.Fields(lines[len(lines)-1]) {
		if v, ok := strings.CutPrefix(a, "-c.directories.output="); ok {
			return v
		}
	}
	t.Fatalf("no -c.directories.output in %q", lines[len(lines)-1])
	return ""
}

// Issue 15: the output folder was cleared with os.RemoveAll whatever it held, so an output
// folder set to /tmp, the home folder or a folder of the user's was wiped. A folder that is
// not recognisably electron-builder's or pybundle's is refused before anything runs, and
// nothing in it is touched.
func TestRunPackageRefusesForeignOutputFolder(t *testing.T) {
	f := setupPackageFixture(t)
	root := filepath.Dir(f.app)
	home := t.TempDir()
	t.Setenv("HOME", home)
	assert.NilError(t, os.WriteFile(filepath.Join(home, "precious.txt"), []byte("keep me"), 0o644))
	dist := filepath.Join(f.app, "dist")
	precious := func(t *testing.T, dir string) {
		assert.NilError(t, os.MkdirAll(dir, 0o755))
		assert.NilError(t, os.WriteFile(filepath.Join(dir, "precious.txt"), []byte("keep me"), 0o644))
	}
	for _, tc := range []struct {
		name string
		prep func(t *testing.T) (kept string, args []string) // kept: the folder that must survive as it is
		want []string
	}{
		{name: "a folder of the user's at the app's output folder",
			prep: func(t *testing.T) (string, []string) { precious(t, dist); return dist, nil },
			want: []string{"package linux/amd64: dist: electron-builder's output folder " + dist + " holds files pybundle-runner did not make",
				"set build.directories.output in package.json (or --output) to a folder of its own, or empty this one"}},
		{name: "a folder of the user's outside the app (build.directories.output ../foreign)",
			prep: func(t *testing.T) (string, []string) {
				foreign := filepath.Join(root, "foreign")
				precious(t, foreign)
				assert.NilError(t, os.WriteFile(filepath.Join(f.app, "package.json"), []byte(`{"name":"peft-desktop","version":"0.1.0",
  "build":{"appId":"x","directories":{"output":"../foreign"},"linux":{"executableName":"peft-desktop"}}}`), 0o644))
				return foreign, nil
			},
			want: []string{"electron-builder's output folder " + filepath.Join(root, "foreign") + " holds files pybundle-runner did not make"}},
		{name: "a build's output (report.json without packages)",
			prep: func(t *testing.T) (string, []string) {
				out := filepath.Join(root, "build-out")
				assert.NilError(t, os.MkdirAll(out, 0o755))
				writeTestReport(t, out, f.entry)
				return out, []string{"--output", out}
			},
			want: []string{"holds files pybundle-runner did not make", "set --output to a folder of its own"}},
		{name: "the user's home",
			prep: func(t *testing.T) (string, []string) { return home, []string{"--output", home} },
			want: []string{"electron-builder's output folder " + home + " is your home folder"}},
		{name: "a folder holding the user's home",
			prep: func(t *testing.T) (string, []string) { return "", []string{"--output", filepath.Dir(home)} },
			want: []string{"electron-builder's output folder " + filepath.Dir(home) + " holds your home folder"}},
		{name: "the file system's root",
			prep: func(t *testing.T) (string, []string) { return "", []string{"--output", "/"} },
			want: []string{"electron-builder's output folder / is the root of a file system"}},
		{name: "a symlink, even to an electron-builder output",
			prep: func(t *testing.T) (string, []string) {
				elsewhere := filepath.Join(root, "elsewhere")
				precious(t, elsewhere)
				assert.NilError(t, os.WriteFile(filepath.Join(elsewhere, "builder-debug.yml"), nil, 0o644))
				assert.NilError(t, os.Symlink(elsewhere, dist))
				return root, nil
			},
			want: []string{"electron-builder's output folder " + dist + " is a symlink"}},
		{name: "a file",
			prep: func(t *testing.T) (string, []string) {
				assert.NilError(t, os.WriteFile(dist, []byte("not a folder"), 0o644))
				return root, nil
			},
			want: []string{"electron-builder's output folder " + dist + " is not a folder"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pj, err := os.ReadFile(filepath.Join(f.app, "package.json"))
			assert.NilError(t, err)
			defer func() {
				assert.NilError(t, os.WriteFile(filepath.Join(f.app, "package.json"), pj, 0o644))
				for _, p := range []string{dist, filepath.Join(root, "foreign"), filepath.Join(root, "build-out"), filepath.Join(root, "elsewhere")} {
					assert.NilError(t, os.RemoveAll(p))
				}
			}()
			assert.NilError(t, os.RemoveAll(dist))
			assert.NilError(t, os.RemoveAll(filepath.Join(f.app, "backend")))
			assert.NilError(t, os.RemoveAll(f.log))
			kept, args := tc.prep(t)
			var before map[string]string
			if kept != "" {
				before = treeState(t, kept)
			}

			code, _, stderr := f.run(t, args...)
			assert.Equal(t, code, exitFail, stderr)
			for _, w := range tc.want {
				assert.Check(t, is.Contains(stderr, w))
			}
			if kept != "" {
				assert.Check(t, is.DeepEqual(treeState(t, kept), before), "%s is left as it was", kept)
			}
			_, err = os.Stat(f.log)
			assert.Check(t, os.IsNotExist(err), "electron-builder never ran")
			_, err = os.Stat(filepath.Join(f.app, "backend"))
			assert.Check(t, os.IsNotExist(err), "refused before anything else: the backend was not put into the app")
		})
	}
}

// A previous output pybundle or electron-builder made is replaced by a run that passed, with
// nothing of it left and no staging folder behind.
func TestRunPackageReplacesPreviousOutput(t *testing.T) {
	f := setupPackageFixture(t)
	dist := filepath.Join(f.app, "dist")
	old := func(t *testing.T, marker string) {
		assert.NilError(t, os.MkdirAll(filepath.Join(dist, "linux-unpacked", "old"), 0o755))
		assert.NilError(t, os.WriteFile(filepath.Join(dist, "peft-desktop-0.0.9.tar.gz"), []byte("old"), 0o644))
		assert.NilError(t, os.WriteFile(filepath.Join(dist, marker), []byte("old"), 0o644))
	}
	for _, tc := range []struct {
		name string
		prep func(t *testing.T)
	}{
		{"electron-builder's, run on a terminal", func(t *testing.T) { old(t, "builder-effective-config.yaml") }},
		{"electron-builder's, run with DEBUG=electron-builder", func(t *testing.T) { old(t, "builder-debug.yml") }},
		{"pybundle's", func(t *testing.T) {
			code, _, stderr := f.run(t)
			assert.Equal(t, code, exitPass, stderr)
			old(t, "old.txt")
			assert.NilError(t, os.Remove(filepath.Join(dist, "builder-debug.yml")))
		}},
		{"an empty folder", func(t *testing.T) { assert.NilError(t, os.MkdirAll(dist, 0o755)) }},
		{"none", func(t *testing.T) {}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.NilError(t, os.RemoveAll(dist))
			tc.prep(t)
			code, _, stderr := f.run(t)
			assert.Equal(t, code, exitPass, stderr)
			got := entryNames(t, dist)
			assert.Check(t, is.DeepEqual(got, []string{"builder-debug.yml", "linux-unpacked", "peft-desktop-0.1.0.tar.gz", "report.json", "summary.txt"}))
			_, err := os.Stat(filepath.Join(dist, "linux-unpacked", "old"))
			assert.Check(t, os.IsNotExist(err), "nothing of the previous output is left")
			assert.Check(t, is.DeepEqual(entryNames(t, f.app), []string{"backend", "dist", "node_modules", "package.json"}), "no staging folder left")
		})
	}
}

// "A failed build never overwrites a previous good output": every failure after the output
// folder was accepted (a failed check, a failed start check, electron-builder failing, a
// missing target, a cancelled run) leaves the previous output exactly as it was and no
// staging folder behind. The report table of the failed run is still printed.
func TestRunPackageFailureKeepsPreviousOutput(t *testing.T) {
	f := setupPackageFixture(t)
	code, _, stderr := f.run(t)
	assert.Equal(t, code, exitPass, stderr)
	dist := filepath.Join(f.app, "dist")
	before := treeState(t, dist)
	appBefore := entryNames(t, f.app)
	for _, tc := range []struct {
		name   string
		env    map[string]string
		args   []string
		cancel bool
		want   []string // in stderr
		table  string   // in stdout
	}{
		{name: "a check fails", env: map[string]string{"FAKE_EB_TAMPER": "mode"},
			want: []string{"check mode failed"}, table: "FAIL: mode"},
		{name: "the start check fails", env: map[string]string{"FAKE_APP_MODE": "fail"},
			want: []string{"packaged app did not reach a healthy backend"}, table: "0/1 FAIL: start"},
		{name: "electron-builder fails", env: map[string]string{"FAKE_EB_EXIT": "3"},
			want: []string{"electron-builder failed (exit 3)", "fake electron-builder failure"}},
		{name: "a requested target is missing", args: []string{"--targets", "dir,tar.gz,zip"},
			want: []string{"package linux/amd64: dist: electron-builder produced no zip output"}},
		{name: "cancelled while electron-builder runs", cancel: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if tc.cancel {
				started := filepath.Join(t.TempDir(), "started")
				t.Setenv("FAKE_EB_WAIT", started)
				go func() {
					for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
						if _, err := os.Stat(started); err == nil {
							break
						}
					}
					cancel()
				}()
			}
			code, stdout, stderr := f.runCtx(ctx, t, tc.args...)
			assert.Check(t, code != exitPass, stderr)
			for _, w := range tc.want {
				assert.Check(t, is.Contains(stderr, w))
			}
			if tc.table != "" {
				assert.Check(t, is.Contains(stdout, tc.table), "the failed run's report table is printed")
			}
			assert.Check(t, is.DeepEqual(treeState(t, dist), before), "the previous output is left exactly as it was")
			assert.Check(t, is.DeepEqual(entryNames(t, f.app), appBefore), "no staging folder left")
		})
	}
}

// electron-builder leaves its output folder out of the app it packs, but only when that
// folder's path relative to the app does not start with "." (app-builder-lib). It is told the
// staging folder, a sibling of the output folder named so; the previous output, which it
// would otherwise pack (files "**/*"), is not in the app folder while it runs.
func TestRunPackageStagingNotPackaged(t *testing.T) {
	f := setupPackageFixture(t) // app/dist holds an earlier electron-builder output
	code, _, stderr := f.run(t)
	assert.Equal(t, code, exitPass, stderr)

	out := builderOutput(t, f.log)
	assert.Check(t, !filepath.IsAbs(out) && filepath.Dir(out) == "." && out != "dist",
		"electron-builder writes into a staging folder beside dist, given relative to the app: %q", out)
	assert.Check(t, !strings.HasPrefix(out, "."), "a staging folder named .* would be packed: %q", out)

	b, err := os.ReadFile(filepath.Join(f.app, "dist", "linux-unpacked", "resources", "app", "files.txt"))
	assert.NilError(t, err)
	assert.Check(t, is.DeepEqual(strings.Fields(string(b)), []string{"backend", "package.json"}),
		"neither the staging folder nor the previous output was packed")

	// The second run has a pybundle output in dist: the same holds.
	code, _, stderr = f.run(t)
	assert.Equal(t, code, exitPass, stderr)
	b, err = os.ReadFile(filepath.Join(f.app, "dist", "linux-unpacked", "resources", "app", "files.txt"))
	assert.NilError(t, err)
	assert.Check(t, is.DeepEqual(strings.Fields(string(b)), []string{"backend", "package.json"}))
	rep, err := os.ReadFile(filepath.Join(f.app, "dist", "report.json"))
	assert.NilError(t, err)
	r, err := report.Parse(rep)
	assert.NilError(t, err)
	assert.Check(t, r.OK() && len(r.Packages) == 3)
	assert.Check(t, !slices.ContainsFunc(entryNames(t, f.app), func(n string) bool { return strings.Contains(n, "pybundle") }))
}

func TestCheckOutputFolder(t *testing.T) {
	root := t.TempDir()
	home := filepath.Join(root, "home", "me")
	assert.NilError(t, os.MkdirAll(home, 0o755))
	t.Setenv("HOME", home)
	app := filepath.Join(root, "app")
	cfg := packageConfig{App: app, Dist: filepath.Join(root, "dist")}
	backendDist := filepath.Join(app, "backend", "dist")
	dist := filepath.Join(app, "dist")
	write := func(t *testing.T, name, content string) {
		assert.NilError(t, os.MkdirAll(filepath.Dir(filepath.Join(dist, name)), 0o755))
		assert.NilError(t, os.WriteFile(filepath.Join(dist, name), []byte(content), 0o644))
	}
	packageReport := `{"tool":"pybundle","version":"0.2.0","entries":[],"packages":[{"target":"linux/amd64","name":"linux-unpacked","kind":"dir","checks":[]}]}`
	const foreign = "holds files pybundle-runner did not make"
	for _, tc := range []struct {
		name string
		prep func(t *testing.T)
		out  string // default dist
		cfg  *packageConfig
		file string // the file the error names
		want string // "" = accepted
	}{
		{name: "missing", prep: func(t *testing.T) {}},
		{name: "empty", prep: func(t *testing.T) { assert.NilError(t, os.MkdirAll(dist, 0o755)) }},
		{name: "electron-builder's effective configuration", prep: func(t *testing.T) { write(t, "builder-effective-config.yaml", "appId: x") }},
		{name: "electron-builder's debug log", prep: func(t *testing.T) { write(t, "builder-debug.yml", "x: 1") }},
		{name: "a package report", prep: func(t *testing.T) { write(t, "report.json", packageReport); write(t, "x.deb", "") }},
		{name: "a build's report (no packages)", prep: func(t *testing.T) {
			write(t, "report.json", `{"tool":"pybundle","version":"0.2.0","entries":[]}`)
		}, file: "dist", want: foreign + " (report.json)"},
		{name: "another tool's report", prep: func(t *testing.T) {
			write(t, "report.json", strings.Replace(packageReport, `"pybundle"`, `"other"`, 1))
		}, file: "dist", want: foreign},
		{name: "an unreadable report", prep: func(t *testing.T) { write(t, "report.json", "{") }, file: "dist", want: foreign},
		{name: "a marker that is a symlink", prep: func(t *testing.T) {
			write(t, "precious.txt", "keep")
			assert.NilError(t, os.Symlink("precious.txt", filepath.Join(dist, "builder-debug.yml")))
		}, file: "dist", want: foreign + " (builder-debug.yml, precious.txt)"},
		{name: "a marker that is a folder", prep: func(t *testing.T) { write(t, "builder-debug.yml/x", "") }, file: "dist", want: foreign},
		{name: "a folder of the user's", prep: func(t *testing.T) {
			for _, n := range []string{"a.txt", "b.txt", "c.txt", "d.txt"} {
				write(t, n, "keep")
			}
		}, file: "dist", want: foreign + " (a.txt, b.txt, c.txt, …): each package run replaces that folder, so it must be empty or an earlier output (with the report.json of a package run, or electron-builder's builder-effective-config.yaml or builder-debug.yml); set build.directories.output in package.json (or --output) to a folder of its own, or empty this one"},
		{name: "set by --output", prep: func(t *testing.T) { write(t, "a.txt", "") }, cfg: &packageConfig{App: app, Dist: cfg.Dist, Output: dist},
			file: "dist", want: "set --output to a folder of its own, or empty this one"},
		{name: "a symlink", prep: func(t *testing.T) {
			assert.NilError(t, os.MkdirAll(filepath.Join(root, "elsewhere"), 0o755))
			assert.NilError(t, os.MkdirAll(app, 0o755))
			assert.NilError(t, os.Symlink(filepath.Join(root, "elsewhere"), dist))
		}, file: dist, want: "electron-builder's output folder " + dist + " is a symlink"}, // not inside the app as it is on disk
		{name: "a file", prep: func(t *testing.T) { assert.NilError(t, os.MkdirAll(app, 0o755)); write(t, "", "") },
			file: "dist", want: "is not a folder"},
		{name: "the root", prep: func(t *testing.T) {}, out: "/", file: "/", want: "electron-builder's output folder / is the root of a file system: set build.directories.output"},
		{name: "the home folder", prep: func(t *testing.T) {}, out: home, file: home, want: "electron-builder's output folder " + home + " is your home folder"},
		{name: "the home folder through a symlinked parent", prep: func(t *testing.T) {
			assert.NilError(t, os.Symlink(filepath.Join(root, "home"), filepath.Join(root, "alias")))
		}, out: filepath.Join(root, "alias", "me"), file: filepath.Join(root, "alias", "me"), want: "is your home folder"},
		{name: "a folder holding the home folder", prep: func(t *testing.T) {}, out: filepath.Join(root, "home"), file: filepath.Join(root, "home"), want: "holds your home folder"},
		{name: "overlapping --dist (checkFolders)", prep: func(t *testing.T) {}, out: cfg.Dist, file: "package.json", want: "overlaps --dist"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, p := range []string{dist, filepath.Join(root, "elsewhere"), filepath.Join(root, "alias")} {
				assert.NilError(t, os.RemoveAll(p))
			}
			tc.prep(t)
			out, c := dist, cfg
			if tc.out != "" {
				out = tc.out
			}
			if tc.cfg != nil {
				c = *tc.cfg
			}
			file, err := checkOutputFolder(c, out, backendDist)
			if tc.want == "" {
				assert.NilError(t, err)
				return
			}
			assert.Check(t, is.ErrorContains(err, tc.want))
			assert.Check(t, is.Equal(file, tc.file))
		})
	}
}

// stageState is the folder holding out, as TestOutputStage compares it.
func stageState(t *testing.T, out string) map[string]string { return treeState(t, filepath.Dir(out)) }

func TestOutputStage(t *testing.T) {
	var logged []string
	logf := func(format string, args ...any) { logged = append(logged, fmt.Sprintf(format, args...)) }
	setup := func(t *testing.T, previous bool) string {
		out := filepath.Join(t.TempDir(), "app", "dist")
		assert.NilError(t, os.MkdirAll(filepath.Dir(out), 0o755))
		assert.NilError(t, os.WriteFile(filepath.Join(filepath.Dir(out), "package.json"), []byte("{}"), 0o644))
		if previous {
			assert.NilError(t, os.MkdirAll(filepath.Join(out, "linux-unpacked"), 0o755))
			assert.NilError(t, os.WriteFile(filepath.Join(out, "builder-debug.yml"), []byte("old"), 0o644))
		}
		return out
	}
	newOutput := func(t *testing.T, s *outputStage) {
		assert.NilError(t, os.WriteFile(filepath.Join(s.dir, "report.json"), []byte("new"), 0o644))
	}

	t.Run("publish replaces the previous output", func(t *testing.T) {
		out := setup(t, true)
		s, err := stageOutput(out, logf)
		assert.NilError(t, err)
		assert.Check(t, isStageName(out, filepath.Base(s.dir)), s.dir)
		assert.Check(t, is.Equal(filepath.Dir(s.dir), filepath.Dir(out)), "a sibling: renames stay on one file system")
		_, err = os.Lstat(out)
		assert.Check(t, os.IsNotExist(err), "the previous output waits in the staging folder")
		newOutput(t, s)
		assert.NilError(t, s.publish())
		s.discard() // deferred in runPackage: nothing to do after publish
		assert.Check(t, is.DeepEqual(entryNames(t, out), []string{"report.json"}))
		assert.Check(t, is.DeepEqual(entryNames(t, filepath.Dir(out)), []string{"dist", "package.json"}))
		if runtime.GOOS != "windows" {
			fi, err := os.Stat(out)
			assert.NilError(t, err)
			assert.Check(t, is.Equal(fi.Mode().Perm(), os.FileMode(0o755)))
		}
	})
	t.Run("publish without a previous output", func(t *testing.T) {
		out := setup(t, false)
		s, err := stageOutput(out, logf)
		assert.NilError(t, err)
		newOutput(t, s)
		assert.NilError(t, s.publish())
		assert.Check(t, is.DeepEqual(entryNames(t, out), []string{"report.json"}))
	})
	for _, previous := range []bool{true, false} {
		t.Run(fmt.Sprintf("discard leaves the folder as it was (previous output: %v)", previous), func(t *testing.T) {
			out := setup(t, previous)
			before := stageState(t, out)
			s, err := stageOutput(out, logf)
			assert.NilError(t, err)
			newOutput(t, s)
			s.discard()
			assert.Check(t, is.DeepEqual(stageState(t, out), before))
		})
	}
	t.Run("a killed run's staging folder: the output it held goes back, the folder goes", func(t *testing.T) {
		out := setup(t, true)
		before := stageState(t, out)
		s, err := stageOutput(out, logf)
		assert.NilError(t, err)
		newOutput(t, s) // and the run is killed: no discard
		logged = nil
		s2, err := stageOutput(out, logf)
		assert.NilError(t, err)
		_, err = os.Lstat(s.dir)
		assert.Check(t, os.IsNotExist(err), "the stale staging folder is removed")
		assert.Check(t, is.Contains(strings.Join(logged, "\n"), "put back the previous output an earlier, stopped run left in "+s.dir))
		s2.discard()
		assert.Check(t, is.DeepEqual(stageState(t, out), before), "the previous output is back, as it was")
	})
	t.Run("a killed run's staging folder beside a newer output: removed, the output kept", func(t *testing.T) {
		out := setup(t, true)
		s, err := stageOutput(out, logf)
		assert.NilError(t, err)
		assert.NilError(t, os.MkdirAll(out, 0o755)) // made since, by electron-builder run by hand
		assert.NilError(t, os.WriteFile(filepath.Join(out, "builder-effective-config.yaml"), []byte("newer"), 0o644))
		before := treeState(t, out)
		s2, err := stageOutput(out, logf)
		assert.NilError(t, err)
		s2.discard()
		_, err = os.Lstat(s.dir)
		assert.Check(t, os.IsNotExist(err))
		assert.Check(t, is.DeepEqual(treeState(t, out), before))
	})
	t.Run("only staging folders of this output folder are swept", func(t *testing.T) {
		out := setup(t, false)
		parent := filepath.Dir(out)
		keep := []string{"pybundle-staging-dist-12x", "pybundle-staging-dist-", "pybundle-staging-dist-1-2", "pybundle-staging-other-12", "xpybundle-staging-dist-12"}
		for _, n := range keep {
			assert.NilError(t, os.MkdirAll(filepath.Join(parent, n, "precious"), 0o755))
		}
		assert.NilError(t, os.WriteFile(filepath.Join(parent, "pybundle-staging-dist-7"), []byte("a file"), 0o644))
		assert.NilError(t, os.MkdirAll(filepath.Join(t.TempDir(), "target"), 0o755))
		assert.NilError(t, os.Symlink(filepath.Join(t.TempDir(), "target"), filepath.Join(parent, "pybundle-staging-dist-8")))
		before := stageState(t, out)
		s, err := stageOutput(out, logf)
		assert.NilError(t, err)
		s.discard()
		assert.Check(t, is.DeepEqual(stageState(t, out), before))
	})
}

func TestStageNames(t *testing.T) {
	out := filepath.Join(t.TempDir(), ".out")
	assert.Check(t, !strings.HasPrefix(stagePrefix(out), "."), "electron-builder would pack a staging folder named .*")
	for range 20 { // os.MkdirTemp's random part is what isStageName takes for one
		dir, err := os.MkdirTemp(filepath.Dir(out), stagePrefix(out)+"*")
		assert.NilError(t, err)
		assert.Check(t, isStageName(out, filepath.Base(dir)), dir)
	}
	assert.Check(t, !isStageName(out, stagePrefix(out)))
	assert.Check(t, !isStageName(filepath.Join(t.TempDir(), "dist"), "pybundle-staging-dist-1"+heldName))
}

func TestBuilderOutputDir(t *testing.T) {
	root := t.TempDir()
	app := filepath.Join(root, "app")
	stage := filepath.Join(app, "pybundle-staging-dist-1")
	assert.NilError(t, os.MkdirAll(stage, 0o755))
	assert.Check(t, is.Equal(builderOutputDir(app, stage), "pybundle-staging-dist-1"))
	// The app spelt through a symlink (macOS: /var is /private/var), the staging folder not:
	// still relative, as electron-builder compares it with its resolved working directory.
	assert.NilError(t, os.Symlink(app, filepath.Join(root, "alias")))
	assert.Check(t, is.Equal(builderOutputDir(filepath.Join(root, "alias"), stage), "pybundle-staging-dist-1"))
	outside := filepath.Join(root, "pybundle-staging-installers-1")
	assert.Check(t, is.Equal(builderOutputDir(app, outside), outside), "outside the app: nothing to leave out of it")
}
