package main

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"

	"github.com/pybundle/pybundle/pipeline/target"
)

func TestParsePackageDefaultsPerOS(t *testing.T) {
	app, dist := t.TempDir(), t.TempDir()
	for _, tc := range []struct {
		os, arch string
		targets  []string
	}{
		{"darwin", "arm64", []string{"dmg", "zip"}},
		{"darwin", "amd64", []string{"dmg", "zip"}},
		{"windows", "amd64", []string{"nsis"}},
		{"linux", "amd64", []string{"dir", "tar.gz", "deb"}},
	} {
		c, err := parsePackage([]string{"--app", app, "--dist", dist}, tc.os, tc.arch, io.Discard)
		assert.NilError(t, err, tc.os)
		assert.Equal(t, c.Target, target.Target{OS: tc.os, Arch: tc.arch})
		assert.DeepEqual(t, c.Targets, tc.targets)
		assert.Equal(t, c.App, app)
		assert.Equal(t, c.Dist, dist)
		assert.Equal(t, c.ElectronDist, "")
		assert.Equal(t, c.StartCheck, true)
		assert.Equal(t, c.NpmCI, true)
	}
}

func TestParsePackageAllFlags(t *testing.T) {
	app, dist, ed := t.TempDir(), t.TempDir(), t.TempDir()
	c, err := parsePackage([]string{"--app", app, "--dist", dist, "--platform", "darwin/amd64",
		"--targets", "ZIP, dmg,zip dir", "--electron-dist", ed,
		"--start-check=false", "--no-npm-ci"}, "darwin", "arm64", io.Discard)
	assert.NilError(t, err)
	assert.Equal(t, c.Target, target.Target{OS: "darwin", Arch: "amd64"}) // Rosetta: same OS, other arch
	assert.DeepEqual(t, c.Targets, []string{"zip", "dmg", "dir"})
	assert.Equal(t, c.ElectronDist, ed)
	assert.Equal(t, c.StartCheck, false)
	assert.Equal(t, c.NpmCI, false)

	c, err = parsePackage([]string{"--app", app, "--dist", dist, "--targets", "appimage,DEB"}, "linux", "amd64", io.Discard)
	assert.NilError(t, err)
	assert.DeepEqual(t, c.Targets, []string{"AppImage", "deb"}) // electron-builder's spelling
}

func TestParsePackageErrors(t *testing.T) {
	app, dist := t.TempDir(), t.TempDir()
	file := filepath.Join(app, "f")
	assert.NilError(t, os.WriteFile(file, nil, 0o644))
	for _, tc := range []struct {
		args []string
		host string
		want string
	}{
		{[]string{}, "linux", "package: --app and --dist are required"},
		{[]string{"--app", app}, "linux", "package: --app and --dist are required"},
		{[]string{"--app", app, "--dist", dist, "--targets", "nsis"}, "linux", `--targets: unknown linux target "nsis": supported: dir, tar.gz, tar.xz, zip, deb, rpm, AppImage, snap, 7z`},
		{[]string{"--app", app, "--dist", dist, "--targets", "deb"}, "darwin", `--targets: unknown darwin target "deb"`},
		{[]string{"--app", app, "--dist", dist, "--targets", " , "}, "windows", "--targets: no targets given"},
		{[]string{"--app", app, "--dist", dist, "--platform", "windows/amd64"}, "linux", "PyInstaller is not a cross-compiler"},
		{[]string{"--app", filepath.Join(app, "nope"), "--dist", dist}, "linux", "--app " + filepath.Join(app, "nope") + ": no such file or directory"},
		{[]string{"--app", app, "--dist", file}, "linux", "not a directory"},
		{[]string{"--app", app, "--dist", dist, "--electron-dist", file}, "linux", "--electron-dist"},
		{[]string{"--app", app, "--dist", dist, "extra"}, "linux", `unexpected argument "extra"`},
	} {
		_, err := parsePackage(tc.args, tc.host, "amd64", io.Discard)
		var u *errUsage
		assert.Assert(t, errors.As(err, &u), "%v: %v", tc.args, err)
		assert.Check(t, is.Contains(err.Error(), tc.want), "%v", tc.args)
	}
}

