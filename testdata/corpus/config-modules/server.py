"""Own modules chosen at run time, three ways no static analysis follows."""
import argparse
import importlib
import importlib.util
import json
import os
from pathlib import Path

import uvicorn
from fastapi import FastAPI

HERE = Path(__file__).parent

# 1. Names read from a JSON file kept in a sub-folder.
FEATURES = json.loads((HERE / "settings" / "modules.json").read_text())["features"]
loaded = {name: importlib.import_module(name) for name in FEATURES}

# 2. A name built from an environment variable, checked with find_spec first.
kind = os.environ.get("APP_STORE", "memory")
store_module = "storage." + kind + "_store"
if importlib.util.find_spec(store_module) is None:
    raise SystemExit("no store " + store_module)
store = importlib.import_module(store_module).Store()

# 3. __import__ with fromlist.
summary = __import__("reports", fromlist=["summary"]).summary

app = FastAPI()


@app.get("/api/health")
def health():
    return {"status": "ok", "features": list(loaded)}


@app.get("/api/invoice")
def invoice():
    count = store.put("last", "invoice")
    return {"summary": summary.render([m.describe() for m in loaded.values()]), "stored": count}


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=8000)
    uvicorn.run(app, host="127.0.0.1", port=parser.parse_args().port)
