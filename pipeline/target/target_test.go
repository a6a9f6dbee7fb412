package target

import (
	"fmt"
	"slices"
	"testing"

	"github.com/containerd/platforms"
)

// Plain stdlib helpers: the package tests must not depend on test-only
// modules whose go.sum entries other work in the repo may be moving.
func equal[T comparable](t *testing.T, got, want T, ctx ...any) {
	t.Helper()
	if got != want {
		t.Errorf("%sgot %#v, want %#v", fmt.Sprint(ctx...)+": ", got, want)
	}
}

func wantErr(t *testing.T, err error, msg string) {
	t.Helper()
	if err == nil || err.Error() != msg {
		t.Errorf("error = %v, want %q", err, msg)
	}
}

var (
	linuxAMD64   = Target{OS: "linux", Arch: "amd64"}
	linuxARM64   = Target{OS: "linux", Arch: "arm64"}
	darwinAMD64  = Target{OS: "darwin", Arch: "amd64"}
	darwinARM64  = Target{OS: "darwin", Arch: "arm64"}
	windowsAMD64 = Target{OS: "windows", Arch: "amd64"}
)

const supportedMsg = "darwin/amd64, darwin/arm64, linux/amd64, linux/arm64, windows/amd64"

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Target
	}{
		{"linux/amd64", linuxAMD64},
		{"linux/x86_64", linuxAMD64},
		{"linux/x86-64", linuxAMD64},
		{"Linux/AMD64", linuxAMD64},
		{"  linux/amd64\t", linuxAMD64},
		{"linux/x64", linuxAMD64},
		{"linux/aarch64", linuxARM64},
		{"linux/arm64", linuxARM64},
		{"linux/arm64/v8", linuxARM64},
		{"LINUX/AARCH64", linuxARM64},
		{"darwin/arm64", darwinARM64},
		{"macos/arm64", darwinARM64},
		{"mac/x64", darwinAMD64},
		{"darwin/x86_64", darwinAMD64},
		{"windows/amd64", windowsAMD64},
		{"win32/x64", windowsAMD64},
		{"Windows/X86_64", windowsAMD64},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := Parse(tc.in)
			if err != nil {
				t.Fatal(err)
			}
			equal(t, got, tc.want)
		})
	}
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct {
		in, want string
	}{
		{"linux/sparc", `unknown platform "linux/sparc": supported: ` + supportedMsg},
		{"freebsd/amd64", `unknown platform "freebsd/amd64": supported: ` + supportedMsg},
		{"windows/arm64", `unknown platform "windows/arm64": supported: ` + supportedMsg},
		{"linux/arm/v7", `unknown platform "linux/arm/v7": supported: ` + supportedMsg},
		{"linux/amd64/v3", `unknown platform "linux/amd64/v3": supported: ` + supportedMsg},
		// A bare OS would mean the host's arch: refused on purpose.
		{"linux", `invalid platform "linux": want <os>/<arch>; supported: ` + supportedMsg},
		{"", `invalid platform "": want <os>/<arch>; supported: ` + supportedMsg},
		{"linux/", `invalid platform "linux/": want <os>/<arch>; supported: ` + supportedMsg},
		{"linux/amd64/v1/x", `invalid platform "linux/amd64/v1/x": want <os>/<arch>; supported: ` + supportedMsg},
		{"linux/*", `invalid platform "linux/*": want <os>/<arch>; supported: ` + supportedMsg},
		{"lin ux/amd64", `invalid platform "lin ux/amd64": want <os>/<arch>; supported: ` + supportedMsg},
	} {
		t.Run(tc.in, func(t *testing.T) {
			_, err := Parse(tc.in)
			wantErr(t, err, tc.want)
		})
	}
}

