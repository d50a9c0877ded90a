"""The three Baton services as child processes: `make run`, and tests that need real processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx


@dataclass(frozen=True)
class ServiceDef:
    name: str
    module: str
    env_prefix: str
    port: int


SERVICES = (
    ServiceDef("router", "baton_router", "ROUTER_", 8001),
    ServiceDef("sla-monitor", "baton_sla_monitor", "SLA_MONITOR_", 8002),
    ServiceDef("feedback", "baton_feedback", "FEEDBACK_", 8003),
)


def service_env(
    service: ServiceDef,
    *,
    database_url: str | None,
    bootstrap: str,
    extra: dict[str, str] | None = None,
) -> dict[str, str]:
    env = dict(os.environ)
    env["BATON_KAFKA_BOOTSTRAP"] = bootstrap
    if database_url:
        env.setdefault(f"{service.env_prefix}DATABASE_URL", database_url)
    env.setdefault(f"{service.env_prefix}HTTP_PORT", str(service.port))
    env.update(extra or {})
    return env


def log_tail(log_file: Path, size: int = 3000) -> str:
    """The end of a child process's log, for an error message that says why it failed."""
    try:
        return log_file.read_text(errors="replace")[-size:]
    except OSError:
        return "(no log)"


def migrate(service: ServiceDef, env: dict[str, str]) -> None:
    result = subprocess.run(
        [sys.executable, "-m", service.module, "migrate"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"{service.name} migrate failed:\n{result.stderr[-3000:]}")


@dataclass
class ServiceProcess:
    service: ServiceDef
    env: dict[str, str]
    log_file: Path | None = None
    process: subprocess.Popen[bytes] | None = field(default=None, init=False)

    @property
    def port(self) -> int:
        return int(self.env[f"{self.service.env_prefix}HTTP_PORT"])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        out = open(self.log_file, "ab") if self.log_file else None  # noqa: SIM115
        self.process = subprocess.Popen(
            [sys.executable, "-m", self.service.module, "serve"],
            env=self.env,
            stdout=out,
            stderr=subprocess.STDOUT if out else None,
        )

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        last = "no answer"
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(
                    f"{self.service.name} exited with code {self.process.returncode}"
                    + (f"; its log ends:\n{log_tail(self.log_file)}" if self.log_file else "")
                )
            try:
                answer = httpx.get(f"{self.url}/readyz", timeout=2.0)
                if answer.status_code == 200:
                    return
                last = answer.text
            except httpx.HTTPError as exc:
                last = repr(exc)
            time.sleep(0.2)
        raise TimeoutError(f"{self.service.name} not ready after {timeout:.0f}s: {last}")

    def kill(self) -> None:
        """SIGKILL: no clean shutdown, as in a crash."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()

    def stop(self, timeout: float = 30.0) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
