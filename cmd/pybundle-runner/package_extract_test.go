//go:build unix

package main

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"context"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"

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
