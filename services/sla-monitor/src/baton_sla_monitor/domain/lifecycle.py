"""A follow-up deadline's life: opened by an assignment, warned, breached and escalated
rung by rung, met by the first qualifying touch, closed by a reassignment. Pure: the
caller loads and stores `Deadline`s and publishes the events returned.

Steps are numbered as the timer fires them: 0 is the warning, 1..n the escalation rungs
(rung 1 fires at the deadline itself and is the breach).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Literal

from baton_schemas.events.feedback import FeedbackTraceable
from baton_schemas.events.lead import LeadAssigned, Owner
from baton_schemas.events.sla import SlaBreached, SlaMet, SlaStarted, SlaWarning
from baton_schemas.sla_policy import SlaPolicy, TierTarget
from baton_sla_monitor.domain.deadline import Schedule, calendar_for, escalation

Status = Literal["open", "breached", "met", "cancelled"]
WARNING_STEP = 0


@dataclass
class Deadline:
    """One row of the deadlines table."""

    deadline_id: str  # the assignment's event id
    lead_key: str
    attempt: int
    owner_id: str | None
    owner: Owner | None
    team: str | None
    queue: str | None
    tier: str | None
    source: str | None
    policy_version: str
    clock: Literal["wall", "business"]
    target_seconds: float
    opened_at: datetime
    due_at: datetime
    warn_at: datetime | None
    rung_times: list[datetime]
    next_step: int | None
    next_fire_at: datetime | None
    status: Status = "open"
    breached_at: datetime | None = None
    touched_at: datetime | None = None
    within_target: bool | None = None
    minutes_to_first_touch: float | None = None
    business_minutes_to_first_touch: float | None = None
    activity_type: str | None = None
    crm_event_id: str | None = None
    closed_at: datetime | None = None
    closed_reason: str | None = None

    @property
    def is_closed(self) -> bool:
        return self.closed_at is not None

    @property
    def order(self) -> tuple[int, datetime]:
        """Where its assignment stands among the lead's: later attempts, then later times."""
        return self.attempt, self.opened_at

    def supersedes(self, other: Deadline) -> bool:
        """True when this assignment is newer than `other` (same lead)."""
        return self.order > other.order


@dataclass(frozen=True)
class Touch:
    """A sales activity on a lead, from the feedback topic."""

    crm_event_id: str
    lead_key: str
    touched_at: datetime
    activity_type: str
    direction: str | None

    @classmethod
    def from_feedback(cls, event: FeedbackTraceable) -> Touch | None:
        """The activity in `event`, or None when it is not an activity (a disposition,
        a stage change)."""
        if event.kind != "activity" or event.activity is None:
            return None
        return cls(
            crm_event_id=event.crm_event_id,
            lead_key=event.lead_key,
            touched_at=event.occurred_at,
            activity_type=event.activity.type,
            direction=event.activity.direction,
        )

    def qualifies(self, sla: SlaPolicy) -> bool:
        if self.activity_type not in sla.qualifying_activities:
            return False
        return not sla.outbound_only or self.direction == "outbound"


def open_deadline(
    deadline_id: str, assigned: LeadAssigned, sla: SlaPolicy, policy_version: str
) -> tuple[Deadline, SlaStarted] | None:
    """The deadline an assignment opens, or None when the policy sets no target for the
    lead's tier (and has no default)."""
    terms = sla.target_for(assigned.tier)
    if terms is None:
        return None
    schedule = _schedule(terms, sla, assigned.owner, assigned.assigned_at)
    rung_times = [schedule.rung_at(rung) for rung in sla.escalation]
    warn_at = schedule.warn_at
    owner = assigned.owner
    deadline = Deadline(
        deadline_id=deadline_id,
        lead_key=assigned.lead_key,
        attempt=assigned.attempt,
        owner_id=owner.id if owner else None,
        owner=owner,
        team=owner.team if owner else None,
        queue=assigned.queue,
        tier=assigned.tier,
        source=assigned.lead.source,
        policy_version=policy_version,
        clock=terms.clock,
        target_seconds=terms.target.total_seconds(),
        opened_at=assigned.assigned_at,
        due_at=schedule.due_at,
        warn_at=warn_at,
        rung_times=rung_times,
        next_step=WARNING_STEP if warn_at is not None else 1,
        next_fire_at=warn_at if warn_at is not None else rung_times[0],
    )
    started = SlaStarted(
        **_common(deadline),
        opened_at=deadline.opened_at,
        clock=deadline.clock,
        target_seconds=deadline.target_seconds,
        warn_at=warn_at,
        team=deadline.team,
        queue=deadline.queue,
        source=deadline.source,
    )
    return deadline, started


