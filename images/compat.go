package images

import (
	"fmt"
	"slices"
	"strings"
)

// pybundle's compat toolchain (`--installer compat`): CPython of the very upstream version the
// Debian builder runs (trixie's python3.13), built from Debian's source package on Debian 11
// (bullseye, glibc 2.31) as a shared library with PGO and LTO, and PyInstaller (trixie-backports'
// source, its bootloader compiled on the same base) installed into it. A bundle frozen with it
// needs no glibc newer than 2.31: it runs on Debian 11, 12 and 13, Ubuntu 20.04 and later, RHEL 9.
// The Debian builder's bundles need 2.38 (trixie's own libraries), so they run on Debian 13 only.
//
// Two containers make it. The fetch runs in the base image (trixie), whose apt sources name the
// suites the sources come from: it downloads the upstream tarballs of the source packages
// (checked against the signed Sources index) and the Debian packages whose pure Python goes
// into the toolchain. The build runs on CompatBase with CompatBuildPackages: configure, make
// (PGO training and LTO), install, the bootloader, PyInstaller and its dependencies as wheels
// (DebWheelPy), then the proof, in three execs (CompatBuildSteps).

// Where the compat toolchain lives and what it is built on.
const (
	// CompatBase is the image the toolchain is built on, and the oldest runtime it targets.
	CompatBase = "debian:bullseye-slim"
	// CompatGlibc is CompatBase's glibc: no file of the toolchain may need a newer one.
	CompatGlibc = "2.31"
	// CompatPrefix is the toolchain's installation prefix (configure --prefix).
	CompatPrefix = "/opt/pybundle/python3.13"
	// CompatPython is the toolchain's interpreter (the venvs of builds are made from it).
	CompatPython = CompatPrefix + "/bin/python3.13"
	// CompatInfo is the file of CompatPrefix that records what the toolchain was built from.
	CompatInfo = CompatPrefix + "/pybundle-compat.txt"
	// CompatSources is where the fetch puts the tarballs and Debian packages, and where the
	// build mounts them.
	CompatSources = "/opt/pybundle/compat-src"
	// CompatFetch is the fetch script, CompatBuild each build step's, CompatWheeler the wheel maker.
	CompatFetch   = "/opt/pybundle/compat-fetch.sh"
	CompatBuild   = "/opt/pybundle/compat-build.sh"
	CompatWheeler = "/opt/pybundle/debwheel.py"
)

// CompatArchs are the Linux architectures the compat toolchain is built for. Not arm64: see the
// README (The compat builder) for the measured reason.
var CompatArchs = []string{"amd64"}

// CompatCheck refuses a target the compat toolchain is not built for, saying why.
func CompatCheck(arch string) error {
	if slices.Contains(CompatArchs, arch) {
		return nil
	}
	return fmt.Errorf("the compat builder has a toolchain for linux/%s only, not linux/%s (README: The compat builder); build linux/%s with --installer debian or pip, or on a runner",
		strings.Join(CompatArchs, ", linux/"), arch, arch)
}

// CompatBuildPackages are what the build adds to CompatBase: a C toolchain and the -dev packages
// of every library CPython's standard extension modules link (each module is then proven to
// import), binutils for the glibc check, xz to unpack the sources.
var CompatBuildPackages = []Package{
	{Name: "gcc"}, {Name: "make"}, {Name: "pkg-config"}, {Name: "libc6-dev"}, {Name: "binutils"}, {Name: "xz-utils"},
	{Name: "libssl-dev"}, {Name: "libffi-dev"}, {Name: "zlib1g-dev"}, {Name: "libbz2-dev"}, {Name: "liblzma-dev"},
	{Name: "libsqlite3-dev"}, {Name: "libncursesw5-dev"}, {Name: "libreadline-dev"}, {Name: "uuid-dev"},
	{Name: "libgdbm-dev"}, {Name: "libgdbm-compat-dev"}, {Name: "libexpat1-dev"}, {Name: "ca-certificates"},
}

