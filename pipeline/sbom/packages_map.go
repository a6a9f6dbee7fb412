package sbom

import (
	"maps"
	"slices"
	"strings"
)

// pipPrefix marks pip-installed distributions in report.Entry.Packages (images.ParseFreeze).
const pipPrefix = "pip:"

// FromPackages splits a report entry's Packages map (images.ParseDpkgQuery's "name" → Debian
// version and images.ParseFreeze's "pip:<name>" → version, merged) into pip-installed
// distributions and Debian packages of arch, both sorted by name.
func FromPackages(pkgs map[string]string, arch string) ([]Distribution, []DebianPackage) {
	var py []Distribution
	var deb []DebianPackage
	for _, k := range slices.Sorted(maps.Keys(pkgs)) {
		if name, ok := strings.CutPrefix(k, pipPrefix); ok {
			py = append(py, Distribution{Name: name, Version: pkgs[k], Installer: Pip})
			continue
		}
		deb = append(deb, DebianPackage{Name: k, Version: pkgs[k], Arch: arch})
	}
	return py, deb
}
