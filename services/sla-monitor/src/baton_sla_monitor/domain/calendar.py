"""Business calendars: when an owner works, and durations counted in working time.

A calendar is weekly working windows in the owner's IANA time zone, minus public holidays
(a window is dropped when the local date it starts on is a holiday) and minus the owner's
out-of-office ranges. Windows are laid on concrete dates before they are converted to UTC,
so a 09:00 start stays 09:00 local on both sides of a daylight-saving change.

Pure: no I/O, no clock. Instants in and out are timezone-aware.
"""

from __future__ import annotations

from collections.abc import Container, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import cached_property, lru_cache
from zoneinfo import ZoneInfo

import holidays as holiday_tables

from baton_schemas.events.lead import parse_clock

SEARCH_DAYS = 3 * 366
"""How far ahead a calendar looks for working time before it gives up."""


class CalendarError(ValueError):
    """The calendar has no working time within SEARCH_DAYS of the start."""


@dataclass(frozen=True)
class Window:
    """A weekly working window in local time. `end <= start` runs past midnight into the
    next day (`end == time(0)` is 24:00), as the router's shifts do."""

    weekday: int  # 0 = Monday
    start: time
    end: time

    def on(self, day: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
        """The window on local date `day`, as UTC instants."""
        end_day = day + timedelta(days=1) if self.end <= self.start else day
        start = datetime.combine(day, self.start, tzinfo=zone)
        end = datetime.combine(end_day, self.end, tzinfo=zone)
        return start.astimezone(UTC), end.astimezone(UTC)


@dataclass(frozen=True)
class BusinessCalendar:
    zone: ZoneInfo
    windows: tuple[Window, ...]
    holidays: Container[date] = frozenset()
    away: tuple[tuple[datetime, datetime], ...] = field(default=())
    """out-of-office ranges (UTC), any order"""

    def periods(self, start: datetime) -> Iterator[tuple[datetime, datetime]]:
        """Working time from `start` on: disjoint UTC intervals in order."""
        # In UTC: arithmetic on an instant in a local zone is wall-clock arithmetic, which
        # would be an hour off across a daylight-saving change.
        start = start.astimezone(UTC)
        if not self.windows:
            raise CalendarError("the calendar has no working hours")
        by_weekday, away = self._by_weekday, self._away_in_order
        first_day = start.astimezone(self.zone).date() - timedelta(days=1)  # overnight windows
        pending: tuple[datetime, datetime] | None = None
        for offset in range(SEARCH_DAYS):
            day = first_day + timedelta(days=offset)
            if day in self.holidays:
                continue
            for window in by_weekday.get(day.weekday(), ()):
                opened, closed = window.on(day, self.zone)
                opened = max(opened, start)
                if closed <= opened:
                    continue
                if pending is not None and opened <= pending[1]:
                    pending = (pending[0], max(pending[1], closed))  # touching or overlapping
                    continue
                if pending is not None:
                    yield from _minus(pending, away)
                pending = (opened, closed)
        if pending is not None:
            yield from _minus(pending, away)

    @cached_property
    def _by_weekday(self) -> dict[int, list[Window]]:
        by_weekday: dict[int, list[Window]] = {}
        for window in sorted(self.windows, key=lambda w: w.start):
            by_weekday.setdefault(window.weekday, []).append(window)
        return by_weekday

    @cached_property
    def _away_in_order(self) -> list[tuple[datetime, datetime]]:
        return sorted(self.away)

    def add(self, start: datetime, amount: timedelta) -> datetime:
        """The instant when `amount` of working time has passed since `start`."""
        left = amount
        for opened, closed in self.periods(start):
            if left <= closed - opened:
                return opened + left
            left -= closed - opened
        raise CalendarError(f"no {amount} of working time within {SEARCH_DAYS} days of {start}")

    def elapsed(self, start: datetime, end: datetime) -> timedelta:
        """Working time between two instants (zero when `end` is not after `start`)."""
        total = timedelta(0)
        if end <= start:
            return total
        for opened, closed in self.periods(start):
            if opened >= end:
                break
            total += min(closed, end) - opened
        return total


def _minus(
    period: tuple[datetime, datetime], away: Sequence[tuple[datetime, datetime]]
) -> Iterator[tuple[datetime, datetime]]:
    """`period` with the `away` ranges (sorted by start) cut out."""
    opened, closed = period
    for gone, back in away:
        if back <= opened or gone >= closed:
            continue
        if gone > opened:
            yield opened, gone
        opened = max(opened, back)
        if opened >= closed:
            return
    yield opened, closed


@lru_cache(maxsize=256)
def public_holidays(country: str | None, region: str | None = None) -> Container[date]:
    """The public holidays of a country (ISO 3166 alpha-2) and, when the `holidays` package
    knows it, of a region in it (ISO 3166-2 subdivision, e.g. DE + BE). A region it does
    not know (a sales region such as EMEA) falls back to the country's holidays; a country
    it does not know has none. Cached: building a country's table is far dearer than a
    lookup, and every assignment asks."""
    if not country:
        return frozenset()
    for subdivision in (region, None) if region else (None,):
        try:
            return holiday_tables.country_holidays(country.upper(), subdiv=subdivision)
        except NotImplementedError:
            continue
    return frozenset()


def weekly_windows(hours: Sequence[tuple[int, str, str]]) -> tuple[Window, ...]:
    """Windows from (weekday, 'HH:MM', 'HH:MM') triples; the end may be '24:00'."""
    return tuple(
        Window(weekday, parse_clock(start), parse_clock(end)) for weekday, start, end in hours
    )
