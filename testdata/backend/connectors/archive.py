"""Archive connector: packs payloads as gzip + base64 text.

gzip is imported nowhere else in the app.
"""
import base64
import gzip
import json


def pack(payload) -> str:
    raw = json.dumps(payload, sort_keys=True).encode("utf-8")
    return base64.b64encode(gzip.compress(raw, mtime=0)).decode("ascii")


def unpack(blob: str):
    return json.loads(gzip.decompress(base64.b64decode(blob)).decode("utf-8"))


def describe(settings, seed: dict) -> dict:
    blob = pack(seed)
    return {
        "kind": "archive",
        "format": "gzip+base64",
        "raw_bytes": len(json.dumps(seed, sort_keys=True)),
        "packed_bytes": len(blob),
        "roundtrip_ok": unpack(blob) == seed,
    }
