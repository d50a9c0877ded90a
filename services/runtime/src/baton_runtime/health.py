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


def health_router() -> APIRouter:
    router = APIRouter(tags=["health"])

    @router.get("/livez")
    async def livez(request: Request) -> JSONResponse:
        problems = runtime_of(request).liveness_problems()
        if problems:
            return JSONResponse({"status": "dead", "failing": problems}, status_code=503)
        return JSONResponse({"status": "alive"})

    @router.get("/readyz")
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

    @router.get("/metrics")
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
