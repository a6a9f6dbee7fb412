package verify

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
)

// FileDigest is one file of a bundle: its path relative to the bundle's root (the onedir
// folder, or the onefile executable's own name), its permission bits, size and sha256; a
// symlink has Link (its target) instead of a digest.
type FileDigest struct {
	Path   string `json:"path"`
	Mode   string `json:"mode"`
	Size   int64  `json:"size,omitempty"`
	SHA256 string `json:"sha256,omitempty"`
	Link   string `json:"link,omitempty"`
}

// Manifest is every file of a bundle and a digest over them all: what report.json vouches for,
// so that every later stage (the download from a runner, the copy handed to electron-builder,
// each package) can check the whole bundle, not only its executable.
type Manifest struct {
	Files []FileDigest `json:"files"`
	// SHA256 digests the sorted lines "<sha256 or -> target>  <mode>  <path>\n".
	SHA256 string `json:"sha256"`
	// Bytes is the total size of the regular files.
	Bytes int64 `json:"bytes"`
}

// MaxManifestFiles bounds a bundle's file count (a torch bundle has a few thousand).
const MaxManifestFiles = 200_000

// TreeManifest reads the bundle at root: a folder (onedir) or a single executable (onefile).
// Links are recorded, never followed.
func TreeManifest(root string) (Manifest, error) {
	fi, err := os.Lstat(root)
	if err != nil {
		return Manifest{}, err
	}
	if !fi.IsDir() {
		d, err := digestOne(root, filepath.Base(root), fi)
		if err != nil {
			return Manifest{}, err
		}
		return finish([]FileDigest{d}), nil
	}
	var files []FileDigest
	err = filepath.WalkDir(root, func(p string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		if len(files) >= MaxManifestFiles {
			return fmt.Errorf("more than %d files", MaxManifestFiles)
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		info, err := e.Info()
		if err != nil {
			return err
		}
		d, err := digestOne(p, filepath.ToSlash(rel), info)
		if err != nil {
			return err
		}
		if d.Path != "" {
			files = append(files, d)
		}
		return nil
	})
	if err != nil {
		return Manifest{}, fmt.Errorf("reading bundle %s: %w", root, err)
	}
	return finish(files), nil
}

func digestOne(p, rel string, fi fs.FileInfo) (FileDigest, error) {
	d := FileDigest{Path: rel, Mode: fmt.Sprintf("%04o", fi.Mode().Perm())}
	switch {
	case fi.Mode()&fs.ModeSymlink != 0:
		t, err := os.Readlink(p)
		if err != nil {
			return d, err
		}
		d.Mode, d.Link = "link", filepath.ToSlash(t)
	case fi.Mode().IsRegular():
		sum, n, err := FileSHA256(p)
		if err != nil {
			return d, err
		}
		d.SHA256, d.Size = sum, n
	default:
		return FileDigest{}, nil // FIFOs, devices: no part of a bundle, not recorded
	}
	return d, nil
}

func finish(files []FileDigest) Manifest {
	sort.Slice(files, func(i, j int) bool { return files[i].Path < files[j].Path })
	m := Manifest{Files: files}
	h := sha256.New()
	for _, f := range files {
		content := f.SHA256
		if f.Mode == "link" {
			content = "-> " + f.Link
		}
		io.WriteString(h, content+"  "+f.Mode+"  "+f.Path+"\n")
		m.Bytes += f.Size
	}
	m.SHA256 = hex.EncodeToString(h.Sum(nil))
	return m
}

// CompareOptions say what a comparison forgives.
type CompareOptions struct {
	// IgnoreModes: the other side's file system has no permission bits (Windows).
	IgnoreModes bool
	// Signed reports files whose content may differ because packaging signed them (a Mach-O
	// or PE binary on macOS/Windows); nil: none.
	Signed func(path string) bool
}

// Diff lists how got differs from the manifest m (at most max lines, then a count), empty
// when got holds exactly m's files with m's contents.
func (m Manifest) Diff(got Manifest, o CompareOptions, max int) []string {
	want := map[string]FileDigest{}
	for _, f := range m.Files {
		want[f.Path] = f
	}
	var out []string
	seen := map[string]bool{}
	for _, g := range got.Files {
		seen[g.Path] = true
		w, ok := want[g.Path]
		switch {
		case !ok:
			out = append(out, g.Path+": not in the verified bundle")
		case w.Mode == "link" || g.Mode == "link":
			if w.Mode != g.Mode || w.Link != g.Link {
				out = append(out, g.Path+": link differs from the verified bundle")
			}
		case w.SHA256 != g.SHA256 && !(o.Signed != nil && o.Signed(g.Path)):
			out = append(out, fmt.Sprintf("%s: sha256 %s, the verified bundle has %s", g.Path, short(g.SHA256), short(w.SHA256)))
		case !o.IgnoreModes && w.Mode != g.Mode:
			out = append(out, fmt.Sprintf("%s: mode %s, the verified bundle has %s", g.Path, g.Mode, w.Mode))
		}
	}
	for _, w := range m.Files {
		if !seen[w.Path] {
			out = append(out, w.Path+": missing")
		}
	}
	sort.Strings(out)
	if len(out) > max {
		out = append(out[:max], fmt.Sprintf("… and %d more", len(out)-max))
	}
	return out
}

func short(s string) string {
	if len(s) > 12 {
		return s[:12]
	}
	return s
}

// Summary is one line naming a manifest.
func (m Manifest) Summary() string {
	return fmt.Sprintf("%d files, %s, tree sha256 %s", len(m.Files), humanBytes(m.Bytes), short(m.SHA256))
}
