# pybundle's incremental build block. The spec generator (pipeline/spec) pastes this file into every
# spec right after its lists _pb_python_files and _pb_data_digest; it runs in PyInstaller's spec
# namespace (os, SPEC, SPECPATH, workpath). incrementalTail finishes it after COLLECT/EXE.
#
# Byte-identical incremental builds, on PyInstaller 6.22.2's internals (checked below).
# 1. Canonical byte code. marshal's output for a code object depends on the process that compiled
#    it: whether an equal string was interned before, and how many references each constant has.
#    PyInstaller's full analysis compiles every module in its graph's order, so the same module
#    could come out with other bytes when fewer or other modules were compiled before it. Every code
#    object PyInstaller writes (PYZ, PKG, base_library.zip, .pyc) is first rebuilt so that its
#    bytes follow from the source alone: each constant one fresh object per value, a string
#    interned if and only if it is a name, a qualified name, the file name or looks like a name.
# 2. A content-keyed cache of the PYZ entries in the work folder (pybundle-pyz/): a module whose
#    source is unchanged is not compiled again.
# 3. The analysis (the slow part: ~95 % of a build) is reused when nothing it depends on changed:
#    this spec, the source's other files (_pb_data_digest) and, for each Python file, the imports
#    its byte code makes (what PyInstaller's module graph follows), in order, or its whole text
#    when it imports ctypes (PyInstaller scans those for libraries) or does not compile.
#    PyInstaller's own check goes by modification times (whole seconds) and reruns the analysis
#    whenever any collected module changed, i.e. for every edit. The later steps (PYZ, PKG, EXE,
#    COLLECT) always run: they take under a second, with the PYZ cache.
import hashlib as _pb_hashlib, marshal as _pb_marshal, re as _pb_re, sys as _pb_sys, types as _pb_types, zlib as _pb_zlib
import PyInstaller.archive.writers as _pb_writers, PyInstaller.building.api as _pb_api, PyInstaller.building.utils as _pb_utils
from PyInstaller.compat import BYTECODE_MAGIC as _pb_MAGIC
from PyInstaller.lib.modulegraph.util import iterate_instructions as _pb_instructions
_pb_NAME = _pb_re.compile(r"[A-Za-z0-9_]+", _pb_re.ASCII)


def _pb_canonical(co, filename):
    """co as PyInstaller writes it (co_filename replaced by filename everywhere), rebuilt so that
    marshal's bytes for it follow from the source alone: replaces PyInstaller's
    replace_filename_in_code_object, which every code object it writes goes through. A change
    here must bump the version in _pb_write_entry's cache key."""
    interned = {filename}

    def names(c):
        interned.update(c.co_names, c.co_varnames, c.co_cellvars, c.co_freevars, (c.co_name, c.co_qualname))
        for k in c.co_consts:
            if isinstance(k, _pb_types.CodeType):
                names(k)

    names(co)
    memo = {}

    def key(v):
        t = type(v)
        if t is tuple:
            return (t, tuple(key(x) for x in v))
        if t is frozenset:
            return (t, frozenset(key(x) for x in v))
        if t is float or t is complex:
            return (t, repr(v))
        return (t, v)

    def fresh(v):
        t = type(v)
        if t is str:
            if v in interned or _pb_NAME.fullmatch(v):
                return _pb_sys.intern(v)
            if (t, v) not in memo:
                memo[(t, v)] = v.encode("utf-8", "surrogatepass").decode("utf-8", "surrogatepass")
            return memo[(t, v)]
        if t is _pb_types.CodeType:
            return code(v)
        if t in (tuple, frozenset, bytes, int, float, complex):
            k = key(v)
            if k not in memo:
                if t is tuple:
                    memo[k] = tuple(fresh(x) for x in v)
                elif t is frozenset:
                    memo[k] = frozenset(fresh(x) for x in v)
                elif t is bytes:
                    memo[k] = bytes(bytearray(v))
                elif t is int:
                    memo[k] = int(repr(v))
                elif t is float:
                    memo[k] = float(repr(v))
                else:
                    memo[k] = complex(v.real, v.imag)
            return memo[k]
        return v

    def code(c):
        return c.replace(
            co_consts=tuple(fresh(k) for k in c.co_consts), co_names=tuple(fresh(n) for n in c.co_names),
            co_varnames=tuple(fresh(n) for n in c.co_varnames), co_cellvars=tuple(fresh(n) for n in c.co_cellvars),
            co_freevars=tuple(fresh(n) for n in c.co_freevars), co_name=fresh(c.co_name),
            co_qualname=fresh(c.co_qualname), co_filename=fresh(filename),
            co_linetable=bytes(bytearray(c.co_linetable)), co_exceptiontable=bytes(bytearray(c.co_exceptiontable)))

    out = code(co)
    memo.clear()
    return out


class _PbLazy:
    """A module PYZ compiles only if its entry is not in the cache."""


_pb_get_code_object = _pb_utils.get_code_object
_pb_cache_dir = os.path.join(workpath, "pybundle-pyz")
_pb_cache_used = set()


