package pack

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pybundle/pybundle/pipeline/layout"
	"github.com/pybundle/pybundle/pipeline/target"
	"github.com/pybundle/pybundle/pipeline/verify"

	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"
)

func TestFindResources(t *testing.T) {
	asar := node{asar: appAsar}
	for _, tc := range []struct {
		name string
		tree map[string]node
		want string // relative to root; "" means an error containing msg
		msg  string
	}{
		{"linux-unpacked", map[string]node{
			"linux-unpacked/peft-desktop":       {data: "elf", mode: 0o755},
			"linux-unpacked/locales/en-US.pak":  {},
			"linux-unpacked/resources/app.asar": asar,
		}, "linux-unpacked/resources", ""},
		{"root is the unpacked dir", map[string]node{
			"resources/app.asar": asar,
		}, "resources", ""},
		{"root is resources itself", map[string]node{
			"app.asar": asar,
		}, ".", ""},
		{"tar.gz prefix", map[string]node{
			"peft-desktop-0.1.0/resources/app.asar":            asar,
			"peft-desktop-0.1.0/resources/backend/peft_engine": {mode: 0o755},
		}, "peft-desktop-0.1.0/resources", ""},
		{"deb", map[string]node{
			"opt/PeftDesktop/resources/app.asar":                    asar,
			"usr/share/applications/peft-desktop.desktop":           {},
			"usr/share/icons/hicolor/256x256/apps/peft-desktop.png": {},
			"usr/share/doc/peft-desktop/changelog.gz":               {},
		}, "opt/PeftDesktop/resources", ""},
		{"mac app/ folder", map[string]node{
			"PeftDesktop.app/Contents/Resources/app/package.json": {},
			"PeftDesktop.app/Contents/Info.plist":                 {},
		}, "PeftDesktop.app/Contents/Resources", ""},
		{"shallowest wins over a resources dir inside the backend", map[string]node{
			"linux-unpacked/resources/app.asar":                                           asar,
			"linux-unpacked/resources/backend/peft_engine/_internal/x/resources/app.asar": asar,
		}, "linux-unpacked/resources", ""},
		{"app/ outside a resources dir does not count", map[string]node{
			"linux-unpacked/stuff/app/index.js": {},
		}, "", "holds no resources dir"},
		{"nothing", map[string]node{"readme.txt": {}}, "", "holds no resources dir (one with app.asar, or resources/app/)"},
		{"two apps", map[string]node{
			"a/resources/app.asar": asar,
			"b/resources/app.asar": asar,
		}, "", "2 resources dirs at the same depth (a/resources, b/resources)"},
		{"symlinked dir not followed", map[string]node{
			"real/resources/app.asar": asar,
			"link":                    {link: "real"},
			"x/y/z/w/v/u/t":           {dir: true},
		}, "real/resources", ""},
		{"app.asar must be a file", map[string]node{
			"linux-unpacked/resources/app.asar/x": {},
		}, "", "holds no resources dir"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			writeTree(t, root, tc.tree)
			got, err := FindResources(root)
			if tc.want == "" {
				assert.ErrorContains(t, err, tc.msg)
				assert.ErrorContains(t, err, root)
				return
			}
			assert.NilError(t, err)
			assert.Equal(t, got, filepath.Join(root, tc.want))
		})
	}

	_, err := FindResources(filepath.Join(t.TempDir(), "nope"))
	assert.ErrorContains(t, err, "nope: no such file or directory")
}

