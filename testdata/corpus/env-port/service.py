"""A backend configured only through its environment, as twelve-factor services are.

It refuses any command-line argument (argparse with none defined), reads its port from
SERVICE_PORT and will not start without SERVICE_MODE.
"""

import argparse
import os
import sys

import uvicorn
from fastapi import FastAPI

app = FastAPI()


@app.get("/healthz")
def healthz():
    return {"status": "ok"}


@app.get("/api/mode")
def mode():
    return {"mode": os.environ["SERVICE_MODE"]}


def main():
    argparse.ArgumentParser(description="configured by SERVICE_PORT and SERVICE_MODE").parse_args()
    if "SERVICE_MODE" not in os.environ:
        sys.exit("SERVICE_MODE is not set")
    uvicorn.run(app, host="127.0.0.1", port=int(os.environ["SERVICE_PORT"]))


if __name__ == "__main__":
    main()
