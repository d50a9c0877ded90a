"""Rebalances mid-stream: a second member joins, then the first leaves; every record
still has exactly one effect and one emitted event."""

from __future__ import annotations

import asyncio
import contextlib

from echo_service import EchoSettings, create_app, prepare
from helpers import produce_leads

from baton_runtime.testing import (
    count_rows,
    eventually,
    query,
    running,
    wait_ready,
)


async def wait_for_effects(settings: EchoSettings, count: int, timeout: float) -> int:
    return await eventually(
        lambda: count_rows(settings, "effects"), lambda n: n >= count, timeout, 0.05
    )


async def test_members_joining_and_leaving_keep_effects_exactly_once(make_settings) -> None:
    first = make_settings(EchoSettings, batch_max_records=25, handler_delay_s=0.03)
    second = first.model_copy()  # same group, same schema: two replicas of one service
    await prepare(first)
    total = 1200
    ids = await produce_leads(first, [f"rb-{n}" for n in range(total)])

    async with contextlib.AsyncExitStack() as stack:
        a = await stack.enter_async_context(running(create_app(first)))
        await wait_ready(a)
        assert await wait_for_effects(first, 100, 20) >= 100
        async with running(create_app(second)) as b:  # joins: partitions move mid-stream
            await wait_ready(b)
            mid = await count_rows(first, "effects")
            assert mid < total, "the stream ended before the rebalance; make it longer"
            await wait_for_effects(first, mid + 200, 20)
        # b has left (second rebalance); a finishes the rest
        assert await wait_for_effects(first, total, 60) == total
        await asyncio.sleep(1.0)  # anything redelivered after the rebalances has arrived

    rows = await query(first, "SELECT captured_event_id, count(*) FROM effects GROUP BY 1")
    assert {row[0] for row in rows} == set(ids)
    assert all(row[1] == 1 for row in rows), "a record had two effects"
    outbox = await query(first, "SELECT count(*), count(DISTINCT event_id) FROM outbox")
    assert outbox[0] == (total, total)
