#!/bin/sh
# lab: diagnostics, build every /lab/specs/*.spec, time interleaved
mkdir -p /out; exec > /out/log.txt 2>&1
set -x
mkdir -p /out
ROUNDS=${ROUNDS:-5}; PER=${PER:-2}
python3 -c 'import sys; print(sys.version, sys.flags)'
ldd /usr/bin/python3.13; ls -la /usr/lib/x86_64-linux-gnu/libpython3.13* 
ls /usr/lib/python3/dist-packages/fastapi/__pycache__ | head -3
ls /usr/lib/python3.13/__pycache__ | wc -l
pyinstaller --version
env | sort
cp /lab/pybundle_rth_check.py /src/
for s in /lab/specs/*.spec; do
  n=$(basename $s .spec)
  [ -n "$ONLY" ] && ! echo " $ONLY " | grep -q " $n " && continue
  cp $s /src/peft_engine.spec
  t0=$(date +%s)
  ( cd /src && pyinstaller --noconfirm --clean --log-level WARN --distpath /out/dist-$n --workpath /tmp/pyi-$n peft_engine.spec ) > /out/build-$n.txt 2>&1 || echo "BUILD FAILED $n"
  echo "built $n in $(( $(date +%s) - t0 )) s"; tail -3 /out/build-$n.txt
  du -sh /out/dist-$n
done
rm -f /src/peft_engine.spec /src/pybundle_rth_check.py
if [ -f /lab/runsrc.py ]; then
  ( cd /tmp && cp /lab/runsrc.py . && pyinstaller --noconfirm --log-level WARN --distpath /out/runsrc-dist --workpath /tmp/rsw --add-data /src/data:data runsrc.py ) > /out/build-runsrc.txt 2>&1 || echo "runsrc build failed"
  cd /src && timeout 3 env APP_DB_PATH=/tmp/y.db /out/runsrc-dist/runsrc/runsrc --port 18005 > /out/runsrc-try.txt 2>&1; tail -5 /out/runsrc-try.txt
fi
cp -a /src /src2
# variants json
python3 - <<'PY'
import json, os, glob
vs = [{"name": "source", "cmd": ["/usr/bin/python3", "main.py"], "cwd": "/src", "env": {}}]
for d in sorted(glob.glob("/out/dist-*")):
    n = d.split("dist-", 1)[1]
    if n == "imptime" or not os.path.exists(d + "/peft_engine/peft_engine"): continue
    vs.append({"name": n, "cmd": [d + "/peft_engine/peft_engine"], "cwd": "/tmp"})
vs += [json.loads(x) for x in os.environ.get("EXTRA", "").split("\n") if x.strip()]
json.dump(vs, open("/tmp/variants.json", "w"))
print(vs)
PY
python3 /lab/timeit.py /tmp/variants.json $ROUNDS $PER /out/times.json
# importtime: source (as measured: PYTHONDONTWRITEBYTECODE=1) and frozen
if [ -d /out/dist-imptime ]; then
  cd /src && timeout 3 env APP_DB_PATH=/tmp/x.db PYTHONPROFILEIMPORTTIME=1 python3 main.py --port 18001 2> /out/imp-source.txt >/dev/null
  cd /src2 && timeout 3 env -u PYTHONDONTWRITEBYTECODE APP_DB_PATH=/tmp/x.db PYTHONPROFILEIMPORTTIME=1 python3 main.py --port 18003 2> /out/imp-source-pyc.txt >/dev/null
  cd /tmp && timeout 3 env APP_DB_PATH=/tmp/x.db /out/dist-imptime/peft_engine/peft_engine --port 18002 2> /out/imp-frozen.txt >/dev/null
fi
ls /out/dist-base/peft_engine/_internal | head -50
exit 0
