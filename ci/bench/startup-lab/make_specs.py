"""Writes the spec variants the lab builds, from the generated spec (base.spec):

    dagger call spec --source testdata/backend export --path base.spec
    python3 make_specs.py base.spec specs/
"""
import os, sys

base = open(sys.argv[1]).read()
out = sys.argv[2]
os.makedirs(out, exist_ok=True)

# noarchive=True leaves a.pure empty (PyInstaller 6.22): modules are DATA entries "pkg/mod.pyc"
# in a.datas, so the guard must read them there or it fails every build.
GUARD_OLD = "_collected = {e[0] for e in a.pure}\n"
GUARD_NEW = GUARD_OLD + '''for _e in a.datas:
    if len(_e) >= 3 and _e[2] == "DATA" and _e[0].endswith(".pyc"):
        _parts = _e[0][:-4].replace("\\\\", "/").split("/")
        if _parts[-1] == "__init__":
            _parts.pop()
        _collected.add(".".join(_parts))
'''
IMPORTTIME = ("exe = EXE(\n    pyz, a.scripts, [],", "exe = EXE(\n    pyz, a.scripts, [('X importtime', None, 'OPTION')],")


def variant(name, *subs):
    s = base
    for a, b in subs:
        assert a in s, (name, a)
        s = s.replace(a, b)
    open(os.path.join(out, name + ".spec"), "w").write(s)


variant("base")
variant("imptime", IMPORTTIME)  # built, not timed: run.sh records its -X importtime output
variant("noarchive", ("noarchive=False", "noarchive=True"), (GUARD_OLD, GUARD_NEW))
variant("noarchive-opt1", ("noarchive=False", "noarchive=True"), (GUARD_OLD, GUARD_NEW), ("optimize=0", "optimize=1"))
variant("opt1", ("optimize=0", "optimize=1"))
variant("opt2", ("optimize=0", "optimize=2"))