def _pb_write_entry(cls, fp, entry, code_dict):
    """ZlibArchiveWriter._write_entry with the module's canonical marshal bytes taken from the
    cache when its source is unchanged, else made and cached: the PYZ costs a rebuild what its
    changed modules cost, not all ~700 compiled again."""
    name, src_path, typecode = entry
    if src_path in {"-", None}:
        return (name, (_pb_writers.PYZ_ITEM_NSPKG, fp.tell(), 0))
    if os.path.splitext(os.path.basename(src_path))[0] == "__init__":
        item, co_filename = _pb_writers.PYZ_ITEM_PKG, os.path.join(*name.split("."), "__init__.py")
    else:
        item, co_filename = _pb_writers.PYZ_ITEM_MODULE, os.path.join(*name.split(".")) + ".py"
    with open(src_path, "rb") as f:
        source = f.read()
    h = _pb_hashlib.sha256(b"pybundle-pyz 1\0" + _pb_MAGIC + b"\0" + typecode.encode() + b"\0" + co_filename.encode() + b"\0")
    h.update(source)
    cached = os.path.join(_pb_cache_dir, h.hexdigest())
    _pb_cache_used.add(h.hexdigest())
    try:
        with open(cached, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        co = code_dict.get(name)
        if co is None or isinstance(co, _PbLazy):
            co = _pb_get_code_object(name, src_path, optimize={"PYMODULE": 0, "PYMODULE-1": 1, "PYMODULE-2": 2}[typecode])
        code_object = _pb_canonical(co, co_filename)
        data = _pb_marshal.dumps(code_object)
        del code_object
        os.makedirs(_pb_cache_dir, exist_ok=True)
        with open(cached + ".tmp", "wb") as f:
            f.write(data)
        os.replace(cached + ".tmp", cached)
    obj = _pb_zlib.compress(data, cls._COMPRESSION_LEVEL)
    toc_entry = (name, (item, fp.tell(), len(obj)))
    fp.write(obj)
    return toc_entry


assert callable(getattr(_pb_writers.ZlibArchiveWriter, "_write_entry", None)) and _pb_writers.replace_filename_in_code_object is _pb_utils.replace_filename_in_code_object, "pybundle's spec needs PyInstaller 6.22.2"
_pb_utils.replace_filename_in_code_object = _pb_canonical
_pb_writers.replace_filename_in_code_object = _pb_canonical
_pb_writers.ZlibArchiveWriter._write_entry = classmethod(_pb_write_entry)
_pb_api.get_code_object = lambda name, src_path, optimize: _PbLazy()


def _pb_imports(path):
    """What PyInstaller's module graph reads of a Python file: the imports its byte code makes,
    found as modulegraph finds them (IMPORT_NAME and its level and fromlist, code object by code
    object), so an edit that adds, drops or reorders none leaves the analysis valid."""
    try:
        with open(path, "rb") as f:
            source = f.read()
    except OSError:
        return b"missing"
    try:
        co = compile(source, path, "exec", dont_inherit=True)
    except (SyntaxError, ValueError):
        return b"unreadable\0" + source
    out, prev = [], []
    for ins in _pb_instructions(co):
        if ins is not None and ins.opname == "IMPORT_NAME" and len(prev) >= 2:
            out.append((ins.argval, prev[-2].argval, prev[-1].argval))
        prev = [] if ins is None else (prev + [ins])[-2:]
    text = repr(out).encode()
    if any(n == "ctypes" or n.startswith("ctypes.") for n, _, _ in out):
        text += b"\0" + source
    return text


def _pb_analysis_key(python_files, data_digest):
    """The digest of everything the analysis depends on besides the builder (which keys the work
    folder itself): this spec, the other files' digest, each Python file's imports."""
    h = _pb_hashlib.sha256(b"pybundle-analysis 1\0" + data_digest.encode() + b"\0")
    with open(SPEC, "rb") as f:
        h.update(f.read())
    for rel in python_files:
        h.update(b"\0" + rel.encode() + b"\0" + _pb_imports(os.path.join(SPECPATH, rel)))
    return h.hexdigest()


_pb_key = _pb_analysis_key(_pb_python_files, _pb_data_digest)
_pb_key_file = os.path.join(workpath, "pybundle-analysis.key")
try:
    with open(_pb_key_file) as _f:
        _pb_reuse = _f.read() == _pb_key
except FileNotFoundError:
    _pb_reuse = False
_pb_toc = os.path.join(workpath, "Analysis-00.toc")
if _pb_reuse and os.path.exists(_pb_toc):
    os.utime(_pb_toc, (4102444800, 4102444800))  # 2100-01-01: newer than any file it lists
    print("PYBUNDLE INCREMENTAL: analysis reused", flush=True)
else:
    for _f in (_pb_toc, _pb_key_file):
        if os.path.exists(_f):
            os.remove(_f)
for _f in ("PYZ-00.toc", "PKG-00.toc", "EXE-00.toc", "COLLECT-00.toc"):
    if os.path.exists(os.path.join(workpath, _f)):
        os.remove(os.path.join(workpath, _f))
