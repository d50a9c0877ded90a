"""An error no route handles: 503 with Retry-After when a dependency is down, else 500."""

from __future__ import annotations

import httpx
from fastapi import FastAPI
from sqlalchemy.exc import OperationalError

from baton_runtime.service import answer_unhandled


def app_raising(error: Exception) -> FastAPI:
    app = FastAPI()
    app.add_exception_handler(Exception, answer_unhandled)

    @app.get("/fails")
    async def fails() -> None:
        raise error

    return app


async def get(app: FastAPI) -> httpx.Response:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        return await client.get("/fails")


async def test_database_down_is_503_with_retry_after() -> None:
    down = OperationalError("SELECT 1", {}, ConnectionRefusedError("connection refused"))
    answer = await get(app_raising(down))
    assert answer.status_code == 503
    assert answer.headers["retry-after"] == "1"
    assert "retry" in answer.json()["detail"]


async def test_a_bug_is_500_without_details() -> None:
    answer = await get(app_raising(KeyError("secret internals")))
    assert answer.status_code == 500
    assert answer.json() == {"detail": "internal error"}
