"""A backend that uses installed packages in ways PyInstaller's analysis cannot see."""

import argparse
import importlib
import importlib.metadata
import importlib.resources
import importlib.util
import os
import subprocess
import sys

import uvicorn
from fastapi import FastAPI, HTTPException

app = FastAPI()
HERE = getattr(sys, "_MEIPASS", os.path.dirname(os.path.abspath(__file__)))


@app.get("/api/health")
def health():
    return {"status": "ok"}


@app.get("/api/data")
def data():
    # A data file of an installed package, found through importlib.resources.
    if not importlib.resources.files("idna").joinpath("py.typed").is_file():
        raise HTTPException(500, "idna's data files were not bundled")
    return {"idna": "py.typed"}


@app.get("/api/meta")
def meta():
    try:
        return {"typeguard": importlib.metadata.version("typeguard")}
    except importlib.metadata.PackageNotFoundError:
        raise HTTPException(500, "typeguard's metadata was not bundled")


@app.get("/api/plural")
def plural():
    name = "".join(["inf", "lect"])  # computed: no scanner can follow it
    try:
        engine = importlib.import_module(name).engine()
    except ImportError as e:
        raise HTTPException(500, f"{name} was not bundled: {e}")
    return {"plural": engine.plural("bundle"), "version": importlib.metadata.version(name)}


@app.get("/api/excluded")
def excluded():
    if importlib.util.find_spec("uvloop") is not None:
        raise HTTPException(500, "uvloop was bundled although excluded")
    return {"uvloop": None}


@app.get("/api/tool")
def tool():
    # Frozen, the tool is where binaries put it; from source, where it lives.
    exe = os.path.join(HERE, "bin", "greet") if hasattr(sys, "_MEIPASS") else os.path.join(HERE, "tools", "greet")
    try:
        out = subprocess.run([exe], capture_output=True, text=True, timeout=10, check=True).stdout
    except (OSError, subprocess.SubprocessError) as e:
        raise HTTPException(500, f"{exe}: {e}")
    return {"tool": out.strip()}


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=8000)
    uvicorn.run(app, host="127.0.0.1", port=parser.parse_args().port)
