//go:build unix

package main

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"

	"github.com/pybundle/pybundle/pipeline/layout"
	"github.com/pybundle/pybundle/pipeline/pack"
	"github.com/pybundle/pybundle/pipeline/target"
)

// member is one archive entry for the fixtures.
type member struct {
	name, body, link string
	mode             fs.FileMode // with fs.ModeDir / fs.ModeSymlink for those
	hardlink         bool
}

// appTree is what an electron-builder archive of the app looks like, with the details the
// extraction must keep: the backend's 0755, a 0644 file, a relative symlink (macOS
// frameworks have them), a read-only folder.
var appTree = []member{
	{name: "app-0.1.0/", mode: fs.ModeDir | 0o755},
	{name: "app-0.1.0/resources/", mode: fs.ModeDir | 0o755},
	{name: "app-0.1.0/resources/app.asar", body: "asar", mode: 0o644},
	{name: "app-0.1.0/resources/backend/peft_engine/peft_engine", body: "ELF", mode: 0o755},
	{name: "app-0.1.0/resources/backend/peft_engine/_internal/base_library.zip", body: "z", mode: 0o644},
	{name: "app-0.1.0/resources/backend/peft_engine/_internal/mod.pyc", body: "pyc", mode: 0o644},
	{name: "app-0.1.0/Frameworks/Current", link: "A", mode: fs.ModeSymlink | 0o777},
	{name: "app-0.1.0/Frameworks/A/lib", body: "lib", mode: 0o755},
	{name: "app-0.1.0/ro/", mode: fs.ModeDir | 0o555},
	{name: "app-0.1.0/ro/file", body: "ro", mode: 0o444},
}

func writeZip(t *testing.T, members []member) string {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, m := range members {
		h := &zip.FileHeader{Name: m.name, Method: zip.Deflate}
		h.SetMode(m.mode)
		w, err := zw.CreateHeader(h)
		assert.NilError(t, err)
		body := m.body
		if m.mode&fs.ModeSymlink != 0 {
			body = m.link
		}
		_, err = w.Write([]byte(body))
		assert.NilError(t, err)
	}
	assert.NilError(t, zw.Close())
	p := filepath.Join(t.TempDir(), "out.zip")
	assert.NilError(t, os.WriteFile(p, buf.Bytes(), 0o644))
	return p
}

func writeTarGz(t *testing.T, members []member) string {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for _, m := range members {
		h := &tar.Header{Name: m.name, Mode: int64(m.mode.Perm()), Typeflag: tar.TypeReg, Size: int64(len(m.body))}
		switch {
		case m.mode.IsDir():
			h.Typeflag, h.Size = tar.TypeDir, 0
		case m.mode&fs.ModeSymlink != 0:
			h.Typeflag, h.Linkname, h.Size = tar.TypeSymlink, m.link, 0
		case m.hardlink:
			h.Typeflag, h.Linkname, h.Size = tar.TypeLink, m.link, 0
		}
		assert.NilError(t, tw.WriteHeader(h))
		if h.Size > 0 {
			_, err := tw.Write([]byte(m.body))
			assert.NilError(t, err)
		}
	}
	assert.NilError(t, tw.Close())
	assert.NilError(t, gz.Close())
	p := filepath.Join(t.TempDir(), "out.tar.gz")
	assert.NilError(t, os.WriteFile(p, buf.Bytes(), 0o644))
	return p
}

