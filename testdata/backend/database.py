"""A small sqlite3 data layer.

One connection per call: FastAPI runs plain `def` endpoints in a thread pool, and a
sqlite3 connection must not be shared between threads.
"""
import os
import sqlite3
from contextlib import contextmanager

SCHEMA = (
    "CREATE TABLE IF NOT EXISTS users (id INTEGER PRIMARY KEY, name TEXT NOT NULL, email TEXT)",
    "CREATE TABLE IF NOT EXISTS orders (id INTEGER PRIMARY KEY, user_id INTEGER NOT NULL, amount REAL NOT NULL)",
    "CREATE TABLE IF NOT EXISTS audit_log (id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " ts REAL NOT NULL, event TEXT NOT NULL, prev TEXT NOT NULL, hash TEXT NOT NULL)",
)


class Database:
    def __init__(self, path: str):
        self.path = path

    @contextmanager
    def connect(self):
        conn = sqlite3.connect(self.path, timeout=10)
        conn.row_factory = sqlite3.Row
        try:
            yield conn
            conn.commit()
        except BaseException:
            conn.rollback()
            raise
        finally:
            conn.close()

    def init(self, seed: dict) -> None:
        """Create the schema and (re)load the seed rows; safe to run on every start."""
        directory = os.path.dirname(os.path.abspath(self.path))
        os.makedirs(directory, exist_ok=True)
        with self.connect() as c:
            for statement in SCHEMA:
                c.execute(statement)
            c.executemany(
                "INSERT OR REPLACE INTO users (id, name, email) VALUES (:id, :name, :email)",
                seed["users"],
            )
            c.executemany(
                "INSERT OR REPLACE INTO orders (id, user_id, amount) VALUES (:id, :user_id, :amount)",
                seed["orders"],
            )

    def query(self, sql: str, params=()) -> list:
        with self.connect() as c:
            return [dict(row) for row in c.execute(sql, params).fetchall()]

    def execute(self, sql: str, params=()) -> int:
        with self.connect() as c:
            return c.execute(sql, params).lastrowid

    def sqlite_version(self) -> str:
        return sqlite3.sqlite_version
