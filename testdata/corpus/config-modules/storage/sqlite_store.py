import sqlite3


class Store:
    def __init__(self):
        self.db = sqlite3.connect(":memory:", check_same_thread=False)
        self.db.execute("CREATE TABLE kv (k TEXT PRIMARY KEY, v TEXT)")

    def put(self, key, value):
        self.db.execute("INSERT OR REPLACE INTO kv VALUES (?, ?)", (key, value))
        return self.db.execute("SELECT count(*) FROM kv").fetchone()[0]
