"""Settings for the sample backend, read once from the environment.

The same code runs from source (python main.py) and frozen by PyInstaller. Frozen, the
data files no longer sit next to the sources: they are unpacked under sys._MEIPASS, so
every data file goes through resource_path().
"""
import json
import os
import sys
import tempfile
from dataclasses import dataclass, field

VERSION = "1.0.0"
APP_NAME = "pybundle-sample-backend"

# Names, not imports: the packages load these modules by import string (see the
# packages' __init__.py), which is what PyInstaller's static analysis cannot follow.
DEFAULT_SERVICES = ("users", "reports", "metrics")
DEFAULT_CONNECTORS = ("archive", "inifile", "cloud")


def resource_path(relative: str) -> str:
    """Return the absolute path of a bundled data file.

    onefile: sys._MEIPASS is the extraction dir (/tmp/_MEIxxxxxx), removed at exit;
    onedir:  sys._MEIPASS is <dist>/<name>/_internal;
    source:  the directory of this file.
    """
    base = getattr(sys, "_MEIPASS", None) or os.path.dirname(os.path.abspath(__file__))
    return os.path.join(base, relative)


def is_frozen() -> bool:
    return bool(getattr(sys, "frozen", False))


def _names_from_env(variable: str, default: tuple) -> tuple:
    raw = os.environ.get(variable)
    if raw is None:
        return default
    return tuple(part.strip() for part in raw.split(",") if part.strip())


def _parse_port(value, source: str) -> int:
    try:
        port = int(value)
    except (TypeError, ValueError):
        raise SystemExit(f"invalid port {value!r} from {source}: expected an integer") from None
    if not 0 < port < 65536:
        raise SystemExit(f"invalid port {port} from {source}: expected 1-65535")
    return port


@dataclass
class Settings:
    host: str = "127.0.0.1"
    port: int = 8000
    db_path: str = field(
        default_factory=lambda: os.path.join(tempfile.gettempdir(), "pybundle-sample-backend.sqlite3")
    )
    log_level: str = "info"
    services: tuple = DEFAULT_SERVICES
    connectors: tuple = DEFAULT_CONNECTORS
    cloud_key: str = "pybundle-sample-key"


def get_settings(port=None, host=None) -> Settings:
    """Settings with command-line values first, then the environment, then defaults.

    Port: --port, else $APP_PORT, else $PORT, else 8000.  Host: --host, else $APP_HOST,
    else 127.0.0.1 (a desktop backend must not listen on every interface by default).
    """
    s = Settings()
    if port is not None:
        s.port = _parse_port(port, "--port")
    elif os.environ.get("APP_PORT"):
        s.port = _parse_port(os.environ["APP_PORT"], "$APP_PORT")
    elif os.environ.get("PORT"):
        s.port = _parse_port(os.environ["PORT"], "$PORT")
    s.host = host or os.environ.get("APP_HOST") or s.host
    s.db_path = os.environ.get("APP_DB_PATH") or s.db_path
    s.log_level = (os.environ.get("APP_LOG_LEVEL") or s.log_level).lower()
    s.services = _names_from_env("APP_SERVICES", s.services)
    s.connectors = _names_from_env("APP_CONNECTORS", s.connectors)
    s.cloud_key = os.environ.get("APP_CLOUD_KEY") or s.cloud_key
    return s


def load_seed() -> dict:
    """Read data/seed.json; frozen, it must have been bundled as a data file."""
    with open(resource_path(os.path.join("data", "seed.json")), encoding="utf-8") as f:
        return json.load(f)
