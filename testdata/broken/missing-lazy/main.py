"""A backend that loads a service module which is not in the source tree."""
import argparse
import sys

import uvicorn
from fastapi import FastAPI

import config
import services


def create_app() -> FastAPI:
    app = FastAPI(title="missing-lazy")
    for name in config.SERVICES:
        services.load_service(name).register(app)  # ModuleNotFoundError for billing

    @app.get("/api/health")
    def health():
        return {"status": "ok", "version": config.VERSION,
                "frozen": bool(getattr(sys, "frozen", False)), "services": list(config.SERVICES)}

    return app


def main(argv=None) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=None)
    parser.add_argument("--host", default="127.0.0.1")
    args = parser.parse_args(argv)
    uvicorn.run(create_app(), host=args.host, port=args.port or config.port())


if __name__ == "__main__":
    main()
