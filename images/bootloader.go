package images

import (
	"fmt"
	"path"
	"strings"
)

// pybundle's own Linux bootloader ("static"): PyInstaller's bootloader, built in the Debian
// builder from Debian's source of the very PyInstaller it runs, with Debian's libpython3.13.a
// linked in. Why: the stock bootloader dlopens the bundled libpython3.13.so, which Debian builds
// without PGO (and as PIC, paying a __tls_get_addr call per thread-state access); the static
// library is the PGO-built code of /usr/bin/python3.13, the from-source baseline. A bundle
// started by it runs Python at the speed of `python3.13 main.py` and ships no libpython3.13.so.
// ../shared/notes/startup-interpreter.md has the measurements.

// Where the bootloader is built in its container, and where the result lands.
const (
	BootloaderWork  = "/opt/pybundle/bootloader"
	BootloaderOut   = BootloaderWork + "/out"
	BootloaderPatch = BootloaderWork + "/pyi_dylib_python.patch"
	BootloaderBuild = BootloaderWork + "/build.sh"
)

// BootloaderFiles are the files of BootloaderOut that go into PyInstaller's bootloader folder:
// the release bootloader and the debug one (a spec with debug=True), both static.
var BootloaderFiles = []string{"run", "run_d"}

// BootloaderInfo is the file of BootloaderOut that records what the bootloader was built from.
const BootloaderInfo = "bootloader.txt"

// BootloaderPackages are what the bootloader build adds to the Debian builder: a C compiler,
// the static expat (libpython.a's pyexpat needs it; the runtime has no libexpat), zlib's
// headers, xz for the source tarballs, patch. Not pinned: the build only compiles a few C
// files and links; what matters for the bundle (libpython, PyInstaller) is the builder's own.
var BootloaderPackages = []Package{
	{Name: "gcc"}, {Name: "libc6-dev"}, {Name: "libexpat1-dev"}, {Name: "zlib1g-dev"},
	{Name: "xz-utils"}, {Name: "patch"},
}

// pyinstallerPlatform is PyInstaller.PLATFORM per Linux arch: the folder under
// PyInstaller/bootloader/ PyInstaller takes its bootloader from (the build checks it).
var pyinstallerPlatform = map[string]string{
	"amd64": "Linux-64bit-intel",
	"arm64": "Linux-64bit-arm",
}

// debianPyInstaller is where Debian's python3-pyinstaller installs the PyInstaller package.
const debianPyInstaller = "/usr/lib/python3/dist-packages/PyInstaller"

// BootloaderDir is the folder the Debian builder's PyInstaller takes the bootloader for a Linux
// arch from: the compile stage puts pybundle's there.
func BootloaderDir(arch string) (string, error) {
	p, ok := pyinstallerPlatform[arch]
	if !ok {
		return "", fmt.Errorf("no static bootloader for linux/%s (linux/amd64 and linux/arm64 have one): use bootloader=stock", arch)
	}
	return path.Join(debianPyInstaller, "bootloader", p), nil
}

// PyiDylibPythonPatch changes the one function of PyInstaller's bootloader that loads Python:
// instead of dlopen()ing the bundled libpython3.13.so it opens the running executable
// (dlopen(NULL)), so the ~45 Py* functions the bootloader looks up with dlsym resolve to the
// libpython linked into it. Against PyInstaller 6.22.2's bootloader/src/pyi_dylib_python.c
// (`patch -F0` refuses it anywhere else; a new PyInstaller needs the patch checked again).
const PyiDylibPythonPatch = `pybundle: the bootloader carries libpython (Debian's PGO-built libpython3.13.a is linked
into it), so it opens itself instead of the bundled shared library.

--- a/bootloader/src/pyi_dylib_python.c
+++ b/bootloader/src/pyi_dylib_python.c
@@ -106,12 +106,12 @@
         return -1;
     }
 
-    PYI_DEBUG("DYLIB: loading Python shared library: %s\n", dll_fullpath);
-
-    /* Load the shared library */
-    dylib->handle = dlopen(dll_fullpath, dlopen_flags);
+    /* pybundle: libpython is linked into this executable. Open the executable itself, so the
+     * Py* symbols resolve to that copy and no shared libpython is loaded. */
+    PYI_DEBUG("DYLIB: using the Python library linked into the executable, not %s\n", dll_fullpath);
+    dylib->handle = dlopen(NULL, dlopen_flags);
     if (dylib->handle == NULL) {
-        PYI_ERROR("Failed to load Python shared library '%s': %s\n", dll_fullpath, dlerror());
+        PYI_ERROR("Failed to open the executable's own Python library: %s\n", dlerror());
         return -1;
     }
 
`