// CompatModules must import in the built Python: the extension modules a backend is likely to
// need, each backed by one of CompatBuildPackages' libraries (a missing -dev package makes
// CPython skip the module silently, so the build checks them by name).
var CompatModules = []string{"ssl", "_hashlib", "sqlite3", "ctypes", "lzma", "bz2", "zlib", "uuid", "_uuid", "readline",
	"curses", "dbm.gnu", "dbm.ndbm", "decimal", "pyexpat", "_bz2", "_lzma", "_sqlite3", "_ctypes", "_ssl", "_decimal",
	"_json", "asyncio", "select", "_socket", "_multiprocessing", "mmap", "zoneinfo"}

// CompatWheelPackages are the Debian packages whose pure Python PyInstaller needs at run time
// (altgraph, packaging, pyinstaller-hooks-contrib, setuptools): made into wheels and installed
// into the toolchain. hooks-contrib is pinned as the Debian builder pins it (BuilderPackages).
func CompatWheelPackages() []Package {
	return []Package{{Name: "python3-altgraph"}, {Name: "python3-packaging"}, {Name: "python3-setuptools"}, pinned("pyinstaller-hooks-contrib")}
}

// CompatSourcePackage is one source package the toolchain is built from: Debian's source name,
// the binary package of BuilderPackages whose pin (version and suite) it follows.
type CompatSourcePackage struct {
	Source string
	Pin    Package
}

// CompatSourcePackages: trixie's python3.13 (the Debian builder's Python, same upstream
// version) and trixie-backports' pyinstaller (the Debian builder's PyInstaller).
func CompatSourcePackages() []CompatSourcePackage {
	return []CompatSourcePackage{{Source: "python3.13", Pin: pinned("python3.13")}, {Source: "pyinstaller", Pin: pinned("python3-pyinstaller")}}
}

// pinned is name's pin in BuilderPackages: one definition of every version.
func pinned(name string) Package {
	i := slices.IndexFunc(BuilderPackages, func(p Package) bool { return p.Name == name })
	if i < 0 {
		panic("images: " + name + " is not in BuilderPackages")
	}
	return BuilderPackages[i]
}

// CompatConfigure is CPython's configure command line: a shared libpython (what PyInstaller's
// stock bootloader loads; libpython3.13.a is built and installed beside it, configure's
// default, for a static bootloader), PGO (the training run is CompatProfileTask) and LTO, found at run time
// through an rpath; bundled expat and mpdecimal (CPython's defaults), so the bundle does not take
// them from the system.
var CompatConfigure = []string{"./configure", "--prefix=" + CompatPrefix, "--enable-shared", "--enable-optimizations",
	"--with-lto", "--with-ensurepip=install", "LDFLAGS=-Wl,-rpath," + CompatPrefix + "/lib"}

// CompatProfileGenerate replaces configure's PGO_PROF_GEN_FLAG for the instrumented build:
// -fno-lto spares it an LTO link (one of the two single-threaded links of a cold build) and
// leaves the profile valid, since GCC instruments before LTO.
const CompatProfileGenerate = "-fprofile-generate -fno-lto"

// CompatProfileTask is the PGO training run (Makefile PROFILE_TASK): "" keeps CPython's
// default, its `-m test --pgo` subset of the test suite.
const CompatProfileTask = ""

// CompatFetchScript downloads, in the base image (trixie), the upstream tarball of every
// CompatSourcePackages entry (the newest source version its pin accepts) and the Debian packages
// of CompatWheelPackages into CompatSources: suites and mirror from the image's own apt sources
// (deb-src entries made from them, backports added on the same mirror), tarballs checked by
// apt-helper against the signed index's hashes, packages by apt itself.
func CompatFetchScript() string {
	var b strings.Builder
	b.WriteString("set -eu\nexport DEBIAN_FRONTEND=noninteractive\nfail() { echo \"pybundle compat fetch: $*\" >&2; exit 1; }\n")
	b.WriteString(DebSrcScript("/etc/apt"))
	suites := map[string]bool{}
	for _, s := range CompatSourcePackages() {
		suites[s.Pin.Suite] = true
	}
	for _, p := range CompatWheelPackages() {
		suites[p.Suite] = true
	}
	delete(suites, "")
	if len(suites) > 0 {
		b.WriteString(MirrorScript("/etc/apt"))
	}
	for _, s := range sortedKeys(suites) {
		fmt.Fprintf(&b, "printf 'deb %%s %s main\\ndeb-src %%s %s main\\n' \"$mirror\" \"$mirror\" > /etc/apt/sources.list.d/pybundle-%s.list\n", s, s, s)
	}
	b.WriteString("apt-get update -qq\nrm -rf " + CompatSources + "\nmkdir -p " + CompatSources + "/debs\ncd " + CompatSources + "\n")
	b.WriteString(fetchSourceFn)
	for _, s := range CompatSourcePackages() {
		fmt.Fprintf(&b, "fetch_source '%s' '%s'\n", s.Source, s.Pin.Version)
	}
	b.WriteString(DownloadDebsScript(CompatSources+"/debs", CompatWheelPackages()))
	b.WriteString("ls -l " + CompatSources + " " + CompatSources + "/debs\n")
	return b.String()
}

