"""When a delivery whose publish went unanswered was received, for its redelivery.

A publish that times out (503) may still reach the broker once the broker recovers, and
the sender redelivers the same bytes. Stamped with its own receipt time, the redelivery
would put a second content under the first copy's event id. So this replica remembers
the receipt time of each delivery it answered 503 (bounded in number, and only for the
signature window, after which no redelivery verifies) and stamps the redelivery with it:
both copies are then the same bytes. A redelivery that reaches another replica gets that
replica's time; consumers keep the first copy of an event id.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from datetime import datetime, timedelta


def delivery_key(source: str, body: bytes) -> str:
    """A redelivery repeats the body byte for byte."""
    return f"{source}:{hashlib.sha256(body).hexdigest()}"


class UnansweredReceipts:
    def __init__(self, keep_for: timedelta, max_entries: int = 10_000) -> None:
        self._keep_for = keep_for
        self._max_entries = max_entries
        self._received: OrderedDict[str, datetime] = OrderedDict()

    def received_at(self, key: str, now: datetime) -> datetime:
        """The first receipt of an unanswered delivery still in the window, else `now`."""
        first = self._received.get(key)
        if first is not None and now - first <= self._keep_for:
            return first
        return now

    def unanswered(self, key: str, received_at: datetime) -> None:
        self._received[key] = received_at
        self._received.move_to_end(key)
        while len(self._received) > self._max_entries:
            self._received.popitem(last=False)

    def answered(self, key: str) -> None:
        self._received.pop(key, None)
