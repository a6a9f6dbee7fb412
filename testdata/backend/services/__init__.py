"""Feature services, enabled by name in Settings.services.

Each service module exposes register(app, db). The module is imported by a string
built at run time, e.g. load_service("users") imports services.users, so PyInstaller
never sees these imports: the bundle needs them as hidden imports.
"""
import importlib


def load_service(name: str):
    return importlib.import_module(f"{__name__}.{name}")
