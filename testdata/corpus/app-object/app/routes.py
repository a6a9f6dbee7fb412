from fastapi import APIRouter

router = APIRouter()


@router.get("/api/hello/{name}")
def hello(name: str):
    return {"hello": name}
