def register(app) -> None:
    @app.get("/api/users")
    def list_users():
        return [{"id": 1, "name": "Ada Lovelace"}]
