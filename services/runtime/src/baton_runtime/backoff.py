"""Pauses between failed passes of a background loop (the outbox relay, a timer)."""

from __future__ import annotations

import asyncio

from baton_runtime.errors import is_transient
from baton_runtime.logs import get_logger

log = get_logger(__name__)


class Backoff:
    """Doubling pauses from `first` up to `cap`, back to `first` after a pass succeeds. An
    outage is logged as a warning, anything else with its stack trace."""

    def __init__(self, what: str, first: float = 0.1, cap: float = 5.0) -> None:
        self._what = what
        self._first = first
        self._cap = cap
        self.delay = first

    def reset(self) -> None:
        self.delay = self._first

    async def pause(self, exc: Exception) -> None:
        if is_transient(exc):
            log.warning(f"{self._what} waiting for infrastructure", error=str(exc))
        else:
            log.exception(f"{self._what} pass failed", exc_info=exc)
        await asyncio.sleep(self.delay)
        self.delay = min(self.delay * 2, self._cap)
