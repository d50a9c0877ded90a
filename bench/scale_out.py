"""`python -m bench.scale_out` (`make bench-scale`): replicas sharing one service's work.

On one embedded stack (topics of 3 partitions), for 1 and then 2 replicas of each service:

- router: N captured leads produced while the replicas run in one consumer group; the
  throughput from the first record produced to the last assignment published, each
  replica's share of the records, the peak consumer lag (the sum over partitions, scraped
  from every replica's /metrics every 100 ms) and that every lead was assigned once;
- SLA monitor: N assignments all due at one instant, taken in and then fired by replicas
  sharing the deadlines table; the intake rate, the time from the due instant to the last
  breach, each replica's share of the breaches and that no deadline fired twice.

Writes bench/results/scale_out.json. On the 2-core build machine two replicas share the
same two cores with the broker and PostgreSQL, so the figures show the work being shared
correctly and what it costs, not a doubling.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import re
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from baton_runtime.devstack.ports import free_port
from baton_runtime.devstack.topics import read_topic
from baton_runtime.settings import ServiceSettings
from bench import proc
from bench.records import captured_records, produce_records
from bench.router_setup import prepare_router, router_process, router_settings, wait_assigned
from bench.sla_timer import assignment_records, prepare_monitor, take_in_then_fire
from bench.stack import Stack, embedded_stack, phase_finished, token

RESULTS = Path(__file__).parent / "results" / "scale_out.json"
GROUP_SETTLE_S = 6.0  # the consumer group's rebalance after the last replica joined


def metric_sum(text: str, name: str, matches: Callable[[str], bool] = lambda _: True) -> float:
    """The sum of a Prometheus text exposition's samples of `name` whose labels match."""
    total = 0.0
    for line in text.splitlines():
        found = re.match(rf"{name}(?:\{{(.*)\}})? (\S+)$", line)
        if found and matches(found.group(1) or ""):
            total += float(found.group(2))
    return total


class Scraper:
    """Every replica's /metrics, every 100 ms while running; keeps the peak of `peak_of`."""

    def __init__(self, urls: list[str], peak_of: Callable[[str], float]) -> None:
        self._urls = urls
        self._peak_of = peak_of
        self.peak = 0.0

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[Scraper]:
        task = asyncio.create_task(self._loop())
        try:
            yield self
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _loop(self) -> None:
        async with httpx.AsyncClient(timeout=2) as client:
            while True:
                texts = await self.texts(client)
                self.peak = max(self.peak, sum(self._peak_of(text) for text in texts))
                await asyncio.sleep(0.1)

    async def texts(self, client: httpx.AsyncClient) -> list[str]:
        answers = await asyncio.gather(*(client.get(f"{url}/metrics") for url in self._urls))
        return [answer.text for answer in answers]


def base_url(settings: ServiceSettings) -> str:
    return f"http://{settings.http_host}:{settings.http_port}"


async def route_with_replicas(stack: Stack, replicas: int, count: int) -> dict[str, Any]:
    run = token(f"scale{replicas}")
    settings = router_settings(stack, run)
    await prepare_router(settings)
    records = captured_records(count, settings.topics.leads_captured, token("lead"))
    copies = [settings.model_copy(update={"http_port": free_port()}) for _ in range(replicas)]
    captured = settings.topics.leads_captured
    scraper = Scraper(
        [base_url(copy) for copy in copies],
        lambda text: metric_sum(text, "baton_consumer_lag", lambda labels: captured in labels),
    )
    async with contextlib.AsyncExitStack() as processes:
        for number, copy in enumerate(copies):
            log_file = stack.workdir / f"{run}-{number}.log"
            await processes.enter_async_context(router_process(copy, log_file))
        await asyncio.sleep(GROUP_SETTLE_S)
        async with scraper.running():
            started = time.time()
            await produce_records(stack.bootstrap, captured, records)
            await wait_assigned(settings, count, 600)
        async with httpx.AsyncClient(timeout=5) as client:
            texts = await scraper.texts(client)
    assigned = await read_topic(stack.bootstrap, settings.topics.leads_assigned, count, 60)
    await phase_finished(stack, settings)
    leads = {json.loads(record.value)["captured_event_id"] for record in assigned}
    finished = max(record.timestamp for record in assigned) / 1000
    processed = [
        metric_sum(text, "baton_records_processed_total", lambda labels: captured in labels)
        for text in texts
    ]
    return {
        "replicas": replicas,
        "leads": count,
        "assignments": len(assigned),
        "leads_assigned_once": len(leads) == count == len(assigned),
        "seconds": round(finished - started, 2),
        "per_second": round(count / (finished - started), 1),
        "share_per_replica": [round(n / count, 3) for n in processed],
        "peak_lag": int(scraper.peak),
    }


