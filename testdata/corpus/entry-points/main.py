import argparse
from importlib.metadata import entry_points, version

import uvicorn
from fastapi import FastAPI

# Exporters registered as entry points of the group reports.exporters.
EXPORTERS = {ep.name: ep.load()() for ep in entry_points(group="reports.exporters")}

app = FastAPI()


@app.get("/api/health")
def health():
    return {"status": "ok", "exporters": sorted(EXPORTERS), "version": version("report-exporters")}


@app.get("/api/export/{fmt}")
def export(fmt: str):
    e = EXPORTERS[fmt]
    return {"mime": e.mime, "body": e.export([[1, 2], [3, 4]])}


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=8000)
    uvicorn.run(app, host="127.0.0.1", port=parser.parse_args().port)
