package main

import (
	"archive/tar"
	"archive/zip"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/pybundle/pybundle/pipeline/diagnose"
	"github.com/pybundle/pybundle/pipeline/pack"
	"github.com/pybundle/pybundle/pipeline/target"
)

// copyTree copies src (a folder or a file) to dst, which must not exist, keeping permission
// bits (set explicitly, whatever the umask) and symlinks as symlinks. Unlike copySource it
// skips nothing: a onedir bundle holds .pyc files and symlinks the backend needs.
func copyTree(src, dst string) error {
	fi, err := os.Lstat(src)
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return copyEntry(src, dst, fi)
	}
	var dirs []dirMode
	err = filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			dirs = append(dirs, dirMode{target, fi.Mode().Perm()})
			return os.MkdirAll(target, 0o755)
		}
		return copyEntry(p, target, fi)
	})
	if err != nil {
		return err
	}
	return chmodDirs(dirs)
}

// dirMode is a folder and the permission bits it gets once its contents are written.
type dirMode struct {
	path string
	perm fs.FileMode
}

// chmodDirs applies folder modes once their contents are written (a 0555 folder would refuse
// its files), deepest first. The owner keeps rwx, so the tree can be removed again.
func chmodDirs(dirs []dirMode) error {
	for i := len(dirs) - 1; i >= 0; i-- {
		if err := os.Chmod(dirs[i].path, dirs[i].perm|0o700); err != nil {
			return err
		}
	}
	return nil
}

// copyEntry copies one file or symlink, keeping its permission bits.
func copyEntry(src, dst string, fi fs.FileInfo) error {
	switch {
	case fi.Mode()&fs.ModeSymlink != 0:
		link, err := os.Readlink(src)
		if err != nil {
			return err
		}
		return os.Symlink(link, dst)
	case !fi.Mode().IsRegular():
		return fmt.Errorf("%s: not a regular file, folder or symlink (%v)", src, fi.Mode().Type())
	}
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	return writeFile(dst, in, fi.Mode().Perm())
}

// writeFile creates dst from r and gives it mode perm (explicitly: the umask must not take
// the backend's execute bits away).
func writeFile(dst string, r io.Reader, perm fs.FileMode) error {
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, r); err != nil {
		out.Close()
		return err
	}
	if err := out.Close(); err != nil {
		return err
	}
	return os.Chmod(dst, perm)
}

