package main

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"

	"github.com/pybundle/pybundle/pipeline/pack"
	"github.com/pybundle/pybundle/pipeline/target"
)

// lookPathIn is a lookPath that finds exactly the named tools.
func lookPathIn(tools ...string) func(string) (string, error) {
	return func(n string) (string, error) {
		if slices.Contains(tools, n) {
			return "/usr/bin/" + n, nil
		}
		return "", errors.New("not found")
	}
}

// TestExtractable: which outputs each machine can open. Go opens dir, zip and tar.gz
// everywhere; the rest needs the OS's tools, and nothing is claimed checked without them.
func TestExtractable(t *testing.T) {
	all := []pack.Kind{"dir", "tar.gz", "zip", "tar.xz", "deb", "rpm", "dmg", "pkg", "nsis", "7z", "msi", "AppImage", "snap"}
	opens := func(h host) []string {
		var out []string
		for _, k := range all {
			if ok, why := h.extractable(k); ok {
				out = append(out, string(k))
			} else {
				assert.Check(t, why != "", k)
			}
		}
		return out
	}
	bare := lookPathIn()
	assert.DeepEqual(t, opens(host{goos: "linux", lookPath: bare}), []string{"dir", "tar.gz", "zip"})
	assert.DeepEqual(t, opens(host{goos: "windows", lookPath: bare}), []string{"dir", "tar.gz", "zip"})
	assert.DeepEqual(t, opens(host{goos: "darwin", lookPath: bare}), []string{"dir", "tar.gz", "zip", "dmg", "pkg"})

	debian := lookPathIn("tar", "dpkg-deb", "rpm2cpio", "cpio")
	assert.DeepEqual(t, opens(host{goos: "linux", lookPath: debian, sevenZip: "/usr/bin/7za"}),
		[]string{"dir", "tar.gz", "zip", "tar.xz", "deb", "rpm", "nsis", "7z"})
	assert.DeepEqual(t, opens(host{goos: "windows", lookPath: lookPathIn("tar"), sevenZip: `C:\7z.exe`}),
		[]string{"dir", "tar.gz", "zip", "nsis", "7z"})
	assert.DeepEqual(t, opens(host{goos: "darwin", lookPath: lookPathIn("tar")}),
		[]string{"dir", "tar.gz", "zip", "tar.xz", "dmg", "pkg"})

	_, why := host{goos: "linux", lookPath: bare}.extractable("dmg")
	assert.Check(t, is.Contains(why, "on macOS only"))
	_, why = host{goos: "windows", lookPath: bare}.extractable("nsis")
	assert.Check(t, is.Contains(why, "needs 7-Zip"))
	_, why = host{goos: "linux", lookPath: bare}.extractable("AppImage")
	assert.Check(t, is.Equal(why, "pybundle-runner cannot open AppImage outputs"))
}

func TestFindSevenZip(t *testing.T) {
	t.Setenv("ELECTRON_BUILDER_7ZIP_PATH", "")
	app := t.TempDir()
	assert.Equal(t, findSevenZip(app, "linux", "amd64", lookPathIn("7za")), "/usr/bin/7za")
	assert.Equal(t, findSevenZip(app, "linux", "amd64", lookPathIn()), "")
	bundled := filepath.Join(app, "node_modules", "7zip-bin", "win", "x64", "7za.exe")
	assert.NilError(t, os.MkdirAll(filepath.Dir(bundled), 0o755))
	assert.NilError(t, os.WriteFile(bundled, nil, 0o755))
	assert.Equal(t, findSevenZip(app, "windows", "amd64", lookPathIn()), bundled)
	env := filepath.Join(app, "7z-from-env")
	assert.NilError(t, os.WriteFile(env, nil, 0o755))
	t.Setenv("ELECTRON_BUILDER_7ZIP_PATH", env)
	assert.Equal(t, findSevenZip(app, "linux", "amd64", lookPathIn("7z")), env)
}

