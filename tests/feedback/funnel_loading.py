"""A funnel data set into the feedback service the way production feeds it: through the
broker to its real consumer."""

from __future__ import annotations

from funnel_seed import FunnelSeed

from baton_feedback.config import FeedbackSettings
from baton_runtime.kafka import create_producer, publish
from baton_runtime.testing import count_rows, encode_assigned, eventually
from baton_schemas import encode_event


async def publish_seed(settings: FeedbackSettings, seed: FunnelSeed) -> int:
    """Send every assignment and report to the service's topics, the late (older)
    assignments after the rest; the number of records sent."""
    on_time, late = (
        [encode_assigned(settings, assigned) for assigned in wave]
        for wave in seed.assignment_waves()
    )
    reports = [
        encode_event(report, topic=settings.topics.crm_activity, source="/test/crm")
        for report in seed.reports()
    ]
    producer = create_producer(settings)
    await producer.start()
    try:
        await publish(producer, on_time + reports)
        await publish(producer, late)
    finally:
        await producer.stop()
    return len(on_time) + len(late) + len(reports)


async def loaded(settings: FeedbackSettings, seed: FunnelSeed, timeout: float = 120) -> None:
    """Publish `seed` and wait until the consumer has taken every record (each leaves its
    event id in the inbox, repeats of a CRM report included)."""
    records = await publish_seed(settings, seed)
    consumed = await eventually(
        lambda: count_rows(settings, "inbox"), lambda n: n >= records, timeout, interval=0.25
    )
    assert consumed == records, f"{consumed} of {records} records consumed"
