package spec

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// VersionInfo is the release metadata a Windows executable carries in its
// version resource (Explorer's Details tab, Task Manager's description
// column, installers and antivirus heuristics read it). The fields come from
// the project's [project] table (name, version, description) plus optional
// company and copyright; a build without a version resource shows PyInstaller's
// defaults, which look like an anonymous, unsigned tool.
type VersionInfo struct {
	// Name is the product name. Default: the executable's base name.
	Name string
	// Version is a PEP 440 version ("1.2.3", "2.0rc1", "0.4.0.post2", "1!1.2+local").
	// Required: without one there is no version resource to make.
	Version string
	// Description is the file description. Default: Name.
	Description string
	// Company and Copyright are left out of the resource when empty.
	Company   string
	Copyright string
}

// IsZero reports whether v is unset: then no version resource is made.
func (v VersionInfo) IsZero() bool { return v == VersionInfo{} }

// VersionFileName is the file, next to the spec, that VersionResource's text
// is written to and that the spec passes to PyInstaller as version= on
// Windows (Options.VersionFile defaults to it when Options.Version is set).
const VersionFileName = "pybundle_version.txt"

// maxVersionString bounds each string of the resource, in UTF-16 code units.
// Windows stores every length in a 16-bit field (PyInstaller packs them
// with struct "h", signed): eight strings of this size stay well below
// 32767 bytes in total, so PyInstaller cannot fail with struct.error late
// in the build.
const maxVersionString = 1024

// pep440 is the version pattern of the packaging library
// (packaging.version.VERSION_PATTERN), which pip and build use: anything it
// accepts is a valid project version.
var pep440 = regexp.MustCompile(`(?i)^v?` +
	`(?:(?P<epoch>[0-9]+)!)?` +
	`(?P<release>[0-9]+(?:\.[0-9]+)*)` +
	`(?P<pre>[-_.]?(?:alpha|a|beta|b|preview|pre|c|rc)[-_.]?[0-9]*)?` +
	`(?P<post>-[0-9]+|[-_.]?(?:post|rev|r)[-_.]?[0-9]*)?` +
	`(?P<dev>[-_.]?dev[-_.]?[0-9]*)?` +
	`(?:\+(?P<local>[a-z0-9]+(?:[-_.][a-z0-9]+)*))?$`)

// fileVersion is the numeric part of a version resource: four 16-bit
// numbers and whether the release is a pre-release.
type fileVersion struct {
	nums       [4]uint16
	prerelease bool
}

// parseVersion takes the leading release components of a PEP 440 version
// (epoch and local label are not part of it), padded with zeros or cut to
// four. Each must fit 16 bits, the size Windows stores them in.
func parseVersion(s string) (fileVersion, error) {
	var fv fileVersion
	m := pep440.FindStringSubmatch(strings.TrimSpace(s))
	if m == nil {
		return fv, fmt.Errorf("version %q: not a PEP 440 version (like 1.2.3, 2.0rc1 or 0.4.0.post2)", s)
	}
	for i, part := range strings.SplitN(m[pep440.SubexpIndex("release")], ".", 5) {
		if i == len(fv.nums) {
			break
		}
		n, err := strconv.ParseUint(part, 10, 64)
		if err != nil || n > 0xffff {
			return fv, fmt.Errorf("version %q: release number %s is over 65535, the most a Windows version resource holds", s, part)
		}
		fv.nums[i] = uint16(n)
	}
	fv.prerelease = m[pep440.SubexpIndex("pre")] != "" || m[pep440.SubexpIndex("dev")] != ""
	return fv, nil
}

// tuple renders the four numbers as a Python tuple.
func (fv fileVersion) tuple() string {
	return fmt.Sprintf("(%d, %d, %d, %d)", fv.nums[0], fv.nums[1], fv.nums[2], fv.nums[3])
}

// flags is VS_FF_PRERELEASE (0x2) for pre- and dev releases, as Windows
// defines the FixedFileInfo flags.
func (fv fileVersion) flags() string {
	if fv.prerelease {
		return "0x2"
	}
	return "0x0"
}

// versionString is one StringStruct of the resource's string table.
type versionString struct{ key, value string }

