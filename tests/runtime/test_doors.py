"""HTTP doors (`create_service_app(doors=...)`): routes on the app itself, matched once
per request, with everything their router gave them (tags, dependencies, responses)."""

from __future__ import annotations

from typing import Any

import httpx
from echo_service import EchoSettings, tables
from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request
from fastapi.routing import APIRoute
from starlette.routing import Match
from starlette.types import Scope

from baton_runtime.service import create_service_app


class CountedRoute(APIRoute):
    """An APIRoute that counts how often a request is matched against it."""

    matched = 0

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        match, child_scope = super().matches(scope)
        if match == Match.FULL:
            CountedRoute.matched += 1
        return match, child_scope


def require_key(request: Request) -> None:
    if request.headers.get("x-key") != "k":
        raise HTTPException(401, "no key")


def door_router(path: str) -> APIRouter:
    router = APIRouter(tags=["intake"], route_class=CountedRoute)

    @router.post(path, status_code=202, dependencies=[Depends(require_key)])
    async def take(request: Request) -> dict[str, Any]:
        return {"took": len(await request.body())}

    return router


def app_with(doors: list[APIRouter], routers: list[APIRouter]) -> FastAPI:
    return create_service_app(
        settings=EchoSettings(),
        tables=tables,
        consumers=lambda runtime: [],
        doors=doors,
        routers=routers,
        title="doors",
    )


async def post(app: FastAPI, path: str, **kwargs: Any) -> httpx.Response:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        return await client.post(path, content=b"abc", **kwargs)


async def test_a_door_is_matched_once_per_request_an_included_router_twice() -> None:
    app = app_with(doors=[door_router("/door")], routers=[door_router("/inside")])

    CountedRoute.matched = 0
    assert (await post(app, "/door", headers={"x-key": "k"})).json() == {"took": 3}
    assert CountedRoute.matched == 1

    CountedRoute.matched = 0
    assert (await post(app, "/inside", headers={"x-key": "k"})).json() == {"took": 3}
    assert CountedRoute.matched == 2


async def test_a_door_keeps_its_routers_dependencies_and_tags() -> None:
    router = door_router("/door")
    app = app_with(doors=[router], routers=[])

    assert (await post(app, "/door")).status_code == 401
    assert router.routes[0] in app.router.routes
    assert app.openapi()["paths"]["/door"]["post"]["tags"] == ["intake"]
