package pack

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
)

// AsarEntry is one path listed in an asar archive's header.
type AsarEntry struct {
	// Path is relative to the archive's root, with forward slashes.
	Path string
	// Dir, Link: a directory, or a symlink to Link; else a file.
	Dir  bool
	Link string
	// Size of a file in bytes.
	Size int64
	// Unpacked files live in <archive>.unpacked/<Path>, not in the archive.
	Unpacked bool
	// Executable is set by asar for files with the owner's x bit.
	Executable bool
}

// maxAsarHeader bounds the JSON header read: real ones are kilobytes to a few
// megabytes (one entry per file in node_modules).
const maxAsarHeader = 256 << 20

// ReadAsarFile lists the entries of the asar archive at p; errors name p.
func ReadAsarFile(p string) ([]AsarEntry, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var size int64 = -1
	if fi, err := f.Stat(); err == nil {
		size = fi.Size()
	}
	entries, err := readAsarHeader(f, size)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	return entries, nil
}

// ReadAsarHeader parses the header at the start of an asar archive and lists
// its entries, sorted by path (directories before their contents).
//
// The layout (electron/asar, written with Chromium's Pickle):
//
//	uint32 LE  4                    size pickle: its payload size
//	uint32 LE  H                    the header pickle's length
//	uint32 LE  H-4                  header pickle: its payload size
//	uint32 LE  L                    JSON string length in bytes
//	L bytes    JSON                 {"files": {name: node}}
//	0-3 bytes  padding to 4
//	file contents from offset 8+H   (each file's "offset" is relative to this)
//
// A node is a directory {"files": {...}}, a file {"size": n, "offset": "n",
// "unpacked": bool, "executable": bool, "integrity": {...}} or a link
// {"link": "target"}.
func ReadAsarHeader(r io.Reader) ([]AsarEntry, error) { return readAsarHeader(r, -1) }

func readAsarHeader(r io.Reader, fileSize int64) ([]AsarEntry, error) {
	var pre [8]byte
	if _, err := io.ReadFull(r, pre[:]); err != nil {
		return nil, fmt.Errorf("not an asar archive: reading the size pickle: %w", eofAsUnexpected(err))
	}
	if n := binary.LittleEndian.Uint32(pre[0:4]); n != 4 {
		return nil, fmt.Errorf("not an asar archive: size pickle payload is %d bytes, want 4", n)
	}
	h := int64(binary.LittleEndian.Uint32(pre[4:8]))
	switch {
	case h < 8:
		return nil, fmt.Errorf("corrupt asar archive: header pickle of %d bytes", h)
	case h > maxAsarHeader:
		return nil, fmt.Errorf("corrupt asar archive: header pickle of %d bytes exceeds %d", h, maxAsarHeader)
	case fileSize >= 0 && 8+h > fileSize:
		return nil, fmt.Errorf("corrupt asar archive: header pickle of %d bytes but the file has %d", h, fileSize)
	}
	buf := make([]byte, h)
	if _, err := io.ReadFull(r, buf); err != nil {
		return nil, fmt.Errorf("corrupt asar archive: reading the %d-byte header: %w", h, eofAsUnexpected(err))
	}
	if p := int64(binary.LittleEndian.Uint32(buf[0:4])); p != h-4 {
		return nil, fmt.Errorf("corrupt asar archive: header pickle payload is %d bytes, want %d", p, h-4)
	}
	l := int64(binary.LittleEndian.Uint32(buf[4:8]))
	if pad := h - 8 - l; pad < 0 || pad > 3 {
		return nil, fmt.Errorf("corrupt asar archive: JSON header of %d bytes in a %d-byte pickle", l, h)
	}
	var root asarNode
	dec := json.NewDecoder(strings.NewReader(string(buf[8 : 8+l])))
	if err := dec.Decode(&root); err != nil {
		return nil, fmt.Errorf("corrupt asar archive: JSON header: %w", err)
	}
	if dec.More() {
		return nil, fmt.Errorf("corrupt asar archive: JSON header has data after the object")
	}
	if root.Files == nil {
		return nil, fmt.Errorf("corrupt asar archive: JSON header has no \"files\" object")
	}
	var out []AsarEntry
	if err := root.walk("", &out); err != nil {
		return nil, fmt.Errorf("corrupt asar archive: %w", err)
	}
	return out, nil
}

type asarNode struct {
	Files      map[string]*asarNode `json:"files"`
	Size       int64                `json:"size"`
	Offset     string               `json:"offset"`
	Link       *string              `json:"link"`
	Unpacked   bool                 `json:"unpacked"`
	Executable bool                 `json:"executable"`
}

func (n *asarNode) walk(prefix string, out *[]AsarEntry) error {
	names := make([]string, 0, len(n.Files))
	for name := range n.Files {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		if !validComponent(name) {
			return fmt.Errorf("entry %q in %q is not a file name", name, "/"+prefix)
		}
		c := n.Files[name]
		if c == nil {
			return fmt.Errorf("entry %q is null", prefix+name)
		}
		e := AsarEntry{Path: prefix + name, Dir: c.Files != nil, Size: c.Size, Unpacked: c.Unpacked, Executable: c.Executable}
		if c.Link != nil {
			e.Link = *c.Link
		}
		if e.Dir && e.Link != "" {
			return fmt.Errorf("entry %q is both a directory and a link", e.Path)
		}
		*out = append(*out, e)
		if e.Dir {
			if err := c.walk(e.Path+"/", out); err != nil {
				return err
			}
		}
	}
	return nil
}

func eofAsUnexpected(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}
