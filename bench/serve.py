"""The router app plus `POST /bench/noop` (reads the body, answers 202), served like
`python -m baton_router serve`, by the same CLI (one uvicorn worker). The no-op route
is the ceiling webhook intake is compared with: same app, server, worker and requests.

Run: `python -m bench.serve serve`, configured by the router's environment variables.
"""

from __future__ import annotations

import sys

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from baton_router.config import RouterSettings
from baton_router.main import MIGRATIONS, create_app
from baton_runtime.cli import run_service_cli
from baton_runtime.settings import ServiceSettings

NOOP_PATH = "/bench/noop"


async def noop(request: Request) -> JSONResponse:
    await request.body()
    return JSONResponse({}, status_code=202)


def app_with_noop(settings: ServiceSettings) -> FastAPI:
    assert isinstance(settings, RouterSettings)
    app = create_app(settings)
    app.add_api_route(NOOP_PATH, noop, methods=["POST"], status_code=202)
    return app


def main() -> int:
    return run_service_cli(
        None, settings_factory=RouterSettings, app_factory=app_with_noop, migrations=MIGRATIONS
    )


if __name__ == "__main__":
    sys.exit(main())
