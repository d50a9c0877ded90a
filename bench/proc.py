"""Child processes of the bench: started with this interpreter from the repository root,
frozen (SIGSTOP) while a backlog is produced, resumed (SIGCONT) to start the clock."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from pathlib import Path

import httpx

from baton_runtime.devstack.services import log_tail

REPO_ROOT = Path(__file__).resolve().parent.parent


def spawn(
    args: list[str],
    log_file: Path,
    env: Mapping[str, str] | None = None,
    stdout: int | None = None,
    stdin: int | None = None,
) -> subprocess.Popen[bytes]:
    """`python <args>` in its own session, stderr (and stdout unless piped) to `log_file`."""
    log = open(log_file, "ab")  # noqa: SIM115 - the child keeps it; closed in `stop`
    return subprocess.Popen(
        [sys.executable, *args],
        cwd=REPO_ROOT,
        env={**os.environ, **(env or {})},
        stdin=stdin,
        stdout=stdout if stdout is not None else log,
        stderr=log,
        start_new_session=True,
    )


def cpu_seconds(pid: int) -> float | None:
    """CPU time (user and system) process `pid` has used so far; None where there is no
    /proc to read it from (or the process is gone)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rpartition(")")[2].split()  # the name may hold spaces
    except OSError:
        return None
    utime, stime = int(fields[11]), int(fields[12])  # fields 14 and 15 of proc(5)
    return (utime + stime) / os.sysconf("SC_CLK_TCK")


def stop(process: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    """SIGTERM (uvicorn shuts down gracefully), SIGKILL if it does not exit in time."""
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(process.pid, signal.SIGCONT)  # a frozen process cannot handle SIGTERM
        process.terminate()
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextlib.contextmanager
def running(
    args: list[str], log_file: Path, env: Mapping[str, str]
) -> Iterator[subprocess.Popen[bytes]]:
    process = spawn(args, log_file, env)
    try:
        yield process
    finally:
        stop(process)


def freeze(process: subprocess.Popen[bytes]) -> None:
    os.kill(process.pid, signal.SIGSTOP)


def resume(process: subprocess.Popen[bytes]) -> float:
    """SIGCONT; returns the wall-clock time it was sent (the start of a measurement)."""
    started = time.time()
    os.kill(process.pid, signal.SIGCONT)
    return started


async def wait_ready(
    process: subprocess.Popen[bytes], base_url: str, log_file: Path, timeout: float = 60.0
) -> None:
    """Until GET /readyz answers 200 (database, broker and consumer group all fine)."""
    deadline = time.monotonic() + timeout
    last = "no answer"
    async with httpx.AsyncClient(base_url=base_url, timeout=2.0) as client:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"server exited ({process.returncode}): {log_tail(log_file)}")
            try:
                answer = await client.get("/readyz")
                if answer.status_code == 200:
                    return
                last = answer.text
            except httpx.HTTPError as exc:
                last = repr(exc)
            await asyncio.sleep(0.1)
    raise TimeoutError(f"server not ready after {timeout:.0f}s: {last}; log: {log_tail(log_file)}")