// assertAppTree checks the extracted tree kept contents, modes and the symlink.
func assertAppTree(t *testing.T, root string) {
	t.Helper()
	exe := filepath.Join(root, "app-0.1.0", "resources", "backend", "peft_engine", "peft_engine")
	b, err := os.ReadFile(exe)
	assert.NilError(t, err)
	assert.Equal(t, string(b), "ELF")
	fi, err := os.Stat(exe)
	assert.NilError(t, err)
	assert.Equal(t, fi.Mode().Perm(), fs.FileMode(0o755))
	fi, err = os.Stat(filepath.Join(root, "app-0.1.0", "resources", "app.asar"))
	assert.NilError(t, err)
	assert.Equal(t, fi.Mode().Perm(), fs.FileMode(0o644))
	_, err = os.Stat(filepath.Join(root, "app-0.1.0", "resources", "backend", "peft_engine", "_internal", "mod.pyc"))
	assert.NilError(t, err, ".pyc files are part of a onedir bundle")
	link, err := os.Readlink(filepath.Join(root, "app-0.1.0", "Frameworks", "Current"))
	assert.NilError(t, err)
	assert.Equal(t, link, "A")
	b, err = os.ReadFile(filepath.Join(root, "app-0.1.0", "Frameworks", "Current", "lib"))
	assert.NilError(t, err)
	assert.Equal(t, string(b), "lib")
	fi, err = os.Stat(filepath.Join(root, "app-0.1.0", "ro"))
	assert.NilError(t, err)
	assert.Equal(t, fi.Mode().Perm(), fs.FileMode(0o755), "read-only folder: the owner keeps rwx so the tree can be removed")
	fi, err = os.Stat(filepath.Join(root, "app-0.1.0", "ro", "file"))
	assert.NilError(t, err)
	assert.Equal(t, fi.Mode().Perm(), fs.FileMode(0o444))
}

func TestExtractZipKeepsModesAndSymlinks(t *testing.T) {
	// A restrictive umask must not take the backend's execute bits away.
	old := syscall.Umask(0o077)
	defer syscall.Umask(old)
	root := filepath.Join(t.TempDir(), "x")
	assert.NilError(t, extractZip(writeZip(t, appTree), root))
	assertAppTree(t, root)
}

func TestExtractTarGzKeepsModesSymlinksAndHardLinks(t *testing.T) {
	old := syscall.Umask(0o077)
	defer syscall.Umask(old)
	members := append(append([]member{}, appTree...),
		member{name: "app-0.1.0/resources/backend/peft_engine/copy", link: "app-0.1.0/resources/backend/peft_engine/peft_engine", hardlink: true})
	root := filepath.Join(t.TempDir(), "x")
	assert.NilError(t, extractTarGz(writeTarGz(t, members), root))
	assertAppTree(t, root)
	fi, err := os.Stat(filepath.Join(root, "app-0.1.0", "resources", "backend", "peft_engine", "copy"))
	assert.NilError(t, err)
	assert.Equal(t, fi.Mode().Perm(), fs.FileMode(0o755))
}

// TestExtractRefusesEscapes: no archive member may land outside the extraction folder, by its
// name, by a symlink pointing out, or by writing through a symlink it made.
func TestExtractRefusesEscapes(t *testing.T) {
	for _, tc := range []struct {
		name    string
		members []member
		want    string
	}{
		{"parent", []member{{name: "../evil", body: "x", mode: 0o644}}, `archive member "../evil": path escapes the extraction folder`},
		{"nested parent", []member{{name: "a/../../evil", body: "x", mode: 0o644}}, "path escapes the extraction folder"},
		{"absolute", []member{{name: "/tmp/evil", body: "x", mode: 0o644}}, "path escapes the extraction folder"},
		{"backslashes", []member{{name: `..\evil`, body: "x", mode: 0o644}}, "path escapes the extraction folder"},
		{"symlink out", []member{{name: "a/link", link: "../../etc", mode: fs.ModeSymlink | 0o777}}, `symlink to "../../etc" points outside the extraction folder`},
		{"absolute symlink", []member{{name: "link", link: "/etc", mode: fs.ModeSymlink | 0o777}}, "points outside the extraction folder"},
		{"through a symlink", []member{
			{name: "d/", mode: fs.ModeDir | 0o755},
			{name: "d/real/", mode: fs.ModeDir | 0o755},
			{name: "link", link: "d/real", mode: fs.ModeSymlink | 0o777},
			{name: "link/file", body: "x", mode: 0o644},
		}, `archive member "link/file": lies below the symlink link`},
	} {
		for kind, write := range map[string]func(*testing.T, []member) string{"zip": writeZip, "tar.gz": writeTarGz} {
			dir := t.TempDir()
			root := filepath.Join(dir, "x")
			var err error
			if kind == "zip" {
				err = extractZip(write(t, tc.members), root)
			} else {
				err = extractTarGz(write(t, tc.members), root)
			}
			assert.Check(t, is.ErrorContains(err, tc.want), "%s %s", kind, tc.name)
			_, serr := os.Lstat(filepath.Join(dir, "evil"))
			assert.Check(t, os.IsNotExist(serr), "%s %s: nothing written outside", kind, tc.name)
		}
	}
}

