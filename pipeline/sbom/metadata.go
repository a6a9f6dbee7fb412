package sbom

import (
	"fmt"
	"strconv"
	"time"

	cdx "github.com/CycloneDX/cyclonedx-go"
)

// Property names pybundle writes, in its own namespace (CycloneDX reserves "cdx:").
const (
	PropTarget     = "pybundle:target"      // the platform built
	PropMode       = "pybundle:mode"        // onefile | onedir
	PropTreeSHA256 = "pybundle:tree:sha256" // verify.Manifest.SHA256 over every file
	PropTreeFiles  = "pybundle:tree:files"  // how many files the bundle has
	PropTreeBytes  = "pybundle:tree:bytes"  // their total size
	PropInstaller  = "pybundle:installer"   // debian | pip, on a Python distribution
	PropDebPackage = "pybundle:deb:package" // the Debian package that installed it
	PropDebVersion = "pybundle:deb:version" // and its version
	PropSize       = "pybundle:size"        // a file's size in bytes
	PropExecutable = "pybundle:executable"  // "true" on the bundle's executable
)

const (
	defaultName     = "backend"              // the bundle's name when Input.Name is ""
	defaultToolName = "pybundle"             // the generator's name when Input.ToolName is ""
	timeLayout      = "2006-01-02T15:04:05Z" // RFC 3339 in UTC, whole seconds
)

// metadata is the document's metadata: when (if given), by what tool, in which lifecycle
// phase, and the bundle it describes.
func metadata(in Input) *cdx.Metadata {
	tool := cdx.Component{Type: cdx.ComponentTypeApplication, Name: orDefault(in.ToolName, defaultToolName), Version: in.ToolVersion}
	return &cdx.Metadata{
		Timestamp:  timestamp(in.Time),
		Lifecycles: &[]cdx.Lifecycle{{Phase: cdx.LifecyclePhaseBuild}},
		Tools:      &cdx.ToolsChoice{Components: &[]cdx.Component{tool}},
		Component:  bundleComponent(in),
	}
}

// checkTime fails for a time RFC 3339 cannot write (years before 1 or after 9999).
func checkTime(t time.Time) error {
	if y := t.UTC().Year(); !t.IsZero() && (y < 1 || y > 9999) {
		return fmt.Errorf("sbom: timestamp %v out of range", t)
	}
	return nil
}

// timestamp is t in UTC to the second; "" (left out) for the zero time.
func timestamp(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(timeLayout)
}

// bundleComponent is the application the SBOM is about: the backend bundled for one target.
// It carries the digest over the whole file tree, since only some files are listed.
func bundleComponent(in Input) *cdx.Component {
	props := []cdx.Property{{Name: PropTarget, Value: in.Target}}
	if in.Mode != "" {
		props = append(props, cdx.Property{Name: PropMode, Value: in.Mode})
	}
	if m := in.Manifest; m != nil {
		props = append(props,
			cdx.Property{Name: PropTreeSHA256, Value: m.SHA256},
			cdx.Property{Name: PropTreeFiles, Value: strconv.Itoa(len(m.Files))},
			cdx.Property{Name: PropTreeBytes, Value: strconv.FormatInt(m.Bytes, 10)})
	}
	return &cdx.Component{
		BOMRef:     bundleRef,
		Type:       cdx.ComponentTypeApplication,
		Name:       orDefault(in.Name, defaultName),
		Version:    in.Version,
		Properties: &props,
	}
}

// orDefault is s, or def when s is empty.
func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
