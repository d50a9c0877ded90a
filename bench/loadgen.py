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
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import uvloop
from standardwebhooks import Webhook

from baton_runtime.devstack.services import log_tail
from bench import proc
from bench.gcpause import collector_paused
from bench.records import signed_lead


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
    server_pid: int = 0
    """The server's process, whose CPU time over the measured requests is reported (0: none)."""


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
    cpu_seconds: float = 0.0
    """The load generator's own CPU time while it sent the measured requests."""
    server_cpu_seconds: float | None = None
    """The server's CPU time over the same requests (`LoadSpec.server_pid`), when known."""

    @property
    def per_second(self) -> float:
        return self.sent / self.seconds if self.seconds else 0.0

    @property
    def server_cpu_us(self) -> float | None:
        """The server's CPU time per measured request, in microseconds, when measured."""
        if self.server_cpu_seconds is None or not self.sent:
            return None
        return self.server_cpu_seconds / self.sent * 1e6

    @property
    def server_busy(self) -> float | None:
        """The share of one core the server used while the measured requests ran."""
        if self.server_cpu_seconds is None or not self.seconds:
            return None
        return self.server_cpu_seconds / self.seconds


def build_requests(spec: LoadSpec, run: str, count: int) -> list[bytes]:
    webhook = Webhook(spec.secret)
    now = datetime.now(UTC)
    requests = []
    for index in range(count):
        body, signature_headers = signed_lead(webhook, run, index, now)
        head = (
            f"POST {spec.path} HTTP/1.1\r\n"
            f"Host: {spec.host}:{spec.port}\r\n"
            "Content-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n"
            + "".join(f"{name}: {value}\r\n" for name, value in signature_headers.items())
            + "\r\n"
        )
        requests.append(head.encode() + body)
    return requests


class Connection(asyncio.Protocol):
    """One keep-alive HTTP/1.1 connection, one request at a time. The answer is read in
    `data_received` and handed to the request's callback there: no task, stream reader or
    future per request. The client shares two cores with what it measures, so every
    microsecond it spends is taken from the server (with streams and a task per request
    it cost ~0.11 ms of CPU a request)."""

    def __init__(self) -> None:
        self._transport: asyncio.Transport | None = None
        self._buffer = b""
        self._on_answer: Callable[[Connection, int, bytes], None] | None = None
        self.closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    @classmethod
    async def open(cls, host: str, port: int) -> Connection:
        loop = asyncio.get_running_loop()
        _, connection = await loop.create_connection(cls, host, port)
        return connection

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    def send(self, request: bytes, on_answer: Callable[[Connection, int, bytes], None]) -> None:
        assert self._transport is not None
        self._on_answer = on_answer
        self._transport.write(request)

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        head_end = self._buffer.find(b"\r\n\r\n")
        if head_end < 0:
            return
        head = self._buffer[:head_end]
        length = _content_length(head)
        answer_end = head_end + 4 + length
        if len(self._buffer) < answer_end:
            return
        body = self._buffer[head_end + 4 : answer_end]
        self._buffer = self._buffer[answer_end:]
        on_answer, self._on_answer = self._on_answer, None
        if on_answer is not None:
            on_answer(self, int(head[9:12]), body)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closed.done():
            self.closed.set_result(None)
        on_answer, self._on_answer = self._on_answer, None
        if on_answer is not None:
            on_answer(self, LOST, repr(exc).encode())

    async def close(self) -> None:
        assert self._transport is not None
        self._transport.close()
        await self.closed


LOST = -1
"""The status an answer callback gets when the connection closed before the answer."""


def _content_length(head: bytes) -> int:
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value)
    return 0


class _Tally:
    """What the answers said, as they arrive; `done` once `expected` have."""

    def __init__(self, result: LoadResult, expected: int, answers: bool) -> None:
        self.result = result
        self.statuses: Counter[int] = Counter()
        self.answers = answers
        self.expected = expected
        self.done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if expected == 0:
            self.done.set_result(None)

    def note(self, sent: float, status: int, body: bytes) -> None:
        if status == LOST:
            if not self.done.done():
                self.done.set_exception(
                    ConnectionError(f"the server closed a connection mid-request: {body.decode()}")
                )
            return
        answered = time.monotonic()
        self.result.client_ms.append((answered - sent) * 1000)
        self.statuses[status] += 1
        if self.answers and status == 202:
            note_answer(self.result, body, answered)
        if len(self.result.client_ms) == self.expected and not self.done.done():
            self.done.set_result(None)

    def finish(self, started: float, sent: int) -> None:
        self.result.seconds = time.monotonic() - started
        self.result.sent = sent
        self.result.accepted = self.statuses[202]
        self.result.statuses = {str(code): n for code, n in sorted(self.statuses.items())}


async def burst(
    connections: list[Connection],
    requests: list[bytes],
    result: LoadResult,
    answers: bool = False,
) -> None:
    """Each connection sends its next request as soon as its previous one is answered."""
    tally = _Tally(result, len(requests), answers)
    queue = iter(requests)

    def send_next(connection: Connection) -> None:
        request = next(queue, None)
        if request is None:
            return
        sent = time.monotonic()

        def on_answer(connection: Connection, status: int, body: bytes) -> None:
            tally.note(sent, status, body)
            send_next(connection)

        connection.send(request, on_answer)

    result.started = started = time.monotonic()
    for connection in connections:
        send_next(connection)
    await tally.done
    tally.finish(started, len(requests))


def note_answer(result: LoadResult, body: bytes, answered: float) -> None:
    result.answered.extend((event_id, answered) for event_id in json.loads(body)["event_ids"])


async def paced(
    connections: list[Connection], requests: list[bytes], rate: float, result: LoadResult
) -> None:
    """Request i leaves at `i / rate` (open loop) on an idle connection; when every one is
    busy it waits for the next answer, and `max_behind_ms` says how late that made it."""
    tally = _Tally(result, len(requests), answers=True)
    # First in, first out: no connection idles into the server's keep-alive timeout.
    idle = deque(connections)
    freed = asyncio.Event()

    def on_answer_at(sent: float) -> Callable[[Connection, int, bytes], None]:
        def on_answer(connection: Connection, status: int, body: bytes) -> None:
            tally.note(sent, status, body)
            idle.append(connection)
            freed.set()

        return on_answer

    result.started = started = time.monotonic()
    for index, request in enumerate(requests):
        due = started + index / rate
        delay = due - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        while not idle:
            freed.clear()
            await freed.wait()
        now = time.monotonic()
        result.max_behind_ms = max(result.max_behind_ms, (now - due) * 1000)
        idle.popleft().send(request, on_answer_at(now))
    await tally.done
    tally.finish(started, len(requests))


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
            server_started = proc.cpu_seconds(spec.server_pid) if spec.server_pid else None
            cpu_started = time.process_time()
            if spec.rate > 0:
                await paced(connections, requests, spec.rate, result)
            else:
                await burst(connections, requests, result, spec.answers)
            result.cpu_seconds = time.process_time() - cpu_started
            server_ended = proc.cpu_seconds(spec.server_pid) if spec.server_pid else None
            if server_started is not None and server_ended is not None:
                result.server_cpu_seconds = server_ended - server_started
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
        raise RuntimeError(f"load generator failed ({process.returncode}): {log_tail(log_file)}")
    return parse_result(result_file.read_text())


if __name__ == "__main__":
    main()