async def fire_with_replicas(
    stack: Stack, replicas: int, count: int, target_s: float
) -> dict[str, Any]:
    run = token(f"slascale{replicas}")
    settings = await prepare_monitor(stack, run, target_s)
    copies = [settings.model_copy(update={"http_port": free_port()}) for _ in range(replicas)]
    async with contextlib.AsyncExitStack() as processes:
        for number, copy in enumerate(copies):
            log_file = stack.workdir / f"{run}-{number}.log"
            process = processes.enter_context(
                proc.running(["-m", "baton_sla_monitor", "serve"], log_file, copy.as_env())
            )
            await proc.wait_ready(process, base_url(copy), log_file)
        await asyncio.sleep(GROUP_SETTLE_S)
        opened_at = datetime.now(UTC)
        due = opened_at + timedelta(seconds=target_s)
        started = time.time()
        await produce_records(
            stack.bootstrap,
            settings.topics.leads_assigned,
            assignment_records(settings, count, opened_at),
        )
        taken_in, events = await take_in_then_fire(stack, settings, count, started, due, target_s)
        async with httpx.AsyncClient(timeout=5) as client:
            texts = [(await client.get(f"{base_url(c)}/metrics")).text for c in copies]
    await phase_finished(stack, settings)
    breaches = [r for r in events if dict(r.headers)["ce_type"] == b"baton.sla.breached.v1"]
    deadlines = {json.loads(record.value)["deadline_id"] for record in breaches}
    fired = [
        metric_sum(text, "baton_sla_events_total", lambda labels: 'type="breached"' in labels)
        for text in texts
    ]
    last = max(record.timestamp for record in breaches) / 1000
    return {
        "replicas": replicas,
        "deadlines": count,
        "intake_per_second": round(count / taken_in, 1),
        "breaches": len(breaches),
        "each_deadline_fired_once": len(deadlines) == count == len(breaches),
        "all_fired_after_due_s": round(last - due.timestamp(), 2),
        "share_per_replica": [round(n / count, 3) for n in fired],
    }


async def run_scale_out(
    stack: Stack, leads: int, deadlines: int, target_s: float, replicas: tuple[int, ...] = (1, 2)
) -> dict[str, Any]:
    router = [await route_with_replicas(stack, n, leads) for n in replicas]
    sla = [await fire_with_replicas(stack, n, deadlines, target_s) for n in replicas]
    return {"date": datetime.now(UTC).isoformat(timespec="seconds"), "router": router, "sla": sla}


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.scale_out", description=__doc__)
    parser.add_argument("--leads", type=int, default=20_000)
    parser.add_argument("--deadlines", type=int, default=20_000)
    parser.add_argument("--target-s", type=float, default=60.0)
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args()
    with embedded_stack() as stack:
        figures = asyncio.run(run_scale_out(stack, args.leads, args.deadlines, args.target_s))
    text = json.dumps(figures, indent=2)
    print(text)
    args.output.write_text(text + "\n", encoding="utf-8")
    print(f"written to {args.output}")


if __name__ == "__main__":
    main()