// versionStrings are the resource's strings, in the order Windows' own
// resource compiler sorts them; Company and Copyright only when set.
func versionStrings(v VersionInfo, exeName string) []versionString {
	name := strings.TrimSpace(v.Name)
	if name == "" {
		name = exeName
	}
	desc := strings.TrimSpace(v.Description)
	if desc == "" {
		desc = name
	}
	version := strings.TrimSpace(v.Version)
	var out []versionString
	add := func(key, value string) {
		if value != "" {
			out = append(out, versionString{key, value})
		}
	}
	add("CompanyName", strings.TrimSpace(v.Company))
	add("FileDescription", desc)
	add("FileVersion", version)
	add("InternalName", exeName)
	add("LegalCopyright", strings.TrimSpace(v.Copyright))
	add("OriginalFilename", exeName+".exe")
	add("ProductName", name)
	add("ProductVersion", version)
	return out
}

// checkVersionString rejects what would not survive as a Windows version
// string: invalid UTF-8 (it could not be written as UTF-16), NUL (Windows
// would cut the string there) and strings too long for the 16-bit lengths.
// Anything else, quotes, backslashes and newlines included, is escaped.
func checkVersionString(key, s string) error {
	switch {
	case !utf8.ValidString(s):
		return fmt.Errorf("version info %s %q: not valid UTF-8", key, s)
	case strings.ContainsRune(s, 0):
		return fmt.Errorf("version info %s %q: contains a NUL character", key, s)
	}
	if n := utf16Len(s); n > maxVersionString {
		return fmt.Errorf("version info %s: %d characters long, a Windows version resource holds at most %d", key, n, maxVersionString)
	}
	return nil
}

func utf16Len(s string) int {
	n := 0
	for _, r := range s {
		n += utf16.RuneLen(r)
	}
	return n
}

// VersionResource returns PyInstaller's text form of a Windows version
// resource for v (the VSVersionInfo(...) expression that PyInstaller's
// versioninfo.load_version_info_from_text_file evaluates), for the
// executable exeName (base name, without ".exe"). Write it to the spec's
// Options.VersionFile; the spec passes it as version= on Windows targets.
//
// The numeric file and product versions are v.Version's leading release
// numbers, padded with zeros or cut to four ("2.0rc1" → 2.0.0.0, flagged
// pre-release); the strings keep the version as written. Every string is a
// quoted Python literal, so no value can change the expression's structure.
func VersionResource(v VersionInfo, exeName string) ([]byte, error) {
	var errs []error
	if err := checkName(exeName); err != nil {
		errs = append(errs, fmt.Errorf("version info: executable %w", err))
	}
	var fv fileVersion
	if strings.TrimSpace(v.Version) == "" {
		errs = append(errs, errors.New("version info: no version (the project's [project] version, or the version option)"))
	} else {
		var err error
		if fv, err = parseVersion(v.Version); err != nil {
			errs = append(errs, fmt.Errorf("version info: %w", err))
		}
	}
	strs := versionStrings(v, exeName)
	for _, s := range strs {
		if err := checkVersionString(s.key, s.value); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return renderVersionResource(fv, strs), nil
}

// renderVersionResource lays the resource out as PyInstaller's own
// VSVersionInfo.__str__ does (the format grab_version.py writes), one
// StringStruct per line.
func renderVersionResource(fv fileVersion, strs []versionString) []byte {
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	w("# -*- coding: utf-8 -*-\n")
	w("# Windows version resource, generated by pybundle from the project's metadata.\n")
	w("# Do not edit: regenerate instead. PyInstaller reads it with\n")
	w("# PyInstaller.utils.win32.versioninfo.load_version_info_from_text_file.\n")
	w("VSVersionInfo(\n")
	w("  ffi=FixedFileInfo(\n")
	w("    filevers=%s,\n", fv.tuple())
	w("    prodvers=%s,\n", fv.tuple())
	w("    mask=0x3f,\n")
	w("    flags=%s,\n", fv.flags())
	w("    OS=0x40004,\n")
	w("    fileType=0x1,\n")
	w("    subtype=0x0,\n")
	w("    date=(0, 0)\n")
	w("  ),\n")
	w("  kids=[\n")
	w("    StringFileInfo([\n")
	w("      StringTable(\n")
	w("        '040904B0',\n")
	w("        [\n")
	for _, s := range strs {
		w("          StringStruct(%s, %s),\n", py(s.key), py(s.value))
	}
	w("        ])\n")
	w("    ]),\n")
	w("    VarFileInfo([VarStruct('Translation', [1033, 1200])])\n")
	w("  ]\n")
	w(")\n")
	return []byte(b.String())
}