// fetchSourceFn is the shell function `fetch_source NAME VERSION-GLOB`: the newest version of
// source package NAME matching the glob, its upstream tarball downloaded (apt-helper checks it
// against the hash of the signed Sources index) and recorded in sources.txt.
const fetchSourceFn = `fetch_source() {
  best=""
  for v in $(apt-cache showsrc "$1" 2>/dev/null | sed -n 's/^Version: //p'); do
    case "$v" in $2) ;; *) continue ;; esac
    if [ -z "$best" ] || dpkg --compare-versions "$v" gt "$best"; then best=$v; fi
  done
  [ -n "$best" ] || fail "no source package $1 $2 in the image's apt sources (deb-src)"
  apt-get source --print-uris -qq "$1=$best" > uris.txt || fail "apt-get source $1=$best"
  line=$(grep -E "^'[^']+' [^ ]+\.orig\.tar\.[a-z0-9]+ [0-9]+ [A-Za-z0-9]+:" uris.txt | head -n 1) || true
  [ -n "$line" ] || fail "no upstream tarball listed for source package $1 $best"
  set -- "$1" $line
  url=${2#\'}; url=${url%\'}
  /usr/lib/apt/apt-helper download-file "$url" "$3" "$5" > /dev/null || fail "downloading $3 failed"
  echo "$1 $best $3" >> sources.txt
  rm -f uris.txt
}
`

// DownloadDebsScript downloads the Debian packages pkgs (pinned where a version is given, any
// suite already in the apt sources) into dir, verified by apt against the signed indexes.
func DownloadDebsScript(dir string, pkgs []Package) string {
	var args []string
	for _, p := range pkgs {
		a := p.Name
		if p.Version != "" {
			a = p.Arg()
		}
		args = append(args, "'"+a+"'")
	}
	return "(cd " + dir + " && apt-get download -qq -o APT::Sandbox::User=root " + strings.Join(args, " ") + ")\n"
}

// DebianWheelsScript makes pure-Python wheels of the Debian packages pkgs into out, in a Debian
// image with python3: their suites added from the image's own mirror, the packages downloaded
// (DownloadDebsScript), unpacked, and each turned into a wheel by DebWheelPy (at wheeler).
func DebianWheelsScript(pkgs []Package, wheeler, out string) string {
	var b strings.Builder
	b.WriteString("set -eu\nexport DEBIAN_FRONTEND=noninteractive\n")
	suites := map[string]bool{}
	for _, p := range pkgs {
		if p.Suite != "" {
			suites[p.Suite] = true
		}
	}
	if len(suites) > 0 {
		b.WriteString(MirrorScript("/etc/apt"))
	}
	for _, s := range sortedKeys(suites) {
		fmt.Fprintf(&b, "echo \"deb $mirror %s main\" > /etc/apt/sources.list.d/pybundle-%s.list\n", s, s)
	}
	b.WriteString("apt-get update -qq\nrm -rf /tmp/pybundle-debs " + out + "\nmkdir -p /tmp/pybundle-debs " + out + "\n")
	b.WriteString(DownloadDebsScript("/tmp/pybundle-debs", pkgs))
	b.WriteString(unpackDebsFn + "unpack_debs /tmp/pybundle-debs\npython3 " + wheeler + " " + out + " /tmp/pybundle-debs/roots/*\nls -l " + out + "\n")
	return b.String()
}