func TestCheckBackend(t *testing.T) {
	const res = "linux-unpacked/resources/"
	base := func(extra map[string]node) map[string]node {
		m := map[string]node{
			"linux-unpacked/peft-desktop": {data: "elf", mode: 0o755},
			res + "app.asar":              {asar: appAsar},
			res + "app-update.yml":        {data: "provider: generic"},
		}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}
	onefile := map[string]node{res + "backend/peft_engine": {data: "ELF onefile", mode: 0o755}}
	for _, tc := range []struct {
		name       string
		tree       map[string]node
		exe, sha   string
		onedir     bool     // report.json vouches for a onedir bundle (default: as wantPath shows)
		wantPath   string   // BackendPath
		wantFailed []string // failed checks; nil means pass
		msgs       []string // in the details
	}{
		{name: "onefile 0755", tree: base(onefile), wantPath: res + "backend/peft_engine",
			msgs: []string{"onefile at " + res + "backend/peft_engine", "mode 0755", "app.asar (6 entries)"}},
		{name: "onedir 0755", tree: base(map[string]node{
			res + "backend/peft_engine/peft_engine":                {data: "ELF onedir", mode: 0o755},
			res + "backend/peft_engine/_internal/libpython3.13.so": {mode: 0o755},
			res + "backend/peft_engine/_internal/base_library.zip": {},
		}), wantPath: res + "backend/peft_engine/peft_engine", msgs: []string{"onedir at"}},
		{name: "0644 gives EACCES", tree: base(map[string]node{res + "backend/peft_engine": {mode: 0o644}}),
			wantPath: res + "backend/peft_engine", wantFailed: []string{CheckMode},
			msgs: []string{"peft_engine: mode 0644 lacks execute permission for owner, group, other", "EACCES"}},
		{name: "0744 not executable by others", tree: base(map[string]node{res + "backend/peft_engine": {mode: 0o744}}),
			wantPath: res + "backend/peft_engine", wantFailed: []string{CheckMode}, msgs: []string{"for group, other"}},
		{name: "0775 passes with a note", tree: base(map[string]node{res + "backend/peft_engine": {mode: 0o775}}),
			wantPath: res + "backend/peft_engine", msgs: []string{"mode 0775 (not the usual 0755"}},
		{name: "onedir exe 0644", tree: base(map[string]node{res + "backend/peft_engine/peft_engine": {mode: 0o644}}),
			wantPath: res + "backend/peft_engine/peft_engine", wantFailed: []string{CheckMode}, msgs: []string{"EACCES"}},
		{name: "windows exe mode not checked", exe: "peft_engine.exe",
			tree:     base(map[string]node{res + "backend/peft_engine.exe": {mode: 0o644}}),
			wantPath: res + "backend/peft_engine.exe", msgs: []string{"Windows executables have no execute bits"}},
		{name: "windows both layouts: onefile first", exe: "peft_engine.exe", tree: base(map[string]node{
			res + "backend/peft_engine.exe":             {},
			res + "backend/peft_engine/peft_engine.exe": {},
		}), wantPath: res + "backend/peft_engine.exe", msgs: []string{"also present; the app starts the onefile one"}},
		{name: "onefile where a onedir bundle is vouched for", onedir: true, tree: base(onefile),
			wantPath: res + "backend/peft_engine", wantFailed: []string{CheckLocation},
			msgs: []string{"report.json vouches for a onedir backend (resources/backend/peft_engine/peft_engine)"}},
		{name: "missing: lists backend/", tree: base(map[string]node{res + "backend/peft-engine": {mode: 0o755}}),
			wantFailed: []string{CheckLocation},
			msgs: []string{"neither resources/backend/peft_engine (onefile) nor resources/backend/peft_engine/peft_engine (onedir) exists",
				"resources/backend holds [peft-engine]"}},
		{name: "no backend dir at all", tree: base(map[string]node{res + "peft_engine": {mode: 0o755}}),
			wantFailed: []string{CheckLocation},
			msgs:       []string{"there is no resources/backend"}},
		{name: "onedir without the exe", tree: base(map[string]node{res + "backend/peft_engine/_internal/x.so": {}}),
			wantFailed: []string{CheckLocation}, msgs: []string{"resources/backend holds [peft_engine]"}},
		{name: "symlink", tree: base(map[string]node{
			res + "backend/real":        {mode: 0o755},
			res + "backend/peft_engine": {link: "real"},
		}), wantFailed: []string{CheckLocation}, msgs: []string{"resources/backend/peft_engine is a symlink"}},
		{name: "in app.asar", tree: map[string]node{
			res + "app.asar": {asar: append(appAsar[:2:2], asarFile{path: "backend/peft_engine", data: "ELF", exec: true})},
		}, wantFailed: []string{CheckLocation, CheckOutsideAsar},
			msgs: []string{"app.asar:backend, app.asar:backend/peft_engine", "Electron cannot spawn from inside app.asar"}},
		{name: "in app.asar as well as outside", tree: base(map[string]node{
			res + "backend/peft_engine": {mode: 0o755},
			res + "app.asar":            {asar: append(appAsar[:2:2], asarFile{path: "dist/peft_engine", data: "ELF"})},
		}), wantPath: res + "backend/peft_engine", wantFailed: []string{CheckOutsideAsar}, msgs: []string{"app.asar:dist/peft_engine"}},
		{name: "unpacked from app.asar", tree: base(map[string]node{
			res + "backend/peft_engine":                   {mode: 0o755},
			res + "app.asar":                              {asar: append(appAsar[:2:2], asarFile{path: "backend/peft_engine", data: "ELF", unpacked: true})},
			res + "app.asar.unpacked/backend/peft_engine": {mode: 0o755},
		}), wantPath: res + "backend/peft_engine", wantFailed: []string{CheckOutsideAsar},
			msgs: []string{"app.asar (unpacked):backend/peft_engine", "app.asar.unpacked/backend/peft_engine"}},
		{name: "app/ folder holds a copy", tree: map[string]node{
			res + "app/main.js":             {},
			res + "app/backend/peft_engine": {mode: 0o755},
			res + "backend/peft_engine":     {mode: 0o755},
		}, wantPath: res + "backend/peft_engine", wantFailed: []string{CheckOutsideAsar}, msgs: []string{"app/backend, app/backend/peft_engine"}},
		{name: "app/ folder without backend", tree: map[string]node{
			res + "app/main.js":         {},
			res + "backend/peft_engine": {mode: 0o755},
		}, wantPath: res + "backend/peft_engine", msgs: []string{"in app/ (1 entries)"}},
		{name: "corrupt app.asar", tree: base(map[string]node{
			res + "backend/peft_engine": {mode: 0o755},
			res + "app.asar":            {data: "not an archive"},
		}), wantPath: res + "backend/peft_engine", wantFailed: []string{CheckOutsideAsar}, msgs: []string{"app.asar: not an asar archive"}},
		{name: "sha256 matches", sha: strings.ToUpper(sha256Hex("ELF onefile")), tree: base(onefile),
			wantPath: res + "backend/peft_engine", msgs: []string{"sha256 " + sha256Hex("ELF onefile") + ", the verified backend"}},
		{name: "sha256 differs", sha: sha256Hex("another build"), tree: base(onefile),
			wantPath: res + "backend/peft_engine", wantFailed: []string{CheckSHA256}, msgs: []string{"not the verified one"}},
		{name: "sha256 malformed", sha: "abc", tree: base(onefile),
			wantPath: res + "backend/peft_engine", wantFailed: []string{CheckSHA256}, msgs: []string{`"abc" is not a hex sha256`}},
		{name: "no resources", tree: map[string]node{"linux-unpacked/peft-desktop": {}},
			wantFailed: []string{CheckResources}, msgs: []string{"holds no resources dir"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			writeTree(t, root, tc.tree)
			b := layout.Bundle{Target: linuxAmd64, Name: "peft_engine", Mode: layout.OneFile}
			if strings.HasSuffix(tc.exe, ".exe") {
				b.Target = windowsAmd64
			}
			if strings.Contains(tc.wantPath, "peft_engine/peft_engine") || tc.onedir {
				b.Mode = layout.OneDir
			}
			a := CheckBackend(root, b, tc.sha)
			assert.Equal(t, a.Root, root)
			assert.Equal(t, a.BackendPath, tc.wantPath)
			assert.DeepEqual(t, failed(a), tc.wantFailed)
			assert.Equal(t, a.OK, tc.wantFailed == nil)
			assert.Equal(t, a.Err() == nil, a.OK)
			var all strings.Builder
			for _, c := range a.Checks {
				all.WriteString(c.Detail + "\n")
			}
			for _, m := range tc.msgs {
				assert.Assert(t, is.Contains(all.String(), m))
			}
		})
	}
}

