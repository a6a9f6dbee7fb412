package spec

import (
	"fmt"
	"strings"
)

// Which targets PyInstaller reads each release option on (EXE's docs: icon
// "Windows and Mac OS only", version "Windows only", codesign_identity and
// entitlements_file "macOS only"); elsewhere it ignores them with a warning,
// so the spec leaves them out.
func (o Options) rendersIcon() bool        { return o.Icon != "" && (o.isWindows() || o.isDarwin()) }
func (o Options) rendersVersionFile() bool { return o.VersionFile != "" && o.isWindows() }
func (o Options) isWindows() bool          { return o.Target.OS == "windows" }
func (o Options) isDarwin() bool           { return o.Target.OS == "darwin" }

// validateRelease checks the release options whatever the target, so a
// mistake shows on the first build rather than on the first Windows or
// macOS one.
func (o Options) validateRelease() []error {
	var errs []error
	for _, p := range []struct{ what, path string }{
		{"icon", o.Icon}, {"version file", o.VersionFile}, {"entitlements", o.Entitlements},
	} {
		if p.path == "" {
			continue
		}
		if err := checkRelPath(p.what, p.path, false); err != nil {
			errs = append(errs, err)
		}
	}
	if o.CodesignIdentity != "" {
		if err := checkText(o.CodesignIdentity); err != nil {
			errs = append(errs, fmt.Errorf("codesign identity %q: %v", o.CodesignIdentity, err))
		} else if strings.TrimSpace(o.CodesignIdentity) != o.CodesignIdentity {
			errs = append(errs, fmt.Errorf("codesign identity %q: must not start or end with spaces", o.CodesignIdentity))
		}
	}
	if !o.Version.IsZero() {
		if _, err := VersionResource(o.Version, o.Name); err != nil {
			errs = append(errs, err)
		}
	}
	return errs
}

// releaseArgs are EXE's keyword arguments for the release options that
// apply to o's target, one per line, or "".
func releaseArgs(o Options) string {
	var b strings.Builder
	if o.rendersIcon() {
		fmt.Fprintf(&b, "    icon=os.path.join(SPECPATH, %s),\n", py(o.Icon))
	}
	if o.rendersVersionFile() {
		fmt.Fprintf(&b, "    version=os.path.join(SPECPATH, %s),\n", py(o.VersionFile))
	}
	if o.isDarwin() && o.CodesignIdentity != "" {
		fmt.Fprintf(&b, "    codesign_identity=%s,\n", py(o.CodesignIdentity))
	}
	if o.isDarwin() && o.Entitlements != "" {
		fmt.Fprintf(&b, "    entitlements_file=os.path.join(SPECPATH, %s),\n", py(o.Entitlements))
	}
	return b.String()
}

// VersionResourceFile is the version file the build of o needs beside its
// spec: its name (relative to the source root) and VersionResource's text.
// name is "" when there is none to write: not a Windows target, or no
// Version (a VersionFile given without a Version is the caller's own file).
func (o Options) VersionResourceFile() (name string, text []byte, err error) {
	o = o.WithDefaults()
	if o.Version.IsZero() || !o.rendersVersionFile() {
		return "", nil, nil
	}
	text, err = VersionResource(o.Version, o.Name)
	if err != nil {
		return "", nil, err
	}
	return o.VersionFile, text, nil
}
