"""After the run: account for every webhook and every call from the databases and from a
separate consumer that reads every topic from its start."""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import asyncpg
from aiokafka import AIOKafkaConsumer, TopicPartition
from chaos_stack import ChaosStack
from faults import asyncpg_url, progress
from senders import Delivery, Traffic

RETRYABLE = {"503", "408", "429"}
NOT_ANSWERS = {"connect-error", "timeout"}


@dataclass
class TopicRecords:
    """Every record of every topic, by topic and CloudEvent id."""

    values: dict[str, dict[str, set[bytes]]] = field(default_factory=dict)
    copies: Counter[str] = field(default_factory=Counter)  # topic -> records beyond the first

    def add(self, topic: str, event_id: str, value: bytes) -> None:
        seen = self.values.setdefault(topic, {}).setdefault(event_id, set())
        if value in seen:
            self.copies[topic] += 1
        seen.add(value)

    def events(self, topic: str) -> list[dict[str, Any]]:
        return [json.loads(next(iter(v))) for v in self.values.get(topic, {}).values()]

    def conflicting(self) -> dict[str, dict[str, list[str]]]:
        """Event ids that appear with more than one content, and the fields that differ."""
        found: dict[str, dict[str, list[str]]] = {}
        for topic, ids in self.values.items():
            for event_id, values in ids.items():
                if len(values) > 1:
                    first, *others = (json.loads(value) for value in values)
                    found.setdefault(topic, {})[event_id] = sorted(
                        {path for other in others for path in differing(first, other)}
                    )
        return found


def differing(one: Any, other: Any, path: str = "") -> list[str]:
    """The JSON paths at which two documents differ."""
    if isinstance(one, dict) and isinstance(other, dict):
        return [
            found
            for key in sorted(one.keys() | other.keys())
            for found in differing(one.get(key), other.get(key), f"{path}.{key}")
        ]
    return [] if one == other else [path or "."]


async def read_every_topic(bootstrap: str, topics: list[str], quiet_s: float = 3.0) -> TopicRecords:
    """From the start of every partition until nothing new arrives for `quiet_s` (the
    embedded broker's end offsets are not to be trusted; see devstack.topics)."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=None,
        enable_auto_commit=False,
        max_partition_fetch_bytes=4 * 1024 * 1024,
    )
    await consumer.start()
    found = TopicRecords()
    try:
        await consumer.topics()
        partitions = [
            TopicPartition(topic, p)
            for topic in topics
            for p in sorted(consumer.partitions_for_topic(topic) or ())
        ]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        last_new = time.monotonic()
        while time.monotonic() - last_new < quiet_s:
            batches = await consumer.getmany(timeout_ms=300, max_records=10_000)
            for tp, records in batches.items():
                for record in records:
                    headers = dict(record.headers)
                    found.add(tp.topic, headers["ce_id"].decode(), record.value or b"")
                if records:
                    last_new = time.monotonic()
    finally:
        await consumer.stop()
    return found


async def wait_quiet(stack: ChaosStack, traffic: Traffic, timeout: float) -> None:
    """Until the databases hold every accepted lead's assignment and deadline and every
    accepted call's report, then a little longer for the outbox relays."""
    leads, touches = len(traffic.leads.accepted), len(traffic.touches.accepted)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if await progress(stack) >= (leads, leads, touches):
                break
        except (OSError, asyncpg.PostgresError, TimeoutError):
            pass
        await asyncio.sleep(0.5)
    await asyncio.sleep(2.0)


