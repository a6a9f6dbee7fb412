import os

VERSION = "1.0.0"
# "billing" is configured but services/billing.py was never written.
SERVICES = ("users", "billing")


def port() -> int:
    return int(os.environ.get("APP_PORT") or os.environ.get("PORT") or 8000)
