package sbom

import (
	"encoding/json"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	cdx "github.com/CycloneDX/cyclonedx-go"
	purl "github.com/package-url/packageurl-go"
	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"

	"github.com/pybundle/pybundle/pipeline/verify"
)

const (
	hashA = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	hashB = "BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB"
)

// onedirTree writes a small onedir bundle and returns its manifest.
func onedirTree(t *testing.T) *verify.Manifest {
	t.Helper()
	root := t.TempDir()
	for name, mode := range map[string]os.FileMode{
		"peft_engine":                     0o755,
		"_internal/libpython3.13.so.1.0":  0o644,
		"_internal/libssl.so.3":           0o644,
		"_internal/base_library.zip":      0o644,
		"_internal/certifi/cacert.pem":    0o644,
		"_internal/lib-dynload/_ssl.so":   0o644,
		"_internal/Python":                0o755, // a Mach-O library has no suffix
		"_internal/pydantic_core/core.py": 0o644,
	} {
		p := filepath.Join(root, name)
		assert.NilError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		assert.NilError(t, os.WriteFile(p, []byte(name), mode))
		assert.NilError(t, os.Chmod(p, mode))
	}
	assert.NilError(t, os.Symlink("libssl.so.3", filepath.Join(root, "_internal/libssl.so")))
	m, err := verify.TreeManifest(root)
	assert.NilError(t, err)
	return &m
}

// sample is a Debian-built onedir bundle with pip extras.
func sample(t *testing.T) Input {
	return Input{
		Name: "peft-engine", Version: "0.1.0", Target: "linux/amd64", Mode: "onedir",
		ToolName: "pybundle", ToolVersion: "0.2.0",
		Time: time.Date(2026, 3, 1, 12, 30, 0, 0, time.UTC),
		Python: []Distribution{
			{Name: "fastapi", Version: "0.115.11", Installer: Debian, DebianPackage: "python3-fastapi", DebianVersion: "0.115.11-1"},
			{Name: "Flask_SQLAlchemy", Version: "3.1.1", Installer: Pip, SHA256: []string{hashB, "sha256:" + hashA}},
			{Name: "zope.interface", Version: "7.2", Installer: Pip},
		},
		Debian: []DebianPackage{
			{Name: "python3.13", Version: "3.13.5-2", Arch: "amd64"},
			{Name: "pyinstaller", Version: "6.22.2+ds-1~bpo13+1", Arch: "amd64"},
			{Name: "libc6", Version: "2.41-12", Arch: "amd64"},
		},
		Manifest:   onedirTree(t),
		Executable: "peft_engine",
	}
}

// onefile is a pip-built onefile bundle: one file, the executable.
func onefile() Input {
	return Input{
		Name: "peft-engine", Target: "windows/amd64", Mode: "onefile", ToolVersion: "0.2.0",
		Python:   []Distribution{{Name: "uvicorn", Version: "0.32.0", Installer: Pip}},
		Manifest: &verify.Manifest{Files: []verify.FileDigest{{Path: "peft_engine.exe", Mode: "0666", Size: 14, SHA256: hashA}}, SHA256: hashB, Bytes: 14},
	}
}

// hostile has strings no build should produce but any might.
func hostile() Input {
	odd := "a/../b?c#d@e f&g=h%2F\"<script>\n\x01ü"
	return Input{
		Name: odd, Version: odd, Target: "linux/amd64", Mode: odd, ToolVersion: odd,
		Python: []Distribution{{Name: odd, Version: odd, Installer: Debian, DebianPackage: odd, DebianVersion: odd}},
		Debian: []DebianPackage{{Name: odd, Version: odd, Arch: odd}},
		Manifest: &verify.Manifest{Files: []verify.FileDigest{
			{Path: odd + ".so", Mode: "0644", SHA256: hashA},
		}},
	}
}

