package pack

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// asarFile is one file for buildAsar.
type asarFile struct {
	path     string // slash-separated
	data     string
	unpacked bool // listed in the header, content in app.asar.unpacked
	exec     bool
}

// buildAsar writes an archive the way electron/asar does: a size pickle
// (uint32 4, uint32 H), the header pickle (uint32 H-4, uint32 L, the JSON,
// zero padding to 4), then the packed files' contents in header order.
func buildAsar(files []asarFile) []byte {
	root := map[string]any{}
	var contents []byte
	for _, f := range files {
		parts := strings.Split(f.path, "/")
		dir := root
		for _, p := range parts[:len(parts)-1] {
			child, ok := dir[p].(map[string]any)
			if !ok {
				child = map[string]any{"files": map[string]any{}}
				dir[p] = child
			}
			dir = child["files"].(map[string]any)
		}
		node := map[string]any{"size": len(f.data)}
		if f.unpacked {
			node["unpacked"] = true
		} else {
			node["offset"] = strconv.Itoa(len(contents))
			contents = append(contents, f.data...)
		}
		if f.exec {
			node["executable"] = true
		}
		dir[parts[len(parts)-1]] = node
	}
	js, err := json.Marshal(map[string]any{"files": root})
	if err != nil {
		panic(err)
	}
	pad := (4 - len(js)%4) % 4
	header := binary.LittleEndian.AppendUint32(nil, uint32(4+len(js)+pad))
	header = binary.LittleEndian.AppendUint32(header, uint32(len(js)))
	header = append(header, js...)
	header = append(header, make([]byte, pad)...)
	out := binary.LittleEndian.AppendUint32(nil, 4)
	out = binary.LittleEndian.AppendUint32(out, uint32(len(header)))
	out = append(out, header...)
	return append(out, contents...)
}

// node is one path of a test tree.
type node struct {
	data string
	mode fs.FileMode // permission bits of a file; 0 means 0644
	dir  bool
	link string     // symlink target
	asar []asarFile // write an asar archive with these files
}

// writeTree creates the paths under root with exact modes (no umask).
func writeTree(t testing.TB, root string, tree map[string]node) {
	t.Helper()
	for p, n := range tree {
		full := filepath.Join(root, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		var err error
		switch {
		case n.dir:
			err = os.MkdirAll(full, 0o755)
		case n.link != "":
			err = os.Symlink(n.link, full)
		default:
			data := []byte(n.data)
			if n.asar != nil {
				data = buildAsar(n.asar)
			}
			mode := n.mode
			if mode == 0 {
				mode = 0o644
			}
			if err = os.WriteFile(full, data, mode); err == nil {
				err = os.Chmod(full, mode)
			}
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

func sha256Hex(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

// appAsar is a typical app archive: no backend in it.
var appAsar = []asarFile{
	{path: "package.json", data: `{"name":"peft-desktop","main":"main.js"}`},
	{path: "main.js", data: "require('./backend-manager')"},
	{path: "backend-manager.js", data: "module.exports = {}"},
	{path: "node_modules/ms/index.js", data: "module.exports = 1"},
}

// failed returns the checks of a that failed, by name.
func failed(a Artifact) []string {
	var out []string
	for _, c := range a.Checks {
		if !c.OK {
			out = append(out, c.Name)
		}
	}
	return out
}

func checkNamed(cs []Check, name string) (Check, bool) {
	for _, c := range cs {
		if c.Name == name {
			return c, true
		}
	}
	return Check{}, false
}
