package plan

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"

	"github.com/pybundle/pybundle/pipeline/layout"
	"github.com/pybundle/pybundle/pipeline/source"
	"github.com/pybundle/pybundle/pipeline/spec"
)

// baseWork is a Debian builder's WorkCache as the module would give it.
func baseWork() WorkCache {
	return WorkCache{
		Target: linuxAmd64, Mode: layout.OneDir, Name: "peft_engine", Bootloader: BootloaderStatic,
		Installer: "debian", Image: "debian:trixie-slim",
		Packages:     []string{"pyinstaller=6.22.2+ds-1~bpo13+1", "python3-fastapi=0.115.11-*"},
		Requirements: "fastapi\nuvicorn\n",
		PyInstaller:  "6.22.2",
		Installed:    []string{"python3.13 3.13.5-2", "python3-pydantic 2.10.6-1", "pyinstaller 6.22.2+ds-1~bpo13+1"},
	}
}

// TestWorkCacheVolume: a kept work folder is keyed by everything of the build and the builder
// (each change gives another volume), not by how the lists happen to be ordered.
func TestWorkCacheVolume(t *testing.T) {
	base := baseWork().Volume()
	assert.Check(t, strings.HasPrefix(base, "pybundle-pyinstaller-work-linux-amd64-onedir-"), base)
	assert.Equal(t, len(base), len("pybundle-pyinstaller-work-linux-amd64-onedir-")+20)
	assert.Equal(t, baseWork().Volume(), base, "the same inputs, the same volume")

	same := baseWork()
	same.Installed = []string{"pyinstaller 6.22.2+ds-1~bpo13+1", "python3-pydantic 2.10.6-1", "python3.13 3.13.5-2", "python3.13 3.13.5-2"}
	same.Packages = []string{"python3-fastapi=0.115.11-*", "pyinstaller=6.22.2+ds-1~bpo13+1"}
	assert.Equal(t, same.Volume(), base, "lists are sets")

	for _, tc := range []struct {
		name   string
		change func(w *WorkCache)
	}{
		{"target", func(w *WorkCache) { w.Target = linuxArm64 }},
		{"mode", func(w *WorkCache) { w.Mode = layout.OneFile }},
		{"name", func(w *WorkCache) { w.Name = "engine" }},
		{"bootloader", func(w *WorkCache) { w.Bootloader = BootloaderStock }},
		{"installer", func(w *WorkCache) { w.Installer = "pip" }},
		{"image", func(w *WorkCache) { w.Image = "debian:trixie-20260101-slim" }},
		{"a pin", func(w *WorkCache) { w.Packages[1] = "python3-fastapi=0.116.0-*" }},
		{"an extra package", func(w *WorkCache) { w.Packages = append(w.Packages, "libgomp1") }},
		{"requirements text", func(w *WorkCache) { w.Requirements += "httpx\n" }},
		{"PyInstaller", func(w *WorkCache) { w.PyInstaller = "6.23.0" }},
		{"a package update behind the same pin", func(w *WorkCache) { w.Installed[1] = "python3-pydantic 2.10.6-1+deb13u1" }},
		{"a package installed", func(w *WorkCache) { w.Installed = append(w.Installed, "pip:numpy 2.2.0") }},
		{"a cache buster", func(w *WorkCache) { w.Busters = []string{"", "bench-1"} }},
		{"another backend", func(w *WorkCache) { w.Project = "0123456789abcdef" }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := baseWork()
			tc.change(&w)
			v := w.Volume()
			assert.Check(t, v != base, "%s left the volume as it was", tc.name)
			assert.Check(t, strings.HasPrefix(v, "pybundle-pyinstaller-work-"), v)
		})
	}
}

// TestBuildWorkCache: the build's own facts (target, mode, name, bootloader) override whatever
// the executor passed, and the executor's lists are copied, not shared.
func TestBuildWorkCache(t *testing.T) {
	o := Defaults()
	assert.NilError(t, o.Apply(Given("mode", "onefile"), Given("name", "engine"), Given("bootloader", "stock")))
	p, err := New(o, sampleTree(t))
	assert.NilError(t, err)
	builder := baseWork()
	builder.Target, builder.Name = linuxArm64, "ignored"
	w := p.Builds[0].WorkCache(builder)
	assert.Equal(t, w.Target, linuxAmd64)
	assert.Equal(t, w.Mode, layout.OneFile)
	assert.Equal(t, w.Name, "engine")
	assert.Equal(t, w.Bootloader, BootloaderStock)
	w.Installed[0] = "changed"
	assert.Equal(t, builder.Installed[0], "python3.13 3.13.5-2")
	assert.Check(t, strings.Contains(w.Volume(), "-linux-amd64-onefile-"))
	assert.Equal(t, w.Project, p.Builds[0].Project)
	assert.Equal(t, len(w.Project), 16)

	// Another backend on the same builder gets another folder; an edit of a file does not.
	other, err := New(o, corpusTree(t, "env-port"))
	assert.NilError(t, err)
	assert.Check(t, other.Builds[0].Project != p.Builds[0].Project)
	again, err := New(o, sampleTree(t))
	assert.NilError(t, err)
	assert.Equal(t, again.Builds[0].Project, p.Builds[0].Project)
}

func corpusTree(t *testing.T, name string) *source.Tree {
	t.Helper()
	tree, err := source.Read(filepath.Join("..", "..", "testdata", "corpus", name), nil)
	assert.NilError(t, err)
	return tree
}

// TestAnalysisInputs: the spec gets every Python file of the source (and the generated hook and
// launcher) to compare by their imports, and one digest of every other file, which a data change
// moves and a Python edit does not.
func TestAnalysisInputs(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "backend")
	copyDir(t, filepath.Join("..", "..", "testdata", "backend"), dir)
	inputs := func(entry string) spec.AnalysisInputs {
		t.Helper()
		tree, err := source.Read(dir, nil)
		assert.NilError(t, err)
		o := Defaults()
		assert.NilError(t, o.Apply(Given("entry", entry)))
		p, err := New(o, tree)
		assert.NilError(t, err)
		in := p.Builds[0].Spec.AnalysisInputs
		assert.DeepEqual(t, in, p.analysisInputs())
		return in
	}
	in := inputs("")
	for _, f := range []string{"main.py", "services/users.py", "connectors/cloud/signing.py", spec.RuntimeHookFile} {
		assert.Check(t, is.Contains(in.PythonFiles, f))
	}
	for _, f := range in.PythonFiles {
		assert.Check(t, strings.HasSuffix(f, ".py"), f)
	}
	assert.Check(t, !strings.Contains(strings.Join(in.PythonFiles, " "), "pybundle_main.py"), "a script entry needs no launcher")
	assert.Equal(t, len(in.OtherFiles), 64)

	write := func(rel, text string) {
		t.Helper()
		assert.NilError(t, os.WriteFile(filepath.Join(dir, filepath.FromSlash(rel)), []byte(text), 0o644))
	}
	write("services/users.py", "# an edit\n")
	assert.DeepEqual(t, inputs(""), in)
	write("data/seed.json", `{"changed": true}`)
	changed := inputs("")
	assert.Check(t, changed.OtherFiles != in.OtherFiles, "a data file changed")
	write("data/new.yaml", "a: 1\n")
	assert.Check(t, inputs("").OtherFiles != changed.OtherFiles, "a data file added")
	assert.Check(t, is.Contains(inputs("main:app").PythonFiles, "pybundle_main.py"), "an app entry's launcher")
}

func copyDir(t *testing.T, src, dst string) {
	t.Helper()
	assert.NilError(t, os.CopyFS(dst, os.DirFS(src)))
}