// memberPath is where an archive member named name goes under root. Absolute names, names
// with a drive or leaving root ("..") are refused, as is a member below a symlink the archive
// made (writing through it could reach outside root).
func memberPath(root, name string) (string, error) {
	n := strings.ReplaceAll(name, `\`, "/")
	clean := path.Clean(strings.TrimSuffix(n, "/"))
	if n == "" || strings.HasPrefix(n, "/") || clean == "." || !filepath.IsLocal(filepath.FromSlash(clean)) {
		return "", fmt.Errorf("archive member %q: path escapes the extraction folder", name)
	}
	p := root
	parts := strings.Split(clean, "/")
	for _, part := range parts[:len(parts)-1] {
		p = filepath.Join(p, part)
		if fi, err := os.Lstat(p); err == nil && fi.Mode()&fs.ModeSymlink != 0 {
			return "", fmt.Errorf("archive member %q: lies below the symlink %s", name, filepath.ToSlash(strings.TrimPrefix(p, root+string(filepath.Separator))))
		}
	}
	return filepath.Join(root, filepath.FromSlash(clean)), nil
}

// checkLinkTarget refuses a symlink (member name, target) that points outside root.
func checkLinkTarget(name, link string) error {
	l := strings.ReplaceAll(link, `\`, "/")
	dir := path.Dir(path.Clean(strings.ReplaceAll(name, `\`, "/")))
	if strings.HasPrefix(l, "/") || filepath.VolumeName(link) != "" || !filepath.IsLocal(filepath.FromSlash(path.Join(dir, l))) {
		return fmt.Errorf("archive member %q: symlink to %q points outside the extraction folder", name, link)
	}
	return nil
}

// extractor writes archive members under root, keeping modes and symlinks.
type extractor struct {
	root string
	dirs []dirMode
}

func (x *extractor) dir(name string, perm fs.FileMode) error {
	if strings.Trim(strings.ReplaceAll(name, `\`, "/"), "./") == "" {
		return nil // the archive's own root
	}
	p, err := memberPath(x.root, name)
	if err != nil {
		return err
	}
	x.dirs = append(x.dirs, dirMode{p, perm})
	return os.MkdirAll(p, 0o755)
}

func (x *extractor) parent(p string) error { return os.MkdirAll(filepath.Dir(p), 0o755) }

func (x *extractor) file(name string, r io.Reader, perm fs.FileMode) error {
	p, err := memberPath(x.root, name)
	if err != nil {
		return err
	}
	if err := x.parent(p); err != nil {
		return err
	}
	if err := writeFile(p, r, perm); err != nil {
		return fmt.Errorf("archive member %q: %w", name, err)
	}
	return nil
}

func (x *extractor) symlink(name, link string) error {
	p, err := memberPath(x.root, name)
	if err != nil {
		return err
	}
	if err := checkLinkTarget(name, link); err != nil {
		return err
	}
	if err := x.parent(p); err != nil {
		return err
	}
	return os.Symlink(link, p)
}

func (x *extractor) hardlink(name, linkname string) error {
	p, err := memberPath(x.root, name)
	if err != nil {
		return err
	}
	src, err := memberPath(x.root, linkname)
	if err != nil {
		return err
	}
	fi, err := os.Lstat(src)
	if err != nil || !fi.Mode().IsRegular() {
		return fmt.Errorf("archive member %q: hard link to %q, which is not a file extracted before it", name, linkname)
	}
	if err := x.parent(p); err != nil {
		return err
	}
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	return writeFile(p, in, fi.Mode().Perm())
}

func (x *extractor) finish() error { return chmodDirs(x.dirs) }

// extractZip extracts a zip file into root (created), keeping Unix modes and symlinks.
func extractZip(file, root string) error {
	zr, err := zip.OpenReader(file)
	if err != nil {
		return err
	}
	defer zr.Close()
	if err := os.MkdirAll(root, 0o755); err != nil {
		return err
	}
	x := &extractor{root: root}
	for _, f := range zr.File {
		m := f.Mode()
		switch {
		case m.IsDir():
			err = x.dir(f.Name, m.Perm())
		case m&fs.ModeSymlink != 0:
			var link []byte
			if link, err = readMember(f); err == nil {
				err = x.symlink(f.Name, string(link))
			}
		case m.IsRegular():
			var rc io.ReadCloser
			if rc, err = f.Open(); err == nil {
				err = x.file(f.Name, rc, m.Perm())
				rc.Close()
			}
		default:
			continue // devices, pipes: nothing an app output holds
		}
		if err != nil {
			return err
		}
	}
	return x.finish()
}

func readMember(f *zip.File) ([]byte, error) {
	rc, err := f.Open()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(io.LimitReader(rc, 4096))
}

// extractTarGz extracts a .tar.gz into root (created), keeping modes, symlinks and hard links.
func extractTarGz(file, root string) error {
	f, err := os.Open(file)
	if err != nil {
		return err
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		return fmt.Errorf("%s: %w", filepath.Base(file), err)
	}
	defer gz.Close()
	if err := os.MkdirAll(root, 0o755); err != nil {
		return err
	}
	x := &extractor{root: root}
	tr := tar.NewReader(gz)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("%s: %w", filepath.Base(file), err)
		}
		perm := fs.FileMode(h.Mode).Perm()
		switch h.Typeflag {
		case tar.TypeDir:
			err = x.dir(h.Name, perm)
		case tar.TypeReg:
			err = x.file(h.Name, tr, perm)
		case tar.TypeSymlink:
			err = x.symlink(h.Name, h.Linkname)
		case tar.TypeLink:
			err = x.hardlink(h.Name, h.Linkname)
		default:
			continue // pax/global headers are consumed by the reader; devices, fifos skipped
		}
		if err != nil {
			return err
		}
	}
	return x.finish()
}

// openedOutput is one output made into a tree to check.
type openedOutput struct {
	Root    string
	Cleanup func() // undo what opening did (detach a dmg); the temporary folder is the caller's
}

// openOutput makes the output at src (of kind) into a tree under tmp (a fresh folder): a dir
// as is, zip and tar.gz in Go, the rest with the OS's tools. Only kinds h.extractable accepts
// are passed here.
func (a *app) openOutput(ctx context.Context, h host, t target.Target, kind pack.Kind, src, tmp string) (openedOutput, error) {
	root := filepath.Join(tmp, "x")
	none := func() {}
	switch kind {
	case pack.KindDir:
		return openedOutput{Root: src, Cleanup: none}, nil
	case pack.KindZip:
		return openedOutput{Root: root, Cleanup: none}, extractZip(src, root)
	case pack.KindTarGz:
		return openedOutput{Root: root, Cleanup: none}, extractTarGz(src, root)
	case pack.KindTarXz:
		return a.openWith(ctx, root, []string{"tar", "-xJf", src, "-C", root})
	case pack.KindDeb:
		return a.openWith(ctx, root, []string{"dpkg-deb", "-x", src, root})
	case pack.KindRPM:
		if err := os.MkdirAll(root, 0o755); err != nil {
			return openedOutput{}, err
		}
		return openedOutput{Root: root, Cleanup: none}, a.rpmExtract(ctx, src, root)
	case pack.KindPkg:
		// pkgutil creates the folder itself and refuses an existing one.
		if out, err := a.quiet(ctx, "", "pkgutil", "--expand-full", src, root); err != nil {
			return openedOutput{}, toolError("pkgutil --expand-full", err, out)
		}
		return openedOutput{Root: root, Cleanup: none}, nil
	case pack.KindDmg:
		return a.attachDmg(ctx, src, filepath.Join(tmp, "mnt"))
	case pack.Kind7z:
		return a.openWith(ctx, root, []string{h.sevenZip, "x", "-y", "-o" + root, src})
	case pack.KindNSIS:
		outer := filepath.Join(tmp, "installer")
		if _, err := a.openWith(ctx, outer, []string{h.sevenZip, "x", "-y", "-o" + outer, src}); err != nil {
			return openedOutput{}, err
		}
		inner := nsisAppArchive(outer, t)
		if inner == "" { // not electron-builder's layout: check what the installer holds
			return openedOutput{Root: outer, Cleanup: none}, nil
		}
		return a.openWith(ctx, root, []string{h.sevenZip, "x", "-y", "-o" + root, inner})
	}
	return openedOutput{}, fmt.Errorf("cannot open %s outputs", kind)
}

// openWith creates root and runs argv, which extracts into it.
func (a *app) openWith(ctx context.Context, root string, argv []string) (openedOutput, error) {
	if err := os.MkdirAll(root, 0o755); err != nil {
		return openedOutput{}, err
	}
	if out, err := a.quiet(ctx, "", argv...); err != nil {
		return openedOutput{}, toolError(filepath.Base(argv[0])+" "+argv[1], err, out)
	}
	return openedOutput{Root: root, Cleanup: func() {}}, nil
}

// nsisAppArchive is the app archive electron-builder's NSIS installer carries in
// $PLUGINSDIR (app-64.7z, app-arm64.7z, app-32.7z), for t's arch; "" when there is none.
func nsisAppArchive(extracted string, t target.Target) string {
	dir := filepath.Join(extracted, "$PLUGINSDIR")
	want := map[string]string{"x64": "app-64.7z", "arm64": "app-arm64.7z", "ia32": "app-32.7z"}[t.ElectronBuilderArch()]
	if fi, err := os.Stat(filepath.Join(dir, want)); want != "" && err == nil && fi.Mode().IsRegular() {
		return filepath.Join(dir, want)
	}
	matches, _ := filepath.Glob(filepath.Join(dir, "app-*.7z"))
	if len(matches) == 1 {
		return matches[0]
	}
	return ""
}

// rpmExtract is `rpm2cpio src | cpio -idm` in root.
func (a *app) rpmExtract(ctx context.Context, src, root string) error {
	r2c := exec.CommandContext(ctx, "rpm2cpio", src)
	cpio := exec.CommandContext(ctx, "cpio", "-idm", "--quiet")
	cpio.Dir = root
	pipe, err := r2c.StdoutPipe()
	if err != nil {
		return err
	}
	cpio.Stdin = pipe
	var errs diagnose.TailBuffer
	errs.Max = 64 << 10
	r2c.Stderr, cpio.Stdout, cpio.Stderr = &errs, &errs, &errs
	if err := r2c.Start(); err != nil {
		return fmt.Errorf("rpm2cpio: %w", err)
	}
	cerr := cpio.Run()
	rerr := r2c.Wait()
	switch {
	case rerr != nil:
		return toolError("rpm2cpio", rerr, string(errs.Bytes()))
	case cerr != nil:
		return toolError("cpio -idm", cerr, string(errs.Bytes()))
	}
	return nil
}

// attachDmg mounts a dmg read-only at mnt; Cleanup detaches it (forcibly if need be), also
// when the run was cancelled.
func (a *app) attachDmg(ctx context.Context, dmg, mnt string) (openedOutput, error) {
	if err := os.MkdirAll(mnt, 0o755); err != nil {
		return openedOutput{}, err
	}
	if out, err := a.quiet(ctx, "", "hdiutil", "attach", "-nobrowse", "-readonly", "-noautoopen", "-mountpoint", mnt, dmg); err != nil {
		return openedOutput{}, toolError("hdiutil attach", err, out)
	}
	detach := func() {
		dctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if _, err := a.quiet(dctx, "", "hdiutil", "detach", mnt); err != nil {
			if out, err := a.quiet(dctx, "", "hdiutil", "detach", "-force", mnt); err != nil {
				a.logf("package: could not detach %s: %v %s", mnt, err, lastLine(out))
			}
		}
	}
	return openedOutput{Root: mnt, Cleanup: detach}, nil
}

// quiet runs argv in dir, capturing (not echoing) its output: extraction tools list every
// file. The output is returned for the error.
func (a *app) quiet(ctx context.Context, dir string, argv ...string) (string, error) {
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Dir = dir
	buf := &diagnose.TailBuffer{Max: 256 << 10}
	cmd.Stdout, cmd.Stderr = buf, buf
	cmd.WaitDelay = 5 * time.Second
	err := cmd.Run()
	return string(buf.Bytes()), err
}

func toolError(what string, err error, out string) error {
	if tail := diagnose.Tail(out, 3); len(tail) > 0 {
		return fmt.Errorf("%s: %v: %s", what, err, strings.Join(tail, " | "))
	}
	return fmt.Errorf("%s: %v", what, err)
}

// sortedOutputs lists the entries of electron-builder's output folder, sorted.
func sortedOutputs(dir string) ([]fs.DirEntry, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	slices.SortFunc(ents, func(a, b fs.DirEntry) int { return strings.Compare(a.Name(), b.Name()) })
	return ents, nil
}
