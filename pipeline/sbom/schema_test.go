package sbom

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"gotest.tools/v3/assert"
)

// schemaBase is where the CycloneDX schemas' $ids live; they are loaded from testdata/schema.
const schemaBase = "http://cyclonedx.org/schema/"

// offline refuses every URL the compiler was not given: validation never touches the network.
type offline struct{}

func (offline) Load(url string) (any, error) {
	return nil, fmt.Errorf("offline: %s not in testdata/schema", url)
}

// bomSchema compiles bom-1.6 with the schemas it references, format assertions on.
func bomSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	c := jsonschema.NewCompiler()
	c.UseLoader(offline{})
	c.AssertFormat()
	for _, name := range []string{"bom-1.6.schema.json", "spdx.schema.json", "jsf-0.82.schema.json"} {
		b, err := os.ReadFile(filepath.Join("testdata", "schema", name))
		assert.NilError(t, err)
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
		assert.NilError(t, err)
		assert.NilError(t, c.AddResource(schemaBase+name, doc))
	}
	s, err := c.Compile(schemaBase + "bom-" + SpecVersion + ".schema.json")
	assert.NilError(t, err)
	return s
}

// validate checks doc against the schema.
func validate(t *testing.T, s *jsonschema.Schema, doc []byte) error {
	t.Helper()
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(doc))
	assert.NilError(t, err)
	return s.Validate(v)
}

func TestSchemaValidatesGenerated(t *testing.T) {
	s := bomSchema(t)
	for name, in := range map[string]Input{
		"onedir":  sample(t),
		"onefile": onefile(),
		"minimal": {Target: "linux/arm64"},
		"hostile": hostile(),
	} {
		t.Run(name, func(t *testing.T) {
			doc, err := Generate(in)
			assert.NilError(t, err)
			assert.NilError(t, validate(t, s, doc))
		})
	}
}

func TestSchemaRejectsBroken(t *testing.T) {
	s := bomSchema(t)
	doc, err := Generate(sample(t))
	assert.NilError(t, err)
	for name, edit := range map[string]func(m map[string]any){
		"bomFormat":    func(m map[string]any) { m["bomFormat"] = "SPDX" },
		"specVersion":  func(m map[string]any) { delete(m, "specVersion") },
		"serialNumber": func(m map[string]any) { m["serialNumber"] = "urn:uuid:not-a-uuid" },
		"timestamp":    func(m map[string]any) { meta(m)["timestamp"] = "yesterday" },
		"hash length": func(m map[string]any) {
			hashes(m)[0].(map[string]any)["content"] = "abc123"
		},
		"hash algorithm": func(m map[string]any) {
			hashes(m)[0].(map[string]any)["alg"] = "SHA-255"
		},
		"component type": func(m map[string]any) { m["components"].([]any)[0].(map[string]any)["type"] = "package" },
		"unknown field":  func(m map[string]any) { m["extra"] = true },
	} {
		t.Run(name, func(t *testing.T) {
			var m map[string]any
			assert.NilError(t, json.Unmarshal(doc, &m))
			edit(m)
			broken, err := json.Marshal(m)
			assert.NilError(t, err)
			assert.Assert(t, validate(t, s, broken) != nil, "the schema accepted a broken SBOM (%s)", name)
		})
	}
}

// meta is the document's metadata object.
func meta(m map[string]any) map[string]any { return m["metadata"].(map[string]any) }

// hashes are the hashes of the first component that has any.
func hashes(m map[string]any) []any {
	for _, c := range m["components"].([]any) {
		if h, ok := c.(map[string]any)["hashes"]; ok {
			return h.([]any)
		}
	}
	panic("no component with hashes")
}

func TestSchemaFilesAreTheOnesUsed(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("testdata", "schema", "bom-"+SpecVersion+".schema.json"))
	assert.NilError(t, err)
	doc, err := Generate(Input{Target: "linux/amd64"})
	assert.NilError(t, err)
	var schema, bom struct {
		ID     string `json:"$id"`
		Schema string `json:"$schema"`
	}
	assert.NilError(t, json.Unmarshal(b, &schema))
	assert.NilError(t, json.Unmarshal(doc, &bom))
	// The document names the schema it is validated against.
	assert.Equal(t, bom.Schema, schema.ID)
	assert.Assert(t, strings.HasPrefix(schema.ID, schemaBase))
}