func TestExtractBadArchives(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "bad")
	assert.NilError(t, os.WriteFile(bad, []byte("not an archive"), 0o644))
	assert.Check(t, is.ErrorContains(extractZip(bad, filepath.Join(t.TempDir(), "x")), "zip: not a valid zip file"))
	assert.Check(t, is.ErrorContains(extractTarGz(bad, filepath.Join(t.TempDir(), "x")), "bad: gzip: invalid header"))
	// A hard link to something the archive did not extract before it.
	tgz := writeTarGz(t, []member{{name: "x", link: "missing", hardlink: true}})
	assert.Check(t, is.ErrorContains(extractTarGz(tgz, filepath.Join(t.TempDir(), "x")), `hard link to "missing"`))
}

// TestCopyTreeKeepsEverything: the backend handed to electron-builder is the bundle as built:
// .pyc files, symlinks and modes included (copySource, for sources, skips the first two).
func TestCopyTreeKeepsEverything(t *testing.T) {
	src := filepath.Join(t.TempDir(), "peft_engine")
	assert.NilError(t, os.MkdirAll(filepath.Join(src, "_internal", "__pycache__"), 0o755))
	assert.NilError(t, os.WriteFile(filepath.Join(src, "peft_engine"), []byte("ELF"), 0o755))
	assert.NilError(t, os.WriteFile(filepath.Join(src, "_internal", "libpython3.13.so.1.0"), []byte("so"), 0o755))
	assert.NilError(t, os.Symlink("libpython3.13.so.1.0", filepath.Join(src, "_internal", "libpython3.13.so")))
	assert.NilError(t, os.WriteFile(filepath.Join(src, "_internal", "__pycache__", "m.cpython-313.pyc"), []byte("pyc"), 0o644))

	dst := filepath.Join(t.TempDir(), "copy")
	old := syscall.Umask(0o077) // must not take the backend's execute bits away
	defer syscall.Umask(old)
	assert.NilError(t, copyTree(src, dst))
	fi, err := os.Stat(filepath.Join(dst, "peft_engine"))
	assert.NilError(t, err)
	assert.Equal(t, fi.Mode().Perm(), fs.FileMode(0o755))
	link, err := os.Readlink(filepath.Join(dst, "_internal", "libpython3.13.so"))
	assert.NilError(t, err)
	assert.Equal(t, link, "libpython3.13.so.1.0")
	b, err := os.ReadFile(filepath.Join(dst, "_internal", "__pycache__", "m.cpython-313.pyc"))
	assert.NilError(t, err)
	assert.Equal(t, string(b), "pyc")
	fi, err = os.Stat(filepath.Join(dst, "_internal"))
	assert.NilError(t, err)
	assert.Equal(t, fi.Mode().Perm(), fs.FileMode(0o755))

	// A onefile backend is one file.
	one := filepath.Join(t.TempDir(), "peft_engine")
	assert.NilError(t, copyTree(filepath.Join(src, "peft_engine"), one))
	fi, err = os.Stat(one)
	assert.NilError(t, err)
	assert.Equal(t, fi.Mode().Perm(), fs.FileMode(0o755))
}

