"""The SLA monitor on the embedded stack: assignments open deadlines, the timer warns and
escalates on time, touches meet them, reassignments close them, late and repeated records
have defined outcomes, and nothing fires twice across restarts or replicas."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from datetime import UTC, datetime, timedelta

from sla_support import AUTH, FAST, announce, prepare, serving, sla_events, touch

from baton_runtime.testing import (
    DLQ_HEADERS,
    encode_assigned,
    eventually,
    metric,
    produce,
    query,
    read_topic,
    sample_assigned,
    scalar,
)
from baton_schemas import LeadCaptured, encode_event

TOLERANCE = timedelta(milliseconds=250)


def kinds(events: list) -> list[tuple[str, str]]:  # type: ignore[type-arg]
    return [(kind, data["lead_key"]) for kind, data, _ in events]


async def test_started_warning_and_breach_rungs_fire_in_order_on_time(make_settings) -> None:
    settings = await prepare(make_settings)
    await announce(settings)
    async with serving(settings) as client:
        t0 = datetime.now(UTC)
        record = encode_assigned(settings, sample_assigned("lead-hot", assigned_at=t0, attempt=3))
        await produce(settings.kafka_bootstrap, settings.topics.leads_assigned, [record])
        events = await sla_events(settings, 4, timeout=15)
        row = await query(
            settings, "SELECT status, next_step, next_fire_at, breached_at FROM deadlines"
        )
        metrics = (await client.get("/metrics")).text

    assert [kind for kind, _, _ in events] == ["started", "warning", "breached", "breached"]
    started, warning, notify, reassign = (data for _, data, _ in events)
    assert started["deadline_id"] == record.event_id == started["assigned_event_id"]
    assert started["policy_version"] == "test-1" and started["clock"] == "wall"
    assert started["target_seconds"] == 2.0
    assert datetime.fromisoformat(started["due_at"]) == t0 + timedelta(seconds=2)
    assert datetime.fromisoformat(started["warn_at"]) == t0 + timedelta(seconds=1)
    assert (
        abs(datetime.fromisoformat(warning["warned_at"]) - (t0 + timedelta(seconds=1))) <= TOLERANCE
    )
    assert notify["escalation"] == {"step": 1, "action": "notify", "queue": None}
    # attempt 3: the lead was reassigned twice already, so the reassign rung hands it over
    assert reassign["escalation"] == {
        "step": 2,
        "action": "manager_queue",
        "queue": "sales-managers",
    }
    assert notify["breached_owner_ids"] == ["rep-1"]
    assert datetime.fromisoformat(notify["breached_at"]) == t0 + timedelta(seconds=2)
    expected = [t0, t0 + timedelta(seconds=1), t0 + timedelta(seconds=2), t0 + timedelta(seconds=3)]
    for (kind, _, published), due in zip(events[1:], expected[1:], strict=True):
        assert abs(published - due) <= TOLERANCE, (kind, published - due)
    assert row == [("breached", None, None, t0 + timedelta(seconds=2))]
    assert metric(metrics, "baton_sla_events_total", type="breached", tier="hot") == 2
    assert metric(metrics, "baton_sla_events_total", type="started", tier="hot") == 1
    assert metric(metrics, "baton_sla_fire_delay_seconds_count") == 3


async def test_a_touch_before_the_deadline_meets_it_and_nothing_else_fires(make_settings) -> None:
    settings = await prepare(make_settings)
    await announce(settings)
    async with serving(settings):
        t0 = datetime.now(UTC)
        assigned = encode_assigned(settings, sample_assigned("lead-met", assigned_at=t0))
        await produce(settings.kafka_bootstrap, settings.topics.leads_assigned, [assigned])
        await asyncio.sleep(0.5)
        call = touch(settings, "lead-met", "crm-1", t0 + timedelta(milliseconds=400))
        email = touch(settings, "lead-met", "crm-2", t0 + timedelta(milliseconds=450), kind="email")
        await produce(settings.kafka_bootstrap, settings.topics.feedback_traceable, [call, email])
        await asyncio.sleep(3.5)  # past every rung
        events = await sla_events(settings, 5, timeout=1)
        rows = await query(
            settings,
            "SELECT status, within_target, crm_event_id, closed_reason, next_fire_at FROM deadlines",
        )
        stored = await query(settings, "SELECT crm_event_id, deadline_id FROM touches ORDER BY 1")

    assert [kind for kind, _, _ in events] == ["started", "met"]
    met = events[1][1]
    assert met["within_target"] is True and met["crm_event_id"] == "crm-1"
    assert met["activity_type"] == "call"
    assert abs(met["minutes_to_first_touch"] - 0.4 / 60) < 1e-6
    assert met["business_minutes_to_first_touch"] == met["minutes_to_first_touch"]  # wall clock
    assert rows == [("met", True, "crm-1", "met", None)]
    assert stored == [("crm-1", assigned.event_id), ("crm-2", None)]


async def test_late_and_out_of_order_records(make_settings) -> None:
    """A touch before its assignment, a touch for a lead never assigned, a touch that does
    not qualify, a repeated touch, a reassignment, an assignment older than the current
    one, and an assignment repeated under its own id."""
    settings = await prepare(make_settings)
    await announce(settings, {**FAST, "outbound_only": True})
    t0 = datetime.now(UTC)
    early = touch(settings, "lead-early", "crm-early", t0 + timedelta(milliseconds=100))
    inbound = touch(settings, "lead-in", "crm-in", t0 + timedelta(seconds=0.1), direction="inbound")
    unknown = touch(settings, "lead-nobody", "crm-nobody", t0)
    await produce(
        settings.kafka_bootstrap, settings.topics.feedback_traceable, [early, inbound, unknown]
    )
    async with serving(settings) as client:
        await eventually(lambda: scalar(settings, "SELECT count(*) FROM touches"), lambda n: n == 3)
        first = encode_assigned(settings, sample_assigned("lead-re", assigned_at=t0, tier="warm"))
        second = encode_assigned(
            settings,
            sample_assigned(
                "lead-re",
                owner_id="rep-2",
                assigned_at=t0 + timedelta(seconds=1),
                attempt=2,
                tier="warm",
            ),
        )
        stale = encode_assigned(
            settings,
            sample_assigned("lead-re", owner_id="rep-9", assigned_at=t0, attempt=1, tier="warm"),
        )
        await produce(
            settings.kafka_bootstrap,
            settings.topics.leads_assigned,
            [
                encode_assigned(settings, sample_assigned("lead-early", assigned_at=t0)),
                encode_assigned(settings, sample_assigned("lead-in", assigned_at=t0, tier="warm")),
                first,
                second,
                stale,
                second,
            ],
        )
        again = touch(settings, "lead-early", "crm-early", t0 + timedelta(milliseconds=100))
        await produce(settings.kafka_bootstrap, settings.topics.feedback_traceable, [again])
        await eventually(
            lambda: scalar(settings, "SELECT count(*) FROM deadlines"), lambda n: n == 5
        )
        await asyncio.sleep(1.0)
        events = await sla_events(settings, 5, timeout=2)
        rows = await query(
            settings,
            "SELECT lead_key, owner_id, attempt, status, closed_reason FROM deadlines"
            " ORDER BY lead_key, attempt, owner_id",
        )
        nobody = await client.get("/sla/leads/lead-nobody", headers=AUTH)
        history = await client.get("/sla/leads/lead-re", headers=AUTH)

    assert sorted(kinds(events)) == sorted(
        [
            ("started", "lead-early"),
            ("met", "lead-early"),
            ("started", "lead-in"),
            ("started", "lead-re"),
            ("started", "lead-re"),
        ]
    )
    assert rows == [
        ("lead-early", "rep-1", 1, "met", "met"),
        ("lead-in", "rep-1", 1, "open", None),  # an inbound call does not count here
        ("lead-re", "rep-1", 1, "cancelled", "reassigned"),
        ("lead-re", "rep-9", 1, "cancelled", "superseded"),
        ("lead-re", "rep-2", 2, "open", None),
    ]
    assert nobody.status_code == 200, nobody.text
    assert nobody.json()["deadlines"] == []
    assert [t["crm_event_id"] for t in nobody.json()["unmatched_touches"]] == ["crm-nobody"]
    newest_first = [(d["owner_id"], d["status"]) for d in history.json()["deadlines"]]
    assert newest_first[0] == ("rep-2", "open")


async def test_assignments_that_open_nothing_still_close_and_stale_ones_change_nothing(
    make_settings,
) -> None:
    """A reassignment into a tier without a target closes the old deadline; an assignment
    older than a met one opens nothing; one replayed after the inbox forgot it neither."""
    settings = await prepare(make_settings)
    no_default = {key: value for key, value in FAST.items() if key != "default"}
    await announce(settings, no_default)
    async with serving(settings):
        t0 = datetime.now(UTC)
        hot = encode_assigned(settings, sample_assigned("lead-a", assigned_at=t0, tier="hot"))
        untracked = encode_assigned(
            settings,
            sample_assigned("lead-a", assigned_at=t0, tier="nurture", owner_id="rep-2", attempt=2),
        )
        met = encode_assigned(settings, sample_assigned("lead-b", assigned_at=t0, attempt=2))
        older = encode_assigned(
            settings, sample_assigned("lead-b", assigned_at=t0, attempt=1, owner_id="rep-0")
        )
        await produce(
            settings.kafka_bootstrap, settings.topics.leads_assigned, [hot, untracked, met]
        )
        call = touch(settings, "lead-b", "crm-b", t0 + timedelta(milliseconds=100))
        await produce(settings.kafka_bootstrap, settings.topics.feedback_traceable, [call])
        await eventually(
            lambda: scalar(settings, "SELECT count(*) FROM deadlines WHERE status = 'met'"),
            lambda n: n == 1,
        )
        await produce(settings.kafka_bootstrap, settings.topics.leads_assigned, [older])
        await query(settings, "DELETE FROM inbox WHERE event_id = :id", id=met.event_id)
        await produce(settings.kafka_bootstrap, settings.topics.leads_assigned, [met])
        await asyncio.sleep(3.5)  # past every rung of the hot deadline
        events = await sla_events(settings, 10, timeout=1)
        rows = await query(
            settings,
            "SELECT lead_key, attempt, status, closed_reason FROM deadlines ORDER BY 1, 2",
        )

    assert sorted(kinds(events)) == [
        ("met", "lead-b"),
        ("started", "lead-a"),
        ("started", "lead-b"),
    ]
    assert rows == [
        ("lead-a", 1, "cancelled", "reassigned"),
        ("lead-b", 1, "cancelled", "superseded"),
        ("lead-b", 2, "met", "met"),
    ]


async def test_an_assignment_waits_for_its_policy_version(make_settings) -> None:
    settings = await prepare(make_settings)
    async with serving(settings):
        assigned = encode_assigned(settings, sample_assigned("lead-wait"))
        await produce(settings.kafka_bootstrap, settings.topics.leads_assigned, [assigned])
        await asyncio.sleep(1.5)
        before = await scalar(settings, "SELECT count(*) FROM deadlines")
        await announce(settings)
        after = await eventually(
            lambda: scalar(settings, "SELECT count(*) FROM deadlines"), lambda n: n == 1
        )
        dead = await read_topic(
            settings.kafka_bootstrap, settings.topics.dead_letter("sla-monitor"), 1, timeout=0.5
        )
    assert (before, after, dead) == (0, 1, [])


async def test_a_restart_loses_no_deadline_and_fires_none_twice(make_settings) -> None:
    settings = await prepare(make_settings)
    await announce(settings)
    t0 = datetime.now(UTC)
    leads = [f"lead-r{i}" for i in range(20)]
    # due 2-3 s from now, spread so some fire before the stop, some during, some after
    records = [
        encode_assigned(
            settings, sample_assigned(key, assigned_at=t0 + timedelta(milliseconds=50 * i))
        )
        for i, key in enumerate(leads)
    ]
    async with serving(settings):
        await produce(settings.kafka_bootstrap, settings.topics.leads_assigned, records)
        await eventually(
            lambda: scalar(settings, "SELECT count(*) FROM deadlines"), lambda n: n == 20
        )
        await asyncio.sleep(
            max(0.0, (t0 + timedelta(seconds=2.4) - datetime.now(UTC)).total_seconds())
        )
    await asyncio.sleep(1.0)  # down while more steps come due
    async with serving(settings):
        events = await sla_events(settings, 80, timeout=10)
        await asyncio.sleep(0.5)
        events = await sla_events(settings, 81, timeout=1)

    fired = Counter(
        (data["lead_key"], kind, data.get("escalation", {}).get("step")) for kind, data, _ in events
    )
    assert {step for step, n in fired.items() if n > 1} == set()  # none fired twice
    required = {
        (lead, kind, step)
        for lead in leads
        for kind, step in (("started", None), ("breached", 1), ("breached", 2))
    }
    assert required <= set(fired)  # none lost: each started and climbed both rungs
    # a warning is the only optional step: skipped when the monitor was down past its deadline
    assert set(fired) - required <= {(lead, "warning", None) for lead in leads}


async def test_two_monitors_share_the_deadlines_and_fire_each_step_once(make_settings) -> None:
    settings = await prepare(make_settings)
    await announce(settings)
    leads = [f"lead-s{i}" for i in range(30)]
    async with serving(settings), serving(settings):
        t0 = datetime.now(UTC)
        records = [encode_assigned(settings, sample_assigned(key, assigned_at=t0)) for key in leads]
        await produce(settings.kafka_bootstrap, settings.topics.leads_assigned, records)
        events = await sla_events(settings, 120, timeout=15)
        await asyncio.sleep(0.5)
        events = await sla_events(settings, 121, timeout=1)
    counted = Counter(
        (data["deadline_id"], kind, data.get("escalation", {}).get("step"))
        for kind, data, _ in events
    )
    assert len(counted) == 120 and set(counted.values()) == {1}


async def test_invalid_records_go_to_the_dead_letter_topic_and_the_partition_moves_on(
    make_settings,
) -> None:
    settings = await prepare(make_settings, max_retries=1)
    await announce(settings)
    good = encode_assigned(settings, sample_assigned("lead-x"))
    headers = list(good.headers)

    def with_id(event_id: bytes) -> list[tuple[str, bytes]]:
        return [(k, event_id if k == "ce_id" else v) for k, v in headers]

    not_json = (b"lead-x", b"{not json", with_id(b"bad-1"))
    missing_fields = (
        b"lead-x",
        json.dumps({"lead_key": "lead-x", "reason": "no owner, no lead"}).encode(),
        with_id(b"bad-2"),
    )
    no_event_id = (b"lead-x", good.value, [(k, v) for k, v in headers if k != "ce_id"])
    unknown_type = (
        b"lead-x",
        good.value,
        [(k, b"baton.lead.bogus.v1" if k == "ce_type" else v) for k, v in with_id(b"bad-4")],
    )
    # A Baton event this service does not act on is skipped, not dead-lettered.
    other = encode_event(
        LeadCaptured(lead_key="lead-x", source="generic", received_at=datetime.now(UTC)),
        topic=settings.topics.leads_assigned,
        source="/test",
    )
    await produce(
        settings.kafka_bootstrap,
        settings.topics.leads_assigned,
        [not_json, missing_fields, no_event_id, unknown_type, other, good],
    )

    async with serving(settings) as client:
        ids = await eventually(
            lambda: query(settings, "SELECT deadline_id FROM deadlines"), lambda r: len(r) >= 1
        )
        dead = await read_topic(
            settings.kafka_bootstrap, settings.topics.dead_letter("sla-monitor"), 4
        )
        extra = await read_topic(
            settings.kafka_bootstrap, settings.topics.dead_letter("sla-monitor"), 5, timeout=1.5
        )
        metrics = (await client.get("/metrics")).text

    assert ids == [(good.event_id,)]
    assert len(dead) == 4 and len(extra) == 4
    dead.sort(key=lambda r: int(dict(r.headers)["__connect.errors.offset"]))
    assert [r.value for r in dead] == [not_json[1], missing_fields[1], good.value, good.value]
    for record in dead:
        context = {name: value.decode() for name, value in record.headers}
        assert context.keys() >= DLQ_HEADERS
        assert context["__connect.errors.topic"] == settings.topics.leads_assigned
        assert context["__connect.errors.service"] == "sla-monitor"
        assert context["__connect.errors.consumer.group"] == settings.group_id
        assert record.key == b"lead-x"
    messages = [dict(r.headers)["__connect.errors.exception.message"].decode() for r in dead]
    assert "JSON" in messages[0]
    assert "lead" in messages[1] and "captured_event_id" in messages[1]
    assert "ce_id" in messages[2]
    assert "baton.lead.bogus.v1" in messages[3]
    assert 'baton_dead_lettered_records_total{service="sla-monitor"' in metrics
