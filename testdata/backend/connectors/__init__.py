"""Data connectors, enabled by name in Settings.connectors.

Each connector module (or subpackage, like cloud/) exposes describe(settings, seed).
The import string is assembled at run time, so PyInstaller cannot see these imports.
"""
from importlib import import_module


def load_connector(name: str):
    return import_module(
        "connectors." + name
    )
