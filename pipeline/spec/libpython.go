package spec

import (
	"errors"
	"regexp"
)

// LibpythonPattern matches the file names of CPython's shared library (libpython3.13.so.1.0,
// libpython3.so, …), in the spec's Python and in Go alike.
const LibpythonPattern = `^libpython3(\.[0-9]+)?\.so(\.|$)`

var libpythonRe = regexp.MustCompile(LibpythonPattern)

// IsLibpython reports whether a file name is CPython's shared library.
func IsLibpython(name string) bool { return libpythonRe.MatchString(name) }

// validateStaticLibpython: pybundle builds its static bootloader for Linux only.
func (o Options) validateStaticLibpython() error {
	if o.StaticLibpython && o.Target.OS != "linux" {
		return errors.New("static libpython: Linux targets only (macOS and Windows bundles start with PyInstaller's bootloader)")
	}
	return nil
}

// dtNeededPy is a Python function reading the DT_NEEDED names of an ELF file (32 or 64 bit,
// either byte order; [] for any other file) from its dynamic segment, reading only the headers
// and the string table (a collected library can be hundreds of MB). The builder has Python
// but no binutils, and PyInstaller's own helper resolves dependencies transitively, where the
// guard wants what a file itself links.
const dtNeededPy = `def _dt_needed(path):
    try:
        with open(path, "rb") as f:
            h = f.read(64)
            if len(h) < 52 or h[:4] != b"\x7fELF" or h[4] not in (1, 2) or h[5] not in (1, 2):
                return []
            is64, e = h[4] == 2, "<" if h[5] == 1 else ">"
            if is64:
                phoff, = _struct.unpack_from(e + "Q", h, 32)
                phentsize, phnum = _struct.unpack_from(e + "HH", h, 54)
            else:
                phoff, = _struct.unpack_from(e + "I", h, 28)
                phentsize, phnum = _struct.unpack_from(e + "HH", h, 42)
            f.seek(phoff)
            ph = f.read(phentsize * phnum)
            loads, dynamic = [], None
            for i in range(phnum):
                if is64:
                    typ, _, off, vaddr, _, size = _struct.unpack_from(e + "IIQQQQ", ph, i * phentsize)
                else:
                    typ, off, vaddr, _, size = _struct.unpack_from(e + "IIIII", ph, i * phentsize)
                if typ == 1:
                    loads.append((vaddr, off, size))
                elif typ == 2:
                    dynamic = (off, size)
            if dynamic is None:
                return []
            fmt, step = (e + "qQ", 16) if is64 else (e + "iI", 8)
            f.seek(dynamic[0])
            d = f.read(dynamic[1])
            needed, strtab, strsz = [], None, 0
            for o in range(0, len(d) - step + 1, step):
                tag, val = _struct.unpack_from(fmt, d, o)
                if tag == 0:
                    break
                if tag == 1:
                    needed.append(val)
                elif tag == 5:
                    strtab = val
                elif tag == 10:
                    strsz = val
            base = next((off + strtab - vaddr for vaddr, off, size in loads if strtab is not None and vaddr <= strtab < vaddr + size), None)
            if base is None or not needed:
                return []
            f.seek(base)
            s = f.read(strsz)
            return [s[n:s.index(b"\0", n)].decode("utf-8", "replace") for n in needed]
    except (OSError, ValueError, _struct.error):
        return []
`

// staticLibpythonBlock is the spec code of a bundle started by pybundle's static bootloader,
// which carries libpython itself. The shared libpython PyInstaller collects (with the stock
// bootloader it is what runs Python) is never loaded, so it is left out of the bundle (−7.5 MB).
// A collected binary whose DT_NEEDED names a libpython is refused: loading it would map a
// second interpreter beside the built-in one, with its own state, into the process.
// Extension modules do not link libpython (they take the C API from whatever loads them), so
// this is a build of something unusual, better stopped here than crashing at run time.
func staticLibpythonBlock() string {
	return `# pybundle's static bootloader carries libpython (Debian's PGO-built libpython3.13.a): the shared
# one is never loaded, so it is left out, and a binary that links it would load a second interpreter.
import re as _re, struct as _struct
_libpython = _re.compile(r"` + LibpythonPattern + `")
` + dtNeededPy + `_links = sorted(
    "%s (%s) links %s" % (_e[0], _e[1], _n)
    for _e in a.binaries if not _libpython.match(os.path.basename(_e[0]))
    for _n in _dt_needed(_e[1]) if _libpython.match(_n)
)
if _links:
    print("PYBUNDLE BUILD CHECK FAILED: " + "; ".join(_links)
          + ": with bootloader=static the bundle's executable carries libpython itself, and loading"
          + " a shared libpython too would start a second Python interpreter in the process; a Python"
          + " extension module needs no link to libpython (it takes the C API from the interpreter that"
          + " loads it): rebuild it without one, or build with bootloader=stock", flush=True)
    raise SystemExit(1)
a.binaries = [_e for _e in a.binaries if not _libpython.match(os.path.basename(_e[0]))]
print("PYBUNDLE BUILD CHECK OK: no shared libpython bundled (static bootloader)", flush=True)

`
}
