package spec

import (
	"strings"
	"testing"

	"github.com/pybundle/pybundle/pipeline/layout"
	"github.com/pybundle/pybundle/pipeline/target"
)

// Each release option reaches EXE only on the targets where PyInstaller reads it, in both
// layouts.
func TestGenerateReleaseOptions(t *testing.T) {
	const (
		icon    = `icon=os.path.join(SPECPATH, "assets/app.ico"),`
		version = `version=os.path.join(SPECPATH, "pybundle_version.txt"),`
		sign    = `codesign_identity="Developer ID Application: ACME (AB12CD34)",`
		ent     = `entitlements_file=os.path.join(SPECPATH, "build/entitlements.plist"),`
		header  = "# The Windows version resource pybundle_version.txt must be next to it too."
	)
	every := []string{icon, version, sign, ent, header}
	for _, tc := range []struct {
		target target.Target
		want   []string
	}{
		{windows, []string{icon, version, header}},
		{darwin, []string{icon, sign, ent}},
		{linux, nil},
		{target.Target{OS: "linux", Arch: "arm64"}, nil},
	} {
		for _, mode := range []layout.Mode{layout.OneDir, layout.OneFile} {
			t.Run(tc.target.String()+"/"+string(mode), func(t *testing.T) {
				s := mustGenerate(t, Options{
					Target:           tc.target,
					Mode:             mode,
					Icon:             "assets/app.ico",
					Version:          VersionInfo{Name: "Peft", Version: "1.2.3"},
					CodesignIdentity: "Developer ID Application: ACME (AB12CD34)",
					Entitlements:     "build/entitlements.plist",
				})
				wantLines(t, s, tc.want...)
				for _, l := range every {
					if !strings.Contains(strings.Join(tc.want, "\n"), l) {
						noLines(t, s, l)
					}
				}
				// The options are EXE's: after the console line, inside EXE(...).
				if len(tc.want) > 0 && tc.want[0] != header {
					e, c, o := strings.Index(s, "exe = EXE("), strings.Index(s, "console="), strings.Index(s, tc.want[0])
					if !(e < c && c < o) || strings.Contains(s[e:o], "\n)\n") {
						t.Errorf("%s not among EXE's arguments:\n%s", tc.want[0], s)
					}
				}
			})
		}
	}
	// Without any release option the EXE has none of them.
	noLines(t, mustGenerate(t, Options{Target: windows}), "icon=", "version=", "codesign_identity=", "entitlements_file=", "version resource")
	noLines(t, mustGenerate(t, Options{Target: darwin}), "icon=", "version=", "codesign_identity=", "entitlements_file=")
}

// VersionFile is what Version implies unless given: a caller's own file is passed on as is.
func TestGenerateVersionFile(t *testing.T) {
	if o := (Options{Target: windows, Version: VersionInfo{Version: "1.0"}}).WithDefaults(); o.VersionFile != VersionFileName {
		t.Errorf("VersionFile = %q, want %q", o.VersionFile, VersionFileName)
	}
	if o := (Options{Target: windows}).WithDefaults(); o.VersionFile != "" {
		t.Errorf("VersionFile without a Version = %q", o.VersionFile)
	}
	s := mustGenerate(t, Options{Target: windows, VersionFile: "meta/version.txt"})
	wantLines(t, s, `version=os.path.join(SPECPATH, "meta/version.txt"),`)
}

func TestVersionResourceFile(t *testing.T) {
	v := VersionInfo{Name: "Peft", Version: "1.2.3"}
	name, text, err := Options{Target: windows, Name: "engine", Version: v}.VersionResourceFile()
	if err != nil || name != VersionFileName {
		t.Fatalf("windows: %q, %v", name, err)
	}
	if want, _ := VersionResource(v, "engine"); string(text) != string(want) {
		t.Errorf("windows text:\n%s\nwant:\n%s", text, want)
	}
	for _, o := range []Options{
		{Target: linux, Version: v},
		{Target: darwin, Version: v},
		{Target: windows},
		{Target: windows, VersionFile: "own.txt"},
	} {
		if name, text, err := o.VersionResourceFile(); name != "" || text != nil || err != nil {
			t.Errorf("%+v: %q, %q, %v: want no file", o, name, text, err)
		}
	}
	if _, _, err := (Options{Target: windows, Version: VersionInfo{Version: "x"}}).VersionResourceFile(); err == nil {
		t.Error("a bad version gave no error")
	}
}

