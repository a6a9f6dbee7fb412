package main

import (
	"path/filepath"

	"github.com/pybundle/pybundle/pipeline/layout"
)

// folders is where a build puts everything under --out:
//
//	<out>/.venv/                   the build venv (unless --venv)
//	<out>/work/src/                a copy of the source + the plan's generated files
//	<out>/work/build/              PyInstaller's --workpath
//	<out>/dist/<os>-<arch>/        PyInstaller's --distpath: the bundle (layout.Bundle.Root)
//	<out>/report.json, <out>/summary.txt
//
// dist/ has the layout of the module's `build` output (artifact paths in report.json are
// relative to it), so electron-builder steps work the same on both.
type folders struct {
	Out, Work, WorkSrc, WorkBuild string
	Dist, DistDir                 string // <out>/dist and <out>/dist/<os>-<arch>
	Report, Summary               string
}

func newFolders(out string, b layout.Bundle) folders {
	return folders{
		Out:       out,
		Work:      filepath.Join(out, "work"),
		WorkSrc:   filepath.Join(out, "work", "src"),
		WorkBuild: filepath.Join(out, "work", "build"),
		Dist:      filepath.Join(out, "dist"),
		DistDir:   filepath.Join(out, "dist", b.Dir()),
		Report:    filepath.Join(out, "report.json"),
		Summary:   filepath.Join(out, "summary.txt"),
	}
}
