"""The peer of the grading benchmark: a bare FastAPI endpoint returning a constant JSON."""

from fastapi import FastAPI

app = FastAPI()


@app.get("/api/v1/health")
def health() -> dict[str, str]:
    return {"status": "ok"}


@app.post("/constant")
def constant() -> dict[str, str]:
    return {"status": "ok"}
