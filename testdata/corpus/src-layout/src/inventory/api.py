from pathlib import Path
import sqlite3

from fastapi import FastAPI

QUERIES = Path(__file__).parent / "queries"


def create_app() -> FastAPI:
    app = FastAPI()
    db = sqlite3.connect(":memory:", check_same_thread=False)
    db.executescript((QUERIES / "schema.sql").read_text())

    @app.get("/api/health")
    def health():
        return {"status": "ok"}

    @app.get("/api/items")
    def items():
        rows = db.execute((QUERIES / "list_items.sql").read_text()).fetchall()
        return {"items": [name for (name,) in rows]}

    return app
