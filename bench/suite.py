"""The whole bench, phase by phase, on one embedded stack."""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from baton_router.config import RouterSettings
from baton_runtime.devstack.ports import free_port
from bench.intake import IntakeResult, load_spec, measure_intake
from bench.latency import EndToEndResult, LatencyResult, measure_end_to_end, measure_latency
from bench.loadgen import run_load
from bench.passthrough import run_passthrough
from bench.records import captured_records
from bench.router_run import run_router
from bench.router_setup import prepare_router, router_process, router_settings, wait_assigned
from bench.serve import WEBHOOK_PATH
from bench.stack import Stack, Throughput, checkpoint, median_run, phase_finished, token


@dataclass(frozen=True)
class BenchParams:
    records: int = 20_000
    batch_sizes: tuple[int, ...] = (500, 1000)
    intake_requests: int = 10_000
    intake_warmup: int = 300
    concurrency: int = 96
    """Connections the load generator keeps busy. Each webhook waits for the broker's
    acknowledgement before its 202, so with 32 the webhook arm left the HTTP replica 17-22%
    idle (measured); with 96 it is busier, and the no-op arm is not affected."""
    latency_seconds: float = 20.0
    repeats: int = 3
    """(a) and (b), and (c)'s two arms, run this many times, alternating, and (d)'s latency
    run this many times; the median run of each is reported (the machine's speed drifts
    from one run to the next by as much as the effects measured: (d)'s p99 was 97.6 ms in
    one full run and 135.3 ms in the next, on the same code)"""

    @classmethod
    def quick(cls) -> BenchParams:
        return cls(
            records=2_000,
            batch_sizes=(500,),
            intake_requests=2_000,
            latency_seconds=5.0,
            repeats=1,
        )


@dataclass
class BenchResults:
    params: BenchParams
    passthrough_runs: dict[int, list[Throughput]] = field(default_factory=dict)
    router_runs: dict[int, list[Throughput]] = field(default_factory=dict)
    intake: IntakeResult | None = None
    """HTTP-only replica (consumers in their own replica)"""
    end_to_end: EndToEndResult | None = None
    """HTTP-only replica plus a consumer replica: webhooks to readable assignments"""
    latency_runs: list[LatencyResult] = field(default_factory=list)
    """HTTP-only replica plus a consumer replica"""
    intake_all_in_one: IntakeResult | None = None
    end_to_end_all_in_one: EndToEndResult | None = None
    latency_all_in_one_runs: list[LatencyResult] = field(default_factory=list)
    record_bytes: float = 0.0
    busy_before: float = 0.0
    calibration_ms_before: float = 0.0
    calibration_ms_after: float = 0.0
    loadavg_before: tuple[float, float, float] = (0.0, 0.0, 0.0)
    loadavg_after: tuple[float, float, float] = (0.0, 0.0, 0.0)
    seconds: float = 0.0

    @property
    def passthrough(self) -> dict[int, Throughput]:
        return {batch: median_run(runs) for batch, runs in self.passthrough_runs.items()}

    @property
    def router(self) -> dict[int, Throughput]:
        return {batch: median_run(runs) for batch, runs in self.router_runs.items()}

    @property
    def latency(self) -> LatencyResult | None:
        return median_by_p99(self.latency_runs)

    @property
    def latency_all_in_one(self) -> LatencyResult | None:
        return median_by_p99(self.latency_all_in_one_runs)

    def ratio(self, batch: int) -> float:
        return self.router[batch].per_second / self.passthrough[batch].per_second