// bootloaderCFlags are the flags PyInstaller's wscript gives gcc for a Linux release bootloader
// (its configure checks all succeed on glibc): warnings as errors, fortified, POSIX semaphores.
const bootloaderCFlags = "-O2 -Wall -Werror -Wno-error=unused-variable -Wno-error=unused-function -Wno-error=unused-but-set-variable " +
	"-U_FORTIFY_SOURCE -D_FORTIFY_SOURCE=2 -D_REENTRANT -D_BSD_SOURCE -D_DEFAULT_SOURCE -DPYI_USE_POSIX_SEMAPHORE " +
	"-DHAVE_STDBOOL_H=1 -DHAVE_UNSETENV=1 -DHAVE_MKDTEMP=1 -DHAVE_DIRNAME=1 -DHAVE_BASENAME=1 -DHAVE_WCSDUP=1 -DNDEBUG"

// BootloaderExports is the linker's --dynamic-list: the C API extension modules link against.
// Every symbol Debian's libpython3.13.so exports matches one of these patterns; nothing else of
// the executable (the bootloader's own functions, the static expat) is exported.
const BootloaderExports = "{\n  Py*;\n  _Py*;\n  PY_*;\n};\n"

// BootloaderScript builds the static bootloader in a Debian builder with BootloaderPackages
// installed, for the Linux arch (its PyInstaller.PLATFORM is checked). Everything is taken from
// the builder itself, so the bootloader is in lockstep with what it runs: the static libpython
// and PyInstaller installed, and the source packages of exactly their versions, fetched from
// the image's own apt sources (deb-src entries made from them; no host name written here) and
// checked against the signed index's hashes. Then: PyInstaller's bootloader sources patched
// (PyiDylibPythonPatch) and compiled as its wscript does, linked -no-pie (Debian's .a is not
// PIC) with the whole libpython3.13.a, the HACL* hash code the .a lacks and a static expat,
// the C API exported (BootloaderExports). It refuses a result that needs a library a machine
// without Python may lack, and proves the result with a real run: a frozen program importing
// every lib-dynload module, ssl, the HACL*/OpenSSL hashes and pydantic_core (when installed),
// started by it, with no libpython3.13.so mapped.
func BootloaderScript(arch string) (string, error) {
	platform, ok := pyinstallerPlatform[arch]
	if !ok {
		_, err := BootloaderDir(arch)
		return "", err
	}
	r := strings.NewReplacer("@WORK@", BootloaderWork, "@OUT@", BootloaderOut, "@PATCH@", BootloaderPatch,
		"@PLATFORM@", platform, "@CFLAGS@", bootloaderCFlags, "@EXPORTS@", BootloaderExports, "@INFO@", BootloaderInfo,
		"@DEBSRC@", DebSrcScript("/etc/apt"))
	return r.Replace(bootloaderScript), nil
}

// DebSrcScript adds a deb-src entry for every deb entry of the image's own apt sources under
// etc (e.g. /etc/apt): one-line .list entries (options kept) and deb822 .sources stanzas. So
// `apt-get source` reads the same mirror, suites and keys as the binary packages came from,
// security updates included, and no host name is written here (as MirrorScript).
func DebSrcScript(etc string) string {
	return `{ sed -n 's/^deb\([[:space:]]\)/deb-src\1/p' ` + etc + `/sources.list ` + etc + `/sources.list.d/*.list 2>/dev/null || true; } > ` + etc + `/pybundle-src.tmp
mv ` + etc + `/pybundle-src.tmp ` + etc + `/sources.list.d/pybundle-src.list
for f in ` + etc + `/sources.list.d/*.sources; do
  [ -e "$f" ] || continue
  case "$f" in */pybundle-src-*) continue ;; esac
  sed 's/^Types:.*/Types: deb-src/' "$f" > "` + etc + `/sources.list.d/pybundle-src-${f##*/}"
done
`
}

