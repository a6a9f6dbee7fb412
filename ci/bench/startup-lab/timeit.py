"""Interleaved start-up timing: time from spawn to first 200 on /api/health (poll every 20 ms)."""
import json, os, signal, socket, subprocess, sys, time, urllib.request, statistics

def free_port():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close(); return p

TCK = os.sysconf("SC_CLK_TCK")
def cpu_ms(sid):
    t = 0; n = 0
    for p in os.listdir("/proc"):
        if not p.isdigit(): continue
        try: f = open("/proc/%s/stat" % p).read()
        except OSError: continue
        x = f[f.rindex(")") + 2:].split()
        if int(x[3]) == sid:  # session id (field 6)
            t += int(x[11]) + int(x[12]); n += 1
    return t * 1000.0 / TCK, n

CPU = {}
def once(cmd, cwd, env, name=None):
    port = free_port()
    e = dict(os.environ); e.update(env); e["APP_PORT"] = e["PORT"] = str(port)
    e["APP_DB_PATH"] = "/tmp/pybundle-health.sqlite3"
    t0 = time.monotonic()
    p = subprocess.Popen(cmd + ["--port", str(port)], cwd=cwd, env=e, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    url = "http://127.0.0.1:%d/api/health" % port
    ms = None
    while time.monotonic() - t0 < 15:
        try:
            with urllib.request.urlopen(url, timeout=1) as r:
                if r.status == 200 and json.load(r).get("status") == "ok":
                    ms = (time.monotonic() - t0) * 1000
                    if name: CPU.setdefault(name, []).append(cpu_ms(p.pid))
                    break
        except Exception:
            pass
        if p.poll() is not None: break
        time.sleep(0.02)
    try: os.killpg(p.pid, signal.SIGTERM)
    except ProcessLookupError: pass
    try: p.wait(10)
    except subprocess.TimeoutExpired: os.killpg(p.pid, signal.SIGKILL); p.wait()
    return ms

def main():
    variants = json.load(open(sys.argv[1])); rounds = int(sys.argv[2]); per = int(sys.argv[3])
    res = {v["name"]: [] for v in variants}
    for v in variants:  # warm-up, not counted
        once(v["cmd"], v["cwd"], v.get("env", {}))
    for r in range(rounds):
        order = variants if r % 2 == 0 else list(reversed(variants))
        for v in order:
            for _ in range(per):
                res[v["name"]].append(once(v["cmd"], v["cwd"], v.get("env", {}), v["name"]))
    out = {}
    for k, xs in res.items():
        ok = [x for x in xs if x is not None]
        out[k] = {"n": len(ok), "fail": len(xs) - len(ok), "min": min(ok) if ok else None,
                  "median": statistics.median(ok) if ok else None, "max": max(ok) if ok else None,
                  "all": [round(x) if x else None for x in xs]}
        print("%-22s n=%2d fail=%d min=%4.0f median=%4.0f max=%4.0f" % (k, out[k]["n"], out[k]["fail"], out[k]["min"] or 0, out[k]["median"] or 0, out[k]["max"] or 0), flush=True)
    for k, xs in CPU.items():
        c = [x[0] for x in xs]
        out[k]["cpu"] = c; out[k]["procs"] = sorted(set(x[1] for x in xs))
        print("%-22s CPU ms at first 200: min=%4.0f median=%4.0f max=%4.0f procs=%s" % (k, min(c), statistics.median(c), max(c), out[k]["procs"]), flush=True)
    json.dump(out, open(sys.argv[4], "w"), indent=1)

main()
