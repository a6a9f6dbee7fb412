"""Tamper-evident audit log: each entry carries the sha256 of the previous one.

hashlib is imported nowhere else in the app.
"""
import hashlib
import time

GENESIS = "0" * 64


def _digest(prev: str, ts: float, event: str) -> str:
    return hashlib.sha256(f"{prev}|{ts:.6f}|{event}".encode("utf-8")).hexdigest()


def record(db, event: str) -> str:
    with db.connect() as c:
        # One writer at a time, so two threads cannot both extend the same entry.
        c.execute("BEGIN IMMEDIATE")
        row = c.execute("SELECT hash FROM audit_log ORDER BY id DESC LIMIT 1").fetchone()
        prev = row["hash"] if row else GENESIS
        ts = time.time()
        digest = _digest(prev, ts, event)
        c.execute(
            "INSERT INTO audit_log (ts, event, prev, hash) VALUES (?, ?, ?, ?)",
            (ts, event, prev, digest),
        )
    return digest


def verify(db) -> bool:
    prev = GENESIS
    for row in db.query("SELECT ts, event, prev, hash FROM audit_log ORDER BY id"):
        if row["prev"] != prev or row["hash"] != _digest(prev, row["ts"], row["event"]):
            return False
        prev = row["hash"]
    return True


def register(app, db) -> None:
    @app.get("/api/audit", tags=["audit"])
    def audit_log(limit: int = 20):
        rows = db.query(
            "SELECT id, ts, event, hash FROM audit_log ORDER BY id DESC LIMIT ?", (max(limit, 1),)
        )
        return {"valid": verify(db), "entries": rows}
