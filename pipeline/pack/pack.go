// Package pack checks what electron-builder produced, once each output has been
// extracted into a folder (the linux-unpacked dir as is, tar.gz and zip
// unpacked, a deb through `dpkg-deb -x`):
//
//   - Property 6 (CheckBackend): the backend executable is at
//     <resources>/backend/<exe> (onefile) or <resources>/backend/<name>/<exe>
//     (onedir), a regular file executable by owner, group and other, outside
//     app.asar and app.asar.unpacked, and, when a digest is given, the very
//     file the verify step checked.
//   - Property 9 (CheckUpdateInfo): every file latest-*.yml lists is next to it
//     with the listed size and sha512.
//   - CheckWinConfig: the Windows build asks for no elevation.
//
// Like pipeline/verify it has no engine dependency: the Dagger module runs it
// through `pybundle-probe pack-check`.
package pack

import (
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/pybundle/pybundle/pipeline/layout"
	"github.com/pybundle/pybundle/pipeline/verify"
)

// Check is the outcome of one named check; the same type pipeline/verify
// reports, so consumers of both JSON documents read one shape.
type Check = verify.Check

// Check names used by CheckBackend, in the order it performs them.
const (
	CheckResources     = "resources"
	CheckLocation      = "location"
	CheckMode          = "mode"
	CheckOutsideAsar   = "outside-asar"
	CheckSHA256        = "sha256"
	CheckUpdateInfoDoc = "update-info"
	CheckUpdateFile    = "update-file"
	CheckWinConfigName = "win-config"
)

// Artifact is one electron-builder output checked.
type Artifact struct {
	// Name is the output's name, e.g. "linux-unpacked" or
	// "peft-desktop_0.1.0_amd64.deb" (set by the caller).
	Name string `json:"name"`
	// Kind is how the tree was obtained (set by the caller).
	Kind Kind `json:"kind"`
	// Root is the extracted tree.
	Root string `json:"root"`
	// BackendPath is the backend executable found, relative to Root, with
	// forward slashes; empty when none was found.
	BackendPath string  `json:"backend_path"`
	Checks      []Check `json:"checks"`
	OK          bool    `json:"ok"`
}

// Err returns nil when a passed, else an error naming the artifact and its
// first failed check.
func (a Artifact) Err() error {
	for _, c := range a.Checks {
		if !c.OK {
			return fmt.Errorf("pack-check %s: check %s failed: %s", a.label(), c.Name, c.Detail)
		}
	}
	if !a.OK {
		return fmt.Errorf("pack-check %s: failed", a.label())
	}
	return nil
}

func (a Artifact) label() string {
	if a.Name != "" {
		return a.Name
	}
	return a.Root
}

// maxResourcesDepth bounds the search for the resources dir: the deepest
// layout electron-builder makes is opt/<Product>/resources (3) or
// <Product>.app/Contents/Resources (3), below one wrapping folder at most.
const maxResourcesDepth = 6

// FindResources locates the app's resources dir inside an extracted tree: the
// directory holding app.asar (a regular file), or a directory named
// "resources" (any case, for macOS's Resources) holding an app/ directory —
// e.g. linux-unpacked/resources, peft-desktop-0.1.0/resources,
// opt/PeftDesktop/resources, PeftDesktop.app/Contents/Resources. It searches
// breadth first without following symlinks and takes the shallowest match;
// two matches at that depth are an error, as is none.
func FindResources(root string) (string, error) {
	fi, err := os.Stat(root)
	if err != nil {
		return "", fmt.Errorf("extracted tree %s: %w", root, cause(err))
	}
	if !fi.IsDir() {
		return "", fmt.Errorf("extracted tree %s is not a directory", root)
	}
	level := []string{root}
	for depth := 0; depth <= maxResourcesDepth && len(level) > 0; depth++ {
		var found, next []string
		for _, dir := range level {
			ents, err := os.ReadDir(dir)
			if err != nil {
				return "", fmt.Errorf("reading %s: %w", dir, cause(err))
			}
			if isResources(dir, ents) {
				found = append(found, dir)
				continue // a resources dir holds no other app's resources
			}
			for _, e := range ents {
				// Type() of a symlink is ModeSymlink, not ModeDir: links are not followed.
				if e.IsDir() && e.Name() != "node_modules" && !strings.HasSuffix(e.Name(), ".asar.unpacked") {
					next = append(next, filepath.Join(dir, e.Name()))
				}
			}
		}
		switch len(found) {
		case 0:
			level = next
			continue
		case 1:
			return found[0], nil
		}
		return "", fmt.Errorf("extracted tree %s holds %d resources dirs at the same depth (%s): cannot tell which is the app's",
			root, len(found), strings.Join(relAll(root, found), ", "))
	}
	return "", fmt.Errorf("extracted tree %s holds no resources dir (one with app.asar, or resources/app/) within %d levels",
		root, maxResourcesDepth)
}

