"""User directory: list, fetch and fuzzy search.

difflib is imported nowhere else in the app: if this module is left out of the bundle,
so is difflib.
"""
import difflib

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel


class User(BaseModel):
    id: int
    name: str
    email: str | None = None


def register(app, db) -> None:
    router = APIRouter(prefix="/api/users", tags=["users"])

    @router.get("", response_model=list[User])
    def list_users():
        return db.query("SELECT id, name, email FROM users ORDER BY id")

    # Declared before /{user_id} so "search" is not taken for an id.
    @router.get("/search", response_model=list[User])
    def search_users(q: str, limit: int = 3):
        rows = db.query("SELECT id, name, email FROM users ORDER BY id")
        by_name = {row["name"].lower(): row for row in rows}
        matches = difflib.get_close_matches(q.lower(), list(by_name), n=max(limit, 1), cutoff=0.3)
        return [by_name[m] for m in matches]

    @router.get("/{user_id}", response_model=User)
    def get_user(user_id: int):
        rows = db.query("SELECT id, name, email FROM users WHERE id = ?", (user_id,))
        if not rows:
            raise HTTPException(status_code=404, detail="user not found")
        return rows[0]

    app.include_router(router)
