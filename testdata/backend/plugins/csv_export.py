"""CSV export of orders; csv is imported nowhere else in the app."""
import csv
import io

from fastapi.responses import PlainTextResponse


def orders_csv(db) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["id", "user", "amount"])
    rows = db.query(
        "SELECT o.id AS id, u.name AS user, o.amount AS amount"
        " FROM orders o JOIN users u ON u.id = o.user_id ORDER BY o.id"
    )
    for row in rows:
        writer.writerow([row["id"], row["user"], f"{row['amount']:.2f}"])
    return buf.getvalue()


def register(app, db) -> None:
    @app.get("/api/export/orders.csv", response_class=PlainTextResponse, tags=["export"])
    def export_orders():
        return orders_csv(db)