var (
	linuxAmd64   = target.Target{OS: "linux", Arch: "amd64"}
	windowsAmd64 = target.Target{OS: "windows", Arch: "amd64"}
)

// Found by review: only the executable's sha256 was checked in a package; a changed file of
// _internal/ passed. CheckBundle compares the whole packaged bundle with the manifest.
func TestCheckBundle(t *testing.T) {
	const res = "linux-unpacked/resources/"
	tree := map[string]node{
		"linux-unpacked/peft-desktop":                          {data: "elf", mode: 0o755},
		res + "app.asar":                                       {asar: appAsar},
		res + "backend/peft_engine/peft_engine":                {data: "ELF onedir", mode: 0o755},
		res + "backend/peft_engine/_internal/base_library.zip": {data: "zip"},
	}
	root := t.TempDir()
	writeTree(t, root, tree)
	b := layout.Bundle{Target: linuxAmd64, Name: "peft_engine", Mode: layout.OneDir}
	m, err := verify.TreeManifest(filepath.Join(root, res, "backend", "peft_engine"))
	assert.NilError(t, err)

	a := CheckBackend(root, b, sha256Hex("ELF onedir"))
	CheckBundle(&a, b, &m, verify.CompareOptions{})
	assert.Assert(t, a.OK, "%+v", a.Checks)
	assert.Equal(t, a.Checks[len(a.Checks)-1].Name, CheckBundleName)

	assert.NilError(t, os.WriteFile(filepath.Join(root, res, "backend/peft_engine/_internal/base_library.zip"), []byte("changed"), 0o644))
	a = CheckBackend(root, b, sha256Hex("ELF onedir"))
	CheckBundle(&a, b, &m, verify.CompareOptions{})
	assert.Assert(t, !a.OK)
	assert.Assert(t, is.Contains(a.Checks[len(a.Checks)-1].Detail, "_internal/base_library.zip: sha256"))

	a = CheckBackend(root, b, "")
	CheckBundle(&a, b, nil, verify.CompareOptions{})
	assert.Assert(t, !a.OK)
	assert.Assert(t, is.Contains(a.Checks[len(a.Checks)-1].Detail, "no manifest"))
}