def fire_due(
    deadline: Deadline, now: datetime, sla: SlaPolicy, earlier_breaches: Iterable[str] = ()
) -> list[SlaWarning | SlaBreached]:
    """Fire every step due at `now`, in order, and advance the deadline past them. A
    warning whose deadline has already passed (the monitor was down) is skipped.
    `earlier_breaches` are the owners who breached earlier deadlines of the lead: a
    reassignment must pass them over too."""
    fired: list[SlaWarning | SlaBreached] = []
    while (
        deadline.next_step is not None
        and deadline.next_fire_at is not None
        and deadline.next_fire_at <= now
        and not deadline.is_closed
    ):
        step = deadline.next_step
        if step == WARNING_STEP:
            if deadline.due_at > now:
                fired.append(SlaWarning(**_common(deadline), warned_at=now))
        else:
            rung = sla.escalation[step - 1]
            deadline.status = "breached"
            deadline.breached_at = deadline.breached_at or deadline.due_at
            breached_owners = {
                *earlier_breaches,
                *([deadline.owner_id] if deadline.owner_id else []),
            }
            fired.append(
                SlaBreached(
                    **_common(deadline),
                    breached_at=deadline.breached_at,
                    escalation=escalation(step, rung, deadline.attempt, sla.manager_queue),
                    breached_owner_ids=sorted(breached_owners),
                )
            )
        _advance(deadline, step + 1)
    return fired


def meet(deadline: Deadline, touch: Touch, sla: SlaPolicy) -> SlaMet:
    """Close `deadline` with its first qualifying touch (late when after the due time)."""
    schedule = _schedule(_terms_of(deadline), sla, deadline.owner, deadline.opened_at)
    wall = max(touch.touched_at - deadline.opened_at, timedelta(0))
    counted = schedule.counted(touch.touched_at)
    deadline.status = "met"
    deadline.touched_at = touch.touched_at
    deadline.within_target = touch.touched_at <= deadline.due_at
    deadline.minutes_to_first_touch = wall.total_seconds() / 60
    deadline.business_minutes_to_first_touch = counted.total_seconds() / 60
    deadline.activity_type = touch.activity_type
    deadline.crm_event_id = touch.crm_event_id
    _close(deadline, touch.touched_at, "met")
    return SlaMet(
        **_common(deadline),
        opened_at=deadline.opened_at,
        touched_at=touch.touched_at,
        within_target=deadline.within_target,
        minutes_to_first_touch=deadline.minutes_to_first_touch,
        business_minutes_to_first_touch=deadline.business_minutes_to_first_touch,
        activity_type=touch.activity_type,
        crm_event_id=touch.crm_event_id,
    )


def close_superseded(deadline: Deadline, at: datetime) -> None:
    """A newer assignment of the lead replaced this one: no more warnings or rungs. One
    that was past due by then is breached (even if the timer had not fired yet), one that
    was not is cancelled; a deadline already closed (met) stays as it was."""
    if deadline.is_closed:
        return
    if deadline.status == "open" and at >= deadline.due_at:
        deadline.status = "breached"
        deadline.breached_at = deadline.due_at
    elif deadline.status == "open":
        deadline.status = "cancelled"
    _close(deadline, at, "reassigned")


def superseded_on_arrival(deadline: Deadline, at: datetime) -> Deadline:
    """An assignment older than the lead's current one (a late or replayed record): kept,
    already closed, so it never fires."""
    stale = replace(deadline, status="cancelled")
    _close(stale, at, "superseded")
    return stale


def next_steps(deadlines: Iterable[Deadline]) -> list[tuple[str, datetime]]:
    """(deadline id, fire time) of each deadline's next step, for the timer."""
    return [(d.deadline_id, d.next_fire_at) for d in deadlines if d.next_fire_at is not None]


def touch_applies(deadline: Deadline, touch: Touch) -> bool:
    """A touch counts for a deadline that is still waiting for one, when it happened after
    the assignment (a touch before it belongs to an earlier owner or none)."""
    return not deadline.is_closed and touch.touched_at >= deadline.opened_at


def _schedule(
    terms: TierTarget, sla: SlaPolicy, owner: Owner | None, opened_at: datetime
) -> Schedule:
    return Schedule(terms=terms, calendar=calendar_for(owner, sla), opened_at=opened_at)


def _terms_of(deadline: Deadline) -> TierTarget:
    return TierTarget(target=timedelta(seconds=deadline.target_seconds), clock=deadline.clock)


def _advance(deadline: Deadline, step: int) -> None:
    if step > len(deadline.rung_times):
        deadline.next_step = None
        deadline.next_fire_at = None
        return
    deadline.next_step = step
    deadline.next_fire_at = deadline.rung_times[step - 1]


def _close(deadline: Deadline, at: datetime, reason: str) -> None:
    deadline.next_step = None
    deadline.next_fire_at = None
    deadline.closed_at = at
    deadline.closed_reason = reason


def _common(deadline: Deadline) -> dict[str, object]:
    return {
        "lead_key": deadline.lead_key,
        "deadline_id": deadline.deadline_id,
        "assigned_event_id": deadline.deadline_id,
        "owner_id": deadline.owner_id,
        "tier": deadline.tier,
        "attempt": deadline.attempt,
        "due_at": deadline.due_at,
        "policy_version": deadline.policy_version,
    }
