"""The load generator, in its own process: signed generic webhooks over keep-alive
HTTP/1.1 connections on loopback, written on raw asyncio streams (an HTTP client library
would be the bottleneck before a one-worker server is).

Every request is built and signed (Standard Webhooks, the `standardwebhooks` package)
before the clock starts. Two modes:
- burst: `count` requests over `concurrency` connections, each sent when its connection
  is free; reports requests/s.
- paced: `rate` requests/s at fixed intervals (open loop, at most `concurrency` in
  flight); reports, per request, the event id and when its 202 arrived.

Run: `python -m bench.loadgen '<LoadSpec as JSON>' RESULT_FILE`; the result is written
there as JSON.
Times are `time.monotonic()`, which is system-wide on Linux, so the bench can compare
them with its own.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import uvloop
from standardwebhooks import Webhook

from bench import proc
from bench.gcpause import collector_paused
from bench.records import lead_payload


@dataclass(frozen=True)
class LoadSpec:
    host: str
    port: int
    path: str
    run: str
    secret: str
    count: int
    concurrency: int
    rate: float = 0.0  # 0: burst
    warmup: int = 0
    answers: bool = False
    """Burst mode: note each 202's event ids and when it arrived (paced mode always does)."""


@dataclass
class LoadResult:
    sent: int = 0
    accepted: int = 0
    statuses: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    warmup_accepted: int = 0
    client_ms: list[float] = field(default_factory=list)
    """Per request, from sending it to the answer."""
    answered: list[tuple[str, float]] = field(default_factory=list)
    """Paced mode: (event id, monotonic time of the 202)."""
    max_behind_ms: float = 0.0
    """Paced mode: how late the latest request left compared with its schedule."""
    started: float = 0.0
    """Monotonic time the first measured request left."""

    @property
    def per_second(self) -> float:
        return self.sent / self.seconds if self.seconds else 0.0


def build_requests(spec: LoadSpec, run: str, count: int) -> list[bytes]:
    webhook = Webhook(spec.secret)
    now = datetime.now(UTC)
    requests = []
    for index in range(count):
        body = json.dumps(lead_payload(index, run, now), separators=(",", ":")).encode()
        msg_id = f"msg_{run}_{index}"
        signature = webhook.sign(msg_id, now, body.decode())
        head = (
            f"POST {spec.path} HTTP/1.1\r\n"
            f"Host: {spec.host}:{spec.port}\r\n"
            "Content-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n"
            f"webhook-id: {msg_id}\r\n"
            f"webhook-timestamp: {int(now.timestamp())}\r\n"
            f"webhook-signature: {signature}\r\n"
            "\r\n"
        )
        requests.append(head.encode() + body)
    return requests


class Connection:
    """One keep-alive HTTP/1.1 connection; one request at a time."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer

    @classmethod
    async def open(cls, host: str, port: int) -> Connection:
        reader, writer = await asyncio.open_connection(host, port)
        return cls(reader, writer)

    async def send(self, request: bytes) -> tuple[int, bytes]:
        self._writer.write(request)
        head = await self._reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        body = await self._reader.readexactly(length) if length else b""
        return status, body

    async def close(self) -> None:
        self._writer.close()
        await self._writer.wait_closed()


async def burst(
    connections: list[Connection],
    requests: list[bytes],
    result: LoadResult,
    answers: bool = False,
) -> None:
    statuses: Counter[int] = Counter()
    queue = iter(requests)

    async def worker(connection: Connection) -> None:
        for request in queue:
            sent = time.monotonic()
            status, body = await connection.send(request)
            answered = time.monotonic()
            result.client_ms.append((answered - sent) * 1000)
            statuses[status] += 1
            if answers and status == 202:
                note_answer(result, body, answered)

    result.started = started = time.monotonic()
    await asyncio.gather(*(worker(connection) for connection in connections))
    result.seconds = time.monotonic() - started
    result.sent = len(requests)
    result.accepted = statuses[202]
    result.statuses = {str(code): n for code, n in sorted(statuses.items())}


def note_answer(result: LoadResult, body: bytes, answered: float) -> None:
    result.answered.extend((event_id, answered) for event_id in json.loads(body)["event_ids"])


async def paced(
    connections: list[Connection], requests: list[bytes], rate: float, result: LoadResult
) -> None:
    statuses: Counter[int] = Counter()
    idle: asyncio.Queue[Connection] = asyncio.Queue()
    for connection in connections:
        idle.put_nowait(connection)
    tasks: list[asyncio.Task[None]] = []

    async def one(connection: Connection, request: bytes) -> None:
        sent = time.monotonic()
        status, body = await connection.send(request)
        answered = time.monotonic()
        idle.put_nowait(connection)
        result.client_ms.append((answered - sent) * 1000)
        statuses[status] += 1
        if status == 202:
            note_answer(result, body, answered)

    result.started = started = time.monotonic()
    for index, request in enumerate(requests):
        due = started + index / rate
        delay = due - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        connection = await idle.get()
        result.max_behind_ms = max(result.max_behind_ms, (time.monotonic() - due) * 1000)
        tasks.append(asyncio.create_task(one(connection, request)))
    await asyncio.gather(*tasks)
    result.seconds = time.monotonic() - started
    result.sent = len(requests)
    result.accepted = statuses[202]
    result.statuses = {str(code): n for code, n in sorted(statuses.items())}


async def generate(spec: LoadSpec) -> LoadResult:
    result = LoadResult()
    warmup = build_requests(spec, f"{spec.run}w", spec.warmup)
    requests = build_requests(spec, spec.run, spec.count)
    connections = [await Connection.open(spec.host, spec.port) for _ in range(spec.concurrency)]
    try:
        if warmup:
            warm = LoadResult()
            await burst(connections, warmup, warm)
            result.warmup_accepted = warm.accepted
        with collector_paused():
            if spec.rate > 0:
                await paced(connections, requests, spec.rate, result)
            else:
                await burst(connections, requests, result, spec.answers)
    finally:
        for connection in connections:
            await connection.close()
    return result


def main() -> None:
    spec = LoadSpec(**json.loads(sys.argv[1]))
    # uvloop: the client shares the machine with what it measures, so it should take as
    # little of it as it can. The result goes to a file: under uvloop a large line written
    # to a stdout pipe arrived cut at 64 KB.
    result = uvloop.run(generate(spec))
    Path(sys.argv[2]).write_text(json.dumps(asdict(result)))


def parse_result(output: str) -> LoadResult:
    fields: dict[str, Any] = json.loads(output)
    fields["answered"] = [tuple(item) for item in fields["answered"]]
    return LoadResult(**fields)


async def run_load(spec: LoadSpec, log_file: Path) -> LoadResult:
    """Run the load generator in its own process and return what it measured."""
    result_file = log_file.with_suffix(".result.json")
    result_file.unlink(missing_ok=True)
    process = proc.spawn(
        ["-m", "bench.loadgen", json.dumps(asdict(spec)), str(result_file)], log_file
    )
    try:
        await asyncio.to_thread(process.wait, 900)
    finally:
        proc.stop(process)
    if process.returncode != 0:
        raise RuntimeError(f"load generator failed ({process.returncode}): {proc.tail(log_file)}")
    return parse_result(result_file.read_text())


if __name__ == "__main__":
    main()