// unpackDebsFn is the shell function `unpack_debs DIR`: every DIR/*.deb unpacked into
// DIR/roots/<package>.
const unpackDebsFn = `unpack_debs() {
  for deb in "$1"/*.deb; do
    name=$(dpkg-deb -f "$deb" Package)
    mkdir -p "$1/roots/$name"
    dpkg-deb -x "$deb" "$1/roots/$name"
  done
}
`

// DebWheelPy turns unpacked Debian packages of pure Python (python3-*) into wheels:
// `python3 debwheel.py OUT ROOT...`. Each ROOT's usr/lib/python3/dist-packages must hold one
// distribution's metadata (.dist-info, or .egg-info converted) and its modules; the wheel holds
// them with WHEEL and RECORD written anew, named as pip expects. A compiled module (.so) is
// refused: such a package is no pure-Python one and its wheel would not be portable.
const DebWheelPy = `import base64, hashlib, os, re, sys, zipfile

def fail(msg):
    sys.exit("pybundle debwheel: " + msg)

def metadata_of(info):
    if info.endswith(".dist-info"):
        with open(os.path.join(info, "METADATA"), encoding="utf-8") as f:
            return f.read()
    with open(os.path.join(info, "PKG-INFO"), encoding="utf-8") as f:
        text = f.read()
    head, sep, body = text.partition("\n\n")
    lines = [l for l in head.split("\n") if not l.startswith("Requires-Dist:")]
    req = os.path.join(info, "requires.txt")
    if os.path.exists(req):
        marker = ""
        for l in open(req, encoding="utf-8").read().split("\n"):
            l = l.strip()
            if not l:
                continue
            if l.startswith("["):
                extra, _, cond = l[1:-1].partition(":")
                parts = []
                if cond:
                    parts.append("(" + cond + ")" if extra else cond)
                if extra:
                    parts.append('extra == "%s"' % extra)
                marker = " and ".join(parts)
                if extra:
                    lines.append("Provides-Extra: " + extra)
                continue
            lines.append("Requires-Dist: " + l + ("; " + marker if marker else ""))
    return "\n".join(lines) + sep + body

def field(meta, name):
    m = re.search(r"^" + name + r": *(.+)$", meta, re.M)
    if not m:
        fail("metadata without " + name)
    return m.group(1).strip()

def digest(data):
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()

def wheel(out, root):
    site = os.path.join(root, "usr/lib/python3/dist-packages")
    if not os.path.isdir(site):
        fail(root + ": no usr/lib/python3/dist-packages (not a Python package)")
    infos = [e for e in sorted(os.listdir(site)) if e.endswith((".dist-info", ".egg-info"))]
    if len(infos) != 1:
        fail("%s: want one distribution's metadata, found %s" % (root, infos or "none"))
    info = os.path.join(site, infos[0])
    meta = metadata_of(info)
    name, version = field(meta, "Name"), field(meta, "Version")
    stem = re.sub(r"[-_.]+", "_", name).lower() + "-" + version.replace("-", "_")
    distinfo = stem + ".dist-info"
    files = {}
    for dirpath, dirs, names in os.walk(site):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        if os.path.abspath(dirpath).startswith(os.path.abspath(info)):
            continue
        for n in sorted(names):
            p = os.path.join(dirpath, n)
            rel = os.path.relpath(p, site)
            if n.endswith(".so") or ".so." in n:
                fail("%s: %s is compiled code: not a pure-Python package" % (root, rel))
            if n.endswith((".pyc", ".pyo")):
                continue
            with open(p, "rb") as f:
                files[rel] = f.read()
    if not any(r.endswith(".py") for r in files):
        fail(root + ": no Python modules")
    files[distinfo + "/METADATA"] = meta.encode("utf-8")
    for extra in ("entry_points.txt", "top_level.txt"):
        p = os.path.join(info, extra)
        if os.path.exists(p):
            files[distinfo + "/" + extra] = open(p, "rb").read()
    files[distinfo + "/WHEEL"] = b"Wheel-Version: 1.0\nGenerator: pybundle debwheel\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    record = "".join("%s,%s,%d\n" % (r, digest(d), len(d)) for r, d in sorted(files.items())) + distinfo + "/RECORD,,\n"
    files[distinfo + "/RECORD"] = record.encode()
    path = os.path.join(out, stem + "-py3-none-any.whl")
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for rel in sorted(files):
            zi = zipfile.ZipInfo(rel, date_time=(1980, 1, 1, 0, 0, 0))
            zi.external_attr = 0o644 << 16
            zi.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(zi, files[rel])
    print("%s %s -> %s" % (name, version, os.path.basename(path)))

out = sys.argv[1]
os.makedirs(out, exist_ok=True)
for root in sys.argv[2:]:
    wheel(out, root)
`

