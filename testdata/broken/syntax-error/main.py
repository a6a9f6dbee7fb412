"""Entry point with a syntax error: the colon after main()'s signature is missing."""
import os

import uvicorn
from fastapi import FastAPI

import config

app = FastAPI(title="syntax-error")


@app.get("/api/health")
def health():
    return {"status": "ok", "version": config.VERSION, "frozen": False}


def main() -> None
    uvicorn.run(app, host="127.0.0.1", port=int(os.environ.get("APP_PORT") or os.environ.get("PORT") or 8000))


if __name__ == "__main__":
    main()
