//go:build unix

package main

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"gotest.tools/v3/assert"
)

// The fuzz targets feed arbitrary bytes to the Go extractors (zip, and tar as extractTarGz
// reads it once gunzipped: fuzzing gzip bytes would mostly fuzz the checksum). Whatever the
// bytes, extraction must not panic, must leave everything outside its root as it was, and
// when it succeeds no link in the tree may lead outside the root. `go test` runs the seeds in
// testdata/fuzz/<FuzzName>/ (see TestWriteFuzzSeeds); `go test -fuzz FuzzExtractZip` explores.

// maxFuzzSize bounds what one fuzz case may declare: a sparse tar member or a deflate
// stream turns a few bytes into gigabytes, which would fill the disk, not find a bug.
const maxFuzzSize = 16 << 20

// fuzzTree is what lies around a fuzz case's root: base/a/b/x is the root; a folder named
// outside and a file named secret at each of the three levels above it are what a link
// climbing out would reach.
type fuzzTree struct{ base, root string }

func newFuzzTree(t *testing.T) fuzzTree {
	t.Helper()
	base := t.TempDir()
	for _, d := range []string{"", "a", filepath.Join("a", "b")} {
		dir := filepath.Join(base, d)
		assert.NilError(t, os.MkdirAll(filepath.Join(dir, "outside"), 0o700))
		assert.NilError(t, os.WriteFile(filepath.Join(dir, "secret"), []byte("secret"), 0o600))
	}
	return fuzzTree{base: base, root: filepath.Join(base, "a", "b", "x")}
}

// snapshot lists everything under base but the root: path, type, mode and file contents.
func (ft fuzzTree) snapshot(t *testing.T) map[string]string {
	t.Helper()
	m := map[string]string{}
	err := filepath.WalkDir(ft.base, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == ft.root {
			return filepath.SkipDir
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		v := fi.Mode().String()
		if fi.Mode().IsRegular() {
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			v += " " + string(b)
		}
		m[p] = v
		return nil
	})
	assert.NilError(t, err)
	return m
}

// check runs extract on the fuzz tree and asserts nothing outside the root changed.
func (ft fuzzTree) check(t *testing.T, extract func(root string) error) {
	t.Helper()
	before := ft.snapshot(t)
	err := extract(ft.root)
	after := ft.snapshot(t)
	assert.DeepEqual(t, after, before)
	if err == nil {
		assert.NilError(t, checkExtracted(ft.root), "a successful extraction left a link leading out")
	}
}

func FuzzExtractZip(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			return
		}
		var total uint64
		for _, f := range zr.File {
			total += f.UncompressedSize64
			if total > maxFuzzSize || f.UncompressedSize64 > maxFuzzSize {
				return
			}
		}
		ft := newFuzzTree(t)
		ft.check(t, func(root string) error { return extractZipReader(zr, root) })
	})
}

func FuzzExtractTar(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		// The same bytes read twice give the same headers: skip cases declaring too much.
		tr := tar.NewReader(bytes.NewReader(data))
		var total int64
		for {
			h, err := tr.Next()
			if err != nil {
				break
			}
			total += max(h.Size, 0)
			if h.Size > maxFuzzSize || total > maxFuzzSize {
				return
			}
		}
		ft := newFuzzTree(t)
		ft.check(t, func(root string) error { return extractTar(bytes.NewReader(data), root) })
	})
}

// chainVocab is the path components FuzzExtractLinkChains builds names and link targets from:
// few enough that random bytes make links to links, and ".." to climb.
var chainVocab = []string{"a", "b", "..", ".", "outside", "secret"}

// decodeMembers turns fuzz bytes into at most 8 archive members: per member a kind byte
// (folder, file, symlink, hard link) and two length-prefixed paths over chainVocab, the name
// and the link target.
func decodeMembers(data []byte) []member {
	next := func() (byte, bool) {
		if len(data) == 0 {
			return 0, false
		}
		b := data[0]
		data = data[1:]
		return b, true
	}
	pathOf := func() string {
		n, _ := next()
		var parts []string
		for range 1 + int(n%4) {
			c, _ := next()
			parts = append(parts, chainVocab[int(c)%len(chainVocab)])
		}
		p := parts[0]
		for _, c := range parts[1:] {
			p += "/" + c
		}
		return p
	}
	var ms []member
	for len(ms) < 8 {
		kind, ok := next()
		if !ok {
			break
		}
		name, link := pathOf(), pathOf()
		switch kind % 4 {
		case 0:
			ms = append(ms, member{name: name + "/", mode: fs.ModeDir | 0o755})
		case 1:
			ms = append(ms, member{name: name, body: "x", mode: 0o644})
		case 2:
			ms = append(ms, member{name: name, link: link, mode: fs.ModeSymlink | 0o777})
		case 3:
			ms = append(ms, member{name: name, link: link, hardlink: true})
		}
	}
	return ms
}

