package spec

import (
	_ "embed"
	"fmt"
	"strings"
)

// The block lives in its own .py file (not a Go string) so it can be read and checked with
// python3 as is.
//
//go:embed pybundle_incremental.py
var incrementalBlock string

// AnalysisInputs are what PyInstaller's analysis reads of the source, as the spec's incremental
// block compares them between two builds in the same work folder: the Python files (their
// imports are read from their byte code at build time, where Python is) and one digest of every
// other file (data, binaries, configuration), which only the plan can see whole.
type AnalysisInputs struct {
	// PythonFiles are the .py files of the source root, slash-separated and relative to it,
	// generated ones (runtime hook, launcher) included.
	PythonFiles []string
	// OtherFiles is the hex SHA-256 of every other file of the source, names and contents.
	OtherFiles string
}

// incrementalPrelude is the spec text that makes a build byte-identical whether or not it
// reuses an earlier build's work folder, and lets it reuse that folder's analysis when the
// inputs above did not change (pybundle_incremental.py says how). Every spec carries it, so a
// clean build and an incremental one run the same code and write the same bytes; whether a
// build is incremental is the executor's choice (a kept work folder, no --clean).
func incrementalPrelude(in AnalysisInputs) string {
	return fmt.Sprintf("_pb_python_files = %s\n_pb_data_digest = %s\n%s\n", pyList(in.PythonFiles, ""), py(in.OtherFiles),
		strings.TrimRight(incrementalBlock, "\n"))
}

// incrementalTail records, after the last build step succeeded, the analysis inputs the work
// folder now matches, and drops the PYZ cache entries this build did not use (so the cache
// holds one build's modules, not every version ever built).
const incrementalTail = `
# pybundle: the work folder now matches this build's analysis inputs (see the top of this spec).
with open(_pb_key_file + ".tmp", "w") as _f:
    _f.write(_pb_key)
os.replace(_pb_key_file + ".tmp", _pb_key_file)
for _f in os.listdir(_pb_cache_dir) if os.path.isdir(_pb_cache_dir) else ():
    if _f not in _pb_cache_used:
        os.remove(os.path.join(_pb_cache_dir, _f))
`
