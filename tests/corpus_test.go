package tests

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
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
		{"passthrough", "main.py", []string{`warm-up GET /api/tool: 200`, `"pkg:pypi/inflect@`}},
		{"torch-ml", "main.py", []string{`"python3-torch"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "dist")
			mustDagger(t, long, "build", "--source", "testdata/corpus/"+tc.name, "export", "--path", out)
			e := onlyEntry(t, out)
			assert.Check(t, e.OK(), "%+v", e.Checks)
			assert.Check(t, strings.HasPrefix(e.Start, tc.start+" ("), e.Start)
			health := e.Checks[len(e.Checks)-1]
			assert.Check(t, is.Contains(health.Detail, "warm-up GET /"), "its own route answered: %s", health.Detail)
			doc, err := os.ReadFile(filepath.Join(out, filepath.FromSlash(e.SBOM)))
			assert.NilError(t, err, "the SBOM next to the bundle")
			checkSBOM(t, doc, e)
			b, err := os.ReadFile(filepath.Join(out, "report.json"))
			assert.NilError(t, err)
			for _, w := range tc.want {
				assert.Check(t, is.Contains(string(b)+string(doc), w))
			}
			t.Logf("%s: %.1f MiB, start-up %.0f ms, %d own modules, start %s", tc.name, float64(e.SizeBytes)/(1<<20), *e.StartupMS, e.OwnModules, e.Start)
		})
	}
}

// checkSBOM checks a target's CycloneDX document as a consumer reads it: its digest is the
// report's, it names the bundle and lists the builder's Python distributions by package URL
// and the executable with its sha256. (Schema validation: pipeline/sbom's tests.)
func checkSBOM(t *testing.T, doc []byte, e report.Entry) {
	t.Helper()
	sum := sha256.Sum256(doc)
	assert.Check(t, hex.EncodeToString(sum[:]) == e.SBOMSHA256, "the report digests the SBOM")
	var bom struct {
		BOMFormat, SpecVersion string
		Components             []struct {
			Type, Name, Purl string
			Hashes           []struct{ Alg, Content string }
		}
	}
	assert.NilError(t, json.Unmarshal(doc, &bom))
	assert.Check(t, bom.BOMFormat == "CycloneDX" && bom.SpecVersion == "1.6", "%s %s", bom.BOMFormat, bom.SpecVersion)
	var fastapi, exe bool
	for _, c := range bom.Components {
		fastapi = fastapi || strings.HasPrefix(c.Purl, "pkg:pypi/fastapi@")
		exe = exe || c.Type == "file" && len(c.Hashes) > 0 && c.Hashes[0].Content == e.SHA256
	}
	assert.Check(t, fastapi, "the builder's FastAPI by package URL")
	assert.Check(t, exe, "the executable with its sha256")
}

// TestPassThroughsAreNeeded: the passthrough backend with its PyInstaller pass-throughs cleared
// on the command line builds, but fails its health stage at the first route that needs one: the
// corpus build above passes because of them, not despite them.
func TestPassThroughsAreNeeded(t *testing.T) {
	requireEngine(t)
	t.Parallel()
	args := []string{"build", "--source", "testdata/corpus/passthrough"}
	for _, k := range []string{"collect-data", "copy-metadata", "collect-all", "excludes", "binaries"} {
		args = append(args, "--option", k+"=")
	}
	r := dagger(t, long, append(args, "export", "--path", filepath.Join(t.TempDir(), "dist"))...)
	assert.Assert(t, r.Code != 0, "built and passed without its pass-throughs")
	assert.Check(t, is.Contains(r.Stderr, "health linux/amd64"))
	assert.Check(t, is.Contains(r.Stderr, "/api/data"), errorTail(r.Stderr))
}
