package main

import (
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"testing"

	"gotest.tools/v3/assert"

	"github.com/pybundle/pybundle/pipeline/spec"
	"github.com/pybundle/pybundle/pipeline/target"
)

func TestLayout(t *testing.T) {
	out := filepath.Join("/", "o")
	j := func(parts ...string) string { return filepath.Join(append([]string{out}, parts...)...) }
	for _, tc := range []struct {
		t                           target.Target
		mode                        spec.Mode
		artifact, bundle, rel, dist string
	}{
		{target.Target{OS: "darwin", Arch: "arm64"}, spec.OneDir,
			j("dist", "darwin-arm64", "peft_engine", "peft_engine"), j("dist", "darwin-arm64", "peft_engine"),
			"darwin-arm64/peft_engine/peft_engine", j("dist", "darwin-arm64")},
		{target.Target{OS: "darwin", Arch: "amd64"}, spec.OneFile,
			j("dist", "darwin-amd64", "peft_engine"), j("dist", "darwin-amd64", "peft_engine"),
			"darwin-amd64/peft_engine", j("dist", "darwin-amd64")},
		{target.Target{OS: "windows", Arch: "amd64"}, spec.OneDir,
			j("dist", "windows-amd64", "peft_engine", "peft_engine.exe"), j("dist", "windows-amd64", "peft_engine"),
			"windows-amd64/peft_engine/peft_engine.exe", j("dist", "windows-amd64")},
		{target.Target{OS: "windows", Arch: "amd64"}, spec.OneFile,
			j("dist", "windows-amd64", "peft_engine.exe"), j("dist", "windows-amd64", "peft_engine.exe"),
			"windows-amd64/peft_engine.exe", j("dist", "windows-amd64")},
		{target.Target{OS: "linux", Arch: "amd64"}, spec.OneDir,
			j("dist", "linux-amd64", "peft_engine", "peft_engine"), j("dist", "linux-amd64", "peft_engine"),
			"linux-amd64/peft_engine/peft_engine", j("dist", "linux-amd64")},
	} {
		l := newLayout(out, tc.t, "peft_engine", tc.mode)
		name := tc.t.String() + " " + string(tc.mode)
		assert.Equal(t, l.Artifact, tc.artifact, name)
		assert.Equal(t, l.Bundle, tc.bundle, name)
		assert.Equal(t, l.ArtifactRel, tc.rel, name)
		assert.Equal(t, l.DistDir, tc.dist, name)
		assert.Equal(t, l.WorkSrc, j("work", "src"), name)
		assert.Equal(t, l.WorkBuild, j("work", "build"), name)
		assert.Equal(t, l.HealthDB, j("work", "health.sqlite3"), name)
		assert.Equal(t, l.Report, j("report.json"), name)
		assert.Equal(t, l.Summary, j("summary.txt"), name)
	}
	// The report's artifact path is the module's (main.go artifactRel): dist/ relative.
	l := newLayout(out, target.Target{OS: "linux", Arch: "arm64"}, "engine", spec.OneDir)
	assert.Equal(t, l.ArtifactRel, "linux-arm64/engine/engine")
}

func TestCopySource(t *testing.T) {
	src := t.TempDir()
	write := func(rel string, mode os.FileMode) {
		p := filepath.Join(src, filepath.FromSlash(rel))
		assert.NilError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		assert.NilError(t, os.WriteFile(p, []byte(rel), mode))
	}
	write("main.py", 0o644)
	write("run.sh", 0o755)
	write("config.json", 0o644)
	write("services/__init__.py", 0o644)
	write("services/users.py", 0o644)
	write("services/__pycache__/users.cpython-313.pyc", 0o644)
	write("services/stale.pyc", 0o644)
	write("services/build/keep.py", 0o644) // build/ is excluded at the top only
	write("build/peft_engine/x", 0o644)
	write("dist/peft_engine/y", 0o644)
	write("venv/lib/z.py", 0o644)
	write(".venv/lib/z.py", 0o644)
	write("env311/pyvenv.cfg", 0o644) // a venv of any name
	write("env311/lib/z.py", 0o644)
	write("out/report.json", 0o644) // --out inside the source
	write("data/schema.sql", 0o644)
	if runtime.GOOS != "windows" {
		assert.NilError(t, os.Symlink("config.json", filepath.Join(src, "link.json")))
		assert.NilError(t, os.Symlink("services", filepath.Join(src, "linkdir")))
	}

	dst := filepath.Join(t.TempDir(), "work", "src")
	assert.NilError(t, os.MkdirAll(filepath.Join(dst, "old"), 0o755)) // replaced, not merged
	assert.NilError(t, copySource(src, dst, filepath.Join(src, "out"), filepath.Join(t.TempDir(), ".venv")))

	var got []string
	assert.NilError(t, filepath.WalkDir(dst, func(p string, d fs.DirEntry, err error) error {
		assert.NilError(t, err)
		if !d.IsDir() {
			rel, _ := filepath.Rel(dst, p)
			got = append(got, filepath.ToSlash(rel))
		}
		return nil
	}))
	sort.Strings(got)
	want := []string{"config.json", "data/schema.sql", "main.py", "run.sh", "services/__init__.py", "services/build/keep.py", "services/users.py"}
	if runtime.GOOS != "windows" {
		want = []string{"config.json", "data/schema.sql", "link.json", "main.py", "run.sh", "services/__init__.py", "services/build/keep.py", "services/users.py"}
	}
	assert.DeepEqual(t, got, want)

	if runtime.GOOS != "windows" {
		fi, err := os.Stat(filepath.Join(dst, "run.sh"))
		assert.NilError(t, err)
		assert.Equal(t, fi.Mode().Perm(), os.FileMode(0o755))
		fi, err = os.Lstat(filepath.Join(dst, "link.json"))
		assert.NilError(t, err)
		assert.Assert(t, fi.Mode().IsRegular(), "a symlink is copied as its file")
		b, _ := os.ReadFile(filepath.Join(dst, "link.json"))
		assert.Equal(t, string(b), "config.json")
	}
	// The source is untouched.
	_, err := os.Stat(filepath.Join(src, "services", "stale.pyc"))
	assert.NilError(t, err)
}
