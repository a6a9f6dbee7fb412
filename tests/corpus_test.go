package tests

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"

	"github.com/pybundle/pybundle/pipeline/report"
)

// TestCorpus builds every backend of testdata/corpus (README there: the shapes real backends
// have) with nothing but `build --source`: each is verified in the clean runtime, answers
// /api/health, and its own route (the warm-up path its pyproject.toml names) answers 2xx in
// the frozen app. What detection and tracing found is in each report.
func TestCorpus(t *testing.T) {
	requireEngine(t)
	t.Parallel()
	for _, tc := range []struct {
		name, start string
		want        []string // in the report: found modules, trace additions, data
	}{
		{"src-layout", "-m inventory", []string{`"files": 2`}},
		{"app-object", "app.main:app", nil},
		{"config-modules", "server.py", nil},
		{"pkgutil-plugins", "main.py", nil},
		{"entry-points", "main.py", []string{`"report-exporters"`}},
		{"templates-static", "run.py", []string{`"web/templates/index.html"`}},
		{"sqlalchemy-migrations", "main.py", []string{`"migrations/env.py"`}},
		{"settings-env", "main.py", []string{`".env"`}},
		{"env-port", "service.py", []string{`healthy on /healthz after`}},
		{"torch-ml", "main.py", []string{`"python3-torch"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "dist")
			mustDagger(t, long, "build", "--source", "testdata/corpus/"+tc.name, "export", "--path", out)
			b, err := os.ReadFile(filepath.Join(out, "report.json"))
			assert.NilError(t, err)
			rep, err := report.Parse(b)
			assert.NilError(t, err)
			assert.Equal(t, len(rep.Entries), 1)
			e := rep.Entries[0]
			assert.Check(t, e.OK(), "%+v", e.Checks)
			assert.Check(t, strings.HasPrefix(e.Start, tc.start+" ("), e.Start)
			health := e.Checks[len(e.Checks)-1]
			assert.Check(t, is.Contains(health.Detail, "warm-up GET /"), "its own route answered: %s", health.Detail)
			for _, w := range tc.want {
				assert.Check(t, is.Contains(string(b), w))
			}
			t.Logf("%s: %.1f MiB, start-up %.0f ms, %d own modules, start %s", tc.name, float64(e.SizeBytes)/(1<<20), *e.StartupMS, e.OwnModules, e.Start)
		})
	}
}
