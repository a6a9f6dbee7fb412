"""A backend whose entry point is not main.py: pybundle looks for main.py and must say so."""
import os

import uvicorn
from fastapi import FastAPI

import config

app = FastAPI(title="no-entry")


@app.get("/api/health")
def health():
    return {"status": "ok", "version": config.VERSION, "frozen": False}


if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=int(os.environ.get("APP_PORT") or os.environ.get("PORT") or 8000))