async def database_counts(stack: ChaosStack) -> dict[str, dict[str, int]]:
    """Per lead key: assignments (attempt 1) and SLA deadlines (attempt 1); per CRM event:
    feedback rows published."""
    conn = await asyncpg.connect(asyncpg_url(stack.database_url("router")))
    try:
        assignments = await conn.fetch(
            "SELECT lead_key, count(*) FROM router.assignments WHERE attempt = 1 GROUP BY 1"
        )
        deadlines = await conn.fetch(
            "SELECT lead_key, count(*) FROM sla_monitor.deadlines WHERE attempt = 1 GROUP BY 1"
        )
        reported = await conn.fetch(
            "SELECT crm_event_id, count(*) FROM feedback.crm_feedback"
            " WHERE published_at IS NOT NULL GROUP BY 1"
        )
    finally:
        await conn.close()
    return {
        "assignments": {row[0]: row[1] for row in assignments},
        "deadlines": {row[0]: row[1] for row in deadlines},
        "reported": {row[0]: row[1] for row in reported},
    }


@dataclass
class Findings:
    leads_sent: int
    leads_accepted: int
    touches_accepted: int
    answers: dict[str, int]
    unexpected_answers: dict[str, int]  # non-2xx answers a sender cannot retry
    undelivered: int  # deliveries never accepted (a sender gave up)
    accepted_not_on_broker: list[str]
    lost: dict[str, list[str]]
    duplicated: dict[str, list[str]]
    conflicting_ids: dict[str, dict[str, list[str]]]
    conflicting_deliveries: dict[str, list[str]]  # delivery -> every answer it got
    restamped: int  # leads whose repeat reached a new process after an answer was lost
    assigned_from_later_copy: list[str]  # lead keys routed on a repeat, not the first copy
    redelivered_copies: dict[str, int]
    slowest_503_s: float

    def problems(self) -> list[str]:
        found = []
        if self.unexpected_answers:
            found.append(f"answers a sender cannot retry: {self.unexpected_answers}")
        if self.undelivered:
            found.append(f"{self.undelivered} deliveries never accepted")
        if self.accepted_not_on_broker:
            found.append(f"202 for leads not on the broker: {self.accepted_not_on_broker[:5]}")
        for kind, keys in {**self.lost, **self.duplicated}.items():
            if keys:
                found.append(f"{kind}: {len(keys)} e.g. {keys[:3]}")
        for topic, ids in self.conflicting_ids.items():
            example = next(iter(ids.items()))
            found.append(f"{topic}: {len(ids)} event ids with different contents, e.g. {example}")
        if self.conflicting_deliveries:
            found.append(f"their deliveries' answers: {self.conflicting_deliveries}")
        if self.assigned_from_later_copy:
            found.append(f"routed on a repeat, not the first copy: {self.assigned_from_later_copy}")
        return found

    def as_dict(self) -> dict[str, object]:
        return {
            "leads_sent": self.leads_sent,
            "leads_accepted": self.leads_accepted,
            "touches_accepted": self.touches_accepted,
            "answers": self.answers,
            "lost": sum(len(keys) for keys in self.lost.values()),
            "duplicated_effects": sum(len(keys) for keys in self.duplicated.values()),
            "conflicting_event_ids": sum(len(ids) for ids in self.conflicting_ids.values()),
            "restamped_after_lost_answer": self.restamped,
            "redelivered_copies": self.redelivered_copies,
            "slowest_503_s": round(self.slowest_503_s, 2),
            "problems": self.problems(),
        }


def restamped_repeats(
    conflicting: dict[str, dict[str, list[str]]], topic: str, accepted: list[Delivery]
) -> dict[str, str]:
    """Captured leads whose copies differ only in `received_at`, from a delivery that lost
    an answer before its 2xx (event id -> lead key).

    The process was killed after the broker acknowledged the lead and before it answered;
    the sender's repeat reached the restarted process, which, like any other replica, has
    no memory of the first receipt and stamps its own (`baton_router.api.receipts`). The
    event id is the same, so the router keeps the first copy: the audit checks that every
    such lead was assigned with the first copy's receipt time.
    """
    lost_an_answer = {
        d.accepted["event_ids"][0]: d.accepted["lead_keys"][0]
        for d in accepted
        if d.accepted and any(answer in NOT_ANSWERS for answer in d.answers[:-1])
    }
    return {
        event_id: lost_an_answer[event_id]
        for event_id, paths in conflicting.get(topic, {}).items()
        if paths == [".received_at"] and event_id in lost_an_answer
    }


