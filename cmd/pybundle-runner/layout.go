package main

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/pybundle/pybundle/pipeline/spec"
	"github.com/pybundle/pybundle/pipeline/target"
)

// layout is where a build puts everything under --out:
//
//	<out>/.venv/                        the build venv (unless --venv)
//	<out>/work/src/                     a copy of the source + <name>.spec + the runtime hook
//	<out>/work/build/                   PyInstaller's --workpath
//	<out>/work/health.sqlite3           the database the health run's backend uses (APP_DB_PATH)
//	<out>/dist/<os>-<arch>/<name>/<exe> the bundle (onedir), or <out>/dist/<os>-<arch>/<exe>
//	<out>/report.json, <out>/summary.txt
//
// dist/ has the layout of the module's `build` output (artifact paths in report.json are
// relative to it), so electron-builder steps work the same on both.
type layout struct {
	Out, Work, WorkSrc, WorkBuild, HealthDB string
	Dist, DistDir                           string // <out>/dist and <out>/dist/<slug>
	Artifact, Bundle                        string // the executable; the folder (onedir) or Artifact (onefile)
	ArtifactRel                             string // Artifact relative to Dist, slash-separated (report.json)
	Report, Summary                         string
}

func newLayout(out string, t target.Target, name string, mode spec.Mode) layout {
	onedir := mode != spec.OneFile
	rel := t.ArtifactPath(name, onedir) // "dist/<slug>/<name>/<exe>", slash-separated
	l := layout{
		Out:         out,
		Work:        filepath.Join(out, "work"),
		WorkSrc:     filepath.Join(out, "work", "src"),
		WorkBuild:   filepath.Join(out, "work", "build"),
		HealthDB:    filepath.Join(out, "work", "health.sqlite3"),
		Dist:        filepath.Join(out, "dist"),
		DistDir:     filepath.Join(out, filepath.FromSlash(t.DistDir())),
		Artifact:    filepath.Join(out, filepath.FromSlash(rel)),
		ArtifactRel: strings.TrimPrefix(rel, "dist/"),
		Report:      filepath.Join(out, "report.json"),
		Summary:     filepath.Join(out, "summary.txt"),
	}
	l.Bundle = l.Artifact
	if onedir {
		l.Bundle = filepath.Dir(l.Artifact)
	}
	return l
}

// excludedRoot are the source's top-level folders the module's compile excludes too (build
// outputs and venvs); excludedAny are skipped at any depth (byte-code caches).
var (
	excludedRoot = map[string]bool{"build": true, "dist": true, ".venv": true, "venv": true}
	excludedAny  = map[string]bool{"__pycache__": true}
)

// copySource copies the source tree into dst (replacing it), so the spec and the runtime hook
// are written next to a copy, never into the user's folder. Skipped: excludedRoot,
// excludedAny, *.pyc, any folder holding pyvenv.cfg (a venv of any name) and the skip paths
// (the output folder and venv when they lie inside the source). File modes are kept; a
// symlink is copied as the file it points to; symlinked folders are not followed.
func copySource(src, dst string, skip ...string) error {
	if err := os.RemoveAll(dst); err != nil {
		return err
	}
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		if rel == "." {
			return os.MkdirAll(dst, 0o755)
		}
		for _, s := range skip {
			if s != "" && same(p, s) {
				if d.IsDir() {
					return fs.SkipDir
				}
				return nil
			}
		}
		name := d.Name()
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			top := !strings.ContainsRune(rel, filepath.Separator)
			if excludedAny[name] || top && excludedRoot[name] {
				return fs.SkipDir
			}
			if _, err := os.Stat(filepath.Join(p, "pyvenv.cfg")); err == nil {
				return fs.SkipDir
			}
			return os.MkdirAll(target, 0o755)
		}
		if strings.HasSuffix(name, ".pyc") {
			return nil
		}
		fi, err := os.Stat(p) // follows a symlink
		if err != nil {
			return fmt.Errorf("%s: %w", rel, err)
		}
		if fi.IsDir() {
			return nil // symlinked folder: not followed
		}
		if !fi.Mode().IsRegular() {
			return nil
		}
		return copyFile(p, target, fi.Mode().Perm())
	})
}

func copyFile(src, dst string, perm fs.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, perm|0o200)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
