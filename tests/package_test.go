package tests

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"

	"github.com/pybundle/pybundle/pipeline/pack"
	"github.com/pybundle/pybundle/pipeline/report"
)

// standIn is the stand-in Electron distribution (testdata/electron-stand-in/README: no Electron
// binary can be had here; it runs the app's main process on node).
const standIn = "testdata/electron-stand-in"

// builtDist runs build once for the package tests and returns its exported dist/.
func builtDist(t *testing.T) string {
	t.Helper()
	dist := filepath.Join(t.TempDir(), "dist")
	mustDagger(t, long, "build", "--source", "testdata/backend", "export", "--path", dist)
	return dist
}

// TestPackageLinux: build → verify → package, for every output kind package advertises (pack's
// Linux targets the container can build). Every one holds the verified backend at
// resources/backend/, outside app.asar, mode 0755; latest-linux.yml's digests match; and the
// packaged app, started under xvfb-run, reaches /api/health through its backend and leaves no
// backend process after quitting.
func TestPackageLinux(t *testing.T) {
	requireEngine(t)
	t.Parallel()
	dist := builtDist(t)
	out := filepath.Join(t.TempDir(), "installers")
	var advertised []string
	for _, tg := range pack.Targets["linux"] {
		if _, native := pack.NativeOnly[tg]; !native {
			advertised = append(advertised, tg)
		}
	}
	mustDagger(t, long, "package", "--app", "testdata/app", "--dist", dist, "--electron-dist", standIn,
		"--targets", strings.Join(advertised, ","), "export", "--path", out)

	for _, f := range []string{"linux-unpacked/peft-desktop", "peft-desktop-0.1.0.tar.gz", "peft-desktop_0.1.0_amd64.deb", "latest-linux.yml"} {
		_, err := os.Stat(filepath.Join(out, f))
		assert.Check(t, err, "output %s", f)
	}
	exe := filepath.Join(out, "linux-unpacked", "resources", "backend", "peft_engine", "peft_engine")
	st, err := os.Stat(exe)
	assert.NilError(t, err)
	assert.Equal(t, st.Mode().Perm(), os.FileMode(0o755))

	b, err := os.ReadFile(filepath.Join(out, "report.json"))
	assert.NilError(t, err)
	rep, err := report.Parse(b)
	assert.NilError(t, err)
	assert.Check(t, rep.OK())
	assert.Equal(t, fileSHA256(t, exe), rep.Entries[0].SHA256, "the packaged backend is the verified one")
	kinds := map[string]bool{}
	for _, p := range rep.Packages {
		kinds[p.Kind] = true
		names := map[string]bool{}
		for _, c := range p.Checks {
			names[c.Name] = c.OK
		}
		if p.Kind == "start" {
			assert.Check(t, names["start"])
			continue
		}
		for _, c := range []string{"location", "mode", "outside-asar", "sha256", "update-file", "win-config"} {
			assert.Check(t, names[c], "%s: check %s passed", p.Name, c)
		}
	}
	want := map[string]bool{"start": true}
	for _, tg := range advertised {
		want[string(pack.TargetKind(tg))] = true
	}
	assert.DeepEqual(t, kinds, want)

	// The deb installs the backend under /opt/<Product>/resources with its mode.
	listing, err := exec.Command("dpkg-deb", "-c", filepath.Join(out, "peft-desktop_0.1.0_amd64.deb")).Output()
	if err == nil { // dpkg-deb is on Debian hosts; the in-engine check above already covers it
		assert.Check(t, is.Regexp(`-rwxr-xr-x .*\./opt/PeftDesktop/resources/backend/peft_engine/peft_engine\n`, string(listing)))
	}
}

// TestPackageBadInput: each mistake is one clear error, a non-zero exit, and nothing exported.
func TestPackageBadInput(t *testing.T) {
	requireEngine(t)
	t.Parallel()
	dist := builtDist(t)

	noExec := filepath.Join(t.TempDir(), "dist")
	copyTree(t, dist, noExec)
	assert.NilError(t, os.Chmod(filepath.Join(noExec, "linux-amd64", "peft_engine", "peft_engine"), 0o644))

	unverified := filepath.Join(t.TempDir(), "dist")
	copyTree(t, dist, unverified)
	assert.NilError(t, os.Remove(filepath.Join(unverified, "report.json")))

	noPkg := filepath.Join(t.TempDir(), "app")
	copyTree(t, filepath.Join(repoRoot(t), "testdata", "app"), noPkg)
	assert.NilError(t, os.Remove(filepath.Join(noPkg, "package.json")))

	noBuild := filepath.Join(t.TempDir(), "app")
	copyTree(t, filepath.Join(repoRoot(t), "testdata", "app"), noBuild)
	rewritePackageJSON(t, noBuild, func(m map[string]any) { delete(m, "build") })

	badConfig := filepath.Join(t.TempDir(), "app")
	copyTree(t, filepath.Join(repoRoot(t), "testdata", "app"), badConfig)
	rewritePackageJSON(t, badConfig, func(m map[string]any) { m["build"].(map[string]any)["linux"].(map[string]any)["noSuchOption"] = true })

	for _, tc := range []struct {
		name string
		args []string
		want []string
	}{
		{"app without package.json", []string{"--app", noPkg, "--dist", dist}, []string{"package linux/amd64: package.json: not found in the app folder"}},
		{"app without build config", []string{"--app", noBuild, "--dist", dist}, []string{"package linux/amd64: package.json: no electron-builder configuration"}},
		{"backend without its exec bit", []string{"--app", "testdata/app", "--dist", noExec},
			[]string{"package linux/amd64: linux-amd64/peft_engine/peft_engine: backend is not executable (mode 644", "EACCES"}},
		{"unverified backend", []string{"--app", "testdata/app", "--dist", unverified}, []string{"package linux/amd64: report.json: dist has no readable report.json", "build → verify → package"}},
		{"unknown target", []string{"--app", "testdata/app", "--dist", dist, "--targets", "dir,nsis"}, []string{`package linux/amd64: unknown linux target "nsis": supported: dir, tar.gz`}},
		{"target the container cannot build", []string{"--app", "testdata/app", "--dist", dist, "--targets", "dir,appimage"}, []string{`package linux/amd64: package target "AppImage" needs the AppImage runtime`}},
		{"electron-builder fails", []string{"--app", badConfig, "--dist", dist}, []string{"package linux/amd64: package.json: electron-builder failed (exit 1)", "configuration.linux"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "out")
			r := dagger(t, long, append(append([]string{"package", "--electron-dist", standIn}, tc.args...), "export", "--path", out)...)
			assert.Check(t, r.Code != 0)
			msg := errorLine(r.Stderr)
			for _, w := range tc.want {
				assert.Check(t, is.Contains(msg, w))
			}
			_, err := os.Stat(out)
			assert.Check(t, os.IsNotExist(err), "nothing exported")
		})
	}
}

func rewritePackageJSON(t *testing.T, dir string, edit func(map[string]any)) {
	t.Helper()
	p := filepath.Join(dir, "package.json")
	b, err := os.ReadFile(p)
	assert.NilError(t, err)
	var m map[string]any
	assert.NilError(t, json.Unmarshal(b, &m))
	edit(m)
	b, err = json.MarshalIndent(m, "", "  ")
	assert.NilError(t, err)
	assert.NilError(t, os.WriteFile(p, b, 0o644))
}