func decode(t *testing.T, doc []byte) *cdx.BOM {
	t.Helper()
	var bom cdx.BOM
	assert.NilError(t, cdx.NewBOMDecoder(strings.NewReader(string(doc)), cdx.BOMFileFormatJSON).Decode(&bom))
	return &bom
}

func TestNormalizeName(t *testing.T) {
	for in, want := range map[string]string{
		"Flask_SQLAlchemy":   "flask-sqlalchemy",
		"zope.interface":     "zope-interface",
		"Foo__Bar-._baz":     "foo-bar-baz",
		"typing_extensions":  "typing-extensions",
		"PyYAML":             "pyyaml",
		"already-normalized": "already-normalized",
	} {
		assert.Check(t, is.Equal(NormalizeName(in), want), in)
	}
}

func TestPyPIPURL(t *testing.T) {
	for _, c := range []struct{ name, version, want string }{
		{"Flask_SQLAlchemy", "3.1.1", "pkg:pypi/flask-sqlalchemy@3.1.1"},
		{"zope.interface", "7.2", "pkg:pypi/zope-interface@7.2"},
		{"torch", "2.5.1+cpu", "pkg:pypi/torch@2.5.1%2Bcpu"},
		{"no-version", "", "pkg:pypi/no-version"},
		{"a/b?c#d", "1 2", "pkg:pypi/a%2Fb%3Fc%23d@1%202"},
	} {
		assert.Check(t, is.Equal(PyPIPURL(c.name, c.version), c.want), c.name)
	}
}

func TestDebianPURL(t *testing.T) {
	for _, c := range []struct{ name, version, arch, want string }{
		{"python3.13", "3.13.5-2", "amd64", "pkg:deb/debian/python3.13@3.13.5-2?arch=amd64"},
		{"pyinstaller", "6.22.2+ds-1~bpo13+1", "arm64", "pkg:deb/debian/pyinstaller@6.22.2%2Bds-1~bpo13%2B1?arch=arm64"},
		{"libc6", "1:2.41-12", "", "pkg:deb/debian/libc6@1:2.41-12"},
		{"x", "1", "am&d=64", "pkg:deb/debian/x@1?arch=am%26d%3D64"},
		{"LibFoo", "1", "", "pkg:deb/debian/libfoo@1"},
	} {
		assert.Check(t, is.Equal(DebianPURL(c.name, c.version, c.arch), c.want), c.name)
	}
}

// Whatever the strings hold, the purls parse back to them.
func TestPURLsRoundTripHostileStrings(t *testing.T) {
	doc, err := Generate(hostile())
	assert.NilError(t, err)
	odd := hostile().Name
	for _, c := range *decode(t, doc).Components {
		if c.PackageURL == "" {
			continue
		}
		p, err := purl.FromString(c.PackageURL)
		assert.NilError(t, err, c.PackageURL)
		assert.Check(t, is.Equal(p.Version, odd), c.PackageURL)
		if p.Type == purl.TypeDebian {
			assert.Check(t, is.Equal(p.Name, strings.ToLower(odd)), c.PackageURL)
			assert.Check(t, is.Equal(p.Qualifiers.Map()["arch"], odd), c.PackageURL)
		}
	}
}

func TestDeterministic(t *testing.T) {
	in := sample(t)
	first, err := Generate(in)
	assert.NilError(t, err)
	again, err := Generate(in)
	assert.NilError(t, err)
	assert.Check(t, is.Equal(string(first), string(again)))

	r := rand.New(rand.NewPCG(12, 5))
	for range 20 {
		shuffled := in
		shuffled.Python, shuffled.Debian = slices.Clone(in.Python), slices.Clone(in.Debian)
		shuffled.Python = append(shuffled.Python, in.Python[r.IntN(len(in.Python))]) // a repeat merges away
		r.Shuffle(len(shuffled.Python), func(i, j int) { shuffled.Python[i], shuffled.Python[j] = shuffled.Python[j], shuffled.Python[i] })
		r.Shuffle(len(shuffled.Debian), func(i, j int) { shuffled.Debian[i], shuffled.Debian[j] = shuffled.Debian[j], shuffled.Debian[i] })
		got, err := Generate(shuffled)
		assert.NilError(t, err)
		assert.Check(t, is.Equal(string(got), string(first)))
	}
}

