"""`python -m bench.sla_timer [--deadlines N] [--output PATH]`: how the SLA monitor scales.

The monitor runs as in production (`python -m baton_sla_monitor serve`, its own process) on
a fresh embedded stack. Once it is ready it is frozen, N assignments are produced, all of
them due at the same instant (a wall-clock target far enough ahead to take them all in),
and the clock starts when it is resumed. Measured:

- intake: assignments per second until all N deadlines are committed (and their
  `baton.sla.started.v1` published);
- firing: for the breach each deadline publishes at its due time, the delay from the due
  instant to the record's publish timestamp (p50, p99, max) and the time until the last
  one, i.e. N timers expiring in the same instant.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from baton_runtime.devstack.ports import free_port
from baton_runtime.devstack.services import log_tail
from baton_runtime.devstack.topics import create_topics, read_topic, wait_for_topics
from baton_runtime.migrations import upgrade
from baton_runtime.testing import sample_assigned
from baton_schemas import OutgoingRecord, PolicyActivated, encode_event
from baton_schemas.sla_policy import SlaPolicy
from baton_sla_monitor.config import SlaMonitorSettings
from baton_sla_monitor.main import MIGRATIONS
from bench import proc
from bench.records import produce_records
from bench.stack import Stack, embedded_stack, token, wait_for_rows

RESULTS = Path(__file__).parent / "results" / "sla_timer.json"


@dataclass(frozen=True)
class TimerFigures:
    deadlines: int
    intake_per_second: float
    fire_delay_p50_ms: float
    fire_delay_p99_ms: float
    fire_delay_max_ms: float
    all_fired_after_due_s: float

    def as_json(self) -> dict[str, Any]:
        return {name: round(value, 1) for name, value in vars(self).items()}


def monitor_settings(stack: Stack, run: str) -> SlaMonitorSettings:
    return SlaMonitorSettings(
        kafka_bootstrap=stack.bootstrap,
        topic_prefix=f"{run}.",
        database_url=stack.database_url,
        db_schema=f"{run}_sla",
        consumer_group=f"{run}-sla",
        http_host="127.0.0.1",
        http_port=free_port(),
    )


def policy_record(settings: SlaMonitorSettings, target_s: float) -> OutgoingRecord:
    sla = SlaPolicy.model_validate(
        {
            "tiers": {"hot": {"target": f"{target_s}s", "clock": "wall"}},
            "escalation": [{"action": "notify"}],
        }
    )
    event = PolicyActivated(
        version="test-1", activated_at=datetime.now(UTC), source="bench", sla=sla
    )
    return encode_event(event, topic=settings.topics.policy_events, source="/bench")


def assignment_records(
    settings: SlaMonitorSettings, count: int, at: datetime
) -> list[OutgoingRecord]:
    topic = settings.topics.leads_assigned
    return [
        encode_event(
            sample_assigned(f"lead-{n}", owner_id=f"rep-{n % 10}", assigned_at=at),
            topic=topic,
            source="/bench/router",
        )
        for n in range(count)
    ]


async def prepare_monitor(stack: Stack, run: str, target_s: float) -> SlaMonitorSettings:
    """Topics, migrations and an SLA policy with a `target_s` target, before the monitor starts."""
    settings = monitor_settings(stack, run)
    topics = settings.topics.all_for()
    await create_topics(stack.bootstrap, topics)
    await wait_for_topics(stack.bootstrap, topics)
    await asyncio.to_thread(upgrade, settings, MIGRATIONS)
    await produce_records(
        stack.bootstrap, settings.topics.policy_events, [policy_record(settings, target_s)]
    )
    return settings


async def take_in_then_fire(
    stack: Stack,
    settings: SlaMonitorSettings,
    count: int,
    started: float,
    due: datetime,
    target_s: float,
) -> tuple[float, list[Any]]:
    """Seconds from `started` until the monitor holds all `count` deadlines, which must be
    before they fall `due`, then every SLA event they fire (a warning and a breach each)."""
    await wait_for_rows(
        settings, "SELECT count(*) FROM deadlines", lambda row: row[0] >= count, target_s
    )
    taken_in = time.time() - started
    if datetime.now(UTC) >= due:
        raise RuntimeError(f"intake took {taken_in:.1f}s, past the due time; raise the target")
    events = await read_topic(stack.bootstrap, settings.topics.sla_events, 2 * count, 120)
    return taken_in, events


async def run_timer_bench(stack: Stack, count: int, target_s: float) -> TimerFigures:
    run = token("sla")
    settings = await prepare_monitor(stack, run, target_s)
    log_file = stack.workdir / f"{run}.log"
    base_url = f"http://{settings.http_host}:{settings.http_port}"
    with proc.running(["-m", "baton_sla_monitor", "serve"], log_file, settings.as_env()) as process:
        await proc.wait_ready(process, base_url, log_file)
        proc.freeze(process)
        opened_at = datetime.now(UTC)
        due = opened_at + timedelta(seconds=target_s)
        records = assignment_records(settings, count, opened_at)
        await produce_records(stack.bootstrap, settings.topics.leads_assigned, records)
        started = proc.resume(process)
        taken_in, events = await take_in_then_fire(stack, settings, count, started, due, target_s)
    breaches = [r for r in events if dict(r.headers)["ce_type"] == b"baton.sla.breached.v1"]
    if (
        len(breaches) != count
        or len({json.loads(r.value)["deadline_id"] for r in breaches}) != count
    ):
        raise RuntimeError(f"{len(breaches)} breaches for {count} deadlines; {log_tail(log_file)}")
    delays = sorted(r.timestamp / 1000 - due.timestamp() for r in breaches)
    return TimerFigures(
        deadlines=count,
        intake_per_second=count / taken_in,
        fire_delay_p50_ms=statistics.median(delays) * 1000,
        fire_delay_p99_ms=delays[int(0.99 * (len(delays) - 1))] * 1000,
        fire_delay_max_ms=delays[-1] * 1000,
        all_fired_after_due_s=delays[-1],
    )


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.sla_timer", description=__doc__)
    parser.add_argument("--deadlines", type=int, default=20_000)
    parser.add_argument("--target-s", type=float, default=60.0)
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args()
    with embedded_stack() as stack:
        figures = asyncio.run(run_timer_bench(stack, args.deadlines, args.target_s))
    print(json.dumps(figures.as_json(), indent=2))
    args.output.write_text(json.dumps(figures.as_json(), indent=2) + "\n", encoding="utf-8")
    print(f"written to {args.output}")


if __name__ == "__main__":
    main()
