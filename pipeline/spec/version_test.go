package spec

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

func TestParseVersion(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want [4]uint16
		pre  bool
	}{
		{"1.2.3", [4]uint16{1, 2, 3, 0}, false},
		{"1.2", [4]uint16{1, 2, 0, 0}, false},
		{"7", [4]uint16{7, 0, 0, 0}, false},
		{"2.0rc1", [4]uint16{2, 0, 0, 0}, true},
		{"2.0.0-beta.2", [4]uint16{2, 0, 0, 0}, true},
		{"0.4.0.post2", [4]uint16{0, 4, 0, 0}, false},
		{"1.0-1", [4]uint16{1, 0, 0, 0}, false},
		{"1.0.dev3", [4]uint16{1, 0, 0, 0}, true},
		{"1.2.3.4.5.6", [4]uint16{1, 2, 3, 4}, false},
		{"1!2.0.1+ubuntu.1", [4]uint16{2, 0, 1, 0}, false},
		{" v1.02.3 \n", [4]uint16{1, 2, 3, 0}, false},
		{"65535.65535.65535.65535", [4]uint16{65535, 65535, 65535, 65535}, false},
		{"1.2.3.4.99999", [4]uint16{1, 2, 3, 4}, false}, // beyond the fourth: dropped, not checked
		{"2024.1RC2", [4]uint16{2024, 1, 0, 0}, true},
	} {
		fv, err := parseVersion(tc.in)
		if err != nil || fv.nums != tc.want || fv.prerelease != tc.pre {
			t.Errorf("parseVersion(%q) = %v, %v, %v; want %v, %v", tc.in, fv.nums, fv.prerelease, err, tc.want, tc.pre)
		}
	}
	for _, tc := range []struct{ in, want string }{
		{"", `version "": not a PEP 440 version`},
		{"latest", `version "latest": not a PEP 440 version`},
		{"1.2.x", `version "1.2.x"`},
		{"1..2", `version "1..2"`},
		{"1.2.3 beta", `version "1.2.3 beta"`},
		{"1.65536", `version "1.65536": release number 65536 is over 65535`},
		{"99999999999999999999999.1", `version "99999999999999999999999.1": release number 99999999999999999999999 is over 65535`},
	} {
		if _, err := parseVersion(tc.in); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("parseVersion(%q) = %v, want error containing %q", tc.in, err, tc.want)
		}
	}
}

// structLine is one StringStruct line of a rendered resource: both arguments are Python
// string literals (as py renders them), nothing else on the line.
var structLine = regexp.MustCompile(`^ {10}StringStruct\(("(?:[^"\\\n]|\\.)*"), ("(?:[^"\\\n]|\\.)*")\),$`)

// resourceStrings reads the StringStruct key/value pairs back with Go's own unquoting, which
// agrees with Python's on every escape py emits (\" \\ \n \r \t \b \f \uXXXX).
func resourceStrings(t testing.TB, text string) []versionString {
	t.Helper()
	var out []versionString
	for _, l := range strings.Split(text, "\n") {
		if !strings.Contains(l, "StringStruct(") {
			continue
		}
		m := structLine.FindStringSubmatch(l)
		if m == nil {
			t.Fatalf("malformed StringStruct line %q in:\n%s", l, text)
		}
		k, err1 := strconv.Unquote(m[1])
		v, err2 := strconv.Unquote(m[2])
		if err1 != nil || err2 != nil {
			t.Fatalf("line %q: %v, %v", l, err1, err2)
		}
		out = append(out, versionString{k, v})
	}
	return out
}