func isResources(dir string, ents []fs.DirEntry) bool {
	for _, e := range ents {
		switch {
		case e.Name() == "app.asar" && e.Type().IsRegular():
			return true
		case e.Name() == "app" && e.IsDir() && strings.EqualFold(filepath.Base(dir), "resources"):
			return true
		}
	}
	return false
}

// CheckBackend checks Property 6 on the tree extracted from one electron-builder output at
// root, for the bundle b report.json vouches for. wantSHA256, when not empty, is the hex sha256
// the verify step recorded for the executable: equal digests prove the packaged backend is the
// verified one.
//
// Checks, in order: resources (FindResources), location (the executable where the app starts
// it, <resources>/<b.Packaged()>, a regular file, not a symlink; the app tries onefile before
// onedir, so a onefile executable shadowing a onedir bundle fails too), mode (executable by
// owner, group and other; 0755 expected; Windows .exe files are exempt), outside-asar
// (app.asar's header lists nothing under backend/ and nothing named <exe> or <name>, and
// neither app.asar.unpacked nor an app/ folder holds such a path), sha256. Name and Kind of
// the result are left for the caller.
func CheckBackend(root string, b layout.Bundle, wantSHA256 string) (a Artifact) {
	a.Root = root
	add := func(check string, ok bool, format string, args ...any) {
		a.Checks = append(a.Checks, Check{Name: check, OK: ok, Detail: fmt.Sprintf(format, args...)})
	}
	defer func() { // a is the named result: every return gets OK set
		a.OK = len(a.Checks) > 0
		for _, c := range a.Checks {
			a.OK = a.OK && c.OK
		}
	}()
	name, exe := b.Name, b.Exe()
	if !validComponent(name) || !validComponent(exe) {
		add(CheckLocation, false, "backend name %q / executable %q: each must be one non-empty path component", name, exe)
		return a
	}

	res, err := FindResources(root)
	if err != nil {
		add(CheckResources, false, "%v", err)
		return a
	}
	add(CheckResources, true, "%s", rel(root, res))

	exePath, found, detail := locate(res, name, exe)
	switch {
	case exePath == "":
		add(CheckLocation, false, "%s", detail)
	case found != string(b.Mode):
		a.BackendPath = rel(root, exePath)
		add(CheckLocation, false, "%s at %s, but report.json vouches for a %s backend (%s): the app would start another bundle than the verified one",
			found, a.BackendPath, b.Mode, "resources/"+b.Packaged())
		exePath = ""
	default:
		a.BackendPath = rel(root, exePath)
		add(CheckLocation, true, "%s at %s%s", found, a.BackendPath, detail)
	}

	if exePath != "" {
		checkMode(exePath, a.BackendPath, exe, add)
	}

	checkOutsideAsar(root, res, name, exe, add)

	if exePath != "" && wantSHA256 != "" {
		want := strings.ToLower(strings.TrimSpace(wantSHA256))
		got, _, err := verify.FileSHA256(exePath)
		switch {
		case !isHexSHA256(want):
			add(CheckSHA256, false, "expected digest %q is not a hex sha256", wantSHA256)
		case err != nil:
			add(CheckSHA256, false, "%v", err)
		case got != want:
			add(CheckSHA256, false, "%s: sha256 %s, the verified backend has %s: the packaged backend is not the verified one",
				a.BackendPath, got, want)
		default:
			add(CheckSHA256, true, "%s: sha256 %s, the verified backend", a.BackendPath, got)
		}
	}
	return a
}

