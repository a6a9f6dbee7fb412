"""A backend that fails during start-up: logs a few lines, raises, exits with code 3."""
import argparse
import logging
import os
import sys

import uvicorn
from fastapi import FastAPI

VERSION = "1.0.0"
EXIT_STARTUP_FAILURE = 3
SCHEMA_SUPPORTED, SCHEMA_FOUND = 5, 7

log = logging.getLogger("backend")


def create_app() -> FastAPI:
    log.info("opening database")
    log.info("checking schema version")
    if SCHEMA_FOUND > SCHEMA_SUPPORTED:
        raise RuntimeError(
            f"database schema version {SCHEMA_FOUND} is newer than this backend supports ({SCHEMA_SUPPORTED})"
        )
    return FastAPI(title="exits-on-start")  # never reached


def main(argv=None) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=None)
    parser.add_argument("--host", default="127.0.0.1")
    args = parser.parse_args(argv)
    port = args.port or int(os.environ.get("APP_PORT") or os.environ.get("PORT") or 8000)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    log.info("starting exits-on-start %s on %s:%d", VERSION, args.host, port)
    try:
        app = create_app()
    except Exception:
        log.exception("start-up failed")
        sys.exit(EXIT_STARTUP_FAILURE)
    uvicorn.run(app, host=args.host, port=port)


if __name__ == "__main__":
    main()
