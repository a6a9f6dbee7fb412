package source

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"
)

func write(t *testing.T, root, rel string, mode os.FileMode) {
	t.Helper()
	p := filepath.Join(root, filepath.FromSlash(rel))
	assert.NilError(t, os.MkdirAll(filepath.Dir(p), 0o755))
	assert.NilError(t, os.WriteFile(p, []byte(rel), mode))
}

func TestReadExcludesAndCopies(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("symlinks")
	}
	src := t.TempDir()
	for _, f := range []struct {
		rel  string
		mode os.FileMode
	}{
		{"main.py", 0o644}, {"run.sh", 0o755}, {"config.json", 0o644}, {".env", 0o600}, {".env.production", 0o600},
		{".gitignore", 0o644}, {"services/__init__.py", 0o644}, {"services/users.py", 0o644},
		{"services/__pycache__/users.cpython-313.pyc", 0o644}, {"services/stale.pyc", 0o644},
		{"services/build/keep.py", 0o644}, // build/ is excluded at the top only
		{"build/peft_engine/x", 0o644}, {"dist/peft_engine/y", 0o644}, {"venv/lib/z.py", 0o644}, {".venv/lib/z.py", 0o644},
		{"env311/pyvenv.cfg", 0o644}, {"env311/lib/z.py", 0o644}, // a venv of any name
		{"node_modules/x/index.js", 0o644}, {"tests/test_app.py", 0o644}, {"app/test/helpers.py", 0o644},
		{"test_main.py", 0o644}, {"main_test.py", 0o644}, {"conftest.py", 0o644}, {"old.spec", 0o644},
		{".git/HEAD", 0o644}, {"data/schema.sql", 0o644}, {"logs/app.log", 0o644},
	} {
		write(t, src, f.rel, f.mode)
	}
	assert.NilError(t, os.Symlink("config.json", filepath.Join(src, "link.json")))
	assert.NilError(t, os.Symlink("services", filepath.Join(src, "linkdir")))

	tree, err := Read(src, []string{"*.log", "/run.sh"})
	assert.NilError(t, err)
	assert.DeepEqual(t, tree.Paths(), []string{".env", ".env.production", "config.json", "data/schema.sql", "link.json", "main.py",
		"services/__init__.py", "services/build/keep.py", "services/users.py"})
	assert.DeepEqual(t, tree.Skipped, []Skipped{{"linkdir", "symbolic link to a folder: not followed"}})
	f, ok := tree.File("link.json")
	assert.Assert(t, ok && f.Link && f.Size == int64(len("config.json")))
	f, _ = tree.File(".env")
	assert.Equal(t, f.Mode, fs.FileMode(0o600))

	dst := filepath.Join(t.TempDir(), "copy")
	assert.NilError(t, tree.CopyTo(dst))
	fi, err := os.Lstat(filepath.Join(dst, "link.json"))
	assert.NilError(t, err)
	assert.Assert(t, fi.Mode().IsRegular(), "a link inside the tree is copied as its file")
	b, _ := os.ReadFile(filepath.Join(dst, "link.json"))
	assert.Equal(t, string(b), "config.json")
	fi, err = os.Stat(filepath.Join(dst, ".env"))
	assert.NilError(t, err)
	assert.Equal(t, fi.Mode().Perm(), fs.FileMode(0o600), "modes kept")
	_, err = os.Stat(filepath.Join(src, "services", "stale.pyc"))
	assert.NilError(t, err, "the source is untouched")
}

// Found by review: a source file linked to a secret mounted beside the source (the runner key)
// was uploaded and bundled. Links leaving the tree are never followed, wherever they point.
func TestReadNeverFollowsLinksOut(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("symlinks")
	}
	base := t.TempDir()
	src := filepath.Join(base, "src")
	write(t, src, "main.py", 0o644)
	write(t, base, "run/pybundle/runner-key", 0o400)
	assert.NilError(t, os.Symlink(filepath.Join(base, "run", "pybundle", "runner-key"), filepath.Join(src, "settings.json")))
	assert.NilError(t, os.Symlink("../run/pybundle/runner-key", filepath.Join(src, "rel.json")))
	assert.NilError(t, os.MkdirAll(filepath.Join(src, "data"), 0o755))
	assert.NilError(t, os.Symlink("../../run/pybundle/runner-key", filepath.Join(src, "data", "key.txt")))
	assert.NilError(t, os.Symlink("/etc/passwd", filepath.Join(src, "passwd")))
	assert.NilError(t, os.Symlink("gone.py", filepath.Join(src, "dangling.py")))

	tree, err := Read(src, nil)
	assert.NilError(t, err)
	assert.DeepEqual(t, tree.Paths(), []string{"main.py"})
	var skipped []string
	for _, s := range tree.Skipped {
		assert.Check(t, is.Contains(s.Reason, "leaving the source folder"), s.Path)
		skipped = append(skipped, s.Path)
	}
	sort.Strings(skipped)
	assert.DeepEqual(t, skipped, []string{"dangling.py", "data/key.txt", "passwd", "rel.json", "settings.json"})
	_, err = tree.ReadFile("settings.json", 1<<20)
	assert.ErrorContains(t, err, "not a file of the source tree")
	dst := filepath.Join(t.TempDir(), "copy")
	assert.NilError(t, tree.CopyTo(dst))
	_, err = os.Stat(filepath.Join(dst, "settings.json"))
	assert.Assert(t, errors.Is(err, fs.ErrNotExist))
}