// fake7z stands in for 7-Zip on electron-builder's NSIS installer: the installer holds
// $PLUGINSDIR/app-64.7z, which holds the unpacked app.
const fake7z = `#!/bin/sh
[ "$1" = x ] && [ "$2" = -y ] || { echo "fake 7z: unexpected $*" >&2; exit 7; }
out=${3#-o}; file=$4
case "$file" in
*.exe) mkdir -p "$out/\$PLUGINSDIR" && echo inner > "$out/\$PLUGINSDIR/app-64.7z" && echo dll > "$out/\$PLUGINSDIR/System.dll";;
*/app-64.7z) mkdir -p "$out/resources/backend/peft_engine" && mkdir -p "$out/resources/app" && echo '{}' > "$out/resources/app/package.json" &&
   echo MZ > "$out/resources/backend/peft_engine/peft_engine.exe";;
*) echo "fake 7z: cannot open $file" >&2; exit 2;;
esac
`

// TestOpenOutput opens outputs the way a runner does, with real tools where this machine has
// them (tar with xz, dpkg-deb) and a fake 7-Zip for the NSIS layout, then checks them with
// pipeline/pack as `package` does.
func TestOpenOutput(t *testing.T) {
	a, _, _ := testApp("linux", "amd64")
	ctx := context.Background()
	win := target.Target{OS: "windows", Arch: "amd64"}
	src := t.TempDir()
	tree := filepath.Join(src, "tree")
	exe := filepath.Join(tree, "opt", "PeftDesktop", "resources", "backend", "peft_engine", "peft_engine")
	assert.NilError(t, os.MkdirAll(filepath.Dir(exe), 0o755))
	assert.NilError(t, os.MkdirAll(filepath.Join(tree, "opt", "PeftDesktop", "resources", "app"), 0o755))
	assert.NilError(t, os.WriteFile(filepath.Join(tree, "opt", "PeftDesktop", "resources", "app", "package.json"), []byte("{}"), 0o644))
	assert.NilError(t, os.WriteFile(exe, []byte("ELF"), 0o755))
	sha, err := fileSHA256(exe)
	assert.NilError(t, err)

	check := func(t *testing.T, kind pack.Kind, file string, tg target.Target, h host) {
		t.Helper()
		tmp := t.TempDir()
		o, err := a.openOutput(ctx, h, tg, kind, file, tmp)
		assert.NilError(t, err)
		defer o.Cleanup()
		want := sha
		if tg.OS == "windows" {
			want = ""
		}
		art := pack.CheckBackend(o.Root, layout.Bundle{Target: tg, Name: "peft_engine", Mode: layout.OneDir}, want)
		assert.Check(t, art.OK, "%s: %+v", kind, art.Checks)
	}

	t.Run("dir", func(t *testing.T) {
		o, err := a.openOutput(ctx, host{}, linuxAmd64, pack.KindDir, tree, t.TempDir())
		assert.NilError(t, err)
		assert.Equal(t, o.Root, tree, "a dir is checked in place")
		check(t, pack.KindDir, tree, linuxAmd64, host{})
	})
	t.Run("tar.xz", func(t *testing.T) {
		if _, err := exec.LookPath("xz"); err != nil {
			t.Skip("no xz")
		}
		file := filepath.Join(src, "app.tar.xz")
		out, err := exec.Command("tar", "-cJf", file, "-C", tree, ".").CombinedOutput()
		assert.NilError(t, err, string(out))
		check(t, pack.KindTarXz, file, linuxAmd64, host{})
	})
	t.Run("deb", func(t *testing.T) {
		if _, err := exec.LookPath("dpkg-deb"); err != nil {
			t.Skip("no dpkg-deb")
		}
		pkg := filepath.Join(src, "pkg")
		assert.NilError(t, copyTree(tree, pkg))
		assert.NilError(t, os.MkdirAll(filepath.Join(pkg, "DEBIAN"), 0o755))
		assert.NilError(t, os.WriteFile(filepath.Join(pkg, "DEBIAN", "control"), []byte(
			"Package: peft-desktop\nVersion: 0.1.0\nArchitecture: amd64\nMaintainer: x <x@example.com>\nDescription: test\n"), 0o644))
		file := filepath.Join(src, "peft-desktop_0.1.0_amd64.deb")
		out, err := exec.Command("dpkg-deb", "--root-owner-group", "-b", pkg, file).CombinedOutput()
		assert.NilError(t, err, string(out))
		check(t, pack.KindDeb, file, linuxAmd64, host{})
	})
	t.Run("nsis", func(t *testing.T) {
		sevenZip := filepath.Join(t.TempDir(), "7z")
		assert.NilError(t, os.WriteFile(sevenZip, []byte(fake7z), 0o755))
		file := filepath.Join(src, "PeftDesktop Setup 0.1.0.exe")
		assert.NilError(t, os.WriteFile(file, []byte("MZ"), 0o644))
		tmp := t.TempDir()
		o, err := a.openOutput(ctx, host{sevenZip: sevenZip}, win, pack.KindNSIS, file, tmp)
		assert.NilError(t, err)
		assert.Equal(t, o.Root, filepath.Join(tmp, "x"), "the app archive inside the installer, not the installer's own files")
		check(t, pack.KindNSIS, file, win, host{sevenZip: sevenZip})

		_, err = a.openOutput(ctx, host{sevenZip: sevenZip}, win, pack.Kind7z, filepath.Join(src, "broken.7z"), t.TempDir())
		assert.ErrorContains(t, err, "7z x: exit status 2: fake 7z: cannot open")
	})
	t.Run("unknown", func(t *testing.T) {
		_, err := a.openOutput(ctx, host{}, linuxAmd64, pack.KindMSI, "x.msi", t.TempDir())
		assert.ErrorContains(t, err, "cannot open msi outputs")
	})
}

