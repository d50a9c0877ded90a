"""(c) Webhook intake: requests/s of `POST /webhooks/generic` (verify the signature,
normalise, produce to the broker, answer 202 once acknowledged) against `POST /bench/noop`
(read the body, answer 202) on the same app, uvicorn server and single worker, with the
same signed requests, from a load generator in its own process.

The arms alternate, `repeats` times each, and the median run of each is compared: the
machine's speed drifts between runs by as much as the difference measured. In the
all-in-one server the router's consumer runs in the same process, as in production, so the
webhook figure includes routing the leads it accepts. The suite also measures both arms
on a server without the consumer (intake alone).

Each run also reports the server's CPU time per request and the share of a core it used:
a ratio set by what a webhook costs reads differently from one set by a server left
waiting on the broker.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from baton_router.config import RouterSettings
from bench.loadgen import LoadResult, LoadSpec, run_load
from bench.router_setup import GENERIC_SECRET
from bench.serve import NOOP_PATH, WEBHOOK_PATH
from bench.stack import Stack, median_run, token


@dataclass
class IntakeResult:
    noop_runs: list[LoadResult] = field(default_factory=list)
    webhook_runs: list[LoadResult] = field(default_factory=list)

    @property
    def noop(self) -> LoadResult:
        return median_run(self.noop_runs)

    @property
    def webhook(self) -> LoadResult:
        return median_run(self.webhook_runs)

    @property
    def ratio(self) -> float:
        return self.webhook.per_second / self.noop.per_second


def load_spec(
    settings: RouterSettings,
    path: str,
    count: int,
    concurrency: int,
    rate: float = 0.0,
    warmup: int = 0,
    answers: bool = False,
    server_pid: int = 0,
) -> LoadSpec:
    """Signed requests with fresh leads (a new run token) for the router at `settings`."""
    return LoadSpec(
        host=settings.http_host,
        port=settings.http_port,
        path=path,
        run=token("lead"),
        secret=GENERIC_SECRET,
        count=count,
        concurrency=concurrency,
        rate=rate,
        warmup=warmup,
        answers=answers,
        server_pid=server_pid,
    )


async def measure_intake(
    stack: Stack,
    settings: RouterSettings,
    server_pid: int,
    requests: int,
    concurrency: int,
    warmup: int,
    repeats: int = 1,
) -> IntakeResult:
    """Both arms against the server at `settings`, whose CPU time (process `server_pid`)
    is measured over each run: it tells a ratio set by the cost of a request from one set
    by a server left waiting."""
    result = IntakeResult()
    arms = (("noop", NOOP_PATH, result.noop_runs), ("webhook", WEBHOOK_PATH, result.webhook_runs))
    for _ in range(repeats):
        for name, path, runs in arms:
            spec = load_spec(
                settings, path, requests, concurrency, warmup=warmup, server_pid=server_pid
            )
            load = await run_load(spec, stack.workdir / f"loadgen-{name}.log")
            if load.accepted + load.warmup_accepted != requests + warmup:
                raise RuntimeError(
                    f"{name}: only {load.accepted} of {requests} answered 202: {load.statuses}"
                )
            runs.append(load)
    return result