func TestVersionResource(t *testing.T) {
	text, err := VersionResource(VersionInfo{
		Name: "Peft Engine", Version: "2.0rc1", Description: "The backend",
		Company: "ACME GmbH", Copyright: "© 2025 ACME",
	}, "peft_engine")
	if err != nil {
		t.Fatal(err)
	}
	s := string(text)
	wantLines(t, s,
		"VSVersionInfo(",
		"filevers=(2, 0, 0, 0),",
		"prodvers=(2, 0, 0, 0),",
		"mask=0x3f,",
		"flags=0x2,",
		"OS=0x40004,",
		"fileType=0x1,",
		"'040904B0',",
		"VarFileInfo([VarStruct('Translation', [1033, 1200])])",
	)
	want := []versionString{
		{"CompanyName", "ACME GmbH"},
		{"FileDescription", "The backend"},
		{"FileVersion", "2.0rc1"},
		{"InternalName", "peft_engine"},
		{"LegalCopyright", "© 2025 ACME"},
		{"OriginalFilename", "peft_engine.exe"},
		{"ProductName", "Peft Engine"},
		{"ProductVersion", "2.0rc1"},
	}
	if got := resourceStrings(t, s); !slices.Equal(got, want) {
		t.Errorf("strings = %q, want %q", got, want)
	}

	// Defaults: the product is named after the executable, described by its name; no company
	// or copyright lines at all.
	text, err = VersionResource(VersionInfo{Version: "1.2.3"}, "engine")
	if err != nil {
		t.Fatal(err)
	}
	want = []versionString{
		{"FileDescription", "engine"}, {"FileVersion", "1.2.3"}, {"InternalName", "engine"},
		{"OriginalFilename", "engine.exe"}, {"ProductName", "engine"}, {"ProductVersion", "1.2.3"},
	}
	if got := resourceStrings(t, string(text)); !slices.Equal(got, want) {
		t.Errorf("default strings = %q, want %q", got, want)
	}
	wantLines(t, string(text), "flags=0x0,", "filevers=(1, 2, 3, 0),")

	// Same input, same bytes.
	again, _ := VersionResource(VersionInfo{Version: "1.2.3"}, "engine")
	if string(again) != string(text) {
		t.Error("output is not deterministic")
	}
}

func TestVersionResourceErrors(t *testing.T) {
	long := strings.Repeat("ü", maxVersionString+1)
	for _, tc := range []struct {
		name string
		v    VersionInfo
		exe  string
		want string
	}{
		{"no version", VersionInfo{Name: "x"}, "engine", "version info: no version"},
		{"bad version", VersionInfo{Version: "1.0-final"}, "engine", `version info: version "1.0-final": not a PEP 440 version`},
		{"big number", VersionInfo{Version: "1.100000"}, "engine", `release number 100000 is over 65535`},
		{"exe path", VersionInfo{Version: "1.0"}, "bin/engine", `version info: executable name "bin/engine"`},
		{"exe with .exe", VersionInfo{Version: "1.0"}, "engine.exe", `version info: executable name "engine.exe"`},
		{"NUL", VersionInfo{Version: "1.0", Company: "a\x00b"}, "engine", `version info CompanyName "a\x00b": contains a NUL character`},
		{"invalid UTF-8", VersionInfo{Version: "1.0", Description: "a\xffb"}, "engine", `version info FileDescription "a\xffb": not valid UTF-8`},
		{"too long", VersionInfo{Version: "1.0", Copyright: long}, "engine", "version info LegalCopyright: 1025 characters long, a Windows version resource holds at most 1024"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := VersionResource(tc.v, tc.exe); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("VersionResource = %v, want error containing %q", err, tc.want)
			}
		})
	}
	// Every problem at once.
	_, err := VersionResource(VersionInfo{Version: "x", Company: "\x00"}, "a/b")
	for _, s := range []string{`version "x"`, "CompanyName", `name "a/b"`} {
		if err == nil || !strings.Contains(err.Error(), s) {
			t.Errorf("error %v does not mention %s", err, s)
		}
	}
}

// versionSeeds are values that would break a naive rendering: quotes of both kinds,
// backslashes, newlines and other controls, non-ASCII, and Python syntax.
var versionSeeds = []VersionInfo{
	{Name: "Peft", Version: "1.2.3", Description: "A FastAPI backend"},
	{Name: `it's "quoted"`, Version: "2.0rc1", Description: `back\slash \" \\ \n \u0041 \x41 \N{BULLET}`},
	{Name: "ünïcødé 😀 中文", Version: "0.4.0.post2", Description: "line 1\nline 2\r\n\ttabbed \u2028 \u2029 \x7f \x01", Company: "Ç'o \"S.A.\"", Copyright: "© 2025"},
	{Name: `"), StringStruct("x", "y`, Version: "1!3.1.4.1.5.9+local.7", Description: `'), VarStruct('Translation', [0])]) #`},
	{Name: "f'{__import__(\"os\").system(\"x\")}'", Version: "v1.2", Description: `"""triple""" '''single'''`, Copyright: "\\"},
}