// chainEscape is the review's archive: p/q -> .. is harmless alone and so, read as text, is
// app/resources/backend -> ../../p/q/../../outside (it "stays" inside); followed for real,
// p/q is the root itself and the backend link climbs two levels above it. It is extracted
// at base/a/x, so the link lands on base/outside.
var chainEscape = []member{
	{name: "p/", mode: fs.ModeDir | 0o755},
	{name: "p/q", link: "..", mode: fs.ModeSymlink | 0o777},
	{name: "app/resources/app/package.json", body: "{}", mode: 0o644},
	{name: "app/resources/backend", link: "../../p/q/../../outside", mode: fs.ModeSymlink | 0o777},
}

// writeOutsideBackend writes, at base/outside, a backend that passes every check: what the
// escaping link would make the check vouch for. It returns its sha256.
func writeOutsideBackend(t *testing.T, base string) string {
	t.Helper()
	exe := filepath.Join(base, "outside", "peft_engine", "peft_engine")
	assert.NilError(t, os.MkdirAll(filepath.Join(filepath.Dir(exe), "_internal"), 0o755))
	assert.NilError(t, os.WriteFile(exe, []byte("ELF outside"), 0o755))
	sha, err := fileSHA256(exe)
	assert.NilError(t, err)
	return sha
}

// Found by review: link targets were checked as text only, so a chain of links that each look
// local (p/q -> .., then backend -> ../../p/q/../../outside) extracted, and the backend
// check then passed location, mode and sha256 on a file outside the extraction folder. The
// extraction must fail instead, naming the entry.
func TestExtractRefusesLinkChainEscape(t *testing.T) {
	onedir := layout.Bundle{Target: linuxAmd64, Name: "peft_engine", Mode: layout.OneDir}
	for kind, extract := range map[string]func(*testing.T, string) error{
		"zip":    func(t *testing.T, root string) error { return extractZip(writeZip(t, chainEscape), root) },
		"tar.gz": func(t *testing.T, root string) error { return extractTarGz(writeTarGz(t, chainEscape), root) },
	} {
		t.Run(kind, func(t *testing.T) {
			base := t.TempDir()
			sha := writeOutsideBackend(t, base)
			root := filepath.Join(base, "a", "x")
			err := extract(t, root)
			if err == nil {
				art := pack.CheckBackend(root, onedir, sha)
				t.Fatalf("extraction succeeded; the backend check then says OK=%v on %s: %+v", art.OK, art.BackendPath, art.Checks)
			}
			assert.ErrorContains(t, err, `"app/resources/backend"`)
			assert.ErrorContains(t, err, "outside the extraction folder")
		})
	}
}

