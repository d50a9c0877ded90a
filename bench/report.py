"""The bench's figures: a table on the terminal and `bench/results/latest.json`."""

from __future__ import annotations

import json
import os
import platform
import sys
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.intake import IntakeResult
from bench.latency import EndToEndResult, LatencyResult, percentile
from bench.loadgen import LoadResult
from bench.stack import Throughput
from bench.suite import CALIBRATION_STEPS, BenchResults, median_by_p99

RESULTS = Path(__file__).resolve().parent / "results" / "latest.json"

ROUTER_TARGET = 0.25
ROUTER_GOAL = 0.5
INTAKE_TARGET = 0.5
P99_TARGET_MS = 100.0


def _load(result: LoadResult) -> dict[str, Any]:
    return {
        "requests": result.sent,
        "accepted": result.accepted,
        "statuses": result.statuses,
        "seconds": round(result.seconds, 3),
        "per_second": round(result.per_second, 1),
        "client_p50_ms": round(percentile(result.client_ms, 50), 2),
        "client_p99_ms": round(percentile(result.client_ms, 99), 2),
    }


def _rates(runs: list[Throughput]) -> list[float]:
    return [round(run.per_second, 1) for run in runs]


def _intake(result: IntakeResult) -> dict[str, Any]:
    return {
        "noop": {**_intake_arm(result.noop), "runs_per_second": _loads(result.noop_runs)},
        "webhook": {
            **_intake_arm(result.webhook),
            "runs_per_second": _loads(result.webhook_runs),
        },
        "ratio": round(result.ratio, 3),
    }


def _intake_arm(load: LoadResult) -> dict[str, Any]:
    """A run's figures, with the server's CPU per request and the share of a core it used."""
    cpu_us, busy = load.server_cpu_us, load.server_busy
    return {
        **_load(load),
        "server_cpu_us_per_request": None if cpu_us is None else round(cpu_us, 1),
        "server_busy": None if busy is None else round(busy, 2),
    }


def _loads(runs: list[LoadResult]) -> list[float]:
    return [round(run.per_second, 1) for run in runs]


def _end_to_end(result: EndToEndResult | None) -> dict[str, Any] | None:
    if result is None:
        return None
    return {
        "requests": result.requests,
        "assigned": result.assigned,
        "seconds": round(result.seconds, 2),
        "per_second": round(result.per_second, 1),
        "unrelated": result.unrelated,
    }


def _latency(result: LatencyResult) -> dict[str, Any]:
    return {
        "rate_per_second": round(result.rate, 1),
        "achieved_per_second": round(result.load.per_second, 1),
        "seconds": round(result.load.seconds, 2),
        "requests": result.load.sent,
        "accepted": result.load.accepted,
        "matched": result.matched,
        "missing": result.missing,
        "p50_ms": round(result.percentile(50), 1),
        "p90_ms": round(result.percentile(90), 1),
        "p99_ms": round(result.percentile(99), 1),
        "max_ms": round(max(result.latencies_ms, default=0.0), 1),
        "client_p50_ms": round(percentile(result.load.client_ms, 50), 2),
        "client_p99_ms": round(percentile(result.load.client_ms, 99), 2),
        "sender_max_behind_ms": round(result.load.max_behind_ms, 1),
        "stages": {
            name: {
                "p50_ms": round(percentile(values, 50), 1),
                "p99_ms": round(percentile(values, 99), 1),
            }
            for name, values in result.stages_ms.items()
        },
    }


def _latency_runs(runs: list[LatencyResult]) -> dict[str, Any] | None:
    """The median run (by p99) in full, and every run's p99."""
    median = median_by_p99(runs)
    if median is None:
        return None
    return {**_latency(median), "runs_p99_ms": [round(run.percentile(99), 1) for run in runs]}


def summary(results: BenchResults, quick: bool) -> dict[str, Any]:
    """Everything the run measured, with the machine and the parameters."""
    best = max(results.router, key=results.ratio) if results.router else None
    figures: dict[str, Any] = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "mode": "quick" if quick else "full",
        "machine": {
            "nproc": os.cpu_count(),
            "platform": platform.platform(),
            "python": sys.version.split()[0],
            "cpu_busy_before_start": round(results.busy_before, 3),
            "calibration_loop_ms": [
                round(results.calibration_ms_before, 1),
                round(results.calibration_ms_after, 1),
            ],
            "loadavg_before": [round(x, 2) for x in results.loadavg_before],
            "loadavg_after": [round(x, 2) for x in results.loadavg_after],
        },
        "parameters": {**asdict(results.params), "record_bytes_mean": round(results.record_bytes)},
        "passthrough": [
            {
                "batch": batch,
                "records": r.records,
                "seconds": round(r.seconds, 3),
                "per_second": round(r.per_second, 1),
                "runs_per_second": _rates(results.passthrough_runs[batch]),
            }
            for batch, r in results.passthrough.items()
        ],
        "router": [
            {
                "batch_max_records": batch,
                "records": r.records,
                "seconds": round(r.seconds, 3),
                "per_second": round(r.per_second, 1),
                "ratio_to_passthrough": round(results.ratio(batch), 3),
                "runs_per_second": _rates(results.router_runs[batch]),
            }
            for batch, r in results.router.items()
        ],
        "intake": _intake(results.intake) if results.intake else None,
        "end_to_end": _end_to_end(results.end_to_end),
        "latency": _latency_runs(results.latency_runs),
        "intake_all_in_one": (
            _intake(results.intake_all_in_one) if results.intake_all_in_one else None
        ),
        "end_to_end_all_in_one": _end_to_end(results.end_to_end_all_in_one),
        "latency_all_in_one": _latency_runs(results.latency_all_in_one_runs),
        "bench_seconds": round(results.seconds, 1),
    }
    targets: dict[str, Any] = {}
    if best is not None:
        ratio = results.ratio(best)
        targets["router_ratio"] = {
            "value": round(ratio, 3),
            "target": ROUTER_TARGET,
            "goal": ROUTER_GOAL,
            "met": ratio >= ROUTER_TARGET,
        }
    if results.intake:
        targets["intake_ratio"] = {
            "value": round(results.intake.ratio, 3),
            "target": INTAKE_TARGET,
            "met": results.intake.ratio >= INTAKE_TARGET,
        }
    if results.latency:
        p99 = results.latency.percentile(99)
        targets["latency_p99_ms"] = {
            "value": round(p99, 1),
            "target": P99_TARGET_MS,
            "met": p99 < P99_TARGET_MS and results.latency.missing == 0,
        }
    figures["targets"] = targets
    return figures


