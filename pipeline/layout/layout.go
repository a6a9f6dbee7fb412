// Package layout is where a backend bundle lives, from PyInstaller's output folder to the
// packaged Electron app: one Bundle (target, executable name, onedir or onefile) derives every
// path, so the build, the checks, electron-builder's extraResources and the app's
// process.resourcesPath lookup cannot disagree.
//
//	PyInstaller --distpath D   D/<name>/<exe> + D/<name>/_internal/ (onedir) or D/<exe> (onefile)
//	build output dist/         dist/<os>-<arch>/<same>               (report.json's "artifact")
//	the app's source folder    <app>/backend/dist/<same>             (AppBackendDir)
//	the packaged app           <resources>/backend/<same>            (ResourcesBackendDir)
//
// Paths are slash-separated and relative: the executor (a container or a native runner) joins
// them to its own roots.
package layout

import (
	"fmt"
	"path"
	"strings"

	"github.com/pybundle/pybundle/pipeline/target"
)

// Mode is PyInstaller's output layout.
//
// OneDir is the default: it starts faster (no extraction to a temporary folder on every
// launch) and electron-builder ships the folder as is. OneFile is one self-extracting file.
type Mode string

const (
	OneDir  Mode = "onedir"
	OneFile Mode = "onefile"
)

// ParseMode reads a mode as a user writes it ("onefile", " OneDir "); "" is OneDir.
func ParseMode(s string) (Mode, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", string(OneDir):
		return OneDir, nil
	case string(OneFile):
		return OneFile, nil
	}
	return "", fmt.Errorf("invalid mode %q: want %q or %q", s, OneDir, OneFile)
}

// UnmarshalText makes Mode a flag.TextVar, a JSON string and a configuration value.
func (m *Mode) UnmarshalText(b []byte) error {
	v, err := ParseMode(string(b))
	if err == nil {
		*m = v
	}
	return err
}

// MarshalText is the canonical spelling.
func (m Mode) MarshalText() ([]byte, error) { return []byte(m), nil }

// Paths of the backend on the Electron side, relative to the app's folder and to Electron's
// process.resourcesPath: the app's electron-builder extraResources copy AppBackendDir to
// ResourcesBackendDir, and its main process starts ResourcesBackendDir/<Bundle.Rel()>.
const (
	AppBackendDir       = "backend/dist"
	ResourcesBackendDir = "backend"
)

// Bundle is one target's backend bundle.
type Bundle struct {
	Target target.Target
	// Name is the executable's base name without ".exe" (the onedir folder's name too).
	Name string
	Mode Mode
}

// Onedir reports whether the bundle is a folder.
func (b Bundle) Onedir() bool { return b.Mode != OneFile }

// Exe is the executable's file name (".exe" added on Windows).
func (b Bundle) Exe() string { return b.Target.ExecutableName(b.Name) }

// Root is the entry PyInstaller writes into its --distpath: the onedir folder or the onefile
// executable. It is what is copied around as the bundle.
func (b Bundle) Root() string {
	if b.Onedir() {
		return b.Name
	}
	return b.Exe()
}

// Rel is the executable relative to the folder holding Root (PyInstaller's --distpath, the
// app's AppBackendDir, the packaged ResourcesBackendDir): <name>/<exe> or <exe>.
func (b Bundle) Rel() string {
	if b.Onedir() {
		return b.Name + "/" + b.Exe()
	}
	return b.Exe()
}

// Dir is the target's folder inside a build's dist/: <os>-<arch>.
func (b Bundle) Dir() string { return b.Target.Slug() }

// Artifact is the executable relative to a build's dist/ (report.json's "artifact").
func (b Bundle) Artifact() string { return b.Dir() + "/" + b.Rel() }

// RootInDist is Root relative to a build's dist/.
func (b Bundle) RootInDist() string { return b.Dir() + "/" + b.Root() }

// Packaged is the executable relative to the packaged app's resources folder.
func (b Bundle) Packaged() string { return ResourcesBackendDir + "/" + b.Rel() }

// PackagedPath is the executable's path in the packaged app whose Electron
// process.resourcesPath is resourcesPath, joined the way Node's path.join does on the target's
// OS (path.posix.join semantics for linux/darwin, backslashes for windows), so the pipeline can
// print or test exactly the string the app computes.
func (b Bundle) PackagedPath(resourcesPath string) string {
	parts := strings.Split(b.Packaged(), "/")
	if b.Target.OS == "windows" {
		return winJoin(resourcesPath, parts...)
	}
	return path.Join(append([]string{resourcesPath}, parts...)...)
}

// winJoin joins like Node's path.win32.join for the inputs Electron produces:
// "/" becomes "\", trailing separators of the base are dropped, and a UNC or
// drive prefix is kept as is. It does not resolve ".." (resourcesPath is
// always absolute and clean).
func winJoin(base string, elems ...string) string {
	base = strings.ReplaceAll(base, "/", `\`)
	trimmed := strings.TrimRight(base, `\`)
	var b strings.Builder
	switch {
	case base == "":
		// relative join
	case trimmed == "":
		b.WriteString(`\`) // root of the current drive
	default:
		b.WriteString(trimmed)
		b.WriteString(`\`)
	}
	b.WriteString(strings.Join(elems, `\`))
	return b.String()
}

// Validate checks the name is one plain path component.
func (b Bundle) Validate() error {
	if !b.Target.IsSupported() {
		return fmt.Errorf("target %q is not supported", b.Target)
	}
	if _, err := ParseMode(string(b.Mode)); err != nil || b.Mode == "" {
		return fmt.Errorf("invalid mode %q", b.Mode)
	}
	if b.Name == "" || b.Name == "." || b.Name == ".." || strings.ContainsAny(b.Name, `/\`) {
		return fmt.Errorf("name %q: must be a plain file name", b.Name)
	}
	return nil
}

// FromEntry is the bundle a report entry describes: its target and mode are the facts, and
// its artifact must be the path they give (so a report edited by hand cannot point elsewhere).
func FromEntry(targetName, mode, artifact string) (Bundle, error) {
	t, err := target.Parse(targetName)
	if err != nil {
		return Bundle{}, err
	}
	m, err := ParseMode(mode)
	if err != nil || mode == "" {
		return Bundle{}, fmt.Errorf("entry %s: invalid mode %q", targetName, mode)
	}
	b := Bundle{Target: t, Mode: m}
	rel, ok := strings.CutPrefix(artifact, b.Dir()+"/")
	if !ok || path.Clean(rel) != rel || rel == ".." || strings.HasPrefix(rel, "../") {
		return Bundle{}, fmt.Errorf("entry %s: artifact %q is not inside %s/", targetName, artifact, b.Dir())
	}
	parts := strings.Split(rel, "/")
	switch {
	case m == OneDir && len(parts) == 2:
		b.Name = parts[0]
	case m == OneFile && len(parts) == 1:
		b.Name = strings.TrimSuffix(parts[0], ".exe")
		if t.OS != "windows" {
			b.Name = parts[0]
		}
	default:
		return Bundle{}, fmt.Errorf("entry %s: artifact %q is not a %s layout (want %s)", targetName, artifact, m, Bundle{Target: t, Mode: m, Name: "<name>"}.Artifact())
	}
	if err := b.Validate(); err != nil {
		return Bundle{}, fmt.Errorf("entry %s: %v", targetName, err)
	}
	if b.Artifact() != artifact {
		return Bundle{}, fmt.Errorf("entry %s: artifact %q does not match its own layout %s", targetName, artifact, b.Artifact())
	}
	return b, nil
}