// Found by review: the tar.xz path (GNU tar) has the same hole: tar recreates the links at the
// end of the extraction, chain and all. The runner checks every link of the extracted tree.
func TestOpenOutputRefusesLinkChainEscape(t *testing.T) {
	if _, err := exec.LookPath("xz"); err != nil {
		t.Skip("no xz")
	}
	a, _, _ := testApp("linux", "amd64")
	base := t.TempDir()
	writeOutsideBackend(t, base)
	tgz := writeTarGz(t, chainEscape)
	f, err := os.Open(tgz)
	assert.NilError(t, err)
	defer f.Close()
	gz, err := gzip.NewReader(f)
	assert.NilError(t, err)
	file := filepath.Join(t.TempDir(), "app.tar.xz")
	out, err := os.Create(file)
	assert.NilError(t, err)
	cmd := exec.Command("xz", "-c")
	cmd.Stdin, cmd.Stdout = gz, out
	assert.NilError(t, cmd.Run())
	assert.NilError(t, out.Close())

	tmp := filepath.Join(base, "a") // root is tmp/x = base/a/x
	assert.NilError(t, os.Mkdir(tmp, 0o755))
	o, err := a.openOutput(context.Background(), host{}, linuxAmd64, pack.KindTarXz, file, tmp)
	if err == nil {
		art := pack.CheckBackend(o.Root, layout.Bundle{Target: linuxAmd64, Name: "peft_engine", Mode: layout.OneDir}, "")
		t.Fatalf("extraction succeeded; the backend check then says OK=%v on %s", art.OK, art.BackendPath)
	}
	assert.ErrorContains(t, err, `"app/resources/backend"`)
	assert.ErrorContains(t, err, "outside the extraction folder")
}

// Found by review: a folder entry named like a link the archive made was "created" by
// MkdirAll following the link, and its mode was then applied to whatever the link reached: a
// link chain made that a folder outside the extraction folder (chmod 0777). No entry may be
// created or changed through a link leaving the root, whatever comes after it.
func TestExtractRefusesDirThroughLinkChain(t *testing.T) {
	chain := []member{
		{name: "p/", mode: fs.ModeDir | 0o755},
		{name: "p/q", link: "..", mode: fs.ModeSymlink | 0o777},
		{name: "esc", link: "p/q/../../outside", mode: fs.ModeSymlink | 0o777},
	}
	for _, tc := range []struct {
		name string
		more []member
	}{
		{"folder named like the link", []member{{name: "esc/", mode: fs.ModeDir | 0o777}}},
		{"folder below the link", []member{{name: "esc/new/", mode: fs.ModeDir | 0o777}}},
		{"file below the link", []member{{name: "esc/file", body: "x", mode: 0o644}}},
		{"file below the chain", []member{{name: "p/q/p/q/file", body: "x", mode: 0o644}}},
	} {
		for kind, write := range map[string]func(*testing.T, []member) string{"zip": writeZip, "tar.gz": writeTarGz} {
			t.Run(kind+" "+tc.name, func(t *testing.T) {
				base := t.TempDir()
				outside := filepath.Join(base, "outside")
				assert.NilError(t, os.Mkdir(outside, 0o700))
				members := append(append([]member{}, chain...), tc.more...)
				root := filepath.Join(base, "a", "x")
				var err error
				if kind == "zip" {
					err = extractZip(write(t, members), root)
				} else {
					err = extractTarGz(write(t, members), root)
				}
				assert.Check(t, err != nil, "the archive makes a link out of the extraction folder")
				fi, serr := os.Stat(outside)
				assert.NilError(t, serr)
				assert.Check(t, is.Equal(fi.Mode().Perm(), fs.FileMode(0o700)), "the outside folder's mode was changed")
				ents, _ := os.ReadDir(outside)
				assert.Check(t, is.Len(ents, 0), "nothing is created outside")
			})
		}
	}
}

