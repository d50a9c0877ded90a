"""Liveness, readiness and metrics endpoints.

Liveness looks only at the process and its loops, so a broken database never restarts
every pod. Readiness looks at the database, the broker and group membership.
"""

from __future__ import annotations

import asyncio
import time

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from baton_runtime.app_state import runtime_of

_LIVENESS: dict[str, object] = {
    "type": "object",
    "required": ["status"],
    "properties": {
        "status": {"enum": ["alive", "dead"]},
        "failing": {"type": "array", "items": {"type": "string"}},
    },
}
_READINESS: dict[str, object] = {
    "type": "object",
    "required": ["status", "checks", "failing"],
    "properties": {
        "status": {"enum": ["ready", "not ready"]},
        "checks": {"type": "object", "additionalProperties": {"type": "boolean"}},
        "failing": {"type": "array", "items": {"type": "string"}},
    },
}


def _answers(
    schema: dict[str, object], ok: str, failing: str
) -> dict[int | str, dict[str, object]]:
    content = {"application/json": {"schema": schema}}
    return {
        200: {"description": ok, "content": content},
        503: {"description": failing, "content": content},
    }


def health_router() -> APIRouter:
    router = APIRouter(tags=["health"])

    @router.get(
        "/livez",
        responses=_answers(_LIVENESS, "the process and its loops are alive", "a loop stalled"),
    )
    async def livez(request: Request) -> JSONResponse:
        problems = runtime_of(request).liveness_problems()
        if problems:
            return JSONResponse({"status": "dead", "failing": problems}, status_code=503)
        return JSONResponse({"status": "alive"})

    @router.get(
        "/readyz",
        responses=_answers(
            _READINESS, "ready", "not ready: `failing` names database, broker or consumer_group"
        ),
    )
    async def readyz(request: Request) -> JSONResponse:
        runtime = runtime_of(request)
        checks = await runtime.readiness_checks()
        failing = [name for name, ok in checks.items() if not ok]
        body = {
            "status": "ready" if not failing else "not ready",
            "checks": checks,
            "failing": failing,
        }
        return JSONResponse(body, status_code=503 if failing else 200)

    @router.get(
        "/metrics",
        response_class=Response,
        responses={
            200: {
                "description": "Prometheus text format",
                "content": {CONTENT_TYPE_LATEST.split(";")[0]: {"schema": {"type": "string"}}},
            }
        },
    )
    async def metrics(request: Request) -> Response:
        return Response(
            generate_latest(runtime_of(request).metrics.registry), media_type=CONTENT_TYPE_LATEST
        )

    return router


async def check(coro_factory: object, timeout: float = 2.0) -> bool:
    try:
        await asyncio.wait_for(coro_factory(), timeout)  # type: ignore[operator]
    except Exception:
        return False
    return True


def stale(last_progress: float, limit_s: float) -> bool:
    return time.monotonic() - last_progress > limit_s


__all__ = ["check", "health_router", "stale"]
