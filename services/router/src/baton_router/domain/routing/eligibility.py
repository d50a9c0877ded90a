"""Whether a rep can take a lead right now, and if not, why (in words a rep manager reads)."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

from baton_router.domain.routing.roster import Rep, RepLoad, Shift

WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def _require_aware(now: datetime) -> None:
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("`now` must be timezone-aware")


def format_utc(moment: datetime) -> str:
    """2026-11-30T09:00Z (seconds only when they are not zero)."""
    utc = moment.astimezone(UTC)
    text = utc.strftime("%Y-%m-%dT%H:%M:%S" if utc.second else "%Y-%m-%dT%H:%M")
    return f"{text}Z"


def out_of_office_until(rep: Rep, now: datetime) -> datetime | None:
    """End of the absence `now` falls in (following back-to-back ranges), or None."""
    _require_aware(now)
    return _absence_end(rep, now)


def _absence_end(rep: Rep, now: datetime) -> datetime | None:
    until: datetime | None = None
    for start, end in rep.out_of_office:
        if start <= now < end:
            until = end if until is None else max(until, end)
    if until is None:
        return None
    extended = True
    while extended:
        extended = False
        for start, end in rep.out_of_office:
            if start <= until < end:
                until, extended = end, True
    return until


def _in_shift(shift: Shift, weekday: int, clock: time) -> bool:
    if not shift.overnight:
        return weekday == shift.weekday and shift.start <= clock < shift.end
    if weekday == shift.weekday and clock >= shift.start:
        return True
    return weekday == (shift.weekday + 1) % 7 and clock < shift.end


def in_working_hours(rep: Rep, now: datetime) -> bool:
    """Inside one of the rep's shifts, on the wall clock of the rep's time zone (so DST is
    followed). A rep without any working hours is always inside them."""
    _require_aware(now)
    if not rep.working_hours:
        return True
    local = now.astimezone(rep.zone)
    clock = local.time().replace(tzinfo=None)
    return any(_in_shift(shift, local.weekday(), clock) for shift in rep.working_hours)


def local_time_label(rep: Rep, now: datetime) -> str:
    local = now.astimezone(rep.zone)
    return f"{rep.time_zone} {local:%H:%M} {WEEKDAYS[local.weekday()]}"


def local_day_bounds(rep: Rep, now: datetime) -> tuple[datetime, datetime]:
    """[start, end) of the rep's local calendar day containing `now`, as aware UTC times;
    what `RepLoad.assigned_today` counts (a DST day is 23 or 25 hours long)."""
    _require_aware(now)
    zone = rep.zone
    local = now.astimezone(zone)
    midnight = datetime.combine(local.date(), time(0), tzinfo=zone)
    next_midnight = datetime.combine(local.date() + timedelta(days=1), time(0), tzinfo=zone)
    return midnight.astimezone(UTC), next_midnight.astimezone(UTC)


def why_ineligible(
    rep: Rep,
    load: RepLoad,
    now: datetime,
    respect_working_hours: bool,
    *,
    check_caps: bool = True,
) -> str | None:
    """None when the rep can take a lead now; otherwise the first reason they cannot.

    Checked in this order: active, out of office, daily cap, open-lead cap, working hours
    (only when `respect_working_hours`). `check_caps=False` is for a duplicate that stays
    with its owner: it adds no new load.
    """
    _require_aware(now)
    if not rep.active:
        return "inactive"
    until = _absence_end(rep, now)
    if until is not None:
        return f"out of office until {format_utc(until)}"
    if check_caps:
        if rep.daily_cap is not None and load.assigned_today >= rep.daily_cap:
            return f"daily cap {rep.daily_cap} reached"
        if rep.open_cap is not None and load.open_leads >= rep.open_cap:
            return f"open-lead cap {rep.open_cap} reached"
    if respect_working_hours and not in_working_hours(rep, now):
        return f"outside working hours ({local_time_label(rep, now)})"
    return None