func TestPackageCommandUsage(t *testing.T) {
	a, stdout, stderr := testApp("linux", "amd64")
	assert.Equal(t, a.run(context.Background(), []string{"package"}), exitUsage)
	assert.Check(t, is.Contains(stderr.String(), "pybundle-runner: package: --app and --dist are required"))

	a, _, stderr = testApp("linux", "amd64")
	assert.Equal(t, a.run(context.Background(), []string{"package", "-h"}), exitPass)
	for _, s := range []string{"usage: pybundle-runner package --app DIR --dist DIR", "CSC_LINK", "APPLE_ID",
		"CSC_IDENTITY_AUTO_DISCOVERY=false", "never from npx", "-start-check", "-no-npm-ci", "-electron-dist"} {
		assert.Check(t, is.Contains(stderr.String(), s))
	}

	a, stdout, _ = testApp("linux", "amd64")
	assert.Equal(t, a.run(context.Background(), []string{"help"}), exitPass)
	assert.Check(t, is.Contains(stdout.String(), "package        electron-builder"))
}

func TestElectronBuilderArgs(t *testing.T) {
	for _, tc := range []struct {
		t       target.Target
		targets []string
		ed      string
		want    string
	}{
		{target.Target{OS: "linux", Arch: "amd64"}, []string{"dir", "tar.gz"}, "/opt/e",
			"eb --linux dir tar.gz --x64 --publish never -c.directories.output=/app/dist -c.electronDist=/opt/e"},
		{target.Target{OS: "darwin", Arch: "arm64"}, []string{"dmg", "zip"}, "",
			"eb --mac dmg zip --arm64 --publish never -c.directories.output=/app/dist"},
		{target.Target{OS: "darwin", Arch: "amd64"}, []string{"dmg"}, "",
			"eb --mac dmg --x64 --publish never -c.directories.output=/app/dist"},
		{target.Target{OS: "windows", Arch: "amd64"}, []string{"nsis"}, "",
			"eb --win nsis --x64 --publish never -c.directories.output=/app/dist"},
	} {
		got := electronBuilderArgs("eb", tc.t, tc.targets, "/app/dist", tc.ed)
		assert.Equal(t, strings.Join(got, " "), tc.want)
	}
}

func TestAppConfigOutputDir(t *testing.T) {
	app := filepath.FromSlash("/work/app")
	for _, tc := range []struct{ pj, want, err string }{
		{`{"name":"x","build":{}}`, filepath.Join(app, "dist"), ""},
		{`{"name":"x"}`, filepath.Join(app, "dist"), ""},
		{`{"build":{"directories":{"output":"release/out"}}}`, filepath.Join(app, "release", "out"), ""},
		{`{"build":{"directories":{"output":"../installers"}}}`, filepath.FromSlash("/work/installers"), ""},
		{`{"build":{"directories":{"output":"` + filepath.ToSlash(filepath.Join(os.TempDir(), "abs")) + `"}}}`, filepath.Join(os.TempDir(), "abs"), ""},
		{`{"build":{"directories":{"output":"dist/${version}"}}}`, "", `build.directories.output "dist/${version}" uses a macro`},
	} {
		c, err := parseAppConfig([]byte(tc.pj))
		assert.NilError(t, err)
		got, err := c.outputDir(app)
		if tc.err != "" {
			assert.ErrorContains(t, err, tc.err)
			continue
		}
		assert.NilError(t, err)
		assert.Equal(t, got, tc.want, tc.pj)
	}
	_, err := parseAppConfig([]byte(`{"build": "x"`))
	assert.ErrorContains(t, err, "not valid JSON")
}

func TestExecutableCandidates(t *testing.T) {
	full, err := parseAppConfig([]byte(`{"name":"Peft-Desktop","productName":"Peft","build":{"productName":"PeftDesktop",
		"executableName":"peftx","linux":{"executableName":"peft-desktop"},"win":{"executableName":"PeftWin"}}}`))
	assert.NilError(t, err)
	assert.DeepEqual(t, full.executableCandidates("linux"), []string{"peft-desktop", "peftx", "PeftDesktop"})
	assert.DeepEqual(t, full.executableCandidates("windows"), []string{"PeftWin.exe", "peftx.exe", "PeftDesktop.exe", "Peft-Desktop.exe"})
	assert.DeepEqual(t, full.executableCandidates("darwin"), []string{"PeftDesktop", "Peft-Desktop"})

	bare, err := parseAppConfig([]byte(`{"name":"peft-desktop","productName":"Peft Desktop"}`))
	assert.NilError(t, err)
	assert.DeepEqual(t, bare.executableCandidates("linux"), []string{"peft-desktop", "Peft Desktop"})
	assert.DeepEqual(t, bare.executableCandidates("windows"), []string{"Peft Desktop.exe", "peft-desktop.exe"})
}
