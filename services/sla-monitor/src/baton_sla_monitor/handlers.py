"""The SLA monitor's consumers.

Assignments and touches (one consumer, in partition order per lead):
- an assignment opens a deadline (`baton.sla.started.v1`) and closes the lead's previous
  one; an assignment older than the lead's current one is kept, closed, and fires nothing;
- a qualifying touch meets the lead's open deadline (`baton.sla.met.v1`, late or not);
- a touch that arrives before its assignment (or for a lead never assigned) is kept and
  meets the deadline the assignment opens when that arrives, if it happened after it;
- a redelivered event changes nothing (the runtime's inbox; touches by CRM event id too).

Policy versions (their own consumer group, so an assignment waiting for its version never
blocks the version it waits for) are stored as they are announced.
"""

from __future__ import annotations

from bisect import insort
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from baton_runtime.consumer import Batch, Handler, IncomingEvent
from baton_runtime.db import present
from baton_runtime.logs import get_logger
from baton_schemas import FeedbackTraceable, LeadAssigned, PolicyActivated
from baton_schemas.events.sla import SlaDeadline
from baton_sla_monitor.db import store
from baton_sla_monitor.db.tables import deadlines, touches
from baton_sla_monitor.domain.lifecycle import (
    Deadline,
    Touch,
    close_superseded,
    meet,
    next_steps,
    open_deadline,
    superseded_on_arrival,
    touch_applies,
)
from baton_sla_monitor.metrics import SlaMetrics
from baton_sla_monitor.policies import PolicyBook

log = get_logger(__name__)

Schedule = Callable[[Iterable[tuple[str, datetime]]], None]


def by_time(touch: Touch) -> datetime:
    return touch.touched_at


async def store_policies(batch: Batch) -> None:
    versions = [i.event for i in batch.events if isinstance(i.event, PolicyActivated)]
    batch.write(store.policy_rows(versions))


def lifecycle_handler(
    policies: PolicyBook, topic: str, schedule: Schedule, metrics: SlaMetrics
) -> Handler:
    """`schedule` hands the timer the next fire time of every deadline the batch changed,
    once the batch committed."""

    async def handle(batch: Batch) -> None:
        run = _LifecycleRun(batch, policies, topic)
        await run.load()
        for incoming in batch.events:
            if isinstance(incoming.event, LeadAssigned):
                await run.assigned(incoming, incoming.event)
            elif isinstance(incoming.event, FeedbackTraceable):
                await run.touched(incoming, incoming.event)
        batch.write(store.deadline_rows(run.changed.values()))
        batch.write(store.touch_rows(run.touches))
        due = next_steps(run.changed.values())
        batch.on_commit(lambda: schedule(due))
        batch.on_commit(lambda: metrics.count(run.published))

    return handle


@dataclass
class _LifecycleRun:
    """One batch: the leads' open deadlines and waiting touches, changed in memory in
    record order; the handler hands the changed ones to the batch to write."""

    batch: Batch
    policies: PolicyBook
    topic: str
    now: datetime = field(default_factory=lambda: datetime.now(UTC))
    current: dict[str, Deadline] = field(default_factory=dict)
    waiting: dict[str, list[Touch]] = field(default_factory=dict)
    changed: dict[str, Deadline] = field(default_factory=dict)
    touches: dict[str, tuple[Touch, str | None]] = field(default_factory=dict)
    seen_touches: set[str] = field(default_factory=set)
    newest: dict[str, tuple[int, datetime]] = field(default_factory=dict)
    kept: set[str] = field(default_factory=set)
    published: list[SlaDeadline] = field(default_factory=list)

    async def load(self) -> None:
        conn = self.batch.conn
        keys = {incoming.event.record_key for incoming in self.batch.events}
        assigned_ids = [
            incoming.id
            for incoming in self.batch.events
            if isinstance(incoming.event, LeadAssigned)
        ]
        crm_ids = [
            incoming.event.crm_event_id
            for incoming in self.batch.events
            if isinstance(incoming.event, FeedbackTraceable)
        ]
        await store.lock_leads(conn, keys)
        self.current = await store.open_deadlines(conn, keys)
        self.newest = await store.newest_assignments(conn, keys)
        self.kept = await present(conn, deadlines.c.deadline_id, assigned_ids)
        self.waiting = await store.unmatched_touches(conn, keys)
        self.seen_touches = await present(conn, touches.c.crm_event_id, crm_ids)

    async def assigned(self, incoming: IncomingEvent, assigned: LeadAssigned) -> None:
        lead = assigned.lead_key
        if incoming.id in self.kept:  # replayed after the inbox forgot it
            return
        version, sla = await self.policies.for_assignment(self.batch.conn, assigned, incoming.id)
        opened = open_deadline(incoming.id, assigned, sla, version) if sla else None
        order = (assigned.attempt, assigned.assigned_at)
        newest = self.newest.get(lead)
        if newest is not None and order <= newest:  # older than the lead's current owner
            if opened is not None:
                self._keep(superseded_on_arrival(opened[0], self.now))
            return
        self.newest[lead] = order
        previous = self.current.pop(lead, None)
        if previous is not None:
            close_superseded(previous, assigned.assigned_at)
            self._keep(previous)
        if opened is None:
            log.info("no SLA for this assignment", lead_key=lead, tier=assigned.tier)
            return
        deadline, started = opened
        self.current[lead] = deadline
        self._keep(deadline)
        self._emit(started, incoming)
        for touch in self.waiting.get(lead, []):
            if await self._try_meet(deadline, touch, incoming):
                self.waiting[lead].remove(touch)
                break

    async def touched(self, incoming: IncomingEvent, feedback: FeedbackTraceable) -> None:
        touch = Touch.from_feedback(feedback)
        if touch is None or touch.crm_event_id in self.touches:
            return
        if touch.crm_event_id in self.seen_touches:  # the CRM sent it again
            return
        self.touches[touch.crm_event_id] = (touch, None)
        deadline = self.current.get(touch.lead_key)
        if deadline is None or not await self._try_meet(deadline, touch, incoming):
            insort(self.waiting.setdefault(touch.lead_key, []), touch, key=by_time)

    async def _try_meet(self, deadline: Deadline, touch: Touch, incoming: IncomingEvent) -> bool:
        if not touch_applies(deadline, touch):
            return False
        sla = await self.policies.terms(self.batch.conn, deadline.policy_version)
        if sla is None or not touch.qualifies(sla):
            return False
        self._emit(meet(deadline, touch, sla), incoming)
        self._keep(deadline)
        self.touches[touch.crm_event_id] = (touch, deadline.deadline_id)
        return True

    def _keep(self, deadline: Deadline) -> None:
        self.changed[deadline.deadline_id] = deadline

    def _emit(self, event: SlaDeadline, incoming: IncomingEvent) -> None:
        self.published.append(event)
        self.batch.emit(event, topic=self.topic, traceparent=incoming.envelope.traceparent)
