"""Deadline schedules: due, warning and rung instants on each clock; what a rung asks for."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from baton_schemas.events.lead import Owner, TimeRange, WorkingHours
from baton_schemas.sla_policy import ManagerQueue, Rung, SlaPolicy, TierTarget
from baton_sla_monitor.domain.deadline import Schedule, calendar_for, escalation

BERLIN = ZoneInfo("Europe/Berlin")
POLICY = SlaPolicy.model_validate(
    {
        "calendar": {"time_zone": "America/New_York"},
        "tiers": {
            "hot": {"target": "5m", "clock": "wall", "warning": {"before": "2m"}},
            "warm": {"target": "2h", "clock": "business", "warning": {"at_percent": 75}},
        },
    }
)
ANNA = Owner(
    id="anna",
    name="Anna",
    time_zone="Europe/Berlin",
    country="DE",
    region="BE",
    working_hours=[WorkingHours(weekday=d, start="09:00", end="17:00") for d in range(5)],
)


def berlin(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=BERLIN)


def schedule(tier: str, owner: Owner | None, opened_at: datetime) -> Schedule:
    terms = POLICY.target_for(tier)
    assert terms is not None
    return Schedule(terms=terms, calendar=calendar_for(owner, POLICY), opened_at=opened_at)


def test_wall_clock_ignores_working_hours() -> None:
    hot = schedule("hot", ANNA, berlin(2026, 11, 20, 23, 0))  # Friday night
    assert hot.due_at == berlin(2026, 11, 20, 23, 5)
    assert hot.warn_at == berlin(2026, 11, 20, 23, 3)
    assert hot.counted(berlin(2026, 11, 20, 23, 4)) == timedelta(minutes=4)


def test_business_clock_runs_on_the_owners_calendar() -> None:
    warm = schedule("warm", ANNA, berlin(2026, 12, 24, 16, 0))  # Christmas Eve, 1 h left
    assert warm.due_at == berlin(2026, 12, 28, 10, 0)  # 25 and 26 are Berlin holidays
    assert warm.warn_at == berlin(2026, 12, 28, 9, 30)  # 75% of 2 h = 1 h 30 min
    assert warm.counted(berlin(2026, 12, 28, 9, 15)) == timedelta(hours=1, minutes=15)


def test_the_policy_calendar_serves_owners_without_hours_and_queues() -> None:
    new_york = ZoneInfo("America/New_York")
    queued = schedule("warm", None, datetime(2026, 11, 23, 16, 30, tzinfo=new_york))
    assert queued.due_at == datetime(2026, 11, 24, 10, 30, tzinfo=new_york)
    tokyo = ZoneInfo("Asia/Tokyo")  # the policy's hours, in the owner's own zone
    owner = Owner(id="x", name="X", time_zone="Asia/Tokyo")
    warm = schedule("warm", owner, datetime(2026, 11, 24, 16, 30, tzinfo=tokyo))
    assert warm.due_at == datetime(2026, 11, 25, 10, 30, tzinfo=tokyo)


def test_out_of_office_in_the_assignment_moves_the_deadline() -> None:
    away = [TimeRange(start=berlin(2026, 11, 23, 0, 0), end=berlin(2026, 11, 24, 0, 0))]
    warm = schedule(
        "warm", ANNA.model_copy(update={"out_of_office": away}), berlin(2026, 11, 23, 10, 0)
    )
    assert warm.due_at == berlin(2026, 11, 24, 11, 0)


def test_rungs_fire_at_the_deadline_and_then_in_counted_time() -> None:
    warm = schedule("warm", ANNA, berlin(2026, 11, 20, 15, 0))  # due Friday 17:00
    assert warm.due_at == berlin(2026, 11, 20, 17, 0)
    assert warm.rung_at(Rung(action="notify")) == berlin(2026, 11, 20, 17, 0)
    later = Rung(after=timedelta(minutes=15), action="reassign")
    assert warm.rung_at(later) == berlin(2026, 11, 23, 9, 15)  # nobody works the weekend
    hot = schedule("hot", ANNA, datetime(2026, 11, 20, 16, 0, tzinfo=UTC))
    assert hot.rung_at(later) == datetime(2026, 11, 20, 16, 20, tzinfo=UTC)


def test_reassignment_turns_into_the_manager_queue_after_the_allowed_number() -> None:
    reassign = Rung(after=timedelta(minutes=15), action="reassign")
    managers = ManagerQueue(queue="managers", after_reassignments=2)
    assert escalation(2, reassign, 1, managers).action == "reassign"
    assert escalation(2, reassign, 2, managers).action == "reassign"
    handed = escalation(2, reassign, 3, managers)
    assert (handed.step, handed.action, handed.queue) == (2, "manager_queue", "managers")
    assert escalation(2, reassign, 9, None).action == "reassign"
    assert escalation(1, Rung(action="notify"), 9, managers).action == "notify"


def test_a_target_without_warning_has_no_warning() -> None:
    plain = Schedule(
        terms=TierTarget.model_validate({"target": "1h", "clock": "wall"}),
        calendar=calendar_for(None, POLICY),
        opened_at=berlin(2026, 11, 23, 10, 0),
    )
    assert plain.warn_at is None
