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
	"strings"
)

// digest returns the bundle size, the executable's sha256 and, for onedir, the
// bundle digest described on Result.BundleSHA256.
func digest(artifact, bundle string, onedir bool) (size int64, exeSHA, bundleSHA string, err error) {
	exeSHA, exeSize, err := FileSHA256(artifact)
	if err != nil {
		return 0, "", "", err
	}
	if !onedir {
		return exeSize, exeSHA, "", nil
	}
	type entry struct{ rel, line string }
	var entries []entry
	err = filepath.WalkDir(bundle, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(bundle, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		switch {
		case d.Type().IsRegular():
			sum, n, err := FileSHA256(p)
			if err != nil {
				return err
			}
			size += n
			entries = append(entries, entry{rel, sum + "  " + rel + "\n"})
		case d.Type()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			entries = append(entries, entry{rel, "-> " + filepath.ToSlash(target) + "  " + rel + "\n"})
		}
		return nil
	})
	if err != nil {
		return 0, "", "", fmt.Errorf("reading bundle %s: %w", bundle, err)
	}
	// WalkDir's per-directory order is not the byte order of full paths
	// ("a/b" vs "a.txt"); sort so the digest is reproducible with `LC_ALL=C sort`.
	sort.Slice(entries, func(i, j int) bool { return entries[i].rel < entries[j].rel })
	h := sha256.New()
	for _, e := range entries {
		io.WriteString(h, e.line)
	}
	return size, exeSHA, hex.EncodeToString(h.Sum(nil)), nil
}

// FileSHA256 is the hex sha256 and the size of one file: what report.json records for an
// executable, and what every later stage (the download from a runner, the packaged copy)
// compares against.
func FileSHA256(path string) (string, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return "", 0, fmt.Errorf("%s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), n, nil
}

// isSharedLib matches the names PyInstaller gives bundled native code:
// extension modules (*.so), versioned libraries (*.so.1.2) and libpython.
func isSharedLib(name string) bool {
	return strings.HasSuffix(name, ".so") || strings.Contains(name, ".so.")
}

// TreeFiles maps every file of the tree at root (its slash-separated path relative to root) to
// its mode and sha256, and every symbolic link to its target, never followed: what "the same
// bytes" means when two builds of one bundle are compared (an incremental build and one from
// scratch, a rebuild and the first build).
func TreeFiles(root string) (map[string]string, error) {
	out := map[string]string{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		if d.Type()&fs.ModeSymlink != 0 {
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			out[rel] = "-> " + filepath.ToSlash(target)
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		if !info.Mode().IsRegular() {
			out[rel] = info.Mode().String()
			return nil
		}
		sum, _, err := FileSHA256(p)
		if err != nil {
			return err
		}
		out[rel] = info.Mode().String() + " " + sum
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading tree %s: %w", root, err)
	}
	return out, nil
}
