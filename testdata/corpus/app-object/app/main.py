"""The most common FastAPI shape: an app object, started with `uvicorn app.main:app`."""
from fastapi import FastAPI

from app.routes import router

app = FastAPI(title="app-object")
app.include_router(router)


@app.get("/api/health")
def health():
    return {"status": "healthy"}