// FuzzExtractLinkChains builds archives of folders, files and links to links (the review's
// fault) and extracts them as zip and as tar.gz: nothing outside the root may change, and a
// successful extraction has no link leading out.
func FuzzExtractLinkChains(f *testing.F) {
	// The review's chain in chainVocab: folder a/, a/b -> .. (the root), b -> a/b/../.. (two
	// levels above the root: base/a), then the folder b/ "created" (and chmod'ed) through it.
	f.Add([]byte{0, 0, 0, 0, 0, 2, 1, 0, 1, 0, 2, 2, 0, 1, 3, 0, 1, 2, 2, 0, 0, 1, 0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		ms := decodeMembers(data)
		if len(ms) == 0 {
			return
		}
		newFuzzTree(t).check(t, func(root string) error { return extractZip(writeZip(t, ms), root) })
		newFuzzTree(t).check(t, func(root string) error { return extractTarGz(writeTarGz(t, ms), root) })
	})
}

// fuzzSeeds are the archives the seed corpora start from: a well-formed app, and every escape
// the extraction refuses.
var fuzzSeeds = map[string][]member{
	"app":            appTree,
	"chain-escape":   chainEscape,
	"parent":         {{name: "../evil", body: "x", mode: 0o644}},
	"absolute":       {{name: "/tmp/evil", body: "x", mode: 0o644}},
	"backslashes":    {{name: `..\evil`, body: "x", mode: 0o644}},
	"symlink-out":    {{name: "a/link", link: "../../outside", mode: fs.ModeSymlink | 0o777}},
	"absolute-link":  {{name: "link", link: "/etc", mode: fs.ModeSymlink | 0o777}},
	"dangling-link":  {{name: "link", link: "missing/../..", mode: fs.ModeSymlink | 0o777}},
	"link-loop":      {{name: "l1", link: "l2", mode: fs.ModeSymlink | 0o777}, {name: "l2", link: "l1", mode: fs.ModeSymlink | 0o777}},
	"file-as-folder": {{name: "f", body: "x", mode: 0o644}, {name: "l", link: "f/../..", mode: fs.ModeSymlink | 0o777}},
	"through-symlink": {
		{name: "d/real/", mode: fs.ModeDir | 0o755},
		{name: "link", link: "d/real", mode: fs.ModeSymlink | 0o777},
		{name: "link/file", body: "x", mode: 0o644},
	},
	"dir-through-chain": {
		{name: "p/", mode: fs.ModeDir | 0o755},
		{name: "p/q", link: "..", mode: fs.ModeSymlink | 0o777},
		{name: "esc", link: "p/q/../../outside", mode: fs.ModeSymlink | 0o777},
		{name: "esc/", mode: fs.ModeDir | 0o777},
	},
	"hardlink-through-chain": {
		{name: "p/", mode: fs.ModeDir | 0o755},
		{name: "p/q", link: "..", mode: fs.ModeSymlink | 0o777},
		{name: "up", link: "p/q/..", mode: fs.ModeSymlink | 0o777},
		{name: "copy", link: "up/../secret", hardlink: true},
		{name: "f", body: "x", mode: 0o644},
		{name: "copy2", link: "f", hardlink: true},
	},
}

// readAllFile reads the archive a fixture writer made.
func readAllFile(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	assert.NilError(t, err)
	return b
}

// gunzipTar is a .tar.gz fixture's tar stream.
func gunzipTar(t *testing.T, tgz string) []byte {
	t.Helper()
	f, err := os.Open(tgz)
	assert.NilError(t, err)
	defer f.Close()
	gz, err := gzip.NewReader(f)
	assert.NilError(t, err)
	b, err := io.ReadAll(gz)
	assert.NilError(t, err)
	return b
}

// TestWriteFuzzSeeds (re)writes the committed seed corpora from fuzzSeeds when
// PYBUNDLE_WRITE_FUZZ_SEEDS=1; otherwise it checks each seed is there, so a seed added to
// fuzzSeeds is not forgotten. Files the fuzzer added (regressions it found) are kept.
func TestWriteFuzzSeeds(t *testing.T) {
	write := os.Getenv("PYBUNDLE_WRITE_FUZZ_SEEDS") == "1"
	for name, members := range fuzzSeeds {
		for target, data := range map[string][]byte{
			"FuzzExtractZip": readAllFile(t, writeZip(t, members)),
			"FuzzExtractTar": gunzipTar(t, writeTarGz(t, members)),
		} {
			p := filepath.Join("testdata", "fuzz", target, "seed-"+name)
			if !write {
				_, err := os.Stat(p)
				assert.Check(t, err == nil, "%s: run with PYBUNDLE_WRITE_FUZZ_SEEDS=1 to write it", p)
				continue
			}
			assert.NilError(t, os.MkdirAll(filepath.Dir(p), 0o755))
			corpus := fmt.Sprintf("go test fuzz v1\n[]byte(%s)\n", strconv.Quote(string(data)))
			assert.NilError(t, os.WriteFile(p, []byte(corpus), 0o644))
		}
	}
}