func TestValidateRelease(t *testing.T) {
	for _, tc := range []struct {
		name string
		o    Options
		want string
	}{
		{"icon absolute", Options{Target: windows, Icon: "/etc/app.ico"}, `icon "/etc/app.ico": must be relative`},
		{"icon escapes", Options{Target: darwin, Icon: "../app.icns"}, `icon "../app.icns": must not contain '..'`},
		{"icon checked on linux too", Options{Target: linux, Icon: `assets\app.ico`}, `icon "assets\\app.ico": use '/'`},
		{"version file escapes", Options{Target: windows, VersionFile: "../v.txt"}, `version file "../v.txt"`},
		{"entitlements newline", Options{Target: darwin, Entitlements: "a\nb.plist"}, `entitlements "a\nb.plist"`},
		{"codesign newline", Options{Target: darwin, CodesignIdentity: "ACME\nimport os"}, `codesign identity "ACME\nimport os"`},
		{"codesign spaces", Options{Target: darwin, CodesignIdentity: " ACME"}, `codesign identity " ACME": must not start or end with spaces`},
		{"bad version", Options{Target: linux, Version: VersionInfo{Version: "latest"}}, `version "latest": not a PEP 440 version`},
		{"version too big", Options{Target: windows, Version: VersionInfo{Version: "2025.70000"}}, `version "2025.70000": release number 70000 is over 65535`},
		{"no version", Options{Target: windows, Version: VersionInfo{Name: "Peft"}}, "version info: no version"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.o.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Validate() = %v, want %q", err, tc.want)
			}
			if _, err := Generate(tc.o); err == nil {
				t.Fatal("Generate accepted what Validate rejects")
			}
		})
	}
	ok := Options{Target: darwin, Icon: "assets/it's ünï.icns", CodesignIdentity: `Developer ID Application: O'Brien "Co" (AB12)`,
		Entitlements: "e.plist", Version: VersionInfo{Version: "1.0", Description: "line 1\nline \"2\""}}
	if err := ok.Validate(); err != nil {
		t.Errorf("Validate(%+v) = %v", ok, err)
	}
}

// Executed with PyInstaller's build objects stubbed: the values reach EXE as meant.
func TestSpecReleaseValuesRoundTrip(t *testing.T) {
	python(t)
	o := Options{
		Icon:             `assets/it's "ünï".ico`,
		Version:          VersionInfo{Version: "1.0"},
		CodesignIdentity: `Developer ID Application: O'Brien "Co" \ (AB12)`,
		Entitlements:     `e "q".plist`,
	}
	for _, tc := range []struct {
		target target.Target
		want   map[string]any
	}{
		{windows, map[string]any{"icon": "/src/" + o.Icon, "version": "/src/" + VersionFileName}},
		{darwin, map[string]any{"icon": "/src/" + o.Icon, "codesign_identity": o.CodesignIdentity, "entitlements_file": "/src/" + o.Entitlements}},
		{linux, map[string]any{}},
	} {
		o.Target = tc.target
		calls, out, code := execSpec(t, o, UvicornRequired, nil)
		if code != 0 || calls == nil {
			t.Fatalf("%s: exit %d:\n%s", tc.target, code, out)
		}
		for _, k := range []string{"icon", "version", "codesign_identity", "entitlements_file"} {
			if got, want := calls.EXE[k], tc.want[k]; got != want {
				t.Errorf("%s: EXE %s = %v, want %v", tc.target, k, got, want)
			}
		}
	}
}
