package pack

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"
)

// handBuilt is an archive laid out byte by byte from the format description
// (electron/asar README, Chromium Pickle), not by buildAsar: a 123-byte JSON
// header padded to 124, so H = 4 (payload size) + 4 (string length) + 124 = 132.
var handBuiltJSON = `{"files":{"main.js":{"size":3,"offset":"0"},"backend":{"files":{"peft_engine":{"size":2,"offset":"3","executable":true}}}}}`

func handBuilt() []byte {
	var b []byte
	b = append(b, 0x04, 0x00, 0x00, 0x00) // size pickle: payload of 4 bytes
	b = append(b, 0x84, 0x00, 0x00, 0x00) // its payload: the header pickle is 132 bytes
	b = append(b, 0x80, 0x00, 0x00, 0x00) // header pickle: payload of 128 bytes
	b = append(b, 0x7b, 0x00, 0x00, 0x00) // the string: 123 bytes
	b = append(b, handBuiltJSON...)
	b = append(b, 0x00)       // padding to a multiple of 4
	b = append(b, "ok;#!"...) // main.js at 0, backend/peft_engine at 3
	return b
}

func TestReadAsarHeaderHandBuilt(t *testing.T) {
	assert.Equal(t, len(handBuiltJSON), 123)
	entries, err := ReadAsarHeader(bytes.NewReader(handBuilt()))
	assert.NilError(t, err)
	assert.DeepEqual(t, entries, []AsarEntry{
		{Path: "backend", Dir: true},
		{Path: "backend/peft_engine", Size: 2, Executable: true},
		{Path: "main.js", Size: 3},
	})
}

func TestBuildAsarMatchesFormat(t *testing.T) {
	// The test writer must produce the same bytes as the hand layout for the same header.
	b := buildAsar([]asarFile{{path: "main.js", data: "ok;"}})
	assert.Equal(t, binary.LittleEndian.Uint32(b[0:]), uint32(4))
	h := binary.LittleEndian.Uint32(b[4:])
	assert.Equal(t, binary.LittleEndian.Uint32(b[8:]), h-4)
	l := binary.LittleEndian.Uint32(b[12:])
	assert.Equal(t, string(b[16:16+l]), `{"files":{"main.js":{"offset":"0","size":3}}}`)
	assert.Equal(t, (h-8-l) < 4, true)
	assert.Equal(t, string(b[8+h:]), "ok;")

	entries, err := ReadAsarHeader(bytes.NewReader(buildAsar(append(appAsar,
		asarFile{path: "assets/icons/big.png", data: "png", unpacked: true},
		asarFile{path: "empty", data: ""}))))
	assert.NilError(t, err)
	var paths []string
	for _, e := range entries {
		paths = append(paths, e.Path)
	}
	assert.DeepEqual(t, paths, []string{"assets", "assets/icons", "assets/icons/big.png",
		"backend-manager.js", "empty", "main.js", "node_modules", "node_modules/ms", "node_modules/ms/index.js", "package.json"})
	assert.Equal(t, entries[2].Unpacked, true)
}

func TestReadAsarHeaderCorrupt(t *testing.T) {
	good := handBuilt()
	mut := func(f func(b []byte) []byte) []byte { return f(bytes.Clone(good)) }
	pickle := func(js string, pad int) []byte {
		var b []byte
		b = binary.LittleEndian.AppendUint32(b, 4)
		b = binary.LittleEndian.AppendUint32(b, uint32(8+len(js)+pad))
		b = binary.LittleEndian.AppendUint32(b, uint32(4+len(js)+pad))
		b = binary.LittleEndian.AppendUint32(b, uint32(len(js)))
		return append(append(b, js...), make([]byte, pad)...)
	}
	for _, tc := range []struct {
		name string
		data []byte
		msg  string
	}{
		{"empty", nil, "not an asar archive"},
		{"zip", []byte("PK\x03\x04\x14\x00\x00\x00"), "not an asar archive: size pickle payload"},
		{"truncated header", good[:40], "unexpected EOF"},
		{"wrong payload size", mut(func(b []byte) []byte { b[8] = 0x7f; return b }), "header pickle payload is 127 bytes, want 128"},
		{"string longer than pickle", mut(func(b []byte) []byte { b[12] = 0x90; return b }), "JSON header of 144 bytes"},
		{"too much padding", pickle(`{"files":{}}`, 4), "JSON header of 12 bytes in a 24-byte pickle"},
		{"not JSON", pickle(`{"files":`, 3), "JSON header"},
		{"no files", pickle(`{"file":{}}`, 1), `no "files" object`},
		{"trailing data", pickle(`{"files":{}}{}`, 2), "data after the object"},
		{"slash in name", pickle(`{"files":{"a/b":{"size":1,"offset":"0"}}}`, 0), `entry "a/b"`},
		{"dotdot name", pickle(`{"files":{"..":{"files":{}}}}`, 3), `entry ".."`},
		{"null entry", pickle(`{"files":{"x":null}}`, 0), `entry "x" is null`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ReadAsarHeader(bytes.NewReader(tc.data))
			assert.ErrorContains(t, err, tc.msg)
		})
	}
}

func TestReadAsarFileNamesFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "app.asar")
	assert.NilError(t, os.WriteFile(p, handBuilt()[:100], 0o644))
	_, err := ReadAsarFile(p)
	assert.ErrorContains(t, err, p+": corrupt asar archive: header pickle of 132 bytes but the file has 100")

	_, err = ReadAsarFile(filepath.Join(dir, "missing.asar"))
	assert.Assert(t, is.ErrorContains(err, "missing.asar"))
	assert.Assert(t, strings.Contains(err.Error(), "no such file"))
}

// testdata/electron-asar-3.asar was written by the official tool, @electron/asar
// 3.4.1: createPackageWithOptions("app", "app.asar", {unpack: "**/node_modules/x/**"})
// over app/{backend/peft_engine (0755), main.js, package.json, node_modules/x/i.js}.
func TestReadAsarFileOfficial(t *testing.T) {
	entries, err := ReadAsarFile("testdata/electron-asar-3.asar")
	assert.NilError(t, err)
	assert.DeepEqual(t, entries, []AsarEntry{
		{Path: "backend", Dir: true},
		{Path: "backend/peft_engine", Size: 3, Executable: true},
		{Path: "main.js", Size: 15},
		{Path: "node_modules", Dir: true},
		{Path: "node_modules/x", Dir: true},
		{Path: "node_modules/x/i.js", Size: 2, Unpacked: true},
		{Path: "package.json", Size: 13},
	})
}
