package plan

import (
	"crypto/sha256"
	"encoding/hex"
	"maps"
	"slices"

	"github.com/pybundle/pybundle/images"
	"github.com/pybundle/pybundle/pipeline/report"
	"github.com/pybundle/pybundle/pipeline/sbom"
)

// SBOMFile is the target's SBOM inside a build's dist/: next to its bundle.
func (b Build) SBOMFile() string { return b.Bundle.Dir() + "/" + sbom.FileName }

// Installed is what a builder has beyond the packages its report entry names, for the SBOM:
// every Debian package of a Debian image (name → version) and the Python distributions Debian
// installed (name → version, as the builder's Python lists them). Zero on a runner.
type Installed struct {
	Debian      map[string]string
	DebianDists map[string]string
}

// WithSBOM makes the target's CycloneDX SBOM from its finished entry e: what the builder had
// (e.Packages: Debian packages by name, "pip:"-prefixed distributions pip installed; plus in),
// and the bundle's files (e.Manifest). It returns the document and e referencing it (path and
// sha256). Every executor calls it, so the module's and a runner's SBOMs say the same things
// the same way.
func (b Build) WithSBOM(o Options, e report.Entry, in Installed) (report.Entry, []byte, error) {
	pkgs := maps.Clone(e.Packages)
	if pkgs == nil {
		pkgs = map[string]string{}
	}
	delete(pkgs, "python") // a runner's interpreter version, not a package of anything
	maps.Copy(pkgs, in.Debian)
	python, debian := sbom.FromPackages(pkgs, debianArch(b))
	for _, name := range slices.Sorted(maps.Keys(in.DebianDists)) {
		d := sbom.Distribution{Name: name, Version: in.DebianDists[name], Installer: sbom.Debian}
		if v, ok := pkgs[images.DebianName(name)]; ok {
			d.DebianPackage, d.DebianVersion = images.DebianName(name), v
		}
		python = append(python, d)
	}
	exe := ""
	if b.Bundle.Onedir() {
		exe = b.Bundle.Exe()
	}
	doc, err := sbom.Generate(sbom.Input{
		Name: o.ProductName, Version: o.Version, Target: e.Target, Mode: e.Mode,
		ToolName: report.ToolName, ToolVersion: report.ToolVersion,
		Python: python, Debian: debian, Manifest: e.Manifest, Executable: exe,
	})
	if err != nil {
		return e, nil, err
	}
	sum := sha256.Sum256(doc)
	e.SBOM, e.SBOMSHA256 = b.SBOMFile(), hex.EncodeToString(sum[:])
	return e, doc, nil
}

// debianArch is Debian's name for the target's architecture (the builder is a Debian image
// of the target's platform).
func debianArch(b Build) string {
	switch a := b.Target().Arch; a {
	case "arm":
		return "armhf"
	default:
		return a // amd64, arm64, riscv64, ppc64el's GOARCH differs but is not a pybundle target
	}
}
