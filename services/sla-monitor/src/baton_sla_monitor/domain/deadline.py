"""A follow-up deadline's schedule: when it is due, when to warn, when each escalation rung
fires, what a rung asks for, and how long the first touch took. Pure."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cached_property
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from baton_schemas.events.lead import Owner, WorkingHours
from baton_schemas.events.sla import Escalation
from baton_schemas.sla_policy import ManagerQueue, Rung, SlaPolicy, TierTarget
from baton_sla_monitor.domain.calendar import BusinessCalendar, public_holidays, weekly_windows

Clock = Literal["wall", "business"]


def calendar_for(owner: Owner | None, sla: SlaPolicy) -> BusinessCalendar:
    """The owner's working time: their zone, hours and out-of-office as the assignment
    carries them, their country's (and region's) holidays. The policy's calendar fills in
    what the assignment does not say: its hours (in the owner's zone) for an owner without
    any, all of it for a lead handed to a queue."""
    fallback = sla.calendar
    hours: list[WorkingHours] = (owner.working_hours if owner else []) or fallback.working_hours
    zone = _zone(owner.time_zone if owner else None) or ZoneInfo(fallback.time_zone)
    if owner and owner.country:
        holidays = public_holidays(owner.country, owner.region)
    elif fallback.holidays:
        holidays = public_holidays(fallback.holidays.country, fallback.holidays.region)
    else:
        holidays = frozenset()
    away = tuple((gone.start, gone.end) for gone in owner.out_of_office) if owner else ()
    return BusinessCalendar(
        zone=zone,
        windows=weekly_windows([(h.weekday, h.start, h.end) for h in hours]),
        holidays=holidays,
        away=away,
    )


def _zone(name: str | None) -> ZoneInfo | None:
    """The IANA zone `name`, or None when there is none or it is unknown (the assignment
    comes from any producer on the topic; the policy's zone stands in)."""
    if not name:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


@dataclass(frozen=True)
class Schedule:
    """One deadline's clock: the terms it runs by, laid on the owner's calendar."""

    terms: TierTarget
    calendar: BusinessCalendar
    opened_at: datetime

    @property
    def clock(self) -> Clock:
        return self.terms.clock

    def after(self, start: datetime, amount: timedelta) -> datetime:
        """`amount` of counted time after `start` (working time on the business clock)."""
        if self.clock == "wall":
            return start + amount
        return self.calendar.add(start, amount)

    @cached_property
    def due_at(self) -> datetime:
        return self.after(self.opened_at, self.terms.target)

    @property
    def warn_at(self) -> datetime | None:
        warning = self.terms.warning
        if warning is None:
            return None
        if warning.before is not None:
            return self.after(self.opened_at, self.terms.target - warning.before)
        assert warning.at_percent is not None
        return self.after(self.opened_at, self.terms.target * (warning.at_percent / 100))

    def rung_at(self, rung: Rung) -> datetime:
        """A rung fires `after` its delay past the deadline; the first one at the deadline
        itself, even when that is the end of a working day."""
        if rung.after <= timedelta(0):
            return self.due_at
        return self.after(self.due_at, rung.after)

    def counted(self, end: datetime) -> timedelta:
        """Time counted between opening and `end` (working time on the business clock)."""
        if self.clock == "wall":
            return max(end - self.opened_at, timedelta(0))
        return self.calendar.elapsed(self.opened_at, end)


def escalation(
    step: int, rung: Rung, attempt: int, manager_queue: ManagerQueue | None
) -> Escalation:
    """What rung `step` (1-based) asks for. A reassignment becomes a hand-over to the manager
    queue once the lead was reassigned as often as the policy allows (attempt 1 is the
    first assignment)."""
    if (
        rung.action == "reassign"
        and manager_queue is not None
        and attempt - 1 >= manager_queue.after_reassignments
    ):
        return Escalation(step=step, action="manager_queue", queue=manager_queue.queue)
    return Escalation(step=step, action=rung.action)