def write(figures: dict[str, Any], path: Path = RESULTS) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    return path


def _met(flag: bool) -> str:
    return "met" if flag else "MISSED"


def _row(label: str, count: int, timed: dict[str, Any], ratio: float | None = None) -> str:
    """One line of the table: phase, count, seconds, per second and maybe a ratio."""
    line = f"{label:<44}{count:>8}{timed['seconds']:>9.2f}{timed['per_second']:>10.0f}"
    return line + (f"{ratio:>8.3f}" if ratio is not None else "")


def table(figures: dict[str, Any]) -> str:
    machine, params = figures["machine"], figures["parameters"]
    lines = [
        f"Baton bench ({figures['mode']}), {figures['date']}, nproc {machine['nproc']}, "
        f"CPU busy before start {machine['cpu_busy_before_start']:.0%}, load average "
        f"{machine['loadavg_before'][0]} -> {machine['loadavg_after'][0]}, "
        f"calibration loop (one core, {CALIBRATION_STEPS:,} steps) "
        f"{machine['calibration_loop_ms'][0]:.0f} -> {machine['calibration_loop_ms'][1]:.0f} ms",
        f"records: {params['records']} captured leads, {params['record_bytes_mean']} bytes "
        f"each on average, 3 partitions; (a) and (b): median of {params['repeats']} run(s)",
        "",
        f"{'phase':<44}{'count':>8}{'seconds':>9}{'per s':>10}{'ratio':>8}",
    ]
    ratios = {r["batch_max_records"]: r for r in figures["router"]}
    for row in figures["passthrough"]:
        batch = row["batch"]
        lines.append(_row(f"(a) passthrough, batch {batch}", row["records"], row))
        if batch in ratios:
            r = ratios[batch]
            label = f"(b) router, batch_max_records {batch}"
            lines.append(_row(label, r["records"], r, r["ratio_to_passthrough"]))
    for key, label in (("intake", ", HTTP-only replica"), ("intake_all_in_one", ", one process")):
        intake = figures.get(key)
        if not intake:
            continue
        for arm in ("noop", "webhook"):
            load = intake[arm]
            ratio = intake["ratio"] if arm == "webhook" else None
            lines.append(_row(f"(c) POST {arm}{label}", load["requests"], load, ratio))
        cpu = [intake[arm].get("server_cpu_us_per_request") for arm in ("noop", "webhook")]
        busy = [intake[arm].get("server_busy") for arm in ("noop", "webhook")]
        if None not in cpu and None not in busy:
            lines.append(
                f"    server CPU per request: no-op {cpu[0]:.1f} us, webhook {cpu[1]:.1f} us; "
                f"share of a core used: no-op {busy[0]:.2f}, webhook {busy[1]:.2f}"
            )
    for key, label in (("latency", "split replicas"), ("latency_all_in_one", "one process")):
        latency = figures.get(key)
        if not latency:
            continue
        maximum = figures.get(key.replace("latency", "end_to_end"))
        if maximum:
            lines.append(
                _row(f"(d) max webhook -> assignment, {label}", maximum["assigned"], maximum)
            )
        rate = {**latency, "per_second": latency["achieved_per_second"]}
        lines.append(_row(f"(d) 202 -> assignment readable, {label}", latency["matched"], rate))
        lines.append(
            f"    p50 {latency['p50_ms']:.1f} ms, p90 {latency['p90_ms']:.1f} ms, "
            f"p99 {latency['p99_ms']:.1f} ms, max {latency['max_ms']:.1f} ms "
            f"(asked {latency['rate_per_second']:.0f}/s; {latency['missing']} missing)"
        )
        stages = "; ".join(
            f"{name} {stage['p50_ms']:.1f}/{stage['p99_ms']:.1f}"
            for name, stage in latency.get("stages", {}).items()
        )
        if stages:
            lines.append(f"    stages, p50/p99 ms: {stages}")
        runs = latency.get("runs_p99_ms", [])
        if len(runs) > 1:
            listed = " · ".join(f"{p99:.1f}" for p99 in runs)
            lines.append(f"    median of {len(runs)} runs by p99; each run's p99 ms: {listed}")
    lines.append("")
    targets = figures["targets"]
    if "router_ratio" in targets:
        t = targets["router_ratio"]
        lines.append(
            f"target (b)/(a) >= {t['target']} (goal {t['goal']}): best {t['value']:.3f}, "
            f"{_met(t['met'])}"
        )
    if "intake_ratio" in targets:
        t = targets["intake_ratio"]
        lines.append(f"target webhook/no-op >= {t['target']}: {t['value']:.3f}, {_met(t['met'])}")
    if "latency_p99_ms" in targets:
        t = targets["latency_p99_ms"]
        lines.append(f"target p99 < {t['target']:.0f} ms: {t['value']:.1f} ms, {_met(t['met'])}")
    return "\n".join(lines)
