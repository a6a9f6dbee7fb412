#!/bin/sh
# lab S1/S2 (docs/BENCHMARKS.md): the static bootloader against the stock one and the source, in
# ONE builder container. Inputs in /lab: static.spec and stock.spec (`dagger call spec` without /
# with --option bootloader=stock), bl/run (`dagger call bootloader export --path …/bl`),
# timeit.py, runsrc.py, pybundle_rth_check.py. Output: /out/log.txt, /out/times.json.
mkdir -p /out; exec > /out/log.txt 2>&1
set -x
ROUNDS=${ROUNDS:-8}; PER=${PER:-3}
BL=$(python3 -c 'import os, PyInstaller; print(os.path.join(os.path.dirname(PyInstaller.__file__), "bootloader", PyInstaller.PLATFORM))')
cp "$BL/run" /tmp/stock-run
cp /lab/bl/run /tmp/static-run
cp /lab/pybundle_rth_check.py /src/
build() { # name spec bootloader [env]
  cp "$3" "$BL/run"
  cp "/lab/$2.spec" /src/peft_engine.spec
  ( cd /src && env $4 python3 -m PyInstaller --noconfirm --clean --log-level WARN --distpath "/out/dist-$1" --workpath "/tmp/pyi-$1" peft_engine.spec ) > "/out/build-$1.txt" 2>&1 || echo "BUILD FAILED $1"
  du -sh "/out/dist-$1"
}
build static static /tmp/static-run PYINSTALLER_ZLIB_COMPRESSION_LEVEL=6
build static-z0 static /tmp/static-run PYINSTALLER_ZLIB_COMPRESSION_LEVEL=0
build stock stock /tmp/stock-run PYINSTALLER_ZLIB_COMPRESSION_LEVEL=6
rm -f /src/peft_engine.spec /src/pybundle_rth_check.py
for b in static stock; do
  cp "/tmp/$b-run" "$BL/run"
  ( cd /tmp && cp /lab/runsrc.py . && python3 -m PyInstaller --noconfirm --log-level WARN --distpath "/out/runsrc-$b" --workpath "/tmp/rsw-$b" --add-data /src/data:data runsrc.py ) > "/out/build-runsrc-$b.txt" 2>&1 || echo "runsrc $b failed"
done
python3 - <<'PY'
import json
vs = [{"name": "source", "cmd": ["/usr/bin/python3", "main.py"], "cwd": "/src", "env": {"PYTHONDONTWRITEBYTECODE": "1"}}]
for n in ("static", "static-z0", "stock"):
    vs.append({"name": n, "cmd": ["/out/dist-%s/peft_engine/peft_engine" % n], "cwd": "/tmp"})
for n in ("static", "stock"):
    vs.append({"name": "runsrc-" + n, "cmd": ["/out/runsrc-%s/runsrc/runsrc" % n], "cwd": "/src"})
json.dump(vs, open("/tmp/variants.json", "w"))
PY
python3 /lab/timeit.py /tmp/variants.json "$ROUNDS" "$PER" /out/times.json
exit 0
