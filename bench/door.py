"""`python -m bench.door [--requests N] [--repeats R] [--output PATH]`: the webhook door's
own cost per request, in-process (`make bench-door`, a few seconds).

(c) compares whole requests through uvicorn on the embedded stack, and its runs drift with
the machine by as much as a change to the door is worth. Here both of (c)'s routes are
called through the router's ASGI app in this process, with no HTTP server, socket or
broker: `POST /webhooks/generic` with N distinct signed leads (verify, normalise, encode
the captured events, hand them to the publisher, answer 202) and the no-op route with the
same requests. The publisher is a stand-in that takes the records and returns, so what is
measured is the app's CPU for a request, not the broker's round trip. The arms alternate,
each on leads it has not seen, and the fastest of R runs is kept (min: the machine only
ever makes a run slower). Figures go to bench/results/door.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from standardwebhooks import Webhook
from starlette.types import Message, Scope

from baton_router.config import RouterSettings
from baton_schemas import OutgoingRecord
from bench.records import signed_lead
from bench.router_setup import GENERIC_SECRET
from bench.serve import NOOP_PATH, WEBHOOK_PATH, app_with_noop
from bench.stack import token

RESULTS = Path(__file__).parent / "results" / "door.json"


class TakingPublisher:
    """Stands in for the coalescing publisher: takes the records, acknowledges at once."""

    def __init__(self) -> None:
        self.records = 0

    async def publish(self, records: Sequence[OutgoingRecord], timeout_s: float) -> None:
        self.records += len(records)


class DoorRuntime:
    """What the webhook door asks of the service runtime."""

    source = "/baton/router"

    def __init__(self) -> None:
        self.request_publisher = TakingPublisher()


def signed_scopes(path: str, count: int) -> list[tuple[Scope, bytes]]:
    """`count` distinct signed generic leads as ASGI scopes for `path`, with their bodies."""
    webhook = Webhook(GENERIC_SECRET)
    now = datetime.now(UTC)
    run = token("door")
    requests = []
    for index in range(count):
        body, signature_headers = signed_lead(webhook, run, index, now)
        headers = [
            (b"host", b"127.0.0.1:8001"),
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            *((name.encode(), value.encode()) for name, value in signature_headers.items()),
        ]
        scope: Scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "POST",
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "root_path": "",
            "query_string": b"",
            "headers": headers,
            "server": ("127.0.0.1", 8001),
            "client": ("127.0.0.1", 40000),
        }
        requests.append((scope, body))
    return requests


async def time_requests(app: Any, requests: list[tuple[Scope, bytes]]) -> float:
    """Microseconds per request through `app`; every answer must be a 202."""
    statuses: list[int] = []

    async def send(message: Message) -> None:
        if message["type"] == "http.response.start":
            statuses.append(message["status"])

    started = time.perf_counter()
    for scope, body in requests:
        message = {"type": "http.request", "body": body, "more_body": False}

        async def receive(message: Message = message) -> Message:
            return message

        await app(dict(scope), receive, send)
    elapsed = time.perf_counter() - started
    if set(statuses) != {202}:
        raise RuntimeError(f"not every request was accepted: {sorted(set(statuses))}")
    return elapsed / len(requests) * 1e6


async def measure(count: int, repeats: int) -> dict[str, Any]:
    settings = RouterSettings(webhook_secrets={"generic": [GENERIC_SECRET]})
    app = app_with_noop(settings)
    runtime = DoorRuntime()
    app.state.runtime = runtime
    runs: dict[str, list[float]] = {"noop": [], "webhook": []}
    for _ in range(repeats):
        for arm, path in (("noop", NOOP_PATH), ("webhook", WEBHOOK_PATH)):
            runs[arm].append(await time_requests(app, signed_scopes(path, count)))
    if runtime.request_publisher.records != count * repeats:
        raise RuntimeError("the webhook arm did not publish one record a request")
    noop, webhook = min(runs["noop"]), min(runs["webhook"])
    return {
        "requests": count,
        "repeats": repeats,
        "noop_us": round(noop, 1),
        "webhook_us": round(webhook, 1),
        "door_us": round(webhook - noop, 1),
        "ratio": round(noop / webhook, 3),
        "runs_us": {arm: [round(run, 1) for run in values] for arm, values in runs.items()},
    }


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.door", description=__doc__)
    parser.add_argument("--requests", type=int, default=4000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args()
    figures = asyncio.run(measure(args.requests, args.repeats))
    print(
        f"in-process, min of {args.repeats} runs of {args.requests} requests: "
        f"no-op {figures['noop_us']} us, webhook {figures['webhook_us']} us "
        f"(the door's own {figures['door_us']} us), no-op/webhook {figures['ratio']}"
    )
    args.output.write_text(json.dumps(figures, indent=2) + "\n")
    print(f"written to {args.output}")


if __name__ == "__main__":
    main()
