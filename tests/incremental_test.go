package tests

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"gotest.tools/v3/assert"
)

// reusedAnalysis matches the line the spec's incremental block prints (PyInstaller's output, at
// the end of a line of dagger's plain progress log) when it reuses the work folder's analysis;
// not the spec's own text, which the log shows too.
var reusedAnalysis = regexp.MustCompile(`(?m)PYBUNDLE INCREMENTAL: analysis reused\r?$`)

// TestIncrementalRebuildIsByteIdentical: one source file changed, the incremental rebuild (the
// default: PyInstaller's work folder kept in the module's cache volume) reuses the analysis and
// its bundle is byte-identical, file for file and mode for mode, to a clean build
// (incremental=false) of the same source; an import added makes it analyse again, and that
// bundle too is the clean build's. Each mode builds under its own executable name, a key no
// earlier run used, so the first build starts from an empty work folder.
func TestIncrementalRebuildIsByteIdentical(t *testing.T) {
	requireEngine(t)
	t.Parallel()
	for _, mode := range []string{"onedir", "onefile"} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			src := filepath.Join(t.TempDir(), "backend")
			copyTree(t, filepath.Join(repoRoot(t), "testdata", "backend"), src)
			name := fmt.Sprintf("incr_%s_%d", mode, time.Now().UnixNano())
			compile := func(what string, extra ...string) (dist, log string) {
				t.Helper()
				dist = filepath.Join(t.TempDir(), what)
				args := append([]string{"compile", "--source", src, "--mode", mode, "--option", "name=" + name}, extra...)
				r := dagger(t, long, append(args, "export", "--path", dist)...)
				if r.Code != 0 {
					t.Fatalf("%s: exit %d\n%s", what, r.Code, errorTail(r.Stderr))
				}
				return dist, r.Stderr
			}
			edit := func(text string) {
				t.Helper()
				f, err := os.OpenFile(filepath.Join(src, "services", "users.py"), os.O_APPEND|os.O_WRONLY, 0)
				assert.NilError(t, err)
				_, err = f.WriteString(text)
				assert.NilError(t, err)
				assert.NilError(t, f.Close())
			}

			_, log := compile("first")
			assert.Check(t, !reusedAnalysis.MatchString(log), "a new key's work folder is empty")

			// A body edit: a function with a nested class, whose qualified name is the kind of
			// string marshal writes differently depending on what was compiled before.
			edit("\n\ndef _incremental_probe():\n    class Inner:\n        label = \"services.users._incremental_probe.<locals>.Inner\"\n    return Inner\n")
			inc, log := compile("body-incremental")
			assert.Check(t, reusedAnalysis.MatchString(log), "a body edit reuses the analysis")
			clean, log := compile("body-clean", "--option", "incremental=false")
			assert.Check(t, !reusedAnalysis.MatchString(log))
			assertSameBundle(t, inc, clean)

			edit("\nimport csv  # a new import: the module graph may change\n")
			inc, log = compile("import-incremental")
			assert.Check(t, !reusedAnalysis.MatchString(log), "an import edit analyses again")
			clean, _ = compile("import-clean", "--option", "incremental=false")
			assertSameBundle(t, inc, clean)
		})
	}
}

// assertSameBundle compares two PyInstaller dist folders file for file (sha256 and mode).
func assertSameBundle(t *testing.T, a, b string) {
	t.Helper()
	da, db := treeDigest(t, a), treeDigest(t, b)
	assert.Check(t, len(da) > 0)
	assert.DeepEqual(t, da, db)
}
