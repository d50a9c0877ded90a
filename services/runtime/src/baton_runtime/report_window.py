"""The `since`/`until` window every report endpoint takes, checked the same way: instants
between 1970 and 9000 (naive ones are UTC), `since` before `until`, and by default the
`default` span up to now. A bad value is a 422 naming the query parameter, shaped like
FastAPI's own validation errors."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import HTTPException
from pydantic import BeforeValidator

EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(9000, 1, 1, tzinfo=UTC)
DEFAULT_WINDOW = timedelta(days=30)


_ISO_DATE = re.compile(r"^\s*[0-9]{4}-[0-9]{2}-[0-9]{2}")


def _iso_only(value: object) -> object:
    # pydantic would also read a number as seconds since 1970 ("since=1e-300" is 1970):
    # the documented form is a date-time, and anything else is a mistake to name.
    if isinstance(value, str) and not _ISO_DATE.match(value):
        raise ValueError("expected an ISO 8601 date-time such as 2025-06-01T00:00:00Z")
    return value


Instant = Annotated[datetime, BeforeValidator(_iso_only)]
"""A `since`/`until` query parameter: an ISO 8601 date-time, nothing else."""


def query_error(name: str, message: str) -> HTTPException:
    return HTTPException(422, [{"type": "value_error", "loc": ["query", name], "msg": message}])


def instant(value: datetime, name: str) -> datetime:
    """`value` as an aware instant between 1970 and 9000, else a 422 naming `name`."""
    aware = value if value.tzinfo else value.replace(tzinfo=UTC)
    try:
        if EARLIEST <= aware <= LATEST:
            return aware
    except OverflowError:
        pass
    raise query_error(name, f"`{name}` must be between 1970 and 9000")


def report_window(
    since: datetime | None, until: datetime | None, default: timedelta = DEFAULT_WINDOW
) -> tuple[datetime, datetime]:
    until = instant(until, "until") if until else datetime.now(UTC)
    since = instant(since, "since") if since else max(until - default, EARLIEST)
    if since >= until:
        raise query_error("since", "`since` must be before `until`")
    return since, until
