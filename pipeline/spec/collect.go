package spec

import (
	"fmt"
	"strings"
)

// Option names as users spell them (configuration keys): the build's
// failure message names the option to fix.
const (
	optionCollectData = "collect-data"
	optionCollectAll  = "collect-all"
)

// collectedBinaries is the spec variable collect_all's binaries go to; the
// Analysis adds it to the source's own binaries.
const collectedBinaries = "_collected_binaries"

// validateCollect checks CollectData and CollectAll: each a package name, and
// none excluded (an excluded package would be collected as data but never
// importable, or fail the guard after the whole analysis).
func (o Options) validateCollect() []error {
	var errs []error
	for _, l := range []struct {
		option string
		pkgs   []string
	}{{optionCollectData, o.CollectData}, {optionCollectAll, o.CollectAll}} {
		for _, p := range l.pkgs {
			if err := checkModule(p); err != nil {
				errs = append(errs, fmt.Errorf("%s %q: %v", l.option, p, err))
				continue
			}
			if e, ok := excludedBy(p, o.Excludes); ok {
				errs = append(errs, fmt.Errorf("%s %q: the package is excluded (by %q)", l.option, p, e))
			}
		}
	}
	return errs
}

// excludedBy returns the exclude that covers module m (m itself or a parent).
func excludedBy(m string, excludes []string) (string, bool) {
	for _, e := range excludes {
		if m == e || strings.HasPrefix(m, e+".") {
			return e, true
		}
	}
	return "", false
}

// collectBlock is the spec code for CollectData and CollectAll, or "" when
// both are empty (the spec is then what it was before these options).
//
// PyInstaller's collect_data_files, collect_dynamic_libs and collect_all
// only log a warning for a name that is not an installed package and
// collect nothing, so a typo or a package missing from the build
// environment would ship a bundle without the files. The block therefore
// checks every package first with PyInstaller's own is_package (the test
// those functions use) and fails the build naming the option and the
// package, the way the guard fails for a module that was not collected.
//
// The spec runs before Analysis puts pathex on sys.path, so the block does
// it first: a package of the source's own import roots (a src layout) is
// then found, as Analysis will find it.
func collectBlock(o Options) string {
	if len(o.CollectData) == 0 && len(o.CollectAll) == 0 {
		return ""
	}
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	w("# Installed packages bundled beyond what the analysis follows: their data files\n")
	w("# (%s) or everything of them (%s). PyInstaller's collect_* functions only warn\n", optionCollectData, optionCollectAll)
	w("# about a name that is not an installed package, so check each first and fail the build.\n")
	w("import sys\n")
	w("from PyInstaller.utils.hooks import collect_all, collect_data_files, is_package\n")
	w("for _path in %s:\n", pathexList(o.Paths))
	w("    if _path not in sys.path:\n")
	w("        sys.path.append(_path)\n")
	w("_collect = [\n")
	for _, p := range o.CollectData {
		w("    (%s, %s),\n", py(optionCollectData), py(p))
	}
	for _, p := range o.CollectAll {
		w("    (%s, %s),\n", py(optionCollectAll), py(p))
	}
	w("]\n")
	w("_not_packages = [_option + \" \" + _name for _option, _name in _collect if not is_package(_name)]\n")
	w("if _not_packages:\n")
	w("    print(\"PYBUNDLE BUILD CHECK FAILED: not an installed package in the build environment: \"\n")
	w("          + \", \".join(_not_packages)\n")
	w("          + \" (PyInstaller would only warn and bundle nothing for it; check the name, install the\"\n")
	w("          + \" package where the build runs, or remove it from the option; a plain module has no\"\n")
	w("          + \" data files: list it in hidden-imports instead)\", flush=True)\n")
	w("    raise SystemExit(1)\n")
	w("%s = []\n", collectedBinaries)
	w("for _option, _name in _collect:\n")
	w("    if _option == %s:\n", py(optionCollectData))
	w("        _datas += collect_data_files(_name)\n")
	w("    else:\n")
	w("        _d, _b, _h = collect_all(_name)\n")
	w("        _datas += _d\n")
	w("        %s += _b\n", collectedBinaries)
	w("        _hiddenimports += _h\n")
	return b.String()
}

// pathexList is the Python list of import roots: the source root and Paths.
func pathexList(paths []string) string {
	var b strings.Builder
	b.WriteString("[SPECPATH")
	for _, p := range paths {
		fmt.Fprintf(&b, ", os.path.join(SPECPATH, %s)", py(p))
	}
	b.WriteString("]")
	return b.String()
}

// binariesArg is Analysis' binaries= argument: the source's own binaries,
// plus what collect_all found when CollectAll is set.
func binariesArg(o Options) string {
	extra := ""
	if len(o.CollectAll) > 0 {
		extra = " + " + collectedBinaries
	}
	if len(o.Binaries) == 0 {
		if extra != "" {
			return "    binaries=" + collectedBinaries + ",\n"
		}
		return "    binaries=[],\n"
	}
	var b strings.Builder
	b.WriteString("    binaries=[\n")
	for _, d := range o.Binaries {
		fmt.Fprintf(&b, "        (os.path.join(SPECPATH, %s), %s),\n", py(d.Src), py(d.Dest))
	}
	b.WriteString("    ]" + extra + ",\n")
	return b.String()
}
