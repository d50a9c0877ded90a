"""The command line every service exposes: `serve` and `migrate`."""

from __future__ import annotations

import argparse
import socket
import sys
from collections.abc import Callable, Sequence

import uvicorn
from fastapi import FastAPI

from baton_runtime.migrations import upgrade
from baton_runtime.settings import ServiceSettings


def _port_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def run_service_cli(
    argv: Sequence[str] | None,
    *,
    settings_factory: Callable[[], ServiceSettings],
    app_factory: Callable[[ServiceSettings], FastAPI],
    migrations: str,
) -> int:
    settings = settings_factory()
    parser = argparse.ArgumentParser(prog=f"baton-{settings.service_name}")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("serve", help="run the HTTP API, consumers and outbox relay")
    commands.add_parser("migrate", help="apply database migrations and exit")
    args = parser.parse_args(argv)

    if args.command == "migrate":
        upgrade(settings, migrations)
        print(f"{settings.service_name}: schema {settings.schema_name!r} is at head")
        return 0

    if not _port_free(settings.http_host, settings.http_port):
        prefix = type(settings).model_config.get("env_prefix", "")
        print(
            f"{settings.service_name}: port {settings.http_host}:{settings.http_port} is already in use "
            f"(another Baton running?). Stop it or set {prefix}HTTP_PORT.",
            file=sys.stderr,
        )
        return 2
    uvicorn.run(
        app_factory(settings),
        host=settings.http_host,
        port=settings.http_port,
        log_config=None,
        access_log=False,
        # "on", not uvicorn's "auto": under "auto" an exception raised before the app's
        # startup reports failure is taken for "lifespan unsupported", and the server
        # serves without a runtime (every request a 500) instead of exiting to be restarted.
        lifespan="on",
        timeout_graceful_shutdown=30,
    )
    return 0