var uuidRe = regexp.MustCompile(`^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

func TestSerialNumberFollowsContent(t *testing.T) {
	in := sample(t)
	a, err := Build(in)
	assert.NilError(t, err)
	assert.Check(t, uuidRe.MatchString(a.SerialNumber), a.SerialNumber)
	in.Debian = in.Debian[1:]
	b, err := Build(in)
	assert.NilError(t, err)
	assert.Check(t, a.SerialNumber != b.SerialNumber)
	in.Time = in.Time.Add(time.Second)
	c, err := Build(in)
	assert.NilError(t, err)
	assert.Check(t, b.SerialNumber != c.SerialNumber)
}

func TestTimestamp(t *testing.T) {
	in := sample(t)
	in.Time = time.Time{}
	doc, err := Generate(in)
	assert.NilError(t, err)
	assert.Check(t, !strings.Contains(string(doc), `"timestamp"`))

	in.Time = time.Date(2026, 3, 1, 13, 30, 0, 999, time.FixedZone("CET", 3600))
	bom, err := Build(in)
	assert.NilError(t, err)
	assert.Check(t, is.Equal(bom.Metadata.Timestamp, "2026-03-01T12:30:00Z"))
}

func TestMetadata(t *testing.T) {
	in := sample(t)
	bom := decode(t, must(Generate(in)))
	assert.Check(t, is.Equal(string(bom.SpecVersion.String()), SpecVersion))
	assert.Check(t, is.Equal(bom.Version, 1))
	tools := *bom.Metadata.Tools.Components
	assert.Check(t, is.Len(tools, 1))
	assert.Check(t, is.Equal(tools[0].Name, "pybundle"))
	assert.Check(t, is.Equal(tools[0].Version, "0.2.0"))
	c := bom.Metadata.Component
	assert.Check(t, is.Equal(c.Type, cdx.ComponentTypeApplication))
	assert.Check(t, is.Equal(c.Name, "peft-engine"))
	assert.Check(t, is.Equal(c.Version, "0.1.0"))
	props := propMap(*c)
	assert.Check(t, is.Equal(props[PropTarget], "linux/amd64"))
	assert.Check(t, is.Equal(props[PropMode], "onedir"))
	assert.Check(t, is.Equal(props[PropTreeSHA256], in.Manifest.SHA256))
	assert.Check(t, is.Equal(props[PropTreeFiles], "9"))

	minimal := decode(t, must(Generate(Input{Target: "linux/arm64"})))
	assert.Check(t, is.Equal(minimal.Metadata.Component.Name, "backend"))
	assert.Check(t, is.Equal((*minimal.Metadata.Tools.Components)[0].Name, "pybundle"))
	assert.Check(t, minimal.Dependencies == nil)
}

func TestPythonAndDebianComponents(t *testing.T) {
	bom := decode(t, must(Generate(sample(t))))
	byRef := map[string]cdx.Component{}
	var refs []string
	for _, c := range *bom.Components {
		byRef[c.BOMRef] = c
		refs = append(refs, c.BOMRef)
	}
	assert.DeepEqual(t, refs[:6], []string{
		"pkg:pypi/fastapi@0.115.11",
		"pkg:pypi/flask-sqlalchemy@3.1.1",
		"pkg:pypi/zope-interface@7.2",
		"pkg:deb/debian/libc6@2.41-12?arch=amd64",
		"pkg:deb/debian/pyinstaller@6.22.2%2Bds-1~bpo13%2B1?arch=amd64",
		"pkg:deb/debian/python3.13@3.13.5-2?arch=amd64",
	})

	deb := byRef["pkg:pypi/fastapi@0.115.11"]
	assert.Check(t, is.Equal(deb.Type, cdx.ComponentTypeLibrary))
	assert.Check(t, is.Equal(deb.PackageURL, deb.BOMRef))
	assert.DeepEqual(t, propMap(deb), map[string]string{PropInstaller: "debian", PropDebPackage: "python3-fastapi", PropDebVersion: "0.115.11-1"})
	assert.Check(t, deb.Hashes == nil)

	pip := byRef["pkg:pypi/flask-sqlalchemy@3.1.1"]
	assert.Check(t, is.Equal(pip.Name, "flask-sqlalchemy"))
	assert.DeepEqual(t, propMap(pip), map[string]string{PropInstaller: "pip"})
	assert.DeepEqual(t, *pip.Hashes, []cdx.Hash{{Algorithm: cdx.HashAlgoSHA256, Value: hashA}, {Algorithm: cdx.HashAlgoSHA256, Value: strings.ToLower(hashB)}})

	debPkg := byRef["pkg:deb/debian/python3.13@3.13.5-2?arch=amd64"]
	assert.Check(t, is.Equal(debPkg.Name, "python3.13"))
	assert.Check(t, is.Equal(debPkg.Version, "3.13.5-2"))

	deps := *bom.Dependencies
	assert.Check(t, is.Len(deps, 1))
	assert.Check(t, is.Equal(deps[0].Ref, "bundle"))
	assert.DeepEqual(t, *deps[0].Dependencies, refs[:6])
}

func TestSamePackageTwiceMerges(t *testing.T) {
	in := Input{Target: "linux/amd64", Python: []Distribution{
		{Name: "PyYAML", Version: "6.0.2", Installer: Pip, SHA256: []string{hashA}},
		{Name: "pyyaml", Version: "6.0.2", Installer: Debian, DebianPackage: "python3-yaml"},
		{Name: "pyyaml", Version: "6.0.2", Installer: Pip, SHA256: []string{hashA}},
	}}
	bom, err := Build(in)
	assert.NilError(t, err)
	cs := *bom.Components
	assert.Assert(t, is.Len(cs, 1))
	assert.Check(t, is.Len(*cs[0].Hashes, 1))
	assert.DeepEqual(t, *cs[0].Properties, []cdx.Property{
		{Name: PropDebPackage, Value: "python3-yaml"}, {Name: PropInstaller, Value: "debian"}, {Name: PropInstaller, Value: "pip"},
	})
}

func TestFileComponents(t *testing.T) {
	bom := decode(t, must(Generate(sample(t))))
	var files []string
	for _, c := range *bom.Components {
		if c.Type != cdx.ComponentTypeFile {
			continue
		}
		files = append(files, c.Name)
		assert.Check(t, is.Equal(c.BOMRef, "file:"+c.Name))
		assert.Check(t, is.Len(*c.Hashes, 1))
		assert.Check(t, is.Equal((*c.Hashes)[0].Algorithm, cdx.HashAlgoSHA256))
		assert.Check(t, is.Equal(propMap(c)[PropExecutable] == "true", c.Name == "peft_engine"), c.Name)
	}
	assert.DeepEqual(t, files, []string{
		"_internal/Python",
		"_internal/lib-dynload/_ssl.so",
		"_internal/libpython3.13.so.1.0",
		"_internal/libssl.so.3",
		"peft_engine",
	})

	one := decode(t, must(Generate(onefile())))
	exe := (*one.Components)[1]
	assert.Check(t, is.Equal(exe.Name, "peft_engine.exe"))
	assert.DeepEqual(t, propMap(exe), map[string]string{PropExecutable: "true", PropSize: "14"})
}

func TestListed(t *testing.T) {
	for _, c := range []struct {
		path, mode string
		want       bool
	}{
		{"app", "0755", true},
		{"app", "0644", true}, // the executable, named
		{"_internal/libz.so.1", "0644", true},
		{"_internal/libcrypto.so.3.0.15", "0644", true},
		{"_internal/_ssl.cpython-313-x86_64-linux-gnu.so", "0644", true},
		{"_internal/python313.dll", "0666", true},
		{"_internal/_ctypes.pyd", "0666", true},
		{"_internal/libffi.8.dylib", "0644", true},
		{"_internal/Python", "0755", true},
		{"_internal/base_library.zip", "0644", false},
		{"_internal/certifi/cacert.pem", "0644", false},
		{"_internal/app.so.txt", "0644", false},
		{"_internal/libssl.so", "link", false},
		{"_internal/odd", "", false},
	} {
		f := verify.FileDigest{Path: c.path, Mode: c.mode, SHA256: hashA}
		assert.Check(t, is.Equal(Listed(f, "app"), c.want), c.path+" "+c.mode)
	}
}

func TestErrors(t *testing.T) {
	manifest := &verify.Manifest{Files: []verify.FileDigest{{Path: "a.so", Mode: "0644", SHA256: hashA}, {Path: "b.so", Mode: "0644", SHA256: "short"}}}
	for name, c := range map[string]struct {
		in   Input
		want string
	}{
		"no target":         {Input{}, "no target"},
		"year 10000":        {Input{Target: "t", Time: time.Unix(253402300800, 0)}, "out of range"},
		"no name":           {Input{Target: "t", Python: []Distribution{{Version: "1"}}}, "no name"},
		"no Debian name":    {Input{Target: "t", Debian: []DebianPackage{{Version: "1"}}}, "no name"},
		"unknown installer": {Input{Target: "t", Python: []Distribution{{Name: "x", Installer: "conda"}}}, "unknown installer"},
		"bad pip hash":      {Input{Target: "t", Python: []Distribution{{Name: "x", SHA256: []string{"md5:00"}}}}, "not a SHA-256"},
		"bad file hash":     {Input{Target: "t", Manifest: manifest}, "b.so: not a SHA-256"},
		"no executable":     {Input{Target: "t", Manifest: manifest, Executable: "app"}, `"app" is not in`},
		"path twice": {Input{Target: "t", Manifest: &verify.Manifest{Files: []verify.FileDigest{
			{Path: "a.so", Mode: "0644", SHA256: hashA}, {Path: "a.so", Mode: "0644", SHA256: hashA},
		}}}, "twice"},
	} {
		_, err := Generate(c.in)
		assert.Check(t, is.ErrorContains(err, c.want), name)
	}
}

func TestFromPackages(t *testing.T) {
	py, deb := FromPackages(map[string]string{
		"python3-fastapi": "0.115.11-1", "libc6": "2.41-12", "pip:uvicorn": "0.32.0", "pip:annotated-types": "0.7.0",
	}, "arm64")
	assert.DeepEqual(t, py, []Distribution{
		{Name: "annotated-types", Version: "0.7.0", Installer: Pip},
		{Name: "uvicorn", Version: "0.32.0", Installer: Pip},
	})
	assert.DeepEqual(t, deb, []DebianPackage{
		{Name: "libc6", Version: "2.41-12", Arch: "arm64"},
		{Name: "python3-fastapi", Version: "0.115.11-1", Arch: "arm64"},
	})
}

func TestOutputIsJSONWithNewline(t *testing.T) {
	doc := must(Generate(hostile()))
	assert.Check(t, json.Valid(doc))
	assert.Check(t, strings.HasSuffix(string(doc), "}\n"))
	assert.Check(t, !strings.Contains(string(doc), "<script>"), "HTML is escaped")
}

func propMap(c cdx.Component) map[string]string {
	m := map[string]string{}
	if c.Properties != nil {
		for _, p := range *c.Properties {
			m[p.Name] = p.Value
		}
	}
	return m
}

func must(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}
