import argparse

import uvicorn
from fastapi import FastAPI

import db

db.migrate()
app = FastAPI()


@app.get("/api/health")
def health():
    return {"status": "ok"}


@app.get("/api/items")
def items():
    return {"items": db.item_names()}


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=8000)
    uvicorn.run(app, host="127.0.0.1", port=parser.parse_args().port)