def median_by_p99(runs: list[LatencyResult]) -> LatencyResult | None:
    """The run with the median p99 (the upper one of an even count); None for no runs."""
    ordered = sorted(runs, key=lambda run: run.percentile(99))
    return ordered[len(ordered) // 2] if ordered else None


def say(message: str) -> None:
    print(f"  {message}", flush=True)


def cpu_busy(seconds: float = 1.0) -> float:
    """The fraction of all CPUs busy over `seconds` (before the bench starts anything)."""

    def sample() -> tuple[int, int]:
        with open("/proc/stat") as stat:
            values = [int(v) for v in stat.readline().split()[1:]]
        idle = values[3] + values[4]
        return sum(values) - idle, sum(values)

    busy0, total0 = sample()
    time.sleep(seconds)
    busy1, total1 = sample()
    return (busy1 - busy0) / max(1, total1 - total0)


CALIBRATION_STEPS = 2_000_000


def calibration_ms(repeats: int = 3) -> float:
    """How long one core takes for a fixed loop of Python bytecode (the fastest of
    `repeats`): this machine's speed drifts by as much as the effects the bench measures
    (the same loop took 0.68 s and 1.22 s on one day), so runs are compared with it."""
    fastest = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        total = 0
        for step in range(CALIBRATION_STEPS):
            total += step
        fastest = min(fastest, time.perf_counter() - started)
    return fastest * 1000


async def run_bench(stack: Stack, params: BenchParams) -> BenchResults:
    results = BenchResults(params=params, loadavg_before=os.getloadavg())
    results.calibration_ms_before = calibration_ms()
    say(f"calibration loop: {results.calibration_ms_before:.0f} ms")
    started = time.monotonic()
    records = captured_records(params.records, "leads.captured", token("lead"))
    results.record_bytes = sum(len(r.value) for r in records) / len(records)

    # (a) and (b), side by side for each batch size.
    for batch in params.batch_sizes:
        for _ in range(params.repeats):
            passthrough = await run_passthrough(stack, records, batch)
            results.passthrough_runs.setdefault(batch, []).append(passthrough)
            say(f"(a) passthrough, batch {batch}: {passthrough.per_second:,.0f} records/s")
            routed = await run_router(stack, records, batch)
            results.router_runs.setdefault(batch, []).append(routed)
            say(f"(b) router, batch_max_records {batch}: {routed.per_second:,.0f} records/s")

    # (c) and (d) as deployed for scale: an HTTP-only replica takes the webhooks and a
    # consumer replica routes them (each scales on its own signal).
    async with _http_only(stack, "split") as (api, pid):
        results.intake = await _intake(stack, api, pid, params)
    say(f"(c) intake, HTTP-only replica: ratio {results.intake.ratio:.3f}")
    # (d) on topics of its own, as every other phase, and its latency run on others again
    # than its maximum's burst; each phase deletes its topics when done. The embedded
    # broker keeps every record in memory and serves a topic more slowly as it grows (its
    # CPU for the same traffic tripled once a topic held 60,000 records), and all topics
    # more slowly as it holds more (`drop_topics`).
    async with _split_replicas(stack, "max") as api:
        results.end_to_end = await _maximum(stack, api, params)
    say(f"(d) end to end, split replicas: {results.end_to_end.per_second:,.0f} leads/s")
    for _ in range(params.repeats):
        async with _split_replicas(stack, "lat") as api:
            run = await _latency(stack, api, params, results.end_to_end)
        results.latency_runs.append(run)
        say(f"(d) latency, split replicas: p99 {run.percentile(99):.1f} ms")

    # The same in one process (HTTP and consumer share an event loop), for comparison.
    async with _one_process(stack, "single") as (single, pid):
        results.intake_all_in_one = await _intake(stack, single, pid, params)
    say(f"(c) intake, one process: ratio {results.intake_all_in_one.ratio:.3f}")
    async with _one_process(stack, "single-max") as (single, _):
        results.end_to_end_all_in_one = await _maximum(stack, single, params)
    for _ in range(params.repeats):
        async with _one_process(stack, "single-lat") as (single, _):
            run = await _latency(stack, single, params, results.end_to_end_all_in_one)
        results.latency_all_in_one_runs.append(run)
        say(f"(d) latency, one process: p99 {run.percentile(99):.1f} ms")
    results.loadavg_after = os.getloadavg()
    results.calibration_ms_after = calibration_ms()
    results.seconds = time.monotonic() - started
    return results


async def _intake(
    stack: Stack, settings: RouterSettings, server_pid: int, params: BenchParams
) -> IntakeResult:
    return await measure_intake(
        stack,
        settings,
        server_pid,
        params.intake_requests,
        params.concurrency,
        params.intake_warmup,
        params.repeats,
    )


@contextlib.asynccontextmanager
async def _prepared(stack: Stack, label: str, **overrides: Any) -> AsyncIterator[RouterSettings]:
    """A fresh router's settings, topics, schema and roster, checkpointed before the phase;
    its topics and schema are dropped after it (`phase_finished`)."""
    settings = router_settings(stack, token(label), **overrides)
    await prepare_router(settings)
    await checkpoint(stack)
    try:
        yield settings
    finally:
        await phase_finished(stack, settings)


@contextlib.asynccontextmanager
async def _http_only(stack: Stack, label: str) -> AsyncIterator[tuple[RouterSettings, int]]:
    """A fresh router's HTTP-only replica (no consumers): its settings and process id."""
    async with (
        _prepared(stack, label, consumers_enabled=False) as api,
        router_process(api, stack.workdir / f"{label}-api.log", "bench.serve") as process,
    ):
        yield api, process.pid


@contextlib.asynccontextmanager
async def _split_replicas(stack: Stack, label: str) -> AsyncIterator[RouterSettings]:
    """A fresh router as deployed for scale: an HTTP-only replica takes the webhooks and a
    consumer replica routes them; the HTTP replica's settings."""
    async with _prepared(stack, label, consumers_enabled=False) as api:
        worker = api.model_copy(update={"consumers_enabled": True, "http_port": free_port()})
        async with (
            router_process(api, stack.workdir / f"{label}-api.log", "bench.serve"),
            router_process(worker, stack.workdir / f"{label}-worker.log"),
        ):
            yield api


@contextlib.asynccontextmanager
async def _one_process(stack: Stack, label: str) -> AsyncIterator[tuple[RouterSettings, int]]:
    """A fresh router serving HTTP and consuming in one process: its settings and process id."""
    async with (
        _prepared(stack, label) as settings,
        router_process(settings, stack.workdir / f"{label}.log", "bench.serve") as process,
    ):
        yield settings, process.pid


async def _maximum(stack: Stack, settings: RouterSettings, params: BenchParams) -> EndToEndResult:
    """(d)'s maximum: on a router with nothing else to do, a burst end to end."""
    return await measure_end_to_end(stack, settings, params.intake_requests, params.concurrency)


async def _latency(
    stack: Stack, settings: RouterSettings, params: BenchParams, maximum: EndToEndResult
) -> LatencyResult:
    """(d)'s latency at half of `maximum`, after a warm-up burst has been routed (a fresh
    process's first requests pay for its caches and prepared statements)."""
    warmup = load_spec(settings, WEBHOOK_PATH, count=params.intake_warmup, concurrency=8)
    await run_load(warmup, stack.workdir / f"loadgen-warmup-{settings.schema_name}.log")
    await wait_assigned(settings, params.intake_warmup, 120)
    return await measure_latency(
        stack,
        settings,
        rate=maximum.per_second / 2,
        seconds=params.latency_seconds,
        concurrency=params.concurrency,
    )
