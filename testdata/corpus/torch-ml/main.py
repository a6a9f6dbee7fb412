"""A heavy ML backend: torch is imported only when a request needs it, so /api/health answers
before it loads."""
import argparse

import uvicorn
from fastapi import FastAPI

app = FastAPI()
_model = None


def model():
    global _model
    if _model is None:
        import torch  # the heavy import, on first use

        torch.manual_seed(0)
        _model = torch.nn.Linear(4, 2)
    return _model


@app.get("/api/health")
def health():
    return {"status": "ok"}


@app.get("/api/infer")
def infer():
    import torch

    with torch.no_grad():
        out = model()(torch.ones(1, 4))
    return {"shape": list(out.shape), "torch": torch.__version__}


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=8000)
    uvicorn.run(app, host="127.0.0.1", port=parser.parse_args().port)
