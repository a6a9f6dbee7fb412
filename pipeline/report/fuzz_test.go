package report

import (
	"bytes"
	"testing"
)

// FuzzParse: a report from a runner or a folder is hostile input. Parse never panics; what it
// accepts is canonical (a second Parse of its JSON gives the same bytes) and its entries'
// targets are supported ones.
func FuzzParse(f *testing.F) {
	good, _ := sample().JSON()
	f.Add(good)
	f.Add([]byte(`{"tool": "pybundle", "version": "` + ToolVersion + `", "entries": []}`))
	f.Add([]byte(`{"tool": "pybundle", "version": "` + ToolVersion + `", "entries": [{"target": "Linux/AMD64", "mode": "onedir", "checks": null}]}`))
	f.Add([]byte(`{"tool": "pybundle", "version": "` + ToolVersion + `", "entries": [{"target": "linux/amd64"}, {"target": "linux/x86_64"}]}`))
	f.Add([]byte(`{"entries": [{"startup_ms": 1e400}]}`))
	f.Add([]byte(`[]`))
	f.Add([]byte(`{"tool": "pybundle", "version": "` + ToolVersion + `", "packages": [{"checks": [{}]}], "entries": [{"target": "windows/amd64", "manifest": {"files": [{"path": "../x"}]}}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := Parse(b)
		if err != nil {
			return
		}
		js, err := r.JSON()
		if err != nil {
			t.Fatalf("accepted report does not encode: %v", err)
		}
		r2, err := Parse(js)
		if err != nil {
			t.Fatalf("re-parse of %s: %v", js, err)
		}
		js2, _ := r2.JSON()
		if !bytes.Equal(js, js2) {
			t.Fatalf("not canonical:\n%s\n%s", js, js2)
		}
	})
}
