"""(b) The router: captured leads in, assignments out, with every database effect.

The router runs as in production (`python -m baton_router serve`, its own process). Once
it is ready (in its consumer group) it is frozen, the captured records are produced, and
the clock starts when it is resumed; it stops at the last `baton.lead.assigned.v1` it
published (the records' create timestamps), after every assignment was committed in the
`assignments` table and every outbox row was published.
"""

from __future__ import annotations

import json

from baton_runtime.devstack.services import log_tail
from baton_runtime.devstack.topics import read_topic
from baton_schemas import OutgoingRecord
from bench import proc
from bench.records import produce_records
from bench.router_setup import prepare_router, router_process, router_settings, wait_assigned
from bench.stack import Stack, Throughput, checkpoint, phase_finished, token


async def run_router(
    stack: Stack, records: list[OutgoingRecord], batch_max_records: int, timeout: float = 600
) -> Throughput:
    run = token("route")
    settings = router_settings(stack, run, batch_max_records=batch_max_records)
    await prepare_router(settings)
    await checkpoint(stack)
    count = len(records)
    log_file = stack.workdir / f"{run}.log"
    async with router_process(settings, log_file) as process:
        proc.freeze(process)
        await produce_records(stack.bootstrap, settings.topics.leads_captured, records)
        started = proc.resume(process)
        await wait_assigned(settings, count, timeout)
    assigned = await read_topic(stack.bootstrap, settings.topics.leads_assigned, count, 30)
    await phase_finished(stack, settings)
    captured_ids = {json.loads(record.value)["captured_event_id"] for record in assigned}
    if len(assigned) != count or len(captured_ids) != count:
        raise RuntimeError(
            f"router published {len(assigned)} assignments for {len(captured_ids)} of "
            f"{count} leads; log: {log_tail(log_file)}"
        )
    finished = max(record.timestamp for record in assigned) / 1000
    return Throughput(count, finished - started)