func TestParseList(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []Target
	}{
		{"linux/amd64", []Target{linuxAMD64}},
		{"windows/amd64,linux/arm64 darwin/arm64", []Target{darwinARM64, linuxARM64, windowsAMD64}},
		{" linux/x86_64 , linux/amd64,,Linux/AMD64\n", []Target{linuxAMD64}},
		{"linux/aarch64\tlinux/arm64/v8", []Target{linuxARM64}},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseList(tc.in)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestParseListErrors(t *testing.T) {
	_, err := ParseList(" , \t")
	wantErr(t, err, "no platforms given; supported: "+supportedMsg)

	_, err = ParseList("linux/amd64,linux/sparc,plan9/amd64")
	wantErr(t, err, `unknown platform "linux/sparc": supported: `+supportedMsg+"\n"+
		`unknown platform "plan9/amd64": supported: `+supportedMsg)
}

func TestSupportedIsACopy(t *testing.T) {
	s := Supported()
	equal(t, len(s), 5)
	s[0] = Target{OS: "plan9", Arch: "386"}
	equal(t, Supported()[0], darwinAMD64)
	for _, tg := range Supported() {
		back, err := Parse(tg.String())
		if err != nil {
			t.Fatal(err)
		}
		equal(t, back, tg, "String() must round-trip through Parse")
		equal(t, tg.IsSupported(), true, tg)
	}
	equal(t, Target{OS: "linux", Arch: "arm64", Variant: "v8"}.IsSupported(), false)
}

func TestTargetNames(t *testing.T) {
	for _, tc := range []struct {
		t                                 Target
		str, slug, exe, ebArch, ebPlat    string
		runner, console                   bool
		onefile, onedir, packagedResource string
		packaged                          string
	}{
		{
			t: linuxAMD64, str: "linux/amd64", slug: "linux-amd64", exe: "peft_engine",
			ebArch: "x64", ebPlat: "linux",
			onefile: "dist/linux-amd64/peft_engine", onedir: "dist/linux-amd64/peft_engine/peft_engine",
			packagedResource: "/opt/My App/resources/", packaged: "/opt/My App/resources/backend/peft_engine",
		},
		{
			t: linuxARM64, str: "linux/arm64", slug: "linux-arm64", exe: "peft_engine",
			ebArch: "arm64", ebPlat: "linux",
			onefile: "dist/linux-arm64/peft_engine", onedir: "dist/linux-arm64/peft_engine/peft_engine",
			packagedResource: "/tmp/.mount_AppXyz/resources", packaged: "/tmp/.mount_AppXyz/resources/backend/peft_engine",
		},
		{
			t: darwinARM64, str: "darwin/arm64", slug: "darwin-arm64", exe: "peft_engine",
			ebArch: "arm64", ebPlat: "mac", runner: true,
			onefile: "dist/darwin-arm64/peft_engine", onedir: "dist/darwin-arm64/peft_engine/peft_engine",
			packagedResource: "/Applications/PEFT Studio.app/Contents/Resources",
			packaged:         "/Applications/PEFT Studio.app/Contents/Resources/backend/peft_engine",
		},
		{
			t: darwinAMD64, str: "darwin/amd64", slug: "darwin-amd64", exe: "peft_engine",
			ebArch: "x64", ebPlat: "mac", runner: true,
			onefile: "dist/darwin-amd64/peft_engine", onedir: "dist/darwin-amd64/peft_engine/peft_engine",
			packagedResource: "/Applications/X.app/Contents/Resources//",
			packaged:         "/Applications/X.app/Contents/Resources/backend/peft_engine",
		},
		{
			t: windowsAMD64, str: "windows/amd64", slug: "windows-amd64", exe: "peft_engine.exe",
			ebArch: "x64", ebPlat: "win", runner: true, console: true,
			onefile: "dist/windows-amd64/peft_engine.exe", onedir: "dist/windows-amd64/peft_engine/peft_engine.exe",
			packagedResource: `C:\Program Files\PEFT Studio\resources`,
			packaged:         `C:\Program Files\PEFT Studio\resources\backend\peft_engine.exe`,
		},
	} {
		t.Run(tc.str, func(t *testing.T) {
			equal(t, tc.t.String(), tc.str)
			equal(t, platforms.Format(tc.t.Platform()), tc.str)
			equal(t, tc.t.Slug(), tc.slug)
			equal(t, tc.t.ExecutableName("peft_engine"), tc.exe)
			equal(t, tc.t.ExecutableName(""), tc.exe)
			equal(t, tc.t.ElectronBuilderArch(), tc.ebArch)
			equal(t, tc.t.ElectronBuilderPlatform(), tc.ebPlat)
			equal(t, tc.t.NeedsRunner(), tc.runner)
			equal(t, tc.t.ConsoleHidden(), tc.console)
		})
	}
}

func TestExecutableNameDoesNotDoubleExe(t *testing.T) {
	equal(t, windowsAMD64.ExecutableName("tool.exe"), "tool.exe")
	equal(t, windowsAMD64.ExecutableName("TOOL.EXE"), "TOOL.EXE")
	equal(t, linuxAMD64.ExecutableName("tool"), "tool")
}

func TestElectronBuilderArchOutsideMatrix(t *testing.T) {
	// Not buildable (not in Supported) but electron-builder knows them; the
	// mapping is total so a future matrix entry cannot silently map to "".
	equal(t, Target{OS: "windows", Arch: "386"}.ElectronBuilderArch(), "ia32")
	equal(t, Target{OS: "linux", Arch: "arm", Variant: "v7"}.ElectronBuilderArch(), "armv7l")
	equal(t, Target{OS: "linux", Arch: "arm", Variant: "v6"}.ElectronBuilderArch(), "")
	equal(t, Target{OS: "linux", Arch: "riscv64"}.ElectronBuilderArch(), "")
	equal(t, Target{OS: "plan9", Arch: "amd64"}.ElectronBuilderPlatform(), "")
}

func TestEmulated(t *testing.T) {
	for _, tc := range []struct {
		t, host Target
		want    bool
	}{
		{linuxAMD64, linuxAMD64, false},
		{linuxARM64, linuxAMD64, true},
		{linuxAMD64, linuxARM64, true},
		{linuxARM64, linuxARM64, false},
		// Not built in the engine at all, so never emulated by it.
		{darwinARM64, linuxAMD64, false},
		{windowsAMD64, linuxARM64, false},
	} {
		equal(t, tc.t.Emulated(tc.host), tc.want, fmt.Sprintf("%s on %s", tc.t, tc.host))
	}
}
