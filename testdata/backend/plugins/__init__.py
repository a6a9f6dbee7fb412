"""Built-in plug-ins, each exposing register(app, db).

They are imported by name on purpose, in two styles that PyInstaller's static analysis
does not follow: __import__ with a literal, and a relative importlib.import_module.
"""
import importlib

# Third-party plug-ins would be loaded with importlib.import_module("plugins.thirdparty");
# none ship with this sample (this comment is not an import, and must not count as one).


def load_plugins() -> dict:
    # With a non-empty fromlist, __import__ returns plugins.audit itself, not plugins.
    audit = __import__("plugins.audit", fromlist=["record"])
    csv_export = importlib.import_module(".csv_export", package="plugins")
    return {"audit": audit, "csv_export": csv_export}
