package plan

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
	"github.com/pybundle/pybundle/pipeline/verify"
)

// The SBOM of a finished entry: the builder's Debian packages and the distributions Debian
// installed (linked to their python3-* package), or pip's, and the bundle's executable and
// native libraries; the entry references it by path and digest.
func TestWithSBOM(t *testing.T) {
	p, err := New(Defaults(), sampleTree(t))
	assert.NilError(t, err)
	b := p.Builds[0]
	dir := filepath.Join(t.TempDir(), b.Bundle.Name)
	assert.NilError(t, os.MkdirAll(filepath.Join(dir, "_internal"), 0o755))
	assert.NilError(t, os.WriteFile(filepath.Join(dir, b.Bundle.Exe()), []byte("\x7fELF exe"), 0o755))
	assert.NilError(t, os.WriteFile(filepath.Join(dir, "_internal", "libpython3.13.so.1.0"), []byte("lib"), 0o644))
	assert.NilError(t, os.WriteFile(filepath.Join(dir, "_internal", "base_library.zip"), []byte("zip"), 0o644))
	m, err := verify.TreeManifest(dir)
	assert.NilError(t, err)

	o := Defaults()
	o.ProductName, o.Version = "inventory", "1.4.2"
	e := report.Entry{Target: "linux/amd64", Mode: "onedir", Manifest: &m,
		Packages: map[string]string{"libc6": "2.41-12", "python3-fastapi": "0.115.11-1"}}
	e, doc, err := b.WithSBOM(o, e, Installed{Debian: map[string]string{"libssl3t64": "3.5.1-1"}, DebianDists: map[string]string{"fastapi": "0.115.11", "Flask_Cors": "4.0"}})
	assert.NilError(t, err)
	sum := sha256.Sum256(doc)
	assert.Equal(t, e.SBOM, "linux-amd64/sbom.cdx.json")
	assert.Equal(t, e.SBOMSHA256, hex.EncodeToString(sum[:]))
	var bom struct {
		Metadata struct {
			Component struct{ Name, Version string }
		}
		Components []struct {
			Type, Name, Purl string
		}
	}
	assert.NilError(t, json.Unmarshal(doc, &bom))
	assert.Equal(t, bom.Metadata.Component.Name, "inventory")
	assert.Equal(t, bom.Metadata.Component.Version, "1.4.2")
	var purls, files []string
	for _, c := range bom.Components {
		if c.Type == "file" {
			files = append(files, c.Name)
		} else {
			purls = append(purls, c.Purl)
		}
	}
	assert.Check(t, is.Contains(purls, "pkg:pypi/fastapi@0.115.11"))
	assert.Check(t, is.Contains(purls, "pkg:pypi/flask-cors@4.0"))
	assert.Check(t, is.Contains(purls, "pkg:deb/debian/libc6@2.41-12?arch=amd64"))
	assert.Check(t, is.Contains(purls, "pkg:deb/debian/libssl3t64@3.5.1-1?arch=amd64"), "every package of the builder")
	assert.Check(t, is.Contains(files, b.Bundle.Exe()))
	assert.Check(t, is.Contains(files, "_internal/libpython3.13.so.1.0"))
	assert.Check(t, !is.Contains(files, "_internal/base_library.zip")().Success(), "only executables and native code are listed")
	assert.Check(t, strings.Contains(string(doc), `"python3-fastapi"`), "the distribution names its Debian package")

	// The same inputs give the same document (builds are reproducible).
	_, again, err := b.WithSBOM(o, e, Installed{Debian: map[string]string{"libssl3t64": "3.5.1-1"}, DebianDists: map[string]string{"Flask_Cors": "4.0", "fastapi": "0.115.11"}})
	assert.NilError(t, err)
	assert.Equal(t, string(again), string(doc))
}
