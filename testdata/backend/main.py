"""Entry point of the sample FastAPI backend that pybundle freezes with PyInstaller.

    python main.py [--port N] [--host H]      (the frozen binary takes the same flags)

The port falls back to $APP_PORT, then $PORT, then 8000, so the Electron shell can hand
over a free port either way. SIGTERM (what the shell sends on quit) lets uvicorn shut
down gracefully, then the process exits 0.
"""
import argparse
import logging
import signal
import sys
import time

import uvicorn
from fastapi import FastAPI
from pydantic import BaseModel

import config
import connectors
import database
import plugins
import services

log = logging.getLogger("backend")


class Health(BaseModel):
    status: str
    version: str
    frozen: bool
    services: list[str]
    connectors: list[str]
    plugins: list[str]
    seed_users: int
    python: str
    startup_ms: float


def create_app(settings: config.Settings) -> FastAPI:
    started = time.monotonic()
    seed = config.load_seed()  # a data file, found through sys._MEIPASS when frozen
    log.info("seed: %d users, %d orders", len(seed["users"]), len(seed["orders"]))
    db = database.Database(settings.db_path)
    db.init(seed)
    log.info("database: %s (sqlite %s)", settings.db_path, db.sqlite_version())

    app = FastAPI(title=config.APP_NAME, version=config.VERSION)

    for name in settings.services:
        services.load_service(name).register(app, db)
    loaded_connectors = {name: connectors.load_connector(name) for name in settings.connectors}
    loaded_plugins = plugins.load_plugins()
    for plugin in loaded_plugins.values():
        plugin.register(app, db)
    log.info(
        "loaded services=%s connectors=%s plugins=%s",
        ",".join(settings.services), ",".join(loaded_connectors), ",".join(loaded_plugins),
    )
    loaded_plugins["audit"].record(db, f"startup {config.VERSION}")

    @app.get("/api/connectors", tags=["connectors"])
    def list_connectors():
        return {name: module.describe(settings, seed) for name, module in loaded_connectors.items()}

    startup_ms = round((time.monotonic() - started) * 1000, 1)
    python = "%d.%d.%d" % sys.version_info[:3]

    @app.get("/api/health", response_model=Health, tags=["health"])
    def health() -> Health:
        return Health(
            status="ok",
            version=config.VERSION,
            frozen=config.is_frozen(),
            services=list(settings.services),
            connectors=list(loaded_connectors),
            plugins=sorted(loaded_plugins),
            seed_users=len(seed["users"]),
            python=python,
            startup_ms=startup_ms,
        )

    return app


def _exit_on_sigterm(signum, frame):
    # Runs only while uvicorn is not serving: before it starts, or when uvicorn, after
    # its graceful shutdown, restores this handler and re-raises the signal it caught.
    # Either way there is nothing left to close, and a requested stop is a success.
    log.info("received signal %d, exiting", signum)
    raise SystemExit(0)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description="pybundle sample FastAPI backend")
    parser.add_argument("--port", type=int, default=None, help="TCP port (else $APP_PORT, $PORT, 8000)")
    parser.add_argument("--host", default=None, help="interface to bind (else $APP_HOST, 127.0.0.1)")
    args = parser.parse_args(argv)

    settings = config.get_settings(port=args.port, host=args.host)
    logging.basicConfig(
        level=settings.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    log.info(
        "starting %s %s on %s:%d (frozen=%s, python %s)",
        config.APP_NAME, config.VERSION, settings.host, settings.port,
        config.is_frozen(), sys.version.split()[0],
    )
    app = create_app(settings)
    # The app object, not "main:app": no import of the app by string. uvicorn still
    # picks its loop/protocol/lifespan implementations by string (hidden imports too).
    uvicorn.run(app, host=settings.host, port=settings.port, log_level=settings.log_level)


if __name__ == "__main__":
    main()
