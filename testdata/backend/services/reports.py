"""Order statistics.

statistics is imported nowhere else in the app: if this module is left out of the
bundle, so is statistics.
"""
import statistics

from fastapi import APIRouter


def register(app, db) -> None:
    router = APIRouter(prefix="/api/reports", tags=["reports"])

    @router.get("/summary")
    def summary():
        amounts = [row["amount"] for row in db.query("SELECT amount FROM orders ORDER BY id")]
        if not amounts:
            return {"orders": 0, "total": 0.0, "mean": None, "median": None, "stdev": None}
        return {
            "orders": len(amounts),
            "total": round(sum(amounts), 2),
            "mean": round(statistics.fmean(amounts), 2),
            "median": statistics.median(amounts),
            "stdev": round(statistics.pstdev(amounts), 2),
        }

    @router.get("/by-user")
    def by_user():
        rows = db.query(
            "SELECT u.name AS name, COUNT(o.id) AS orders, COALESCE(SUM(o.amount), 0) AS total"
            " FROM users u LEFT JOIN orders o ON o.user_id = u.id GROUP BY u.id ORDER BY u.id"
        )
        return [{"name": r["name"], "orders": r["orders"], "total": round(r["total"], 2)} for r in rows]

    app.include_router(router)
