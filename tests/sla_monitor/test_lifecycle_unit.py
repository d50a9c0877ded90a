"""A deadline's life without I/O: opening, firing steps, meeting, closing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from baton_runtime.testing import sample_assigned
from baton_schemas import FeedbackTraceable, SlaBreached, SlaWarning
from baton_schemas.events.feedback import ActivityDetail
from baton_schemas.events.lead import Owner, WorkingHours
from baton_schemas.sla_policy import SlaPolicy
from baton_sla_monitor.domain.lifecycle import (
    Touch,
    close_superseded,
    fire_due,
    meet,
    open_deadline,
    superseded_on_arrival,
    touch_applies,
)

BERLIN = ZoneInfo("Europe/Berlin")
SLA = SlaPolicy.model_validate(
    {
        "tiers": {
            "hot": {"target": "5m", "clock": "wall", "warning": {"before": "2m"}},
            "warm": {"target": "2h", "clock": "business", "warning": {"at_percent": 75}},
        },
        "escalation": [
            {"after": "0m", "action": "notify"},
            {"after": "15m", "action": "reassign"},
        ],
        "manager_queue": {"queue": "managers", "after_reassignments": 1},
        "outbound_only": True,
    }
)
ANNA = Owner(
    id="anna",
    name="Anna",
    time_zone="Europe/Berlin",
    working_hours=[WorkingHours(weekday=d, start="09:00", end="17:00") for d in range(5)],
)
FRIDAY_1630 = datetime(2025, 3, 14, 16, 30, tzinfo=BERLIN)


def assigned(tier: str | None = "warm", attempt: int = 1, at: datetime = FRIDAY_1630):  # type: ignore[no-untyped-def]
    event = sample_assigned("lead-1", assigned_at=at, tier=tier, attempt=attempt)
    return event.model_copy(update={"owner": ANNA})


def opened(tier: str | None = "warm", attempt: int = 1, at: datetime = FRIDAY_1630):  # type: ignore[no-untyped-def]
    result = open_deadline(f"a-{attempt}", assigned(tier, attempt, at), SLA, "v1")
    assert result is not None
    return result


def touch(at: datetime, kind: str = "call", direction: str = "outbound") -> Touch:
    event = FeedbackTraceable(
        lead_key="lead-1",
        crm_event_id=f"crm-{at.isoformat()}",
        kind="activity",
        occurred_at=at,
        activity=ActivityDetail(type=kind, direction=direction),  # type: ignore[arg-type]
    )
    found = Touch.from_feedback(event)
    assert found is not None
    return found


def test_a_business_deadline_opened_friday_afternoon_is_due_monday() -> None:
    deadline, started = opened()
    # 30 working minutes on Friday, 90 on Monday
    assert deadline.due_at == datetime(2025, 3, 17, 10, 30, tzinfo=BERLIN)
    assert deadline.warn_at == datetime(2025, 3, 17, 10, 0, tzinfo=BERLIN)  # 75% = 90 min
    assert deadline.rung_times == [deadline.due_at, datetime(2025, 3, 17, 10, 45, tzinfo=BERLIN)]
    assert (deadline.next_step, deadline.next_fire_at) == (0, deadline.warn_at)
    assert started.due_at == deadline.due_at and started.clock == "business"
    assert started.target_seconds == 7200 and started.team is None


def test_no_target_for_the_tier_and_no_default_opens_nothing() -> None:
    assert open_deadline("a", assigned(tier="nurture"), SLA, "v1") is None


def test_steps_fire_in_order_and_a_warning_after_the_deadline_is_skipped() -> None:
    deadline, _ = opened()
    assert fire_due(deadline, deadline.warn_at - timedelta(seconds=1), SLA) == []  # type: ignore[operator]

    late = deadline.due_at + timedelta(minutes=1)  # the monitor was down over warning and due
    fired = fire_due(deadline, late, SLA, earlier_breaches=["bob"])
    assert [type(e) for e in fired] == [SlaBreached]
    breach = fired[0]
    assert isinstance(breach, SlaBreached)
    assert breach.escalation.step == 1 and breach.escalation.action == "notify"
    assert breach.breached_at == deadline.due_at
    assert breach.breached_owner_ids == ["anna", "bob"]
    assert (deadline.status, deadline.next_step) == ("breached", 2)

    fired = fire_due(deadline, deadline.rung_times[1], SLA)
    assert [e.escalation.action for e in fired if isinstance(e, SlaBreached)] == ["reassign"]
    assert (deadline.next_step, deadline.next_fire_at) == (None, None)
    assert fire_due(deadline, late + timedelta(days=1), SLA) == []


def test_a_warning_fires_before_the_deadline() -> None:
    deadline, _ = opened()
    fired = fire_due(deadline, deadline.warn_at, SLA)  # type: ignore[arg-type]
    assert [type(e) for e in fired] == [SlaWarning]
    assert deadline.status == "open" and deadline.next_step == 1


def test_reassign_becomes_a_manager_queue_hand_over_after_the_allowed_reassignments() -> None:
    deadline, _ = opened(attempt=2)
    fired = fire_due(deadline, deadline.rung_times[1], SLA)
    rungs = [e.escalation for e in fired if isinstance(e, SlaBreached)]
    assert [(r.step, r.action, r.queue) for r in rungs] == [
        (1, "notify", None),
        (2, "manager_queue", "managers"),
    ]


def test_a_touch_meets_with_wall_and_business_minutes() -> None:
    deadline, _ = opened()
    monday_0915 = datetime(2025, 3, 17, 9, 15, tzinfo=BERLIN)
    met = meet(deadline, touch(monday_0915), SLA)
    assert met.within_target is True
    assert met.business_minutes_to_first_touch == 45  # 30 on Friday, 15 on Monday
    assert met.minutes_to_first_touch == (monday_0915 - FRIDAY_1630).total_seconds() / 60
    assert (deadline.status, deadline.closed_reason, deadline.next_fire_at) == ("met", "met", None)


def test_a_late_touch_is_met_but_not_within_target() -> None:
    deadline, _ = opened()
    fire_due(deadline, deadline.due_at, SLA)
    met = meet(deadline, touch(deadline.due_at + timedelta(minutes=5)), SLA)
    assert met.within_target is False
    assert deadline.status == "met" and deadline.breached_at == deadline.due_at


def test_which_touches_count() -> None:
    deadline, _ = opened()
    assert touch(FRIDAY_1630).qualifies(SLA)
    assert not touch(FRIDAY_1630, direction="inbound").qualifies(SLA)  # outbound only
    assert not touch(FRIDAY_1630, kind="other").qualifies(SLA)
    assert touch_applies(deadline, touch(FRIDAY_1630))
    assert not touch_applies(deadline, touch(FRIDAY_1630 - timedelta(seconds=1)))
    not_an_activity = FeedbackTraceable(
        lead_key="lead-1", crm_event_id="x", kind="stage_change", occurred_at=FRIDAY_1630
    )
    assert Touch.from_feedback(not_an_activity) is None


def test_a_newer_assignment_closes_the_old_deadline() -> None:
    old, _ = opened(attempt=1)
    new, _ = opened(attempt=2, at=FRIDAY_1630 + timedelta(minutes=1))
    assert new.supersedes(old) and not old.supersedes(new)
    close_superseded(old, new.opened_at)
    assert (old.status, old.closed_reason, old.next_fire_at) == ("cancelled", "reassigned", None)

    breached, _ = opened()
    fire_due(breached, breached.due_at, SLA)
    close_superseded(breached, breached.due_at + timedelta(minutes=20))
    assert (breached.status, breached.closed_reason) == ("breached", "reassigned")

    stale = superseded_on_arrival(old, datetime.now(UTC))
    assert (stale.status, stale.closed_reason, stale.next_fire_at) == (
        "cancelled",
        "superseded",
        None,
    )


def test_closing_a_met_deadline_changes_nothing_and_an_overdue_one_is_breached() -> None:
    met_one, _ = opened()
    meet(met_one, touch(datetime(2025, 3, 17, 9, 15, tzinfo=BERLIN)), SLA)
    close_superseded(met_one, met_one.due_at + timedelta(hours=1))
    assert (met_one.status, met_one.closed_reason) == ("met", "met")

    overdue, _ = opened()  # the timer never fired (the monitor was down)
    close_superseded(overdue, overdue.due_at + timedelta(minutes=1))
    assert (overdue.status, overdue.breached_at) == ("breached", overdue.due_at)


def test_an_unknown_owner_zone_falls_back_to_the_policy_calendar() -> None:
    event = sample_assigned("lead-z", assigned_at=FRIDAY_1630, tier="warm")
    event = event.model_copy(
        update={"owner": ANNA.model_copy(update={"time_zone": "Mars/Olympus"})}
    )
    result = open_deadline("a", event, SLA, "v1")
    assert result is not None
    # Anna's hours in the policy's zone (UTC): 16:30 Berlin is 15:30 UTC, 90 minutes on
    # Friday, the other 30 on Monday from 09:00 UTC
    assert result[0].due_at == datetime(2025, 3, 17, 9, 30, tzinfo=UTC)
