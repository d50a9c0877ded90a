"""The feedback service's consumer: assignments keep the attribution read model; CRM reports
(from `crm.activity`, which `POST /feedback` also writes to) are kept, and published back to
marketing with the lead's attribution: traceable data on `feedback.traceable`, closed deals
on `feedback.closed-deals`. A report whose lead has no assignment yet waits and is
published, in the order things happened, when the assignment arrives."""

from __future__ import annotations

from baton_feedback.db import store
from baton_feedback.domain.outgoing import check_reason, outgoing
from baton_runtime.consumer import Batch, Handler
from baton_runtime.db import lock_keys
from baton_schemas import CrmFeedback, FeedbackDealClosed, LeadAssigned, Topics


def feedback_handler(topics: Topics, reject_reasons: list[str]) -> Handler:
    """A rejection with a reason code outside `reject_reasons` is the record's mistake: it
    fails and goes to the dead-letter topic with the cause (the HTTP door answers 422)."""

    async def handle(batch: Batch) -> None:
        conn = batch.conn
        assignments = [
            (incoming.id, incoming.event)
            for incoming in batch.events
            if isinstance(incoming.event, LeadAssigned)
        ]
        reports = [i.event for i in batch.events if isinstance(i.event, CrmFeedback)]
        for report in reports:
            check_reason(report, reject_reasons)
        keys = {a.lead_key for _, a in assignments} | {r.lead_key for r in reports if r.lead_key}
        # A report and its lead's assignment can be consumed by two replicas at once.
        await lock_keys(conn, "baton.feedback.lead", keys)
        await store.record_attribution(conn, assignments)
        # Read before this batch's reports are stored, so they are not read back.
        waiting = await store.waiting_reports(conn, keys)
        waiting += await store.store_reports(conn, reports)
        waiting.sort(key=lambda report: (report.occurred_at, report.crm_event_id))
        known = await store.handoffs(
            conn, {report.lead_key for report in waiting if report.lead_key}
        )
        published = []
        for report in waiting:
            handoff = known.get(report.lead_key or "")
            if handoff is None:
                continue
            event = outgoing(report, handoff)
            topic = (
                topics.feedback_closed_deals
                if isinstance(event, FeedbackDealClosed)
                else topics.feedback_traceable
            )
            batch.emit(event, topic=topic)
            published.append(report.crm_event_id)
        await store.mark_published(conn, published)

    return handle
