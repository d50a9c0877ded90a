"""`serve`: a service whose startup fails exits (to be restarted) instead of serving."""

from __future__ import annotations

import subprocess
import sys

import httpx

from baton_runtime.devstack.ports import free_port

# An app whose lifespan fails before it can report the failure itself: under uvicorn's
# default ("auto") that reads as "lifespan unsupported" and the server serves anyway.
BROKEN_STARTUP = """
import sys
from fastapi import FastAPI
from baton_runtime.cli import run_service_cli
from baton_runtime.settings import ServiceSettings

def app_factory(settings):
    app = FastAPI()

    @app.get("/livez")
    def livez():
        return {"status": "alive"}

    async def broken(scope, receive, send):
        if scope["type"] == "lifespan":
            raise RuntimeError("startup broke before the lifespan began")
        await app(scope, receive, send)

    return broken

sys.exit(run_service_cli(
    ["serve"],
    settings_factory=lambda: ServiceSettings(http_port=int(sys.argv[1])),
    app_factory=app_factory,
    migrations="",
))
"""


def test_a_service_whose_startup_fails_exits_instead_of_serving() -> None:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-c", BROKEN_STARTUP, str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        code = process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        served = httpx.get(f"http://127.0.0.1:{port}/livez").status_code
        raise AssertionError(f"still running after a failed startup; /livez {served}") from None
    finally:
        process.kill()
        output = process.communicate()[0].decode(errors="replace")
    assert code != 0, output
    assert "startup broke before the lifespan began" in output