// TestExtractRefusesHardLinkThroughLinkChain: hard links follow the same rule as every entry:
// a tar hard link whose target lies through a link chain must not copy a file from outside the
// extraction folder (the lexical checks already refused these; os.Root keeps it so).
func TestExtractRefusesHardLinkThroughLinkChain(t *testing.T) {
	base := t.TempDir()
	assert.NilError(t, os.WriteFile(filepath.Join(base, "secret"), []byte("secret"), 0o644))
	members := []member{
		{name: "p/", mode: fs.ModeDir | 0o755},
		{name: "p/q", link: "..", mode: fs.ModeSymlink | 0o777},
		{name: "up", link: "p/q/..", mode: fs.ModeSymlink | 0o777},
		{name: "copy", link: "up/../secret", hardlink: true},
		{name: "copy2", link: "p/q/../../secret", hardlink: true},
	}
	root := filepath.Join(base, "a", "x")
	err := extractTarGz(writeTarGz(t, members), root)
	assert.Check(t, err != nil)
	for _, n := range []string{"copy", "copy2"} {
		_, serr := os.Lstat(filepath.Join(root, n))
		assert.Check(t, os.IsNotExist(serr), "%s: nothing copied from outside", n)
	}
}

// fakeRPMTools puts fake rpm2cpio and cpio on PATH (this machine may have neither): each
// chatters on stderr (and cpio on stdout) while the payload streams through the pipe, as the
// real ones do with warnings; then each exits with its given status.
func fakeRPMTools(t *testing.T, r2cBody, cpioBody string) {
	t.Helper()
	dir := t.TempDir()
	assert.NilError(t, os.WriteFile(filepath.Join(dir, "rpm2cpio"), []byte("#!/bin/sh\n"+r2cBody), 0o755))
	assert.NilError(t, os.WriteFile(filepath.Join(dir, "cpio"), []byte("#!/bin/sh\n"+cpioBody), 0o755))
	t.Setenv("PATH", dir+string(os.PathListSeparator)+os.Getenv("PATH"))
}

// Found by review: rpmExtract gave one tail buffer to rpm2cpio's stderr and to cpio's
// stdout and stderr: two processes, two output copiers writing it at once, a data race that
// `go test -race` reports here (and an error quoting the other tool's lines). Each tool now
// has its own buffer, and its error quotes its own output.
func TestRPMExtractOutputs(t *testing.T) {
	a, _, _ := testApp("linux", "amd64")
	chatter := func(who string) string {
		return fmt.Sprintf("i=0; while [ $i -lt 200 ]; do echo \"%s warning $i\" >&2; i=$((i+1)); done\n", who)
	}
	t.Run("both succeed", func(t *testing.T) {
		fakeRPMTools(t,
			chatter("rpm2cpio")+"echo payload\n",
			chatter("cpio")+"cat > extracted; echo \"1 block\"\n")
		root := t.TempDir()
		assert.NilError(t, a.rpmExtract(context.Background(), "app.rpm", root))
		b, err := os.ReadFile(filepath.Join(root, "extracted"))
		assert.NilError(t, err)
		assert.Equal(t, string(b), "payload\n", "cpio runs in root, reading rpm2cpio's output")
	})
	t.Run("rpm2cpio fails", func(t *testing.T) {
		fakeRPMTools(t,
			chatter("rpm2cpio")+"echo 'rpm2cpio: app.rpm: not an rpm package' >&2\nexit 1\n",
			chatter("cpio")+"cat > /dev/null\n")
		err := a.rpmExtract(context.Background(), "app.rpm", t.TempDir())
		assert.Error(t, err, "rpm2cpio: exit status 1: rpm2cpio warning 198 | rpm2cpio warning 199 | rpm2cpio: app.rpm: not an rpm package")
	})
	t.Run("cpio fails", func(t *testing.T) {
		fakeRPMTools(t,
			chatter("rpm2cpio")+"echo payload\n",
			chatter("cpio")+"cat > /dev/null\necho 'cpio: bad magic' >&2\nexit 2\n")
		err := a.rpmExtract(context.Background(), "app.rpm", t.TempDir())
		assert.Error(t, err, "cpio -idm: exit status 2: cpio warning 198 | cpio warning 199 | cpio: bad magic")
	})
	t.Run("both fail", func(t *testing.T) {
		fakeRPMTools(t,
			chatter("rpm2cpio")+"echo 'rpm2cpio: app.rpm: not an rpm package' >&2\nexit 1\n",
			chatter("cpio")+"cat > /dev/null\necho 'cpio: premature end of archive' >&2\nexit 2\n")
		err := a.rpmExtract(context.Background(), "app.rpm", t.TempDir())
		assert.Error(t, err, "rpm2cpio: exit status 1: rpm2cpio warning 198 | rpm2cpio warning 199 | rpm2cpio: app.rpm: not an rpm package; "+
			"cpio -idm: exit status 2: cpio warning 198 | cpio warning 199 | cpio: premature end of archive")
	})
}