// CompatStep is one exec of the toolchain build: a failure in a later step reruns only that
// step, not CPython's 20-minute compile (Dagger caches each exec).
type CompatStep struct {
	Name   string // what it does, for errors
	Script string // sh script
}

// CompatBuildSteps build the toolchain on CompatBase with CompatBuildPackages installed, from
// what CompatFetchScript put into CompatSources, for the Linux arch: (1) CPython
// (CompatConfigure, make with PGO and LTO, install); (2) PyInstaller's bootloader compiled from
// its source with the flags of its wscript (bootloaderCFlags), PyInstaller and
// CompatWheelPackages installed as wheels (DebWheelPy at CompatWheeler); (3) the proof: the
// modules of CompatModules import, PGO and LTO were used, no ELF file of the toolchain needs a
// glibc newer than CompatGlibc (objdump -T), a program frozen with the toolchain's PyInstaller
// starts. The last step writes CompatInfo.
func CompatBuildSteps(arch string) ([]CompatStep, error) {
	if err := CompatCheck(arch); err != nil {
		return nil, err
	}
	var args []string
	for _, a := range CompatConfigure {
		args = append(args, "'"+a+"'")
	}
	profile := ""
	if CompatProfileTask != "" {
		profile = "PROFILE_TASK='" + CompatProfileTask + "'"
	}
	r := strings.NewReplacer("@SRC@", CompatSources, "@PREFIX@", CompatPrefix, "@CONFIGURE@", strings.Join(args, " "),
		"@PROFILE@", profile, "@PLATFORM@", pyinstallerPlatform[arch], "@CFLAGS@", bootloaderCFlags, "@WHEELER@", CompatWheeler,
		"@MODULES@", strings.Join(CompatModules, " "), "@GLIBC@", CompatGlibc, "@INFO@", CompatInfo, "@PYVER@", PyInstallerVersion,
		"@WORK@", compatWork, "@PROFGEN@", CompatProfileGenerate)
	return []CompatStep{
		{"CPython (configure, make with PGO and LTO, install)", r.Replace(compatPrelude + compatCPython)},
		{"PyInstaller (bootloader compiled here, installed with its dependencies)", r.Replace(compatPrelude + compatPyInstaller)},
		{"the proof (modules, PGO/LTO, glibc floor, a frozen program)", r.Replace(compatPrelude + compatProof)},
	}, nil
}

// compatWork is the build's scratch folder, kept between steps, removed by the last.
const compatWork = "/opt/pybundle/compat-work"

const compatPrelude = `set -eu
fail() { echo "pybundle compat build: $*" >&2; exit 1; }
step() { echo "pybundle compat build: $* ($(date -u +%H:%M:%S))"; }
work=@WORK@
py=@PREFIX@/bin/python3.13
`

