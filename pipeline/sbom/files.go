package sbom

import (
	"fmt"
	"path"
	"regexp"
	"slices"
	"strconv"

	cdx "github.com/CycloneDX/cyclonedx-go"

	"github.com/pybundle/pybundle/pipeline/verify"
)

// nativeFile matches the file names of native code: shared libraries (versioned ones too,
// libssl.so.3), Python extension modules and Windows executables.
var nativeFile = regexp.MustCompile(`(?i)(\.so(\.[0-9]+)*|\.dylib|\.dll|\.pyd|\.exe)$`)

// Listed reports whether a bundle's file is listed in the SBOM as a file component: the
// executable, native code (by name) and anything executable (by mode: Mach-O libraries such
// as Python.framework's have no suffix). A onedir bundle has thousands of files, mostly .pyc
// in the PYZ archive and data; those are covered by the tree digest on the bundle component,
// which report.json's manifest details, instead of thousands of components nobody scans.
// Native code is what scanners and auditors match by hash. Symbolic links have no content
// and are never listed.
func Listed(f verify.FileDigest, executable string) bool {
	switch {
	case f.Mode == "link":
		return false
	case f.Path == executable:
		return true
	case nativeFile.MatchString(path.Base(f.Path)):
		return true
	}
	mode, err := strconv.ParseUint(f.Mode, 8, 32)
	return err == nil && mode&0o111 != 0
}

// fileComponents are the listed files of m as file components with their SHA-256, sorted by
// path; the executable is named by executable or, in a one-file manifest, is that file.
func fileComponents(m *verify.Manifest, executable string) ([]cdx.Component, error) {
	if m == nil {
		return nil, nil
	}
	if executable == "" && len(m.Files) == 1 {
		executable = m.Files[0].Path
	}
	if err := checkExecutable(m, executable); err != nil {
		return nil, err
	}
	var out []cdx.Component
	for _, f := range m.Files {
		if !Listed(f, executable) {
			continue
		}
		c, err := fileComponent(f, f.Path == executable)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return uniqueFiles(out)
}

// checkExecutable fails when executable is named but not a file of m: the caller mixed up
// bundles or roots.
func checkExecutable(m *verify.Manifest, executable string) error {
	if executable == "" {
		return nil
	}
	for _, f := range m.Files {
		if f.Path == executable {
			return nil
		}
	}
	return fmt.Errorf("sbom: executable %q is not in the bundle's manifest", executable)
}

// fileComponent is one file of the bundle.
func fileComponent(f verify.FileDigest, executable bool) (cdx.Component, error) {
	hashes, err := sha256Hashes([]string{f.SHA256})
	if err != nil {
		return cdx.Component{}, fmt.Errorf("sbom: bundle file %s: %w", f.Path, err)
	}
	props := []cdx.Property{{Name: PropSize, Value: strconv.FormatInt(f.Size, 10)}}
	if executable {
		props = append([]cdx.Property{{Name: PropExecutable, Value: "true"}}, props...)
	}
	return cdx.Component{
		BOMRef: "file:" + f.Path, Type: cdx.ComponentTypeFile, Name: f.Path,
		Hashes: hashes, Properties: &props,
	}, nil
}

// uniqueFiles sorts cs by path and fails on a path listed twice.
func uniqueFiles(cs []cdx.Component) ([]cdx.Component, error) {
	sorted := mergeByRef(slices.Clone(cs))
	if len(sorted) != len(cs) {
		return nil, fmt.Errorf("sbom: the bundle's manifest lists a path twice")
	}
	return sorted, nil
}
