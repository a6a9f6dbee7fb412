"""Cloud connector, a subpackage: load_connector("cloud") imports connectors.cloud.

Nothing is uploaded; it signs a summary the way an upload would be signed.
"""
import json

from . import signing


def describe(settings, seed: dict) -> dict:
    key = settings.cloud_key.encode("utf-8")
    payload = json.dumps({"users": len(seed["users"]), "orders": len(seed["orders"])}, sort_keys=True)
    signature = signing.sign(key, payload.encode("utf-8"))
    return {
        "kind": "cloud",
        "uploaded": False,
        "signature": signature[:16],
        "verified": signing.verify(key, payload.encode("utf-8"), signature),
    }