const compatCPython = `t0=$(date +%s)
rm -rf "$work" @PREFIX@
mkdir -p "$work/cpython"
cd "$work"
pysrc=$(awk '$1 == "python3.13" {print $3}' @SRC@/sources.txt)
[ -n "$pysrc" ] || fail "the fetch left no python3.13 tarball (@SRC@/sources.txt)"
tar -xf "@SRC@/$pysrc" -C cpython --strip-components=1
step "configure"
cd cpython
@CONFIGURE@ > "$work/configure.log" 2>&1 || { tail -n 40 "$work/configure.log" >&2; fail "configure failed"; }
# The LTO link on every core: configure's -flto-partition=none makes the link of libpython one
# process that generates all of its code, twice (instrumented, then optimized), most of a cold
# build on 2 cores; balanced partitions keep LTO's whole-program analysis and split only the
# code generation (CPython's later configure drops -flto-partition=none itself).
sed -i -e 's/ -flto-partition=none//g' -e 's/ -flto / -flto='"$(nproc)"' /g' Makefile
grep -q '^CONFIGURE_LDFLAGS_NODIST=.* -flto='"$(nproc)"' ' Makefile || { grep -n -- '-flto' Makefile >&2 || true; fail "configure wrote no -flto into CONFIGURE_LDFLAGS_NODIST (Makefile)"; }
step "make (PGO training, LTO)"
# The instrumented build without LTO (@PROFGEN@): it only has to count, and GCC instruments at
# compile time, before LTO, so its profile fits the optimized LTO build as it is.
make -j"$(nproc)" @PROFILE@ PGO_PROF_GEN_FLAG='@PROFGEN@' > "$work/make.log" 2>&1 || { tail -n 60 "$work/make.log" >&2; fail "make failed"; }
grep -q -- '@PROFGEN@' "$work/make.log" || fail "make ran no @PROFGEN@ stage (make.log)"
grep -q -- '-fprofile-use' "$work/make.log" || fail "make ran no -fprofile-use stage (make.log)"
grep -A 12 'necessary bits to build these optional modules were not found\|built successfully but were removed\|Failed to build these modules\|Could not build the ssl module' "$work/make.log" || true
step "install"
make install > "$work/install.log" 2>&1 || { tail -n 40 "$work/install.log" >&2; fail "make install failed"; }
[ -x "$py" ] || fail "no $py after make install"
ln -sf python3.13 @PREFIX@/bin/python
cd "$work"
rm -rf cpython
echo "CPython built in $(( $(date +%s) - t0 )) s" > "$work/cpython-time.txt"
cat "$work/cpython-time.txt"
`

const compatPyInstaller = `cd "$work"
rm -rf pyi bl roots wheels debs.txt
mkdir -p pyi bl
pyisrc=$(awk '$1 == "pyinstaller" {print $3}' @SRC@/sources.txt)
[ -n "$pyisrc" ] || fail "the fetch left no pyinstaller tarball (@SRC@/sources.txt)"
tar -xf "@SRC@/$pyisrc" -C pyi --strip-components=1
grep -q "^__version__ = '@PYVER@'" pyi/PyInstaller/__init__.py || fail "the pyinstaller source is not PyInstaller @PYVER@"

# PyInstaller's bootloader, compiled here (glibc @GLIBC@) with its wscript's flags: release and debug.
step "bootloader"
for v in run run_d; do
  debug=""
  [ "$v" = run_d ] && debug=-DLAUNCH_DEBUG
  mkdir "bl/obj-$v"
  for c in pyi/bootloader/src/*.c; do
    gcc @CFLAGS@ $debug -Ipyi/bootloader/src -c "$c" -o "bl/obj-$v/$(basename "$c" .c).o"
  done
  gcc -o "bl/$v" bl/obj-$v/*.o -Wl,-z,relro,-z,now -lz -lm -ldl -lpthread
  strip "bl/$v"
done
mkdir -p pyi/PyInstaller/bootloader/@PLATFORM@
cp bl/run bl/run_d pyi/PyInstaller/bootloader/@PLATFORM@/

# PyInstaller and its pure-Python dependencies (Debian's packages) as wheels, installed with pip.
step "PyInstaller"
root="$work/roots/pyinstaller/usr/lib/python3/dist-packages"
mkdir -p "$root/pyinstaller-@PYVER@.dist-info"
cp -a pyi/PyInstaller "$root/"
printf 'Metadata-Version: 2.1\nName: pyinstaller\nVersion: @PYVER@\nSummary: PyInstaller bundles a Python application and all its dependencies into a single package.\n' > "$root/pyinstaller-@PYVER@.dist-info/METADATA"
printf '[console_scripts]\npyinstaller = PyInstaller.__main__:_console_script_run\npyi-makespec = PyInstaller.utils.cliutils.makespec:run\n' > "$root/pyinstaller-@PYVER@.dist-info/entry_points.txt"
for deb in @SRC@/debs/*.deb; do
  name=$(dpkg-deb -f "$deb" Package)
  mkdir -p "roots/$name"
  dpkg-deb -x "$deb" "roots/$name"
  echo "wheel from Debian: $name $(dpkg-deb -f "$deb" Version)" >> debs.txt
done
"$py" @WHEELER@ wheels roots/*
"$py" -m pip install --no-index --no-deps --no-cache-dir --disable-pip-version-check wheels/*.whl
"$py" -m pip check || fail "PyInstaller's dependencies are not satisfied"
rm -rf pyi roots wheels bl/obj-*
`