// Found by review: a .py linked to /dev/zero ran the scanner out of memory, one linked to a
// FIFO hung it. Special files are left out, and reads are bounded.
func TestReadSpecialFiles(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("FIFOs")
	}
	src := t.TempDir()
	write(t, src, "main.py", 0o644)
	write(t, src, "big.py", 0o644)
	assert.NilError(t, os.WriteFile(filepath.Join(src, "big.py"), []byte(strings.Repeat("x = 1\n", 1000)), 0o644))
	assert.NilError(t, syscall.Mkfifo(filepath.Join(src, "fifo.py"), 0o644))
	assert.NilError(t, os.Symlink("fifo.py", filepath.Join(src, "to-fifo.py")))
	assert.NilError(t, os.MkdirAll(filepath.Join(src, "dev"), 0o755))

	done := make(chan struct{})
	var tree *Tree
	var err error
	go func() {
		defer close(done)
		tree, err = Read(src, nil)
	}()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("Read hung on a FIFO")
	}
	assert.NilError(t, err)
	assert.DeepEqual(t, tree.Paths(), []string{"big.py", "main.py"})
	assert.Equal(t, len(tree.Skipped), 2)
	for _, s := range tree.Skipped {
		assert.Check(t, is.Contains(s.Reason, "not a regular file"))
	}
	_, err = tree.ReadFile("big.py", 100)
	assert.Assert(t, errors.Is(err, ErrTooLarge))
	b, err := tree.ReadFile("big.py", 1<<20)
	assert.NilError(t, err)
	assert.Equal(t, len(b), 6000)
}

func TestReadLimits(t *testing.T) {
	src := t.TempDir()
	deep := src
	for i := 0; i <= MaxDepth; i++ {
		deep = filepath.Join(deep, "d")
	}
	assert.NilError(t, os.MkdirAll(deep, 0o755))
	_, err := Read(src, nil)
	assert.ErrorContains(t, err, "deeper than 64 folders")

	_, err = Read(filepath.Join(src, "missing"), nil)
	assert.ErrorContains(t, err, "source folder")
	_, err = Read(src, []string{"../x"})
	assert.ErrorContains(t, err, `ignore pattern "../x": must not contain '..'`)
	_, err = Read(src, []string{"a[b"})
	assert.ErrorContains(t, err, `ignore pattern "a[b"`)
}

func TestMatch(t *testing.T) {
	for _, tc := range []struct {
		pattern, path string
		dir, want     bool
	}{
		{"*.log", "logs/app.log", false, true},
		{"*.log", "app.log", false, true},
		{"logs/", "logs", true, true},
		{"logs/", "logs", false, false},
		{"logs/", "a/logs", true, true},
		{"/logs/", "a/logs", true, false},
		{"/logs", "logs", true, true},
		{"docs/*.md", "docs/a.md", false, true},
		{"docs/*.md", "x/docs/a.md", false, false},
		{"**/fixtures", "a/b/fixtures", true, true},
		{"**/fixtures", "fixtures", true, true},
		{"**/a/*.json", "x/a/b.json", false, true},
		{"secret.json", "conf/secret.json", false, true},
		{"conf/secret.json", "conf/secret.json", false, true},
	} {
		assert.Check(t, Match(tc.pattern, tc.path, tc.dir) == tc.want, "%q on %q (dir %v)", tc.pattern, tc.path, tc.dir)
	}
}

func TestExcluded(t *testing.T) {
	for _, tc := range []struct {
		path string
		dir  bool
		want bool
	}{
		{"build", true, true}, {"app/build", true, false}, {"dist", true, true}, {"node_modules", true, true},
		{"a/node_modules", true, true}, {".hidden", true, true}, {"tests", true, true}, {"pkg/test", true, true},
		{"main.py", false, false}, {"a.pyc", false, true}, {".env", false, false}, {".env.local", false, false},
		{".envrc", false, true}, {".DS_Store", false, true}, {"test_x.py", false, true}, {"x_test.py", false, true},
		{"contest.py", false, false}, {"app.spec", false, true}, {"data.json", false, false},
	} {
		assert.Check(t, Excluded(tc.path, tc.dir, nil) == tc.want, "%q (dir %v)", tc.path, tc.dir)
	}
}
