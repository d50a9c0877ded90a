"""The router app plus `POST /bench/noop` (reads the body, answers 202), served like
`python -m baton_router serve`: one uvicorn worker with the CLI's options. The no-op route
is the ceiling webhook intake is compared with: same app, server, worker and requests.

Run: `python -m bench.serve serve`, configured by the router's environment variables.
"""

from __future__ import annotations

import uvicorn
from fastapi import Request
from fastapi.responses import JSONResponse

from baton_router.config import RouterSettings
from baton_router.main import create_app

NOOP_PATH = "/bench/noop"


async def noop(request: Request) -> JSONResponse:
    await request.body()
    return JSONResponse({}, status_code=202)


def main() -> None:
    settings = RouterSettings()
    app = create_app(settings)
    app.add_api_route(NOOP_PATH, noop, methods=["POST"], status_code=202)
    uvicorn.run(
        app,
        host=settings.http_host,
        port=settings.http_port,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=30,
    )


if __name__ == "__main__":
    main()