const compatProof = `step "proof"
cd "$work"
for m in @MODULES@; do
  "$py" -c "import $m" || fail "the built Python cannot import $m"
done
flags=$("$py" -c 'import sysconfig as s; print(s.get_config_var("PY_CFLAGS_NODIST"), s.get_config_var("CONFIG_ARGS"))')
case "$flags" in *-fprofile-use*) ;; *) fail "not built with PGO: $flags" ;; esac
case "$flags" in *-flto*) ;; *) fail "not built with LTO: $flags" ;; esac
[ -f @PREFIX@/lib/libpython3.13.so.1.0 ] || fail "no shared libpython3.13.so.1.0"
newest=""
for f in $(find @PREFIX@ -type f \( -name '*.so*' -o -perm -u+x \)); do
  head -c 4 "$f" | grep -q 'ELF' || continue
  v=$(objdump -T "$f" | grep -o 'GLIBC_[0-9][0-9.]*' | sed 's/GLIBC_//' | sort -uV | tail -n 1)
  [ -n "$v" ] || continue
  if [ "$(printf '%s\n%s\n' "$v" "@GLIBC@" | sort -V | tail -n 1)" != "@GLIBC@" ]; then fail "$f needs GLIBC_$v, newer than @GLIBC@"; fi
  if [ -z "$newest" ] || [ "$(printf '%s\n%s\n' "$v" "$newest" | sort -V | tail -n 1)" = "$v" ]; then newest=$v; fi
done
rm -rf smoke && mkdir smoke && cd smoke
{
  echo "import sys"
  for m in @MODULES@; do echo "import $m"; done
  echo "ssl.create_default_context(); sqlite3.connect(':memory:').execute('select 1'); ctypes.CDLL(None)"
  echo "print('pybundle compat toolchain: ok', sys.version.split()[0])"
} > smoke.py
"$py" -m PyInstaller --noconfirm --log-level ERROR --distpath dist --workpath work smoke.py
env -i PATH=/usr/bin:/bin dist/smoke/smoke > smoke.log 2>&1 || { cat smoke.log >&2; fail "the frozen smoke test failed"; }
grep -q 'pybundle compat toolchain: ok' smoke.log || { cat smoke.log >&2; fail "the frozen smoke test printed no ok"; }
ls dist/smoke/_internal | grep -q '^libpython3.13.so' || fail "the smoke bundle holds no libpython3.13.so"
cd "$work"
{
  echo "pybundle compat toolchain for @PLATFORM@: Python $("$py" -c 'import sys; print(sys.version.split()[0])') built on $(. /etc/os-release; echo "$PRETTY_NAME") (glibc $(ldd --version | head -n 1 | awk '{print $NF}'))"
  echo "sources: $(awk '{printf "%s%s %s (%s)", sep, $1, $2, $3; sep=", "}' @SRC@/sources.txt)"
  echo "configure: $("$py" -c 'import sysconfig as s; print(s.get_config_var("CONFIG_ARGS"))')"
  echo "optimization: PGO (instrumented with @PROFGEN@), LTO link $("$py" -c 'import sysconfig as s; print(" ".join(f for f in s.get_config_var("CONFIGURE_LDFLAGS_NODIST").split() if f.startswith("-flto")))')"
  echo "compiler: gcc $(gcc -dumpfullversion) (Debian $(dpkg-query -W -f '${Version}' gcc))"
  echo "newest glibc symbol version needed: GLIBC_$newest"
  echo "PyInstaller @PYVER@, bootloader compiled here: $(cd bl && sha256sum run run_d | awk '{printf "%s%s %s", sep, $2, $1; sep=", "}')"
  cat debs.txt cpython-time.txt
} > @INFO@
cd / && rm -rf "$work"
cat @INFO@
`

func sortedKeys(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
