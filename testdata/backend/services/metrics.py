"""Process metrics: uptime, memory, versions.

platform (and resource, on Unix) are imported nowhere else in the app.
"""
import os
import platform
import sys
import time

try:
    import resource
except ImportError:  # Windows has no resource module
    resource = None

from fastapi import APIRouter

_STARTED = time.monotonic()


def _max_rss_kb():
    if resource is None:
        return None
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def register(app, db) -> None:
    router = APIRouter(prefix="/api/metrics", tags=["metrics"])

    @router.get("")
    def metrics():
        return {
            "uptime_s": round(time.monotonic() - _STARTED, 3),
            "max_rss_kb": _max_rss_kb(),
            "python": platform.python_version(),
            "machine": platform.machine(),
            "sqlite": db.sqlite_version(),
            "pid": os.getpid(),
            "frozen": bool(getattr(sys, "frozen", False)),
        }

    app.include_router(router)