const bootloaderScript = `set -eu
export DEBIAN_FRONTEND=noninteractive
fail() { echo "pybundle bootloader: $*" >&2; exit 1; }
rm -rf @WORK@/build @OUT@
mkdir -p @WORK@/build @OUT@
cd @WORK@/build

# What the builder runs: its static libpython and its PyInstaller, and their source packages.
lib=$(python3 -c 'import sysconfig as s; print(s.get_config_var("LIBPL") + "/" + s.get_config_var("LIBRARY"))')
[ -f "$lib" ] || fail "the builder has no static libpython ($lib)"
pyi=$(python3 -c 'import os, PyInstaller; print(os.path.dirname(PyInstaller.__file__))')
platform=$(python3 -c 'import PyInstaller; print(PyInstaller.PLATFORM)')
[ "$platform" = "@PLATFORM@" ] || fail "PyInstaller takes its bootloader from $platform here, pybundle expects @PLATFORM@"
srcof() { dpkg-query -W -f '${source:Package} ${source:Version}' "$(dpkg-query -S "$1" | cut -d: -f1)"; }
s=$(srcof "$lib") || fail "no Debian package owns $lib"
pysrc=${s%% *}; pyver=${s#* }
s=$(srcof "$pyi/__init__.py") || fail "no Debian package owns $pyi (the static bootloader needs the Debian installer)"
pyisrc=${s%% *}; pyiver=${s#* }

@DEBSRC@apt-get update -qq

# The upstream tarball of a source package version (the Debian packaging is not needed), checked
# by apt-helper against the hash of the signed Sources index.
fetch() {
  apt-get source --print-uris -qq "$1=$2" > uris.txt || fail "no source package $1 $2 in the image's apt sources"
  line=$(grep -E "^'[^']+' [^ ]+\.orig\.tar\.[a-z0-9]+ [0-9]+ [A-Za-z0-9]+:" uris.txt | head -n 1) || true
  [ -n "$line" ] || fail "no upstream tarball listed for source package $1 $2"
  set -- $line
  url=${1#\'}; url=${url%\'}
  /usr/lib/apt/apt-helper download-file "$url" "$2" "$4" > /dev/null || fail "downloading $2 failed"
  tarball=$2
}
fetch "$pyisrc" "$pyiver"; pyitar=$tarball
fetch "$pysrc" "$pyver"; pytar=$tarball
mkdir pyi cpython
tar -xf "$pyitar" -C pyi --strip-components=1 --wildcards '*/bootloader/src/*'
tar -xf "$pytar" -C cpython --strip-components=1 --wildcards '*/Modules/_hacl/*'
patch -d pyi -p1 -F0 --batch --forward < @PATCH@

# HACL* hash code the static library references but does not hold (Debian links some of it
# from a separate archive): compiled from the same Python source.
mkdir hacl
for c in cpython/Modules/_hacl/Hacl_*.c; do
  o=$(basename "$c" .c).o
  ar t "$lib" | grep -qx "$o" && continue
  gcc -O2 -fno-strict-overflow -fwrapv -DNDEBUG -D_BSD_SOURCE -D_DEFAULT_SOURCE -Icpython/Modules/_hacl -Icpython/Modules/_hacl/include -c "$c" -o "hacl/$o"
done
printf '@EXPORTS@' > exports.list

for v in run run_d; do
  debug=""
  [ "$v" = run_d ] && debug=-DLAUNCH_DEBUG
  mkdir "obj-$v"
  for c in pyi/bootloader/src/*.c; do
    gcc @CFLAGS@ $debug -Ipyi/bootloader/src -c "$c" -o "obj-$v/$(basename "$c" .c).o"
  done
  gcc -no-pie -o "$v.full" obj-$v/*.o $(find hacl -name '*.o' | sort) -Wl,-z,relro,-z,now -Wl,--dynamic-list=exports.list \
    -Wl,--whole-archive "$lib" -Wl,--no-whole-archive -Wl,-Bstatic -lexpat -Wl,-Bdynamic -lz -lm -ldl -lpthread
  strip -o "@OUT@/$v" "$v.full"
  for n in $(readelf -d "@OUT@/$v" | sed -n 's/.*(NEEDED).*\[\(.*\)\]$/\1/p'); do
    case "$n" in
      libc.so.*|libm.so.*|libz.so.*|ld-linux*) ;;
      *) fail "$v needs $n, which a machine without Python may lack" ;;
    esac
  done
  nm -D --defined-only "@OUT@/$v" | grep -q ' Py_InitializeFromConfig$' || fail "$v does not export the C API"
done

# A real run: every lib-dynload module, ssl, the hashes, pydantic_core, frozen and started by
# the new bootloader (release and debug), with no shared libpython in the bundle or the process.
cp @OUT@/run @OUT@/run_d "$pyi/bootloader/@PLATFORM@/"
dynload=$(python3 -c 'import os, sysconfig; d = sysconfig.get_config_var("DESTSHARED"); print(" ".join(sorted({f.split(".")[0] for f in os.listdir(d) if f.endswith(".so") and not f.startswith(("_test", "xx", "_xx", "_ctypes_test"))})))')
{
  echo "import hashlib, importlib, ssl, _md5, _sha1, _sha2, _sha3, _hashlib"
  echo "dynload = '$dynload'.split()"
  python3 -c 'import pydantic_core' 2> /dev/null && echo "import pydantic_core._pydantic_core"
  cat <<'EOF'
for m in dynload:
    try:
        importlib.import_module(m)
    except ModuleNotFoundError as e:
        if e.name == m:
            raise
        pass  # loaded and initialised: its init imports a Python module the smoke bundle lacks
for name, h, want in [
    ("md5", _md5.md5, "900150983cd24fb0d6963f7d28e17f72"),
    ("sha1", _sha1.sha1, "a9993e364706816aba3e25717850c26c9cd0d89d"),
    ("sha256", _sha2.sha256, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
    ("sha3_256", _sha3.sha3_256, "3a985da74fe225b2045c172d6bd390bd855f086e3e9d525b46bfe24511431532"),
]:
    assert h(b"abc").hexdigest() == want, name
    assert _hashlib.new(name, b"abc").hexdigest() == want, name
ssl.create_default_context()
with open("/proc/self/maps") as f:
    assert "libpython" not in f.read(), "a shared libpython is mapped"
print("pybundle static bootloader: ok")
EOF
} > smoke.py
cat > smoke.spec <<EOF
import os
a = Analysis(["smoke.py"], hiddenimports="$dynload".split())
a.binaries = [b for b in a.binaries if not os.path.basename(b[0]).startswith("libpython")]
pyz = PYZ(a.pure)
exe = EXE(pyz, a.scripts, [], exclude_binaries=True, name="smoke", debug=False, strip=False, upx=False, console=True)
exe_d = EXE(pyz, a.scripts, [], exclude_binaries=True, name="smoke_d", debug=True, strip=False, upx=False, console=True)
coll = COLLECT(exe, exe_d, a.binaries, a.datas, strip=False, upx=False, name="smoke")
EOF
python3 -m PyInstaller --noconfirm --log-level ERROR --distpath dist --workpath work smoke.spec
! ls dist/smoke/_internal | grep -q '^libpython' || fail "the smoke bundle holds a libpython"
for exe in smoke smoke_d; do
  env -i PATH=/usr/bin:/bin "dist/smoke/$exe" > "$exe.log" 2>&1 || { tail -n 30 "$exe.log" >&2; fail "the frozen smoke test ($exe) failed"; }
  grep -q 'pybundle static bootloader: ok' "$exe.log" || { tail -n 30 "$exe.log" >&2; fail "the frozen smoke test ($exe) printed no ok"; }
done

{
  echo "pybundle static bootloader for @PLATFORM@"
  echo "libpython: $lib, source package $pysrc $pyver"
  echo "PyInstaller: $pyi, source package $pyisrc $pyiver (bootloader/src, pyi_dylib_python.c patched: dlopen(NULL))"
  echo "compiler: $(gcc -dumpfullversion) ($(dpkg-query -W -f '${Version}' gcc))"
  echo "lib-dynload modules started in the smoke test: $dynload"
  cd @OUT@ && sha256sum run run_d
} > @OUT@/@INFO@
cat @OUT@/@INFO@
`
