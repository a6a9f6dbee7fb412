package layout

import (
	"testing"

	"gotest.tools/v3/assert"

	"github.com/pybundle/pybundle/pipeline/target"
)

func TestParseMode(t *testing.T) {
	for in, want := range map[string]Mode{"onedir": OneDir, "onefile": OneFile, " OneFile ": OneFile, "": OneDir} {
		got, err := ParseMode(in)
		assert.NilError(t, err, in)
		assert.Equal(t, got, want, in)
	}
	_, err := ParseMode("one-file")
	assert.ErrorContains(t, err, `invalid mode "one-file"`)
	var m Mode
	assert.NilError(t, m.UnmarshalText([]byte("onefile")))
	assert.Equal(t, m, OneFile)
}

func TestBundlePaths(t *testing.T) {
	linux := target.Target{OS: "linux", Arch: "arm64"}
	win := target.Target{OS: "windows", Arch: "amd64"}
	for _, tc := range []struct {
		b                                  Bundle
		exe, root, rel, artifact, packaged string
	}{
		{Bundle{linux, "engine", OneDir}, "engine", "engine", "engine/engine", "linux-arm64/engine/engine", "backend/engine/engine"},
		{Bundle{linux, "engine", OneFile}, "engine", "engine", "engine", "linux-arm64/engine", "backend/engine"},
		{Bundle{win, "engine", OneDir}, "engine.exe", "engine", "engine/engine.exe", "windows-amd64/engine/engine.exe", "backend/engine/engine.exe"},
		{Bundle{win, "engine", OneFile}, "engine.exe", "engine.exe", "engine.exe", "windows-amd64/engine.exe", "backend/engine.exe"},
	} {
		assert.Equal(t, tc.b.Exe(), tc.exe)
		assert.Equal(t, tc.b.Root(), tc.root)
		assert.Equal(t, tc.b.Rel(), tc.rel)
		assert.Equal(t, tc.b.Artifact(), tc.artifact)
		assert.Equal(t, tc.b.Packaged(), tc.packaged)
		assert.Equal(t, tc.b.RootInDist(), tc.b.Dir()+"/"+tc.root)
		back, err := FromEntry(tc.b.Target.String(), string(tc.b.Mode), tc.b.Artifact())
		assert.NilError(t, err)
		assert.Equal(t, back, tc.b, "a report entry gives back its bundle")
	}
}

func TestFromEntryRefuses(t *testing.T) {
	for _, tc := range []struct{ target, mode, artifact, want string }{
		{"linux/amd64", "onedir", "linux-amd64/engine", "is not a onedir layout"},
		{"linux/amd64", "onefile", "linux-amd64/engine/engine", "is not a onefile layout"},
		{"linux/amd64", "", "linux-amd64/engine", `invalid mode ""`},
		{"linux/amd64", "onedir", "linux-arm64/engine/engine", "is not inside linux-amd64/"},
		{"linux/amd64", "onedir", "linux-amd64/../x/x", "is not inside linux-amd64/"},
		{"linux/amd64", "onedir", "linux-amd64/a/b", "does not match its own layout"},
		{"linux/amd64", "onedir", "linux-amd64/../../x", "is not inside linux-amd64/"},
		{"linux/sparc", "onedir", "x", "unknown platform"},
	} {
		_, err := FromEntry(tc.target, tc.mode, tc.artifact)
		assert.ErrorContains(t, err, tc.want, tc.artifact)
	}
}
