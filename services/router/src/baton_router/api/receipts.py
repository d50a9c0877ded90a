"""When this replica first received a delivery, for the delivery's repeats.

A sender repeats a delivery byte for byte: after a 503 whose publish still reached the
broker once it recovered, after a 202 lost on the way back, or while its first attempt
is still waiting on the broker. Stamped with its own receipt time, the repeat would put a
second content under the first copy's event id. So the replica remembers each delivery's
first receipt (for the signature window, after which no repeat verifies; bounded in
number) and stamps every repeat with it: all copies are the same bytes.

A repeat that reaches another replica, or this one after a restart (killed after the
broker took the first copy and before the 202), gets that process's time: the same event
id with a later `received_at`. Consumers keep the first copy of an id, so the lead is
routed on its first receipt. Sharing receipts across processes would put a database write
before every webhook's publish, and make the intake depend on PostgreSQL as well as the
broker, for a field whose first copy already wins.
"""

from __future__ import annotations

from collections import OrderedDict
from datetime import UTC, datetime, timedelta


def delivery_key(source: str, digest: str) -> str:
    """A delivery by its source and its body's digest (`body.body_digest`)."""
    return f"{source}:{digest}"


class FirstReceipts:
    def __init__(self, keep_for: timedelta, max_entries: int = 50_000) -> None:
        self._keep_for_s = keep_for.total_seconds()
        self._max_entries = max_entries
        self._received: OrderedDict[str, float] = OrderedDict()  # key -> POSIX seconds

    def received_at(self, key: str, now: datetime) -> datetime:
        """The delivery's first receipt within the window; `now` for a new delivery."""
        first = self._received.get(key)
        if first is not None and now.timestamp() - first <= self._keep_for_s:
            return datetime.fromtimestamp(first, UTC)
        self._received[key] = now.timestamp()
        self._received.move_to_end(key)
        if len(self._received) > self._max_entries:
            self._received.popitem(last=False)
        return now