// locate finds the executable the app would start. It returns the path (empty
// when none), the layout and a detail: the failure, or a note when both
// layouts are present.
func locate(res, name, exe string) (p, found, detail string) {
	backend := filepath.Join(res, layout.ResourcesBackendDir)
	onefile := filepath.Join(backend, exe)
	onedirDir := filepath.Join(backend, name)
	onedir := filepath.Join(onedirDir, exe)
	relRes := func(p string) string { return "resources/" + rel(res, p) }

	fi, err := os.Lstat(onefile)
	switch {
	case err == nil && fi.Mode().IsRegular():
		note := ""
		if name != exe {
			if fi2, err := os.Lstat(onedir); err == nil && fi2.Mode().IsRegular() {
				note = fmt.Sprintf(" (%s also present; the app starts the onefile one)", relRes(onedir))
			}
		}
		return onefile, "onefile", note
	case err == nil && fi.Mode()&fs.ModeSymlink != 0:
		return "", "", fmt.Sprintf("%s is a symlink, not the executable itself", relRes(onefile))
	case err == nil && !fi.IsDir():
		return "", "", fmt.Sprintf("%s is not a regular file (%v)", relRes(onefile), fi.Mode().Type())
	case err != nil && !errors.Is(err, fs.ErrNotExist):
		return "", "", fmt.Sprintf("%s: %v", relRes(onefile), cause(err))
	}

	di, err := os.Lstat(onedirDir)
	if err == nil && di.IsDir() {
		fi, err := os.Lstat(onedir)
		switch {
		case err == nil && fi.Mode().IsRegular():
			return onedir, "onedir", ""
		case err == nil && fi.Mode()&fs.ModeSymlink != 0:
			return "", "", fmt.Sprintf("%s is a symlink, not the executable itself", relRes(onedir))
		case err == nil:
			return "", "", fmt.Sprintf("%s is not a regular file (%v)", relRes(onedir), fi.Mode().Type())
		case !errors.Is(err, fs.ErrNotExist):
			return "", "", fmt.Sprintf("%s: %v", relRes(onedir), cause(err))
		}
	} else if err == nil && di.Mode()&fs.ModeSymlink != 0 {
		return "", "", fmt.Sprintf("%s is a symlink, not the onedir bundle itself", relRes(onedirDir))
	}

	msg := fmt.Sprintf("backend executable not packaged: neither %s (onefile) nor %s (onedir) exists", relRes(onefile), relRes(onedir))
	if ents, err := os.ReadDir(backend); err == nil {
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		msg += fmt.Sprintf("; resources/backend holds [%s]", strings.Join(names, ", "))
	} else {
		msg += "; there is no resources/backend (extraResources missing or its source absent at build time)"
	}
	return "", "", msg
}

func checkMode(exePath, shown, exe string, add func(string, bool, string, ...any)) {
	fi, err := os.Stat(exePath)
	if err != nil {
		add(CheckMode, false, "%s: %v", shown, cause(err))
		return
	}
	perm := fi.Mode().Perm()
	base := shown
	switch {
	case strings.HasSuffix(strings.ToLower(exe), ".exe"):
		add(CheckMode, true, "%s: mode %04o; Windows executables have no execute bits to check", base, perm)
	case perm&0o111 != 0o111:
		add(CheckMode, false, "%s: mode %04o lacks execute permission for %s (want 0755): the app's spawn would fail with EACCES; electron-builder keeps the source file's mode, so chmod 0755 the PyInstaller output before packaging",
			base, perm, missingX(perm))
	case perm != 0o755:
		add(CheckMode, true, "%s: mode %04o (not the usual 0755, but executable by owner, group and other)", base, perm)
	default:
		add(CheckMode, true, "%s: mode 0755", base)
	}
}

func missingX(perm fs.FileMode) string {
	var who []string
	for _, w := range []struct {
		bit  fs.FileMode
		name string
	}{{0o100, "owner"}, {0o010, "group"}, {0o001, "other"}} {
		if perm&w.bit == 0 {
			who = append(who, w.name)
		}
	}
	return strings.Join(who, ", ")
}

