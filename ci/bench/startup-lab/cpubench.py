"""CPU-only work, timed inside the process: the same bytecode on two interpreters."""
import json, re, sys, time

def loop():
    s = 0
    for i in range(2_000_000):
        s += i * i % 7
    return s

def regex():
    n = 0
    for i in range(300):
        re.purge()
        for p in (r"(?P<a>[a-z]+)@(?P<b>[a-z]+)\.(com|org|net)", r"^\s*(\d{1,3}\.){3}\d{1,3}\s*$", r"[\w.+-]+@[\w-]+\.[\w.-]+", r"(?i)^(?:[a-z0-9!#$%&'*+/=?^_`{|}~-]+)$"):
            n += len(re.compile(p).pattern)
    return n

def objects():
    class P:
        __slots__ = ("x", "y")
        def __init__(self, x, y): self.x, self.y = x, y
    d = {}
    for i in range(300_000):
        p = P(i, str(i))
        d[p.y] = p
    return len(json.dumps({k: v.x for k, v in list(d.items())[:50000]}))

def pyd():
    import pydantic
    t = 0
    for i in range(60):
        M = pydantic.create_model("M%d" % i, a=(int, 1), b=(str, "x"), c=(list[int], []), d=(dict[str, float], {}))
        t += len(M.model_json_schema())
    return t

out = {"exe": sys.executable, "frozen": bool(getattr(sys, "frozen", False))}
import pydantic  # warm import outside the timed parts
for name, f in (("loop", loop), ("regex", regex), ("objects", objects), ("pydantic", pyd)):
    t0 = time.perf_counter(); f(); out[name] = round((time.perf_counter() - t0) * 1000, 1)
print(json.dumps(out))
