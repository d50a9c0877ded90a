"""(c) Webhook intake: requests/s of `POST /webhooks/generic` (verify the signature,
normalise, produce to the broker, answer 202 once acknowledged) against `POST /bench/noop`
(read the body, answer 202) on the same app, uvicorn server and single worker, with the
same signed requests, from a load generator in its own process.

The router's consumer runs in that process as in production, so the webhook figure
includes routing the leads it accepts (the no-op arm runs first, with nothing to route).
The suite also measures both arms on a server without the consumer (intake alone).
"""

from __future__ import annotations

from dataclasses import dataclass

from baton_router.config import RouterSettings
from bench.loadgen import LoadResult, LoadSpec, run_load
from bench.router_setup import GENERIC_SECRET
from bench.serve import NOOP_PATH
from bench.stack import Stack, token

WEBHOOK_PATH = "/webhooks/generic"


@dataclass(frozen=True)
class IntakeResult:
    noop: LoadResult
    webhook: LoadResult

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
    )


async def measure_intake(
    stack: Stack, settings: RouterSettings, requests: int, concurrency: int, warmup: int
) -> IntakeResult:
    results = {}
    for name, path in (("noop", NOOP_PATH), ("webhook", WEBHOOK_PATH)):
        spec = load_spec(settings, path, count=requests, concurrency=concurrency, warmup=warmup)
        result = await run_load(spec, stack.workdir / f"loadgen-{name}.log")
        if result.accepted + result.warmup_accepted != requests + warmup:
            raise RuntimeError(
                f"{name}: only {result.accepted} of {requests} answered 202: {result.statuses}"
            )
        results[name] = result
    return IntakeResult(noop=results["noop"], webhook=results["webhook"])
