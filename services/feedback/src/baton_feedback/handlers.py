"""The feedback service's consumer: assignments keep the attribution read model; CRM reports
(from `crm.activity`, which `POST /feedback` also writes to) are kept, and published back to
marketing with the lead's attribution: traceable data on `feedback.traceable`, closed deals
on `feedback.closed-deals`. A report whose lead has no assignment yet waits and is
published, in the order things happened, when the assignment arrives."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncConnection

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
        learned = records_named(assignments, reports)
        reports = await named_leads(conn, reports, learned)
        record_ids = {r.crm_record_id for r in reports if r.crm_record_id} | set(learned)
        leads = {a.lead_key for _, a in assignments} | {r.lead_key for r in reports if r.lead_key}
        # A report and its lead's assignment (or the news of which lead a CRM record is)
        # can be consumed by two replicas at once.
        await lock_keys(conn, LOCK_SCOPE, leads | {f"crm:{rid}" for rid in record_ids})
        await store.record_attribution(conn, assignments)
        await store.remember_records(conn, learned)
        reports = await named_leads(conn, reports, {})  # a match learned while we waited
        leads |= await store.match_waiting(conn, learned)
        # Read before this batch's reports are stored, so they are not read back.
        waiting = await store.waiting_reports(conn, leads)
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


LOCK_SCOPE = "baton.feedback.lead"


def records_named(
    assignments: list[tuple[str, LeadAssigned]], reports: list[CrmFeedback]
) -> dict[str, str]:
    """CRM record id -> lead key, from reports that name both and from assignments whose
    lead came with its record id in the platform it came from (the CRM's, when the
    marketing platform is the CRM too, as with HubSpot). A report wins over an assignment."""
    learned = {
        assigned.lead.source_record_id: assigned.lead_key
        for _, assigned in assignments
        if assigned.lead.source_record_id
    }
    learned.update({r.crm_record_id: r.lead_key for r in reports if r.crm_record_id and r.lead_key})
    return learned


async def named_leads(
    conn: AsyncConnection, reports: list[CrmFeedback], learned: dict[str, str]
) -> list[CrmFeedback]:
    """The reports, each naming its lead where its CRM record is known (from `learned`, else
    the stored matches); a report still unknown keeps only its record id and waits."""
    unknown = {r.crm_record_id for r in reports if r.lead_key is None and r.crm_record_id}
    known = {**await store.leads_of_records(conn, unknown - set(learned)), **learned}
    return [
        report.model_copy(update={"lead_key": known[report.crm_record_id]})
        if report.lead_key is None and report.crm_record_id in known
        else report
        for report in reports
    ]