// TestRPMExtractCpioDiesEarly: found while fixing the race: the runner kept its own copy of
// the pipe's read end open, so when cpio died without reading, rpm2cpio blocked on the full
// pipe, past the context's end too (with no WaitDelay, Wait waited for the blocked writer's
// stderr): forever. With only the children holding the pipe, rpm2cpio gets EPIPE at once.
func TestRPMExtractCpioDiesEarly(t *testing.T) {
	a, _, _ := testApp("linux", "amd64")
	// 4 MiB is far beyond any pipe buffer: rpm2cpio cannot finish unless the write fails.
	fakeRPMTools(t, "exec head -c 4194304 /dev/zero\n", "echo 'cpio: bad magic' >&2\nexit 2\n")
	// Generous: the answer takes milliseconds; the deadline only bounds the hang this catches
	// (the WaitDelay then ends the wait 5 s later).
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	start := time.Now()
	err := a.rpmExtract(ctx, "app.rpm", t.TempDir())
	took := time.Since(start)
	assert.Check(t, took < 15*time.Second, "took %s", took)
	assert.ErrorContains(t, err, "cpio -idm: exit status 2: cpio: bad magic")
}

// TestExtractRefusesBombs: an output that unpacks past the byte or member cap is refused with
// an error naming the member, for zip and tar alike (the caps are lowered for the test; the
// real ones are 16 GiB and 2^20 members).
func TestExtractRefusesBombs(t *testing.T) {
	bytesCap, membersCap := maxExtractBytes, maxExtractMembers
	t.Cleanup(func() { maxExtractBytes, maxExtractMembers = bytesCap, membersCap })
	big := []member{
		{name: "a.bin", mode: 0o644, body: strings.Repeat("x", 600)},
		{name: "b.bin", mode: 0o644, body: strings.Repeat("x", 600)},
	}
	many := []member{{name: "d/", mode: fs.ModeDir | 0o755}, {name: "d/1", mode: 0o644, body: "1"}, {name: "d/2", mode: 0o644, body: "2"}}
	for _, tc := range []struct {
		name    string
		extract func(string, string) error
		write   func(*testing.T, []member) string
	}{{"zip", extractZip, writeZip}, {"tar.gz", extractTarGz, writeTarGz}} {
		t.Run(tc.name, func(t *testing.T) {
			maxExtractBytes, maxExtractMembers = 1000, membersCap
			err := tc.extract(tc.write(t, big), filepath.Join(t.TempDir(), "x"))
			assert.ErrorContains(t, err, `"b.bin"`)
			assert.ErrorContains(t, err, "not an app output")

			maxExtractBytes, maxExtractMembers = bytesCap, 2
			err = tc.extract(tc.write(t, many), filepath.Join(t.TempDir(), "x"))
			assert.ErrorContains(t, err, `"d/2": more than 2 members`)

			maxExtractBytes, maxExtractMembers = 1200, 3 // exactly at both caps: fine
			assert.NilError(t, tc.extract(tc.write(t, big), filepath.Join(t.TempDir(), "x")))
		})
	}
}