// versionHarness loads resource files through PyInstaller's own parser when python3 has
// PyInstaller (versioninfo.load_version_info_from_text_file, then toRaw: the bytes PyInstaller
// writes into the executable). Without PyInstaller it does what that function does (decode
// honouring a coding cookie, then eval) with stand-ins of the same signatures, and with no
// builtins at all: the text may only construct these classes. One JSON line per file.
const versionHarness = `
import io, json, sys, tokenize
try:
    from PyInstaller.utils.win32 import versioninfo as v
    load, parser = v.load_version_info_from_text_file, "pyinstaller"
except ImportError:
    class _S:
        def __init__(self, *args, **kw):
            self.args, self.kw = args, kw
    class VSVersionInfo(_S):
        def __init__(self, ffi=None, kids=None): self.ffi, self.kids = ffi, kids or []
    class FixedFileInfo(_S):
        def __init__(self, filevers=(0, 0, 0, 0), prodvers=(0, 0, 0, 0), mask=0x3f, flags=0x0, OS=0x40004,
                     fileType=0x1, subtype=0x0, date=(0, 0)):
            assert len(filevers) == 4 and len(prodvers) == 4
            assert all(isinstance(n, int) and 0 <= n <= 0xffff for n in filevers + prodvers)
            self.fileVersionMS = (filevers[0] << 16) | filevers[1]
            self.fileVersionLS = (filevers[2] << 16) | filevers[3]
            self.productVersionMS = (prodvers[0] << 16) | prodvers[1]
            self.productVersionLS = (prodvers[2] << 16) | prodvers[3]
            self.fileFlagsMask, self.fileFlags, self.fileOS, self.fileType = mask, flags, OS, fileType
    class StringFileInfo(_S):
        def __init__(self, kids=None): self.kids = kids or []
    class StringTable(_S):
        def __init__(self, name=None, kids=None): self.name, self.kids = name, kids or []
    class StringStruct(_S):
        def __init__(self, name=None, val=None):
            assert isinstance(name, str) and isinstance(val, str)
            self.name, self.val = name, val
    class VarFileInfo(_S):
        def __init__(self, kids=None): self.kids = kids or []
    class VarStruct(_S):
        def __init__(self, name=None, kids=None): self.name, self.kids = name, kids or []
    names = dict(VSVersionInfo=VSVersionInfo, FixedFileInfo=FixedFileInfo, StringFileInfo=StringFileInfo,
                 StringTable=StringTable, StringStruct=StringStruct, VarFileInfo=VarFileInfo, VarStruct=VarStruct)
    def load(path):
        raw = open(path, "rb").read()
        encoding, _ = tokenize.detect_encoding(io.BytesIO(raw).readline)
        info = eval(raw.decode(encoding), {"__builtins__": {}}, names)
        assert isinstance(info, VSVersionInfo)
        return info
    parser = "stand-in"
for path in sys.argv[1:]:
    info = load(path)
    f = info.ffi
    out = {
        "parser": parser,
        "filevers": [f.fileVersionMS >> 16, f.fileVersionMS & 0xffff, f.fileVersionLS >> 16, f.fileVersionLS & 0xffff],
        "prodvers": [f.productVersionMS >> 16, f.productVersionMS & 0xffff, f.productVersionLS >> 16, f.productVersionLS & 0xffff],
        "flags": f.fileFlags, "mask": f.fileFlagsMask,
        "tables": [[t.name, [[s.name, s.val] for s in t.kids]] for t in info.kids[0].kids],
        "translation": [info.kids[1].kids[0].name, info.kids[1].kids[0].kids],
    }
    if parser == "pyinstaller":
        out["raw"] = len(info.toRaw())
    print(json.dumps(out))
`

type parsedResource struct {
	Parser      string               `json:"parser"`
	FileVers    []int                `json:"filevers"`
	ProdVers    []int                `json:"prodvers"`
	Flags       int                  `json:"flags"`
	Mask        int                  `json:"mask"`
	Tables      [][2]json.RawMessage `json:"tables"`
	Translation []any                `json:"translation"`
	Raw         int                  `json:"raw"`
}

