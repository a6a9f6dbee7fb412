import argparse

import uvicorn
from fastapi import FastAPI, HTTPException

from settings import settings

app = FastAPI()


@app.get("/api/health")
def health():
    return {"status": "ok"}


@app.get("/api/greeting")
def greeting():
    if settings.greeting != "hello from .env":
        raise HTTPException(500, "the .env file was not read")
    return {"greeting": settings.greeting, "max_items": settings.max_items}


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=8000)
    uvicorn.run(app, host="127.0.0.1", port=parser.parse_args().port)
