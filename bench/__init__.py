"""Baton's benchmark on the embedded stack (embedded PostgreSQL + Tansu broker, started
fresh for the run): `make bench` (full) or `make bench-quick` (about a minute), i.e.
`python -m bench [--quick] [--output PATH]` from the repository root (bench/ is not a
workspace package). Prints a table and writes bench/results/latest.json.

(a) passthrough.py  bare aiokafka consume -> json.loads/json.dumps -> produce -> commit
(b) router_run.py   `python -m baton_router serve` routing the same captured leads, with
                    every database effect (inbox, leads, assignments, outbox) and the relay
(c) intake.py       POST /webhooks/generic vs a no-op POST on the same app and worker
                    (serve.py), driven by loadgen.py in its own process
(d) latency.py      webhook 202 -> assignment readable, at half of the path's own maximum
                    (each measured on a fresh router and topics; suite.py)

No phase pays for the ones before it: each starts with a CHECKPOINT and, when done,
deletes its topics and drops its schema (stack.py), so neither the broker's memory nor
autovacuum nor the checkpointer works on an earlier phase's data during a later one.

(a) and (b) run in their own processes, joined to their consumer group, then frozen
(SIGSTOP) while the records are produced; the clock runs from SIGCONT to the create
timestamp of the last record they produced.

Embedded broker facts the bench works around: ListOffsets(latest) answers the base offset
of a partition's last batch (not the end), and a pending fetch is not answered when
records arrive: with aiokafka's default fetch_max_wait_ms (500) a new record waits about
130 ms on average (up to ~250 ms) before a consumer gets it, with 10 ms about 4 ms.
"""
