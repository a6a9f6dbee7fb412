package pack

import (
	"strings"
	"testing"

	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"

	"github.com/pybundle/pybundle/pipeline/target"
)

func TestOutputKind(t *testing.T) {
	for _, tc := range []struct {
		name string
		dir  bool
		want Kind
	}{
		{"linux-unpacked", true, "dir"},
		{"linux-arm64-unpacked", true, "dir"},
		{"win-unpacked", true, "dir"},
		{"mac", true, "dir"},
		{"mac-arm64", true, "dir"},
		{"mac-universal", true, "dir"},
		{".icon-set", true, ""},
		{"stage", true, ""},
		{"peft-desktop-0.1.0.tar.gz", false, "tar.gz"},
		{"peft-desktop-0.1.0.tar.xz", false, "tar.xz"},
		{"PeftDesktop-0.1.0-arm64-mac.zip", false, "zip"},
		{"peft-desktop_0.1.0_amd64.deb", false, "deb"},
		{"peft-desktop-0.1.0.x86_64.rpm", false, "rpm"},
		{"PeftDesktop-0.1.0-arm64.dmg", false, "dmg"},
		{"PeftDesktop-0.1.0.pkg", false, "pkg"},
		{"PeftDesktop Setup 0.1.0.exe", false, "nsis"},
		{"PeftDesktop 0.1.0.exe", false, "nsis"},
		{"__uninstaller-nsis-peft-desktop.exe", false, ""},
		{"PeftDesktop-0.1.0.msi", false, "msi"},
		{"PeftDesktop-0.1.0.AppImage", false, "AppImage"},
		{"peft-desktop_0.1.0_amd64.snap", false, "snap"},
		{"PeftDesktop-0.1.0.7z", false, "7z"},
		{"PeftDesktop-0.1.0-arm64.dmg.blockmap", false, ""},
		{"PeftDesktop Setup 0.1.0.exe.blockmap", false, ""},
		{"latest-mac.yml", false, ""},
		{"latest.yml", false, ""},
		{"builder-debug.yml", false, ""},
		{"builder-effective-config.yaml", false, ""},
		{"report.json", false, ""},
	} {
		assert.Check(t, is.Equal(OutputKind(tc.name, tc.dir), tc.want), tc.name)
	}
	assert.Equal(t, TargetKind("portable"), KindNSIS)
	assert.Equal(t, TargetKind("dmg"), KindDmg)
}

func TestUnpackedDir(t *testing.T) {
	for p, want := range map[string]string{
		"linux/amd64": "linux-unpacked", "linux/arm64": "linux-arm64-unpacked",
		"windows/amd64": "win-unpacked", "windows/arm64": "win-arm64-unpacked",
		"darwin/amd64": "mac", "darwin/arm64": "mac-arm64",
	} {
		goos, arch, _ := strings.Cut(p, "/")
		assert.Check(t, is.Equal(UnpackedDir(target.Target{OS: goos, Arch: arch}), want), p)
	}
}

func TestParseTargets(t *testing.T) {
	got, err := ParseTargets("ZIP, dmg,zip dir", "darwin")
	assert.NilError(t, err)
	assert.DeepEqual(t, got, []string{"zip", "dmg", "dir"})
	got, err = ParseTargets("", "windows")
	assert.NilError(t, err)
	assert.DeepEqual(t, got, []string{"nsis"})
	got, err = ParseTargets("appimage", "linux")
	assert.NilError(t, err)
	assert.DeepEqual(t, got, []string{"AppImage"})
	_, err = ParseTargets("nsis", "linux")
	assert.ErrorContains(t, err, `unknown linux target "nsis": supported: dir, tar.gz`)
	_, err = ParseTargets("dir", "plan9")
	assert.ErrorContains(t, err, "does not package for plan9")
	// Every target's output is classified as the kind the target names: the one list the
	// runner's checks and the module's package argument share.
	for goos, ts := range Targets {
		for _, tg := range ts {
			k := TargetKind(tg)
			assert.Check(t, k != "", "%s %s", goos, tg)
		}
		for _, d := range DefaultTargets[goos] {
			assert.Check(t, is.Contains(ts, d), "default %s of %s is a known target", d, goos)
		}
	}
}
