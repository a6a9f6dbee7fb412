"""A backend that serves, but whose health check never passes (503 forever)."""
import argparse
import logging
import os
import signal
import sys

import uvicorn
from fastapi import FastAPI
from fastapi.responses import JSONResponse

VERSION = "1.0.0"

app = FastAPI(title="never-healthy")


@app.get("/api/health")
def health():
    # Stuck warming up: a dependency it waits for never comes.
    return JSONResponse(
        status_code=503,
        content={"status": "starting", "version": VERSION, "frozen": bool(getattr(sys, "frozen", False))},
    )


@app.get("/api/ping")
def ping():
    return {"pong": True}


def _exit_on_sigterm(signum, frame):
    raise SystemExit(0)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=None)
    parser.add_argument("--host", default="127.0.0.1")
    args = parser.parse_args(argv)
    port = args.port or int(os.environ.get("APP_PORT") or os.environ.get("PORT") or 8000)
    logging.basicConfig(level=logging.INFO)
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    uvicorn.run(app, host=args.host, port=port)


if __name__ == "__main__":
    main()
