"""What a request handler reaches through the app: the service's live parts."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import Request

if TYPE_CHECKING:
    from baton_runtime.service import ServiceRuntime


def runtime_of(request: Request) -> ServiceRuntime:
    """The `ServiceRuntime` the app's lifespan built (engine, producer, outbox, relay)."""
    return request.app.state.runtime  # type: ignore[no-any-return]