func TestElectronBuilderProgram(t *testing.T) {
	app := t.TempDir()
	// Not installed anywhere: the error says how to fix it and that npx is never used.
	_, err := electronBuilderProgram(app, "linux", lookPathIn())
	assert.ErrorContains(t, err, `add it to the app's devDependencies ("electron-builder": "26.17.0")`)
	assert.ErrorContains(t, err, "never runs npx")
	// On PATH.
	p, err := electronBuilderProgram(app, "linux", lookPathIn("electron-builder"))
	assert.NilError(t, err)
	assert.Equal(t, p, "/usr/bin/electron-builder")
	// The app's own wins over PATH; on Windows it is the .cmd shim.
	bin := filepath.Join(app, "node_modules", ".bin")
	assert.NilError(t, os.MkdirAll(bin, 0o755))
	for _, n := range []string{"electron-builder", "electron-builder.cmd"} {
		assert.NilError(t, os.WriteFile(filepath.Join(bin, n), nil, 0o755))
	}
	p, err = electronBuilderProgram(app, "linux", lookPathIn("electron-builder"))
	assert.NilError(t, err)
	assert.Equal(t, p, filepath.Join(bin, "electron-builder"))
	p, err = electronBuilderProgram(app, "windows", lookPathIn("electron-builder"))
	assert.NilError(t, err)
	assert.Equal(t, p, filepath.Join(bin, "electron-builder.cmd"))
}

func TestSigningEnv(t *testing.T) {
	base := []string{"PATH=/bin", "HOME=/root"}
	out, signed := signingEnv(base, "darwin")
	assert.Check(t, !signed)
	assert.DeepEqual(t, out, append(base, "CSC_IDENTITY_AUTO_DISCOVERY=false"))

	// GitHub passes a missing secret as an empty variable: still unsigned.
	out, signed = signingEnv(append(base, "CSC_LINK=", "CSC_KEY_PASSWORD="), "darwin")
	assert.Check(t, !signed)
	assert.Check(t, is.Contains(out, "CSC_IDENTITY_AUTO_DISCOVERY=false"))

	for _, tc := range []struct {
		env  string
		goos string
	}{{"CSC_LINK=base64data", "darwin"}, {"CSC_NAME=Developer ID Application: X", "darwin"}, {"WIN_CSC_LINK=c.pfx", "windows"}} {
		out, signed = signingEnv(append(base, tc.env), tc.goos)
		assert.Check(t, signed, tc.env)
		assert.Check(t, !slices.Contains(out, "CSC_IDENTITY_AUTO_DISCOVERY=false"), tc.env)
	}
	// WIN_CSC_LINK signs Windows builds only.
	_, signed = signingEnv(append(base, "WIN_CSC_LINK=c.pfx"), "darwin")
	assert.Check(t, !signed)
	// A user's own setting is left alone.
	out, _ = signingEnv(append(base, "CSC_IDENTITY_AUTO_DISCOVERY=true"), "darwin")
	assert.DeepEqual(t, out, append(base, "CSC_IDENTITY_AUTO_DISCOVERY=true"))
}

func TestNsisAppArchive(t *testing.T) {
	x64 := target.Target{OS: "windows", Arch: "amd64"}
	arm := target.Target{OS: "windows", Arch: "arm64"}
	dir := t.TempDir()
	assert.Equal(t, nsisAppArchive(dir, x64), "", "no $PLUGINSDIR")
	plugins := filepath.Join(dir, "$PLUGINSDIR")
	assert.NilError(t, os.MkdirAll(plugins, 0o755))
	assert.NilError(t, os.WriteFile(filepath.Join(plugins, "app-arm64.7z"), nil, 0o644))
	assert.Equal(t, nsisAppArchive(dir, x64), filepath.Join(plugins, "app-arm64.7z"), "the only one there")
	assert.NilError(t, os.WriteFile(filepath.Join(plugins, "app-64.7z"), nil, 0o644))
	assert.Equal(t, nsisAppArchive(dir, x64), filepath.Join(plugins, "app-64.7z"))
	assert.Equal(t, nsisAppArchive(dir, arm), filepath.Join(plugins, "app-arm64.7z"))
	assert.Equal(t, nsisAppArchive(dir, target.Target{OS: "windows", Arch: "386"}), "", "two others, neither its own")
}
