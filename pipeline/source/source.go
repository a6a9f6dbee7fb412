// Package source reads a backend's source folder once, the same way for every executor: which
// files belong to the backend, which are left out and why. The scanner, the data-file
// collection, the copy a native runner builds from and the folder the Dagger module mounts into
// its builder all take their list from here, so they cannot disagree about what the source is.
//
// The folder is treated as hostile input: it is opened as an os.Root, so no symbolic link is
// followed out of it (a link to a secret mounted elsewhere, to /dev/zero or to the runner's
// home is skipped and reported, never read); only regular files are listed (FIFOs, sockets and
// devices are skipped); the walk is bounded in depth and file count; and reads are bounded.
package source

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
)

// Limits of a source tree. A backend is code and data files, not a disk image: a tree beyond
// them is refused with an error that says which limit was hit.
const (
	MaxFiles = 200_000
	MaxDepth = 64
)

// File is one regular file of the backend.
type File struct {
	// Path is slash-separated and relative to the source root.
	Path string
	Size int64
	// Mode holds the permission bits of the file (of its target, for a link inside the tree).
	Mode fs.FileMode
	// Link is set when Path is a symbolic link to a file inside the tree.
	Link bool
}

// Skipped is an entry left out of the tree for a reason a user may need to know.
type Skipped struct {
	Path   string
	Reason string
}

// Tree is a source folder as read.
type Tree struct {
	// Dir is the folder on this machine.
	Dir string
	// Files are the backend's files, sorted by Path.
	Files []File
	// Skipped are links and special files left out (not the ordinary exclusions).
	Skipped []Skipped
	// Ignore are the user's ignore patterns the tree was read with.
	Ignore []string
}

// Read lists the backend's files under dir. ignore holds extra patterns (see Match) on top of
// the fixed exclusions (Excluded).
func Read(dir string, ignore []string) (*Tree, error) {
	for _, p := range ignore {
		if err := CheckPattern(p); err != nil {
			return nil, err
		}
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("source folder %s: %w", dir, cause(err))
	}
	defer root.Close()
	t := &Tree{Dir: dir, Ignore: slices.Clone(ignore)}
	fsys := root.FS()
	err = fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if p == "." {
				return err
			}
			t.Skipped = append(t.Skipped, Skipped{p, "unreadable: " + cause(err).Error()})
			if d != nil && d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if p == "." {
			return nil
		}
		if strings.Count(p, "/") >= MaxDepth {
			return fmt.Errorf("%s: deeper than %d folders", p, MaxDepth)
		}
		isDir := d.IsDir()
		link := d.Type()&fs.ModeSymlink != 0
		var fi fs.FileInfo
		if link {
			// Resolved inside the root only: a link leaving the tree fails here.
			fi, err = fs.Stat(fsys, p)
			if err != nil {
				t.Skipped = append(t.Skipped, Skipped{p, "symbolic link leaving the source folder (or dangling): not followed"})
				return nil
			}
			if fi.IsDir() {
				// A linked folder would let one tree appear twice (or loop): not followed.
				t.Skipped = append(t.Skipped, Skipped{p, "symbolic link to a folder: not followed"})
				return nil
			}
			isDir = false
		}
		if Excluded(p, isDir, fsys) || matchAny(ignore, p, isDir) {
			if isDir {
				return fs.SkipDir
			}
			return nil
		}
		if isDir {
			return nil
		}
		if fi == nil {
			if fi, err = d.Info(); err != nil {
				t.Skipped = append(t.Skipped, Skipped{p, "unreadable: " + cause(err).Error()})
				return nil
			}
		}
		if !fi.Mode().IsRegular() {
			t.Skipped = append(t.Skipped, Skipped{p, fmt.Sprintf("not a regular file (%v): left out", fi.Mode().Type())})
			return nil
		}
		if len(t.Files) >= MaxFiles {
			return fmt.Errorf("more than %d files: is this the backend's folder? (exclude the rest with an ignore pattern)", MaxFiles)
		}
		t.Files = append(t.Files, File{Path: p, Size: fi.Size(), Mode: fi.Mode().Perm(), Link: link})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("source folder %s: %w", dir, err)
	}
	slices.SortFunc(t.Files, func(a, b File) int { return strings.Compare(a.Path, b.Path) })
	return t, nil
}

// Paths are the files' paths, sorted.
func (t *Tree) Paths() []string {
	out := make([]string, len(t.Files))
	for i, f := range t.Files {
		out[i] = f.Path
	}
	return out
}

// Has reports whether p is one of the tree's files.
func (t *Tree) Has(p string) bool {
	_, ok := slices.BinarySearchFunc(t.Files, p, func(f File, p string) int { return strings.Compare(f.Path, p) })
	return ok
}

// File returns the file at p.
func (t *Tree) File(p string) (File, bool) {
	i, ok := slices.BinarySearchFunc(t.Files, p, func(f File, p string) int { return strings.Compare(f.Path, p) })
	if !ok {
		return File{}, false
	}
	return t.Files[i], true
}

// ErrTooLarge is returned by ReadFile for a file over the limit.
var ErrTooLarge = errors.New("file too large")

// ReadFile reads one listed file, at most max bytes (ErrTooLarge beyond), without following
// any link out of the tree and only if it is still a regular file.
func (t *Tree) ReadFile(p string, max int64) ([]byte, error) {
	f, err := t.open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	if int64(len(b)) > max {
		return nil, fmt.Errorf("%s: %w (over %d bytes)", p, ErrTooLarge, max)
	}
	return b, nil
}

