package spec

import (
	_ "embed"
	"slices"
)

// The hook lives in its own .py file (not a Go string) so it can be read,
// linted and run with python3 as is; the tests do exactly that.
//
//go:embed pybundle_rth_check.py
var runtimeHook []byte

// RuntimeHook returns the Python source of the runtime hook the generated
// spec registers. Write it to RuntimeHookFile in the source root next to the
// spec. Inside the frozen executable it first replaces a missing (None)
// sys.stdin/stdout/stderr with os.devnull, which a windowed Windows build
// started without pipes needs (uvicorn's logging crashes on a None stream),
// leaving existing streams alone. Then it answers the verifier's
// PYBUNDLE_IMPORT_CHECK / PYBUNDLE_DUMP_DIR requests with one
// "PYBUNDLE_CHECK {json}" line and exit code 0 or 3, and does nothing more
// when neither variable is set. See the file's header for the protocol.
func RuntimeHook() []byte { return slices.Clone(runtimeHook) }
