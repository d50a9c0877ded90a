"""The bench's code runs end to end on the embedded stack with tiny numbers and produces
every figure. No timing thresholds here: the targets live in the bench (`make bench`)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

# bench/ is not a workspace package: it is imported from the repository root.
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from aiokafka.admin import AIOKafkaAdminClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from bench import report
from bench.door import measure as measure_door
from bench.latency import STAGES
from bench.scale_out import run_scale_out
from bench.sla_timer import run_timer_bench
from bench.stack import attached_stack
from bench.suite import BenchParams, run_bench


async def list_schemas(database_url: str) -> set[str]:
    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as conn:
            rows = await conn.execute(text("SELECT nspname FROM pg_namespace"))
            return {name for (name,) in rows}
    finally:
        await engine.dispose()


async def list_topics(bootstrap: str) -> set[str]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        return set(await admin.list_topics())
    finally:
        await admin.close()


TINY = BenchParams(
    records=200,
    batch_sizes=(500,),
    intake_requests=200,
    intake_warmup=20,
    concurrency=8,
    latency_seconds=2.0,
    repeats=1,  # a smoke test: every figure once
)


async def test_the_quick_bench_produces_every_figure(
    embedded_postgres: Any, embedded_broker: Any, tmp_path: Path
) -> None:
    topics_before = await list_topics(embedded_broker.bootstrap)
    schemas_before = await list_schemas(embedded_postgres.url)
    with attached_stack(embedded_broker.bootstrap, embedded_postgres.url) as stack:
        results = await run_bench(stack, TINY)
    # Each phase deleted its topics (the embedded broker slows with what it holds) and
    # dropped its schema (autovacuum would work through its tables during later phases).
    assert await list_topics(embedded_broker.bootstrap) == topics_before
    assert await list_schemas(embedded_postgres.url) == schemas_before
    figures = report.summary(results, quick=True)
    written = report.write(figures, tmp_path / "latest.json")

    assert figures["passthrough"][0]["per_second"] > 0
    router = figures["router"][0]
    assert router["records"] == 200
    assert router["per_second"] > 0
    assert router["ratio_to_passthrough"] > 0
    for key in ("intake", "intake_all_in_one"):
        assert figures[key]["noop"]["per_second"] > 0
        assert figures[key]["webhook"]["per_second"] > 0
        assert figures[key]["webhook"]["accepted"] == 200
        for arm in ("noop", "webhook"):  # the server's CPU was read over the measured run
            assert figures[key][arm]["server_cpu_us_per_request"] >= 0
            assert figures[key][arm]["server_busy"] >= 0
    for key in ("end_to_end", "end_to_end_all_in_one"):
        maximum = figures[key]
        assert maximum["assigned"] == maximum["requests"] == 200
        assert maximum["per_second"] > 0
        assert maximum["unrelated"] == 0, maximum
    for key in ("latency", "latency_all_in_one"):
        latency = figures[key]
        assert latency["matched"] > 0
        assert latency["missing"] == 0
        assert 0 < latency["p50_ms"] <= latency["p99_ms"] <= latency["max_ms"]
        assert latency["runs_p99_ms"] == [latency["p99_ms"]]  # one run: it is the median
        # Where the time went: the three stages between the intake and the watcher.
        stages = latency["stages"]
        assert set(stages) == set(STAGES)
        assert all(0 < stage["p50_ms"] <= stage["p99_ms"] for stage in stages.values()), stages
    assert set(figures["targets"]) == {"router_ratio", "intake_ratio", "latency_p99_ms"}
    assert all(ms > 0 for ms in figures["machine"]["calibration_loop_ms"])
    table = report.table(figures)
    assert "(d) max webhook -> assignment, split replicas" in table
    assert "(d) 202 -> assignment readable, split replicas" in table
    assert "server CPU per request: no-op" in table
    assert written.exists()


async def test_the_sla_timer_bench_runs(
    embedded_postgres: Any, embedded_broker: Any, tmp_path: Path
) -> None:
    with attached_stack(embedded_broker.bootstrap, embedded_postgres.url) as stack:
        figures = await run_timer_bench(stack, count=200, target_s=10.0)
    assert figures.deadlines == 200 and figures.intake_per_second > 0
    assert 0 <= figures.fire_delay_p50_ms <= figures.fire_delay_p99_ms <= figures.fire_delay_max_ms


async def test_replicas_share_the_work_in_the_scale_out_bench(
    embedded_postgres: Any, embedded_broker: Any
) -> None:
    with attached_stack(embedded_broker.bootstrap, embedded_postgres.url) as stack:
        # Two replicas only: one replica runs the same code, and `make bench-scale` runs both.
        figures = await run_scale_out(stack, leads=300, deadlines=200, target_s=6.0, replicas=(2,))
    (router,) = figures["router"]
    assert router["leads_assigned_once"], router
    assert sum(router["share_per_replica"]) == 1.0
    assert len(router["share_per_replica"]) == 2 and min(router["share_per_replica"]) > 0, router
    (sla,) = figures["sla"]
    assert sla["each_deadline_fired_once"], sla
    assert sum(sla["share_per_replica"]) == 1.0 and len(sla["share_per_replica"]) == 2


async def test_the_door_bench_times_both_routes_in_process() -> None:
    figures = await measure_door(count=20, repeats=1)
    assert figures["requests"] == 20
    assert 0 < figures["noop_us"] < figures["webhook_us"]  # verifying and encoding cost
    assert 0 < figures["ratio"] < 1
