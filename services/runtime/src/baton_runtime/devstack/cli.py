"""`make run`: the whole of Baton on one machine.

Starts an embedded PostgreSQL and the embedded Kafka-protocol broker on loopback (unless
BATON_KAFKA_BOOTSTRAP / *_DATABASE_URL point elsewhere), creates the topics, migrates,
starts the three services, prints their URLs and a sample request, and stops it all on Ctrl-C.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
import time
from pathlib import Path

from baton_runtime.devstack.broker import EmbeddedBroker
from baton_runtime.devstack.demo import DevSecrets, curl_command, seed_demo_roster
from baton_runtime.devstack.ports import port_in_use
from baton_runtime.devstack.postgres import EmbeddedPostgres
from baton_runtime.devstack.services import SERVICES, ServiceProcess, migrate, service_env
from baton_runtime.devstack.topics import create_topics
from baton_schemas import Topics


def _fail(message: str) -> int:
    print(f"baton: {message}", file=sys.stderr)
    return 2


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="baton-devstack", description=__doc__)
    parser.add_argument("--data-dir", default=".baton", type=Path)
    parser.add_argument(
        "--pg-port", default=int(os.environ.get("BATON_PG_PORT", "54329")), type=int
    )
    parser.add_argument("--kafka-port", default=9092, type=int)
    args = parser.parse_args(argv)
    data_dir: Path = args.data_dir.resolve()
    logs = data_dir / "logs"
    logs.mkdir(parents=True, exist_ok=True)

    busy = [
        s for s in SERVICES if port_in_use(int(os.environ.get(f"{s.env_prefix}HTTP_PORT", s.port)))
    ]
    if busy:
        names = ", ".join(f"{s.name} :{s.port}" for s in busy)
        return _fail(f"port already taken ({names}). Is Baton already running? Stop it first.")

    bootstrap = os.environ.get("BATON_KAFKA_BOOTSTRAP")
    broker: EmbeddedBroker | None = None
    if not bootstrap:
        if port_in_use(args.kafka_port):
            return _fail(
                f"port {args.kafka_port} is taken; set BATON_KAFKA_BOOTSTRAP to use that broker"
            )
        broker = EmbeddedBroker(args.kafka_port, log_file=logs / "broker.log")
        broker.start()
        bootstrap = broker.bootstrap
        print(f"embedded Kafka-protocol broker (Tansu) on {bootstrap}")

    external_db = all(os.environ.get(f"{s.env_prefix}DATABASE_URL") for s in SERVICES)
    postgres: EmbeddedPostgres | None = None
    database_url = None
    if not external_db:
        postgres = EmbeddedPostgres(data_dir / "pgdata", args.pg_port)
        if port_in_use(args.pg_port) and not postgres.is_running():
            if broker:
                broker.stop()
            return _fail(
                f"port {args.pg_port} is taken; set BATON_PG_PORT or the *_DATABASE_URL variables"
            )
        if not postgres.is_running():
            postgres.start()
        database_url = postgres.url
        print(f"embedded PostgreSQL on 127.0.0.1:{args.pg_port} (data in {postgres.data_dir})")

    dev = DevSecrets.load_or_create(data_dir)
    processes: list[ServiceProcess] = []
    try:
        started = time.monotonic()
        asyncio.run(
            create_topics(bootstrap, Topics(os.environ.get("BATON_TOPIC_PREFIX", "")).all_for())
        )
        for service in SERVICES:
            extra = dev.env_for(service.name)
            for name in list(extra):
                if name in os.environ:  # the operator's own secrets and keys win
                    del extra[name]
            env = service_env(service, database_url=database_url, bootstrap=bootstrap, extra=extra)
            migrate(service, env)
            process = ServiceProcess(service, env, log_file=logs / f"{service.name}.log")
            process.start()
            processes.append(process)
        for process in processes:
            process.wait_ready()
        print(f"\nBaton is ready in {time.monotonic() - started:.1f}s. Logs in {logs}/")
        for process in processes:
            print(f"  {process.service.name:<12} {process.url}   (/readyz, /metrics, /docs)")
        router = processes[0].url
        if seed_demo_roster(router, dev.api_key):
            print("\nSeeded a demo roster (6 reps, 5 pools) for the shipped policy.")
        print(
            f"\nAPI key (Bearer) for the admin and /sla APIs: {dev.api_key}   (in {data_dir}/dev-secrets.json)"
        )
        print(
            "\nPost a sample lead (signed with Standard Webhooks; the signature is valid 5 minutes):\n"
        )
        print(curl_command(router, dev.webhook_secret))
        print("\nor run `make lead` in another terminal to post one and print the decision.\n")
        print("Ctrl-C stops everything.")
        _wait_for_signal(processes)
    except KeyboardInterrupt:
        pass
    except (RuntimeError, TimeoutError) as exc:
        print(f"baton: {exc}", file=sys.stderr)
        return 1
    finally:
        print("\nstopping…")
        for process in processes:
            process.stop()
        if broker:
            broker.stop()
        if postgres:
            postgres.stop()
    return 0


def _wait_for_signal(processes: list[ServiceProcess]) -> None:
    def interrupt(*_: object) -> None:
        raise KeyboardInterrupt

    # Installed explicitly: a launcher started in the background inherits SIGINT ignored.
    signal.signal(signal.SIGINT, interrupt)
    signal.signal(signal.SIGTERM, interrupt)
    while True:
        for process in processes:
            if process.process is not None and process.process.poll() is not None:
                raise RuntimeError(
                    f"{process.service.name} exited (code {process.process.returncode}); see its log"
                )
        time.sleep(0.5)


if __name__ == "__main__":
    sys.exit(main())