// Open opens a listed file inside the root, refusing anything but a regular file.
func (t *Tree) Open(p string) (*os.File, error) { return t.open(p) }

// open opens a listed file inside the root, refusing anything but a regular file.
func (t *Tree) open(p string) (*os.File, error) {
	if !t.Has(p) {
		return nil, fmt.Errorf("%s: not a file of the source tree", p)
	}
	root, err := os.OpenRoot(t.Dir)
	if err != nil {
		return nil, err
	}
	defer root.Close()
	// O_NONBLOCK: a file swapped for a FIFO since the walk must not block the open.
	f, err := root.OpenFile(filepath.FromSlash(p), os.O_RDONLY|nonblock, 0)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p, cause(err))
	}
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("%s: no longer a regular file", p)
	}
	return f, nil
}

// CopyTo copies the tree's files to dst (created; it must not exist yet or be empty), file
// modes kept, links inside the tree copied as the files they point to.
func (t *Tree) CopyTo(dst string) error {
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return err
	}
	for _, f := range t.Files {
		if err := t.copyFile(f, filepath.Join(dst, filepath.FromSlash(f.Path))); err != nil {
			return fmt.Errorf("%s: %w", f.Path, err)
		}
	}
	return nil
}

func (t *Tree) copyFile(f File, dst string) error {
	in, err := t.open(f.Path)
	if err != nil {
		return err
	}
	defer in.Close()
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_EXCL, f.Mode|0o200)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// Fixed exclusions: what holds no part of the backend in any project.
var (
	// excludedDirs are skipped at any depth: caches, virtual environments, dependencies of
	// other tools and tests.
	excludedDirs = map[string]bool{
		"__pycache__": true, "node_modules": true, ".venv": true, "venv": true,
		"site-packages": true, "tests": true, "test": true,
	}
	// excludedRootDirs are skipped at the top only: build outputs (a package of the backend
	// may well be called build).
	excludedRootDirs = map[string]bool{"build": true, "dist": true}
)

// Excluded reports whether the entry at p (slash-separated, relative) is left out of every
// backend: the folders above, hidden folders, any folder holding pyvenv.cfg (a venv of any
// name), byte code, test modules, PyInstaller specs, and hidden files except .env files
// (configuration a backend reads at run time). fsys is the tree (for the pyvenv.cfg probe); nil
// skips that probe.
func Excluded(p string, isDir bool, fsys fs.FS) bool {
	name := path.Base(p)
	if isDir {
		if excludedDirs[name] || strings.HasPrefix(name, ".") || (!strings.Contains(p, "/") && excludedRootDirs[name]) {
			return true
		}
		if fsys != nil {
			if fi, err := fs.Stat(fsys, path.Join(p, "pyvenv.cfg")); err == nil && fi.Mode().IsRegular() {
				return true
			}
		}
		return false
	}
	switch {
	case strings.HasPrefix(name, "."):
		return !(name == ".env" || strings.HasPrefix(name, ".env."))
	case strings.HasSuffix(name, ".pyc"), strings.HasSuffix(name, ".pyo"), strings.HasSuffix(name, ".spec"):
		return true
	case strings.HasSuffix(name, ".py"):
		return strings.HasPrefix(name, "test_") || strings.HasSuffix(name, "_test.py") || name == "conftest.py"
	}
	return false
}

// Match reports whether the ignore pattern matches the entry at p (slash-separated, relative).
// Patterns follow .gitignore's common forms: "name" or "*.log" match a base name at any depth;
// a pattern holding "/" (a leading "/" included) matches the whole relative path; "**/"
// matches any number of leading folders; a trailing "/" matches folders only. A matched folder
// excludes everything under it.
func Match(pattern, p string, isDir bool) bool {
	pat := pattern
	if strings.HasSuffix(pat, "/") {
		if !isDir {
			return false
		}
		pat = strings.TrimSuffix(pat, "/")
	}
	if !strings.Contains(pat, "/") {
		ok, _ := path.Match(pat, path.Base(p))
		return ok
	}
	if rest, ok := strings.CutPrefix(pat, "**/"); ok {
		parts := strings.Split(p, "/")
		for i := range parts {
			if Match(rest, strings.Join(parts[i:], "/"), isDir) {
				return true
			}
		}
		return false
	}
	ok, _ := path.Match(strings.TrimPrefix(pat, "/"), p)
	return ok
}

func matchAny(patterns []string, p string, isDir bool) bool {
	for _, pat := range patterns {
		if Match(pat, p, isDir) {
			return true
		}
	}
	return false
}

// CheckPattern refuses patterns path.Match cannot read and ones that could reach outside.
func CheckPattern(p string) error {
	bare := strings.TrimSuffix(strings.TrimPrefix(strings.TrimPrefix(p, "/"), "**/"), "/")
	switch {
	case strings.TrimSpace(p) == "" || bare == "":
		return fmt.Errorf("ignore pattern %q: empty", p)
	case strings.Contains(p, `\`):
		return fmt.Errorf("ignore pattern %q: use '/' as separator", p)
	case slices.Contains(strings.Split(bare, "/"), ".."):
		return fmt.Errorf("ignore pattern %q: must not contain '..'", p)
	}
	if _, err := path.Match(bare, ""); err != nil {
		return fmt.Errorf("ignore pattern %q: %v", p, err)
	}
	return nil
}

// cause strips the *PathError wrapper whose path the caller already prints.
func cause(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
