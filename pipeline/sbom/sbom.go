// Package sbom writes one CycloneDX software bill of materials per built target: what the
// builder installed (its Debian packages, the Python distributions from Debian or pip) and
// what went into the bundle (the executable and its native libraries, with their SHA-256).
//
// A bundle ships third-party code its users must be able to account for: a scanner matches
// the package URLs against advisories, an auditor matches the file hashes against the bundle.
// Builds are reproducible, so the document is too: components are sorted and deduplicated,
// the serial number is derived from the content, and the only time in it is the one the
// caller passes (SOURCE_DATE_EPOCH semantics; zero leaves it out). Identical inputs, in any
// order, give byte-identical output.
//
// It has no engine dependency: it takes plain values the build stages already produce
// (report.Entry's manifest and packages, images.ParseFreeze and images.ParseDpkgQuery maps).
package sbom

import (
	"bytes"
	"fmt"
	"time"

	cdx "github.com/CycloneDX/cyclonedx-go"

	"github.com/pybundle/pybundle/pipeline/verify"
)

// File naming and format of the document, for dist/ and report.json.
const (
	// FileName is the SBOM's name next to a target's bundle in dist/<os>-<arch>/.
	FileName = "sbom.cdx.json"
	// MediaType is CycloneDX JSON's registered media type.
	MediaType = "application/vnd.cyclonedx+json"
	// SpecVersion is the CycloneDX version written: 1.6, the newest that SBOM consumers
	// (scanners, Dependency-Track) read widely; cyclonedx-go also writes 1.7.
	SpecVersion = "1.6"
)

// specVersion is SpecVersion as the library spells it.
const specVersion = cdx.SpecVersion1_6

// bundleRef is the bom-ref of the bundle itself (metadata.component).
const bundleRef = "bundle"

// Installer says how a Python distribution got into the builder.
type Installer string

// The installers; the same names as images.Installer.
const (
	// Debian: a Debian package (python3-<name>) installed the distribution.
	Debian Installer = "debian"
	// Pip: pip installed it into the builder's virtual environment.
	Pip Installer = "pip"
)

// Distribution is one Python distribution installed in the builder.
type Distribution struct {
	Name    string // as pip or the metadata spells it; normalized (PEP 503) in the SBOM
	Version string
	// Installer is Debian, Pip or "" (unknown).
	Installer Installer
	// DebianPackage and DebianVersion name the Debian package that installed it (Debian only).
	DebianPackage string
	DebianVersion string
	// SHA256 are hex digests of the distribution's archives (pip's --hash pins, "sha256:" prefix
	// optional), if known; they become the component's hashes.
	SHA256 []string
}

// DebianPackage is one installed package of the builder's Debian system.
type DebianPackage struct {
	Name    string
	Version string // the full Debian version, epoch and revision included
	Arch    string // Debian architecture (amd64, arm64); "" leaves the purl qualifier out
}

// Input is everything one target's SBOM says. Only Target is required.
type Input struct {
	// Name and Version are the backend's; Name "" is written as "backend".
	Name    string
	Version string
	// Target is the platform built, e.g. "linux/amd64"; Mode is "onefile" or "onedir".
	Target string
	Mode   string
	// ToolName and ToolVersion name the generator (report.ToolName, report.ToolVersion);
	// ToolName "" is written as "pybundle".
	ToolName    string
	ToolVersion string
	// Time is the document's timestamp (the build's SOURCE_DATE_EPOCH); zero leaves it out.
	Time time.Time

	// Python are the distributions installed in the builder.
	Python []Distribution
	// Debian are the builder's Debian packages, if it is a Debian image.
	Debian []DebianPackage

	// Manifest is the bundle's files (report.Entry.Manifest); nil lists no files.
	Manifest *verify.Manifest
	// Executable is the executable's path in Manifest; "" with a one-file manifest: that file.
	Executable string
}

// Generate is the CycloneDX JSON document for in: pretty-printed, newline-terminated and
// byte-identical for identical inputs.
func Generate(in Input) ([]byte, error) {
	bom, err := Build(in)
	if err != nil {
		return nil, err
	}
	return encode(bom)
}

// Build is the BOM Generate encodes, serial number included, for callers that want to add
// to it before encoding it themselves (at SpecVersion, for the same output).
func Build(in Input) (*cdx.BOM, error) {
	if in.Target == "" {
		return nil, fmt.Errorf("sbom: no target")
	}
	if err := checkTime(in.Time); err != nil {
		return nil, err
	}
	comps, refs, err := components(in)
	if err != nil {
		return nil, err
	}
	bom := cdx.NewBOM()
	bom.Metadata = metadata(in)
	if len(comps) > 0 {
		bom.Components = &comps
	}
	if len(refs) > 0 {
		bom.Dependencies = &[]cdx.Dependency{{Ref: bundleRef, Dependencies: &refs}}
	}
	out, err := encode(bom)
	if err != nil {
		return nil, err
	}
	bom.SerialNumber = serialNumber(out)
	return bom, nil
}

// components are the Python distributions, the Debian packages and the bundle's files, in
// that order, each group sorted; refs are the packages' bom-refs, what the bundle depends on.
func components(in Input) (all []cdx.Component, refs []string, err error) {
	python, err := pythonComponents(in.Python)
	if err != nil {
		return nil, nil, err
	}
	debian, err := debianComponents(in.Debian)
	if err != nil {
		return nil, nil, err
	}
	files, err := fileComponents(in.Manifest, in.Executable)
	if err != nil {
		return nil, nil, err
	}
	all = append(append(append(all, python...), debian...), files...)
	for _, c := range append(python, debian...) {
		refs = append(refs, c.BOMRef)
	}
	return all, refs, nil
}

// encode writes bom as SpecVersion JSON.
func encode(bom *cdx.BOM) ([]byte, error) {
	var buf bytes.Buffer
	err := cdx.NewBOMEncoder(&buf, cdx.BOMFileFormatJSON).SetPretty(true).EncodeVersion(bom, specVersion)
	if err != nil {
		return nil, fmt.Errorf("sbom: encoding: %w", err)
	}
	return buf.Bytes(), nil
}
