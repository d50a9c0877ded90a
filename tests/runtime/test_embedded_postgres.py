"""The embedded PostgreSQL behind `make run` comes back after its server was killed: a pid
file left behind (whose PID another process may have taken since) is not a running server."""

from __future__ import annotations

import os
import shutil
import signal
import tempfile
import time
from pathlib import Path

from baton_runtime.devstack.ports import free_port, port_in_use
from baton_runtime.devstack.postgres import EmbeddedPostgres


def test_a_killed_server_and_a_stale_pid_file_do_not_stop_the_next_start() -> None:
    root = Path(tempfile.mkdtemp(prefix="baton-pg-"))
    postgres = EmbeddedPostgres(root / "data", free_port())
    pid_file = postgres.data_dir / "postmaster.pid"
    try:
        postgres.start()
        assert postgres.is_running()

        os.kill(int(pid_file.read_text().split()[0]), signal.SIGKILL)
        deadline = time.monotonic() + 10
        while port_in_use(postgres.port) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert pid_file.exists() and not postgres.is_running()
        postgres.start()  # its orphaned backends exit once they see the postmaster gone
        assert postgres.is_running()

        postgres.stop()
        pid_file.write_text(f"{os.getpid()}\n{postgres.data_dir}\n")  # a live, foreign PID
        assert not postgres.is_running()
        postgres.start()
        assert postgres.is_running() and port_in_use(postgres.port)
    finally:
        postgres.destroy()
        shutil.rmtree(root, ignore_errors=True)