// checkOutsideAsar asserts the backend was not swept into the app archive:
// Electron cannot spawn a file from inside app.asar, and a copy in
// app.asar.unpacked is not the path the app resolves.
func checkOutsideAsar(root, res, name, exe string, add func(string, bool, string, ...any)) {
	suspect := func(p string) bool { // p: slash path relative to the archive's root
		b := path.Base(p)
		return p == "backend" || strings.HasPrefix(p, "backend/") || b == exe || b == name
	}
	var bad, looked []string
	failed := false

	asar := filepath.Join(res, "app.asar")
	if fi, err := os.Lstat(asar); err == nil && fi.Mode().IsRegular() {
		entries, err := ReadAsarFile(asar)
		if err != nil {
			add(CheckOutsideAsar, false, "%v", err)
			failed = true
		} else {
			for _, e := range entries {
				if suspect(e.Path) {
					where := "app.asar"
					if e.Unpacked {
						where = "app.asar (unpacked)"
					}
					bad = append(bad, where+":"+e.Path)
				}
			}
			looked = append(looked, fmt.Sprintf("app.asar (%d entries)", len(entries)))
		}
	}
	for _, d := range []string{"app.asar.unpacked", "app"} {
		dir := filepath.Join(res, d)
		if fi, err := os.Lstat(dir); err != nil || !fi.IsDir() {
			continue
		}
		n := 0
		err := filepath.WalkDir(dir, func(p string, _ fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if p == dir {
				return nil
			}
			n++
			if r := rel(dir, p); suspect(r) {
				bad = append(bad, d+"/"+r)
			}
			return nil
		})
		if err != nil {
			add(CheckOutsideAsar, false, "reading %s: %v", rel(root, dir), cause(err))
			failed = true
			continue
		}
		looked = append(looked, fmt.Sprintf("%s/ (%d entries)", d, n))
	}
	if failed {
		return
	}
	if len(bad) > 0 {
		slices.Sort(bad)
		more := ""
		if len(bad) > 5 {
			more = fmt.Sprintf(" and %d more", len(bad)-5)
			bad = bad[:5]
		}
		add(CheckOutsideAsar, false, "%s: the app archive holds the backend or a copy of it: %s%s (Electron cannot spawn from inside app.asar; exclude backend/ from build.files)",
			rel(root, res), strings.Join(bad, ", "), more)
		return
	}
	if len(looked) == 0 {
		looked = []string{"no app.asar, app.asar.unpacked or app/"}
	}
	add(CheckOutsideAsar, true, "%s: nothing under backend/ or named %s in %s", rel(root, res), exe, strings.Join(looked, ", "))
}

func isHexSHA256(s string) bool {
	if len(s) != 64 {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil
}

// IsHexSHA256 reports whether s (case-insensitive, surrounding space ignored)
// is a hex sha256 digest.
func IsHexSHA256(s string) bool { return isHexSHA256(strings.ToLower(strings.TrimSpace(s))) }

func validComponent(s string) bool {
	return s != "" && s != "." && s != ".." && !strings.ContainsAny(s, `/\`)
}

// rel returns p relative to base with forward slashes, or p when it is not below base.
func rel(base, p string) string {
	r, err := filepath.Rel(base, p)
	if err != nil || r == ".." || strings.HasPrefix(r, ".."+string(filepath.Separator)) {
		return filepath.ToSlash(p)
	}
	return filepath.ToSlash(r)
}

func relAll(base string, ps []string) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = rel(base, p)
	}
	return out
}

// cause drops the *PathError wrapper when the message already names the path.
func cause(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// CheckBundleName is the check of the whole packaged bundle against its manifest.
const CheckBundleName = "bundle"

// CheckBundle checks the packaged bundle a passed CheckBackend found (a.BackendPath, under
// a.Root) file for file against the manifest report.json vouches for: the executable alone
// matching proves little when _internal/ next to it was changed. The result is appended to
// a.Checks and a.OK updated.
func CheckBundle(a *Artifact, b layout.Bundle, m *verify.Manifest, o verify.CompareOptions) {
	add := func(ok bool, format string, args ...any) {
		a.Checks = append(a.Checks, Check{Name: CheckBundleName, OK: ok, Detail: fmt.Sprintf(format, args...)})
		a.OK = a.OK && ok
	}
	switch {
	case a.BackendPath == "":
		return // no backend found: location failed already
	case m == nil:
		add(false, "report.json has no manifest of the bundle to check it against")
		return
	}
	root := filepath.Join(a.Root, filepath.FromSlash(a.BackendPath))
	if b.Onedir() {
		root = filepath.Dir(root)
	}
	got, err := verify.TreeManifest(root)
	if err != nil {
		add(false, "%v", err)
		return
	}
	if diff := m.Diff(got, o, 8); len(diff) > 0 {
		add(false, "%s is not the verified bundle (%s): %s", rel(a.Root, root), m.Summary(), strings.Join(diff, "; "))
		return
	}
	add(true, "%s: %s, the verified bundle", rel(a.Root, root), got.Summary())
}
