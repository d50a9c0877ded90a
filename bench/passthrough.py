"""(a) The ceiling: a bare aiokafka consume -> produce passthrough of the same records.

A consumer group member fetches batches with `getmany`, decodes each value with
`json.loads`, encodes it again with `json.dumps`, produces it (key and headers kept) to
another topic, waits for the acks and commits the offsets, as the router's loop does
around its database transaction. Run in its own process (`python -m bench.passthrough`),
like the router, so the bench client's work stays out of it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
from pathlib import Path

import uvloop
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener, TopicPartition

from baton_runtime.devstack.services import log_tail
from baton_runtime.devstack.topics import create_topics, read_topic, wait_for_topics
from baton_runtime.settings import ServiceSettings
from baton_schemas import OutgoingRecord
from bench import proc
from bench.records import produce_records
from bench.stack import Stack, Throughput, checkpoint, drop_topics, token


class _Joined(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self) -> None:
        self._assigned = asyncio.Event()

    async def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        pass

    async def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        if assigned:
            self._assigned.set()

    async def wait(self) -> None:
        await self._assigned.wait()


async def passthrough(
    bootstrap: str, source: str, target: str, group: str, count: int, batch: int
) -> None:
    """Move `count` records from `source` to `target`; prints "ready" once in the group."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_partition_fetch_bytes=4 * 1024 * 1024,
    )
    # The producer the services use (baton_runtime.kafka.create_producer, default linger).
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        acks="all",
        linger_ms=ServiceSettings.model_fields["producer_linger_ms"].default,
        max_batch_size=256 * 1024,
    )
    joined = _Joined()
    consumer.subscribe([source], listener=joined)
    await producer.start()
    await consumer.start()
    try:
        await joined.wait()
        print("ready", flush=True)
        moved = 0
        while moved < count:
            batches = await consumer.getmany(timeout_ms=200, max_records=batch)
            if not batches:
                continue
            sent = []
            for records in batches.values():
                for record in records:
                    value = json.dumps(json.loads(record.value)).encode()
                    sent.append(
                        await producer.send(
                            target, value=value, key=record.key, headers=list(record.headers)
                        )
                    )
            await asyncio.gather(*sent)
            await consumer.commit({tp: records[-1].offset + 1 for tp, records in batches.items()})
            moved += len(sent)
    finally:
        await consumer.stop()
        await producer.stop()


async def run_passthrough(stack: Stack, records: list[OutgoingRecord], batch: int) -> Throughput:
    """Produce `records` while the passthrough process is frozen; time it from SIGCONT to
    the last record it produced (the records' create timestamps)."""
    run = token("pass")
    source, target = f"{run}.leads.captured", f"{run}.leads.copied"
    await create_topics(stack.bootstrap, [source, target])
    await wait_for_topics(stack.bootstrap, [source, target])
    await checkpoint(stack)
    log_file = stack.workdir / f"{run}.log"
    args = ["-m", "bench.passthrough", "--bootstrap", stack.bootstrap, "--source", source]
    args += ["--target", target, "--group", run, "--count", str(len(records))]
    process = proc.spawn([*args, "--batch", str(batch)], log_file, stdout=subprocess.PIPE)
    try:
        await _wait_line(process, "ready", log_file)
        proc.freeze(process)
        await produce_records(stack.bootstrap, source, records)
        started = proc.resume(process)
        code = await asyncio.to_thread(process.wait, 600)
    finally:
        proc.stop(process)
    moved = await read_topic(stack.bootstrap, target, len(records), 30)
    await drop_topics(stack, f"{run}.")
    if code != 0 or len(moved) != len(records):
        raise RuntimeError(
            f"passthrough moved {len(moved)} of {len(records)}: {log_tail(log_file)}"
        )
    finished = max(record.timestamp for record in moved) / 1000
    return Throughput(records=len(records), seconds=finished - started)


async def _wait_line(process: subprocess.Popen[bytes], line: str, log_file: Path) -> None:
    assert process.stdout is not None
    got = await asyncio.wait_for(asyncio.to_thread(process.stdout.readline), 60)
    if got.decode().strip() != line:
        raise RuntimeError(f"passthrough did not start ({got!r}): {log_tail(log_file)}")


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.passthrough")
    for name in ("bootstrap", "source", "target", "group"):
        parser.add_argument(f"--{name}", required=True)
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--batch", type=int, default=500)
    args = parser.parse_args()
    # The event loop the services run on (uvicorn picks uvloop), so the ceiling is fair.
    uvloop.run(
        passthrough(args.bootstrap, args.source, args.target, args.group, args.count, args.batch)
    )


if __name__ == "__main__":
    main()
