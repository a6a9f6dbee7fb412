package plan

import (
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/pybundle/pybundle/pipeline/health"
	"github.com/pybundle/pybundle/pipeline/trace"
)

// TraceBudget is the least time the backend gets to become healthy from source while traced
// (imports from source, no archive: slower than frozen).
const TraceBudget = 30 * time.Second

// TraceOptions are the health probe's settings for tracing the backend from source: python
// runs the trace harness at harnessPath on the entry script in the source copy at root (where
// the plan's generated files are written too), recording into out. All three are the
// executor's paths.
func (p *Plan) TraceOptions(python, harnessPath, root, out string) health.Options {
	var paths []string
	for _, r := range p.Collection.Roots {
		if r != "." {
			paths = append(paths, filepath.FromSlash(r))
		}
	}
	return p.Options.Probe().Apply(health.Options{
		Artifact: python,
		Args:     []string{harnessPath, filepath.Join(root, filepath.FromSlash(p.Entry.ScriptFile()))},
		Dir:      root,
		Env: []string{trace.EnvOut + "=" + out, trace.EnvRoot + "=" + root,
			trace.EnvPaths + "=" + strings.Join(paths, string(os.PathListSeparator))},
		Budget: max(p.Options.Budget, TraceBudget),
		WarmUp: p.Options.WarmUp,
		// The harness writes its record every 0.3 s and again at exit: two periods after the
		// last warm-up, at least one complete record holds everything it loaded, even if the
		// backend's own SIGTERM handling never lets it exit cleanly.
		Linger: 600 * time.Millisecond,
	})
}
