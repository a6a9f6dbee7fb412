"""INI file connector: renders the running settings as an INI document.

configparser is imported nowhere else in the app.
"""
import configparser
import io


def render(settings) -> str:
    parser = configparser.ConfigParser()
    parser["server"] = {"host": settings.host, "port": str(settings.port)}
    parser["storage"] = {"db_path": settings.db_path}
    parser["features"] = {
        "services": ",".join(settings.services),
        "connectors": ",".join(settings.connectors),
    }
    buf = io.StringIO()
    parser.write(buf)
    return buf.getvalue()


def describe(settings, seed: dict) -> dict:
    text = render(settings)
    parsed = configparser.ConfigParser()
    parsed.read_string(text)
    return {"kind": "inifile", "sections": parsed.sections(), "bytes": len(text)}
