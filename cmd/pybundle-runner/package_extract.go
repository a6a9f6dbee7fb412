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
	"github.com/pybundle/pybundle/pipeline/dispatch"
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

// memberName is where an archive member named name goes, relative to the extraction root
// (OS separators, for os.Root). Absolute names, names with a drive or leaving the root ("..")
// are refused, as is a member below a symlink the archive made: os.Root would keep the write
// inside the root anyway, but an app output has no reason to write through its own links.
func memberName(root *os.Root, name string) (string, error) {
	n := strings.ReplaceAll(name, `\`, "/")
	clean := path.Clean(strings.TrimSuffix(n, "/"))
	if n == "" || strings.HasPrefix(n, "/") || clean == "." || !filepath.IsLocal(filepath.FromSlash(clean)) {
		return "", fmt.Errorf("archive member %q: path escapes the extraction folder", name)
	}
	parts := strings.Split(clean, "/")
	for i := 1; i < len(parts); i++ {
		p := strings.Join(parts[:i], "/")
		if fi, err := root.Lstat(filepath.FromSlash(p)); err == nil && fi.Mode()&fs.ModeSymlink != 0 {
			return "", fmt.Errorf("archive member %q: lies below the symlink %s", name, p)
		}
	}
	return filepath.FromSlash(clean), nil
}

// checkLinkTarget refuses early a symlink (member name, target) that points outside the root
// as text. It cannot see a chain of links (p/q -> .., then x -> p/q/../..): checkLinks, on the
// finished tree, resolves every link for real.
func checkLinkTarget(name, link string) error {
	l := strings.ReplaceAll(link, `\`, "/")
	dir := path.Dir(path.Clean(strings.ReplaceAll(name, `\`, "/")))
	if strings.HasPrefix(l, "/") || filepath.VolumeName(link) != "" || !filepath.IsLocal(filepath.FromSlash(path.Join(dir, l))) {
		return fmt.Errorf("archive member %q: symlink to %q points outside the extraction folder", name, link)
	}
	return nil
}

// maxLinkHops bounds link resolution as the kernel does (ELOOP), but above every OS's own
// limit (Linux 40, macOS 32): any chain the OS would follow is followed to its end, and only
// a cycle, which the OS cannot follow either, is given up on.
const maxLinkHops = 255

// linkEscapes reports whether following the symlink at name (slash-separated, relative to
// root, its parent folders real folders) the way the OS does leaves root. It walks one
// component at a time, with ".." applied to the folder actually reached (as the kernel
// does), so no chain of links can hide a climb out. A link the OS could not follow (missing
// component, a file used as a folder, a cycle) leads nowhere and does not escape.
func linkEscapes(root *os.Root, name string) (bool, error) {
	var cur []string // the folder reached so far: real folders, no links
	if dir := path.Dir(name); dir != "." {
		cur = strings.Split(dir, "/")
	}
	rest := []string{path.Base(name)}
	for hops := 0; len(rest) > 0; {
		c := rest[0]
		rest = rest[1:]
		switch c {
		case "", ".":
			continue
		case "..":
			if len(cur) == 0 {
				return true, nil
			}
			cur = cur[:len(cur)-1]
			continue
		}
		p := path.Join(strings.Join(cur, "/"), c)
		fi, err := root.Lstat(filepath.FromSlash(p))
		switch {
		case errors.Is(err, fs.ErrNotExist):
			return false, nil // dangling: the OS finds nothing there either
		case err != nil:
			return false, err
		case fi.Mode()&fs.ModeSymlink != 0:
			if hops++; hops > maxLinkHops {
				return false, nil
			}
			target, err := root.Readlink(filepath.FromSlash(p))
			if err != nil {
				return false, err
			}
			if filepath.IsAbs(target) || strings.HasPrefix(target, "/") || filepath.VolumeName(target) != "" {
				return true, nil
			}
			// The target is resolved from the link's folder (cur), ahead of what is left.
			rest = append(strings.Split(filepath.ToSlash(target), "/"), rest...)
		case !fi.IsDir() && len(rest) > 0:
			return false, nil // a file used as a folder: ENOTDIR
		default:
			cur = append(cur, c)
		}
	}
	return false, nil
}

// checkLinks fails when any symlink in the tree at root leads outside it, naming the first
// such entry: the checks that follow read the tree with the OS's own path resolution, and a
// link out would make them vouch for a file that is not in the output.
func checkLinks(root *os.Root) error {
	return fs.WalkDir(root.FS(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("checking the extracted tree: %w", err)
		}
		if d.Type()&fs.ModeSymlink == 0 { // WalkDir does not follow links: d's folders are real
			return nil
		}
		out, err := linkEscapes(root, p)
		if err != nil {
			return fmt.Errorf("checking the extracted tree: %s: %w", p, err)
		}
		if out {
			target, _ := root.Readlink(filepath.FromSlash(p))
			return fmt.Errorf("extracted entry %q: symlink to %q leads outside the extraction folder", p, target)
		}
		return nil
	})
}

// checkExtracted runs checkLinks on the tree a tool extracted at dir.
func checkExtracted(dir string) error {
	r, err := os.OpenRoot(dir)
	if err != nil {
		return err
	}
	defer r.Close()
	return checkLinks(r)
}

// extractor writes archive members under root, keeping modes and symlinks. Every write goes
// through os.Root: whatever links the archive made, nothing is created, opened or changed
// outside the root (an operation that would leave it fails with "path escapes from parent").
type extractor struct {
	root    *os.Root
	dirs    []dirMode // paths relative to root
	written int64     // bytes written so far, against maxExtractBytes
	members int       // members seen so far, against maxExtractMembers
}

// An app output far larger than anything electron-builder makes is a bomb, not an app: a few
// KiB of compressed zeros must not fill the disk. The caps sit well above a real app (its
// backend is refused above 3 GiB anyway) and match the runner's download cap. Variables
// only so that a test can lower them.
var (
	maxExtractBytes   int64 = dispatch.MaxDownloadBytes
	maxExtractMembers       = 1 << 20
)

// count refuses the member past maxExtractMembers.
func (x *extractor) count(name string) error {
	if x.members++; x.members > maxExtractMembers {
		return fmt.Errorf("archive member %q: more than %d members; not an app output", name, maxExtractMembers)
	}
	return nil
}

// newExtractor creates dir and opens it as the root of an extraction.
func newExtractor(dir string) (*extractor, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	r, err := os.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	return &extractor{root: r}, nil
}

func (x *extractor) close() { x.root.Close() }

func (x *extractor) dir(name string, perm fs.FileMode) error {
	if strings.Trim(strings.ReplaceAll(name, `\`, "/"), "./") == "" {
		return nil // the archive's own root
	}
	if err := x.count(name); err != nil {
		return err
	}
	p, err := memberName(x.root, name)
	if err != nil {
		return err
	}
	if err := x.root.MkdirAll(p, 0o755); err != nil {
		return fmt.Errorf("archive member %q: %w", name, err)
	}
	x.dirs = append(x.dirs, dirMode{p, perm})
	return nil
}

// parent creates the folders above p.
func (x *extractor) parent(name, p string) error {
	if d := filepath.Dir(p); d != "." {
		if err := x.root.MkdirAll(d, 0o755); err != nil {
			return fmt.Errorf("archive member %q: %w", name, err)
		}
	}
	return nil
}

// write creates p from r with mode perm, set explicitly on the open file: the umask must not
// take the backend's execute bits away. O_EXCL: never write into something already there.
func (x *extractor) write(name, p string, r io.Reader, perm fs.FileMode) error {
	if err := x.count(name); err != nil {
		return err
	}
	out, err := x.root.OpenFile(p, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err == nil {
		var n int64
		n, err = io.Copy(out, io.LimitReader(r, maxExtractBytes-x.written+1))
		if x.written += n; err == nil && x.written > maxExtractBytes {
			err = fmt.Errorf("the output unpacks to more than %d GiB; not an app output", maxExtractBytes>>30)
		}
		if err == nil {
			err = out.Chmod(perm)
		}
		if cerr := out.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		return fmt.Errorf("archive member %q: %w", name, err)
	}
	return nil
}

func (x *extractor) file(name string, r io.Reader, perm fs.FileMode) error {
	p, err := memberName(x.root, name)
	if err != nil {
		return err
	}
	if err := x.parent(name, p); err != nil {
		return err
	}
	return x.write(name, p, r, perm)
}

func (x *extractor) symlink(name, link string) error {
	if err := x.count(name); err != nil {
		return err
	}
	p, err := memberName(x.root, name)
	if err != nil {
		return err
	}
	if err := checkLinkTarget(name, link); err != nil {
		return err
	}
	if err := x.parent(name, p); err != nil {
		return err
	}
	// Root.Symlink does not check the target: checkLinks does, once every link is there.
	if err := x.root.Symlink(link, p); err != nil {
		return fmt.Errorf("archive member %q: %w", name, err)
	}
	return nil
}

// hardlink copies the file linkname (extracted before) to name, as the app needs a file
// there, not the link: no inode is shared with anything.
func (x *extractor) hardlink(name, linkname string) error {
	p, err := memberName(x.root, name)
	if err != nil {
		return err
	}
	src, err := memberName(x.root, linkname)
	if err != nil {
		return err
	}
	fi, err := x.root.Lstat(src)
	if err != nil || !fi.Mode().IsRegular() {
		return fmt.Errorf("archive member %q: hard link to %q, which is not a file extracted before it", name, linkname)
	}
	if err := x.parent(name, p); err != nil {
		return err
	}
	in, err := x.root.Open(src)
	if err != nil {
		return fmt.Errorf("archive member %q: %w", name, err)
	}
	defer in.Close()
	return x.write(name, p, in, fi.Mode().Perm())
}

// finish refuses a tree with a link leading out, then applies folder modes once their
// contents are written (a 0555 folder would refuse its files), deepest first; the owner
// keeps rwx, so the tree can be removed again.
func (x *extractor) finish() error {
	if err := checkLinks(x.root); err != nil {
		return err
	}
	for i := len(x.dirs) - 1; i >= 0; i-- {
		if err := x.root.Chmod(x.dirs[i].path, x.dirs[i].perm|0o700); err != nil {
			return err
		}
	}
	return nil
}

// extractZip extracts a zip file into root (created), keeping Unix modes and symlinks.
func extractZip(file, root string) error {
	zr, err := zip.OpenReader(file)
	if err != nil {
		return err
	}
	defer zr.Close()
	return extractZipReader(&zr.Reader, root)
}

// extractZipReader extracts an open zip into root (created).
func extractZipReader(zr *zip.Reader, root string) error {
	x, err := newExtractor(root)
	if err != nil {
		return err
	}
	defer x.close()
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
	if err := extractTar(gz, root); err != nil {
		return fmt.Errorf("%s: %w", filepath.Base(file), err)
	}
	return nil
}

// extractTar extracts a tar stream into root (created).
func extractTar(r io.Reader, root string) error {
	x, err := newExtractor(root)
	if err != nil {
		return err
	}
	defer x.close()
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
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
// are passed here. An extracted tree with a symlink leading outside it is an error (a dir is
// the build's own folder, and a dmg is mounted, not extracted: its /Applications link is
// expected).
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
		if err := a.rpmExtract(ctx, src, root); err != nil {
			return openedOutput{}, err
		}
		return openedOutput{Root: root, Cleanup: none}, checkExtracted(root)
	case pack.KindPkg:
		// pkgutil creates the folder itself and refuses an existing one.
		if out, err := a.quiet(ctx, "", "pkgutil", "--expand-full", src, root); err != nil {
			return openedOutput{}, toolError("pkgutil --expand-full", err, out)
		}
		return openedOutput{Root: root, Cleanup: none}, checkExtracted(root)
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

// openWith creates root and runs argv, which extracts into it. The tools keep links as the
// archive has them (GNU tar recreates even those with ".." at the end), so the tree is
// refused when one leads outside it.
func (a *app) openWith(ctx context.Context, root string, argv []string) (openedOutput, error) {
	if err := os.MkdirAll(root, 0o755); err != nil {
		return openedOutput{}, err
	}
	if out, err := a.quiet(ctx, "", argv...); err != nil {
		return openedOutput{}, toolError(filepath.Base(argv[0])+" "+argv[1], err, out)
	}
	if err := checkExtracted(root); err != nil {
		return openedOutput{}, err
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
	// The pipe is the children's alone: the runner closes its copies once they are started,
	// so cpio sees EOF when rpm2cpio ends, and rpm2cpio gets EPIPE (not a full pipe to block
	// on forever) when cpio dies without reading.
	pr, pw, err := os.Pipe()
	if err != nil {
		return err
	}
	r2c.Stdout, cpio.Stdin = pw, pr
	// One tail per process: the two processes' output copiers run at the same time, so they
	// must not share a buffer. Within cpio, exec serialises writes to its one Stdout/Stderr
	// writer.
	r2cOut := &diagnose.TailBuffer{Max: 64 << 10}
	cpioOut := &diagnose.TailBuffer{Max: 64 << 10}
	r2c.Stderr = r2cOut
	cpio.Stdout, cpio.Stderr = cpioOut, cpioOut
	// On cancellation, do not wait forever for a grandchild holding the output pipes.
	r2c.WaitDelay, cpio.WaitDelay = 5*time.Second, 5*time.Second
	err = r2c.Start()
	pw.Close()
	if err != nil {
		pr.Close()
		return fmt.Errorf("rpm2cpio: %w", err)
	}
	cerr := cpio.Run()
	pr.Close()
	rerr := r2c.Wait()
	var errs []string
	if rerr != nil {
		errs = append(errs, toolError("rpm2cpio", rerr, string(r2cOut.Bytes())).Error())
	}
	if cerr != nil { // both failing: a bad rpm makes cpio fail too; cpio failing kills rpm2cpio
		errs = append(errs, toolError("cpio -idm", cerr, string(cpioOut.Bytes())).Error())
	}
	if len(errs) > 0 {
		return errors.New(strings.Join(errs, "; "))
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
