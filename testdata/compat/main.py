"""A Starlette backend whose dependencies are all pure Python, for the compat builder.

    python main.py [--port N] [--host H]      (the frozen binary takes the same flags)

Built with `--installer compat` it runs on Debian 11, 12 and 13 alike (tests/compat_test.go):
its wheels are made from Debian's own packages, so it builds with no package index at all.
"""
import argparse
import os
import platform
import sys

import uvicorn
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route


async def health(request):
    return JSONResponse({"status": "ok", "frozen": getattr(sys, "frozen", False)})


async def system(request):
    # What the bundle runs on: the runtime's C library, and the Python the bundle carries.
    libc, version = platform.libc_ver()
    return JSONResponse({"python": platform.python_version(), "libc": libc, "glibc": version})


app = Starlette(routes=[Route("/api/health", health), Route("/api/system", system)])


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
    parser.add_argument("--host", default="127.0.0.1")
    args = parser.parse_args()
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
