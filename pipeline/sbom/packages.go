package sbom

import (
	"cmp"
	"encoding/hex"
	"fmt"
	"regexp"
	"slices"
	"strings"

	cdx "github.com/CycloneDX/cyclonedx-go"
	purl "github.com/package-url/packageurl-go"
)

// pep503Sep is what PEP 503 folds to one "-": any run of "-", "_" and ".".
var pep503Sep = regexp.MustCompile(`[-_.]+`)

// NormalizeName is a Python distribution's name as PEP 503 normalizes it (lower case, runs of
// -_. as one -): the name pip, PyPI and the pypi purl type compare.
func NormalizeName(name string) string {
	return pep503Sep.ReplaceAllString(strings.ToLower(name), "-")
}

// PyPIPURL is the package URL of a Python distribution, pkg:pypi/<normalized name>@<version>;
// the purl library percent-encodes whatever the strings hold.
func PyPIPURL(name, version string) string {
	return purl.NewPackageURL(purl.TypePyPi, "", NormalizeName(name), version, nil, "").ToString()
}

// DebianPURL is the package URL of a Debian package, pkg:deb/debian/<name>@<version>?arch=<arch>
// (no qualifier when arch is ""); the purl spec has deb names in lower case, as Debian's are.
func DebianPURL(name, version, arch string) string {
	var q purl.Qualifiers
	if arch != "" {
		q = purl.QualifiersFromMap(map[string]string{"arch": arch})
	}
	return purl.NewPackageURL(purl.TypeDebian, "debian", strings.ToLower(name), version, q, "").ToString()
}

// pythonComponents are the distributions as library components, sorted and merged by purl.
func pythonComponents(ds []Distribution) ([]cdx.Component, error) {
	var out []cdx.Component
	for _, d := range ds {
		c, err := pythonComponent(d)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return mergeByRef(out), nil
}

// pythonComponent is one distribution: its pypi purl, how it was installed, its hashes.
func pythonComponent(d Distribution) (cdx.Component, error) {
	if strings.TrimSpace(d.Name) == "" {
		return cdx.Component{}, fmt.Errorf("sbom: Python distribution with no name (version %q)", d.Version)
	}
	props, err := installerProperties(d)
	if err != nil {
		return cdx.Component{}, err
	}
	hashes, err := sha256Hashes(d.SHA256)
	if err != nil {
		return cdx.Component{}, fmt.Errorf("sbom: Python distribution %s: %w", d.Name, err)
	}
	p := PyPIPURL(d.Name, d.Version)
	return cdx.Component{
		BOMRef: p, Type: cdx.ComponentTypeLibrary, Name: NormalizeName(d.Name), Version: d.Version,
		PackageURL: p, Hashes: hashes, Properties: props,
	}, nil
}

// installerProperties record how a distribution got into the builder.
func installerProperties(d Distribution) (*[]cdx.Property, error) {
	var props []cdx.Property
	switch d.Installer {
	case "":
	case Debian, Pip:
		props = append(props, cdx.Property{Name: PropInstaller, Value: string(d.Installer)})
	default:
		return nil, fmt.Errorf("sbom: Python distribution %s: unknown installer %q (want %s or %s)", d.Name, d.Installer, Debian, Pip)
	}
	if d.DebianPackage != "" {
		props = append(props, cdx.Property{Name: PropDebPackage, Value: d.DebianPackage})
	}
	if d.DebianVersion != "" {
		props = append(props, cdx.Property{Name: PropDebVersion, Value: d.DebianVersion})
	}
	if len(props) == 0 {
		return nil, nil
	}
	return &props, nil
}

// debianComponents are the builder's Debian packages as library components, sorted and
// merged by purl.
func debianComponents(ps []DebianPackage) ([]cdx.Component, error) {
	var out []cdx.Component
	for _, p := range ps {
		if strings.TrimSpace(p.Name) == "" {
			return nil, fmt.Errorf("sbom: Debian package with no name (version %q)", p.Version)
		}
		ref := DebianPURL(p.Name, p.Version, p.Arch)
		out = append(out, cdx.Component{BOMRef: ref, Type: cdx.ComponentTypeLibrary, Name: p.Name, Version: p.Version, PackageURL: ref})
	}
	return mergeByRef(out), nil
}

// sha256Hashes are hex SHA-256 digests as CycloneDX hashes, lower case, sorted, without
// repeats; an entry that is no SHA-256 is an error.
func sha256Hashes(hexes []string) (*[]cdx.Hash, error) {
	var hs []cdx.Hash
	for _, h := range hexes {
		h = strings.ToLower(strings.TrimPrefix(h, "sha256:"))
		if b, err := hex.DecodeString(h); err != nil || len(b) != 32 {
			return nil, fmt.Errorf("not a SHA-256 digest: %q", h)
		}
		hs = append(hs, cdx.Hash{Algorithm: cdx.HashAlgoSHA256, Value: h})
	}
	return sortedHashes(hs), nil
}

// sortedHashes sorts and deduplicates hs; nil when empty.
func sortedHashes(hs []cdx.Hash) *[]cdx.Hash {
	if len(hs) == 0 {
		return nil
	}
	slices.SortFunc(hs, func(a, b cdx.Hash) int { return cmp.Compare(a.Value, b.Value) })
	hs = slices.Compact(hs)
	return &hs
}

// mergeByRef sorts cs by bom-ref and folds components with the same one (the same
// distribution listed twice, once per installer say) into one with the union of their hashes
// and properties, so that bom-refs are unique and the order of the input does not matter.
func mergeByRef(cs []cdx.Component) []cdx.Component {
	slices.SortStableFunc(cs, func(a, b cdx.Component) int { return cmp.Compare(a.BOMRef, b.BOMRef) })
	var out []cdx.Component
	for _, c := range cs {
		if n := len(out); n > 0 && out[n-1].BOMRef == c.BOMRef {
			out[n-1] = merge(out[n-1], c)
			continue
		}
		out = append(out, merge(c, cdx.Component{}))
	}
	return out
}

// merge is a with b's hashes and properties added, both sorted and without repeats.
func merge(a, b cdx.Component) cdx.Component {
	a.Hashes = sortedHashes(append(deref(a.Hashes), deref(b.Hashes)...))
	props := append(deref(a.Properties), deref(b.Properties)...)
	slices.SortFunc(props, func(x, y cdx.Property) int {
		return cmp.Or(cmp.Compare(x.Name, y.Name), cmp.Compare(x.Value, y.Value))
	})
	props = slices.Compact(props)
	a.Properties = nil
	if len(props) > 0 {
		a.Properties = &props
	}
	return a
}

// deref is a copy of *p, or nil.
func deref[T any](p *[]T) []T {
	if p == nil {
		return nil
	}
	return slices.Clone(*p)
}