def routed_on_a_repeat(
    restamped: dict[str, str], captured: dict[str, set[bytes]], assignments: list[dict[str, Any]]
) -> list[str]:
    """The restamped leads whose assignment carries a later copy's receipt time."""
    captured_at = {event["lead_key"]: event["lead"]["captured_at"] for event in assignments}
    return [
        lead_key
        for event_id, lead_key in restamped.items()
        if lead_key in captured_at
        and _instant(captured_at[lead_key])
        != min(_instant(json.loads(value)["received_at"]) for value in captured[event_id])
    ]


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text)


def _ids_per(events: list[dict[str, Any]], key: str) -> dict[str, int]:
    counts: dict[str, int] = defaultdict(int)
    for event in events:
        counts[event[key]] += 1
    return counts


async def audit(stack: ChaosStack, traffic: Traffic) -> Findings:
    topics = stack.topics
    records = await read_every_topic(stack.broker.bootstrap, topics.all_for())
    rows = await database_counts(stack)
    lead_keys = [d.accepted["lead_keys"][0] for d in traffic.leads.accepted if d.accepted]
    event_ids = [d.accepted["event_ids"][0] for d in traffic.leads.accepted if d.accepted]
    calls = [d.message_id for d in traffic.touches.accepted]

    first_assignments = [e for e in records.events(topics.leads_assigned) if e["attempt"] == 1]
    assigned = _ids_per(first_assignments, "lead_key")
    reported = _ids_per(records.events(topics.feedback_traceable), "crm_event_id")
    captured = records.values.get(topics.leads_captured, {})
    effects = {
        "assignment events": (assigned, lead_keys),
        "assignment rows": (rows["assignments"], lead_keys),
        "SLA deadlines": (rows["deadlines"], lead_keys),
        "traceable reports": (reported, calls),
        "feedback rows": (rows["reported"], calls),
    }
    answers = traffic.leads.answers() + traffic.touches.answers()
    refusals = [s for d in traffic.leads.deliveries for s in d.refusal_seconds]
    conflicting = records.conflicting()
    restamped = restamped_repeats(conflicting, topics.leads_captured, traffic.leads.accepted)
    for event_id in restamped:
        del conflicting[topics.leads_captured][event_id]
    conflicting = {topic: ids for topic, ids in conflicting.items() if ids}
    return Findings(
        leads_sent=len(traffic.leads.deliveries),
        leads_accepted=len(lead_keys),
        touches_accepted=len(calls),
        answers=dict(sorted(answers.items())),
        unexpected_answers={
            a: n
            for a, n in answers.items()
            if not a.startswith("2") and a not in RETRYABLE | NOT_ANSWERS
        },
        undelivered=len(traffic.leads.undelivered) + len(traffic.touches.undelivered),
        accepted_not_on_broker=[eid for eid in event_ids if eid not in captured],
        lost={
            f"lost {kind}": [k for k in keys if counts.get(k, 0) == 0]
            for kind, (counts, keys) in effects.items()
        },
        duplicated={
            f"duplicated {kind}": [k for k in keys if counts.get(k, 0) > 1]
            for kind, (counts, keys) in effects.items()
        },
        conflicting_ids=conflicting,
        conflicting_deliveries={
            d.message_id: d.answers
            for d in traffic.leads.accepted
            if d.accepted
            and d.accepted["event_ids"][0] in conflicting.get(topics.leads_captured, {})
        },
        restamped=len(restamped),
        assigned_from_later_copy=routed_on_a_repeat(restamped, captured, first_assignments),
        redelivered_copies=dict(records.copies),
        slowest_503_s=max(refusals, default=0.0),
    )