// Every seed's resource loads through PyInstaller's parser (or its stand-in) and every field
// comes back as given. Set PYTHONPATH to a PyInstaller checkout to use the real parser on a
// machine without PyInstaller installed.
func TestVersionResourceParsesInPython(t *testing.T) {
	python(t)
	dir := t.TempDir()
	harness := writeFile(t, filepath.Join(dir, "harness.py"), []byte(versionHarness))
	args := []string{harness}
	for i, v := range versionSeeds {
		text, err := VersionResource(v, "peft_engine")
		if err != nil {
			t.Fatalf("seed %d: %v", i, err)
		}
		args = append(args, writeFile(t, filepath.Join(dir, fmt.Sprintf("v%d.txt", i)), text))
	}
	out, code := run(t, dir, cleanEnv(), args...)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if code != 0 || len(lines) != len(versionSeeds) {
		t.Fatalf("exit %d, %d lines for %d seeds:\n%s", code, len(lines), len(versionSeeds), out)
	}
	for i, l := range lines {
		var got parsedResource
		if err := json.Unmarshal([]byte(l), &got); err != nil {
			t.Fatalf("seed %d: %q: %v", i, l, err)
		}
		if i == 0 {
			t.Logf("parsed with %s", got.Parser)
		}
		v := versionSeeds[i]
		fv, _ := parseVersion(v.Version)
		want := []int{int(fv.nums[0]), int(fv.nums[1]), int(fv.nums[2]), int(fv.nums[3])}
		if !slices.Equal(got.FileVers, want) || !slices.Equal(got.ProdVers, want) || got.Mask != 0x3f {
			t.Errorf("seed %d: filevers %v prodvers %v mask %#x, want %v", i, got.FileVers, got.ProdVers, got.Mask, want)
		}
		if wantFlags := map[bool]int{false: 0, true: 2}[fv.prerelease]; got.Flags != wantFlags {
			t.Errorf("seed %d: flags %#x, want %#x", i, got.Flags, wantFlags)
		}
		if len(got.Tables) != 1 {
			t.Fatalf("seed %d: %d string tables", i, len(got.Tables))
		}
		var lang string
		var pairs [][2]string
		if json.Unmarshal(got.Tables[0][0], &lang) != nil || json.Unmarshal(got.Tables[0][1], &pairs) != nil || lang != "040904B0" {
			t.Fatalf("seed %d: table %s", i, l)
		}
		var gotStrings []versionString
		for _, p := range pairs {
			gotStrings = append(gotStrings, versionString{p[0], p[1]})
		}
		if wantStrings := versionStrings(v, "peft_engine"); !slices.Equal(gotStrings, wantStrings) {
			t.Errorf("seed %d: strings\n got %q\nwant %q", i, gotStrings, wantStrings)
		}
		if fmt.Sprint(got.Translation) != "[Translation [1033 1200]]" {
			t.Errorf("seed %d: translation %v", i, got.Translation)
		}
		if got.Parser == "pyinstaller" && got.Raw == 0 {
			t.Errorf("seed %d: PyInstaller could not pack the resource", i)
		}
	}
}

// Whatever the strings, a rendered resource keeps its structure: one StringStruct per line
// whose literals unquote to exactly the strings given (trimmed, defaults applied).
func FuzzVersionResource(f *testing.F) {
	for _, v := range versionSeeds {
		f.Add(v.Name, v.Version, v.Description, v.Company, v.Copyright)
	}
	f.Fuzz(func(t *testing.T, name, version, desc, company, copyright string) {
		v := VersionInfo{Name: name, Version: version, Description: desc, Company: company, Copyright: copyright}
		text, err := VersionResource(v, "peft_engine")
		if err != nil {
			// Most random versions are not PEP 440: keep testing the strings with a valid one.
			v.Version = "1.0"
			if text, err = VersionResource(v, "peft_engine"); err != nil {
				return
			}
		}
		s := string(text)
		if got, want := resourceStrings(t, s), versionStrings(v, "peft_engine"); !slices.Equal(got, want) {
			t.Fatalf("strings\n got %q\nwant %q\n%s", got, want, s)
		}
		// Only the StringStruct lines depend on the input: the rest is fixed.
		if n, want := strings.Count(s, "\n"), 25+len(versionStrings(v, "peft_engine")); n != want {
			t.Fatalf("%d lines, want %d:\n%s", n, want, s)
		}
		if !strings.HasSuffix(s, "    VarFileInfo([VarStruct('Translation', [1033, 1200])])\n  ]\n)\n") {
			t.Fatalf("tail changed:\n%s", s)
		}
	})
}
