package plan

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/pybundle/pybundle/pipeline/entry"
	"github.com/pybundle/pybundle/pipeline/layout"
	"github.com/pybundle/pybundle/pipeline/source"
	"github.com/pybundle/pybundle/pipeline/spec"
	"github.com/pybundle/pybundle/pipeline/target"
)

// analysisInputs are what the spec's incremental block compares between two builds (see
// spec.AnalysisInputs): the source's Python files, the generated ones with them (the runtime
// hook, the launcher), and the digest of every other file. The same for every target, so it is
// computed from the plan, not per build.
func (p *Plan) analysisInputs() spec.AnalysisInputs {
	py := []string{spec.RuntimeHookFile}
	if p.Entry.Launcher() != nil {
		py = append(py, entry.LauncherFile)
	}
	for _, f := range p.tree.Paths() {
		if strings.HasSuffix(f, ".py") {
			py = append(py, f)
		}
	}
	return spec.AnalysisInputs{PythonFiles: sortedSet(py), OtherFiles: p.otherFiles}
}

// otherFilesDigest is the SHA-256 of the tree's files that are not Python source: each one's
// path, mode and content. PyInstaller's analysis reads such files (data it classifies as data
// or binary by content, binaries whose libraries it follows), so a change to any of them must
// make an incremental build analyse again; Python files are compared by their imports in the
// builder instead, where their byte code can be read.
func otherFilesDigest(tree *source.Tree) (string, error) {
	h := sha256.New()
	for _, f := range tree.Files {
		if strings.HasSuffix(f.Path, ".py") {
			continue
		}
		fmt.Fprintf(h, "%q %o %d\n", f.Path, f.Mode, f.Size)
		r, err := tree.Open(f.Path)
		if err != nil {
			return "", err
		}
		_, err = io.Copy(h, r)
		r.Close()
		if err != nil {
			return "", fmt.Errorf("%s: %w", f.Path, err)
		}
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// WorkCache is everything a kept PyInstaller work folder depends on besides the source: the
// build (target, layout, executable name, bootloader) and the builder it ran in (installer,
// image, the packages asked for and those really installed, the backend's requirements,
// PyInstaller's version, the cache busters). Its Volume names the Dagger cache volume holding
// the folder, so a folder is only ever reused by a build of the same target in the same
// builder: a changed builder or dependency set starts from an empty folder. What the source
// changes is the spec's to judge (spec.AnalysisInputs).
type WorkCache struct {
	Target     target.Target
	Mode       layout.Mode
	Name       string
	Bootloader Bootloader
	// Installer is "debian" or "pip"; Image the image the builder starts from.
	Installer string
	Image     string
	// Packages are the builder's pins and the user's extra packages, as asked (name=version).
	Packages []string
	// Requirements are the backend's dependencies as the builder takes them (requirements.txt,
	// or the text made from [project] dependencies).
	Requirements string
	PyInstaller  string
	// Installed are the packages the builder really has, one "name version" each (dpkg-query,
	// and pip freeze on the pip path): a security update of a package behind the same pin
	// changes the key too.
	Installed []string
	// Busters are the module's cache busters: a new value means "from scratch" everywhere.
	Busters []string
	// Project tells backends apart (their entry, import roots and own modules), so two
	// backends built on one engine do not take turns on one folder and rerun each other's
	// analysis. It stays the same while files are edited; adding a module moves it.
	Project string
}

// workCacheVersion changes when what a work folder holds changes shape (the spec's block).
const workCacheVersion = "1"

// Volume is the name of the cache volume for w: pybundle-pyinstaller-work-<target>-<mode>-<key>,
// the key a SHA-256 of every field (lists taken as sets, in sorted order).
func (w WorkCache) Volume() string {
	c := w
	c.Packages, c.Installed = sortedSet(w.Packages), sortedSet(w.Installed)
	b, err := json.Marshal(struct {
		Version string
		WorkCache
	}{workCacheVersion, c})
	if err != nil {
		panic(err) // plain strings and lists: cannot fail
	}
	sum := sha256.Sum256(b)
	return fmt.Sprintf("pybundle-pyinstaller-work-%s-%s-%s", w.Target.Slug(), w.Mode, hex.EncodeToString(sum[:])[:20])
}

// WorkCache is the build's WorkCache with the builder's facts (installer, image, packages,
// requirements, what is installed, busters) given by the executor.
func (b Build) WorkCache(builder WorkCache) WorkCache {
	w := builder
	w.Target, w.Mode, w.Name, w.Bootloader, w.Project = b.Target(), b.Bundle.Mode, b.Bundle.Name, b.Bootloader, b.Project
	w.Packages, w.Installed, w.Busters = slices.Clone(w.Packages), slices.Clone(w.Installed), slices.Clone(w.Busters)
	return w
}
