import argparse
import importlib
import pkgutil

import uvicorn
from fastapi import FastAPI

import plugins

# Every module of the package, by scanning it: no name is written anywhere.
PLUGINS = {
    info.name: importlib.import_module(plugins.__name__ + "." + info.name)
    for info in pkgutil.iter_modules(plugins.__path__)
}

app = FastAPI()


@app.get("/api/health")
def health():
    return {"status": "ok"}


@app.get("/api/transform/{text}")
def transform(text: str):
    return {name: p.apply(text) for name, p in sorted(PLUGINS.items())}


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=8000)
    uvicorn.run(app, host="127.0.0.1", port=parser.parse_args().port)
