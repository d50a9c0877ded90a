"""`python -m bench [--quick] [--output PATH]`: run the bench on a fresh embedded stack,
print the table, write the figures as JSON (default bench/results/latest.json)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import warnings
from pathlib import Path

from bench import report
from bench.stack import embedded_stack
from bench.suite import BenchParams, cpu_busy, run_bench


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="short run (~2,000 records)")
    parser.add_argument("--output", type=Path, default=report.RESULTS)
    args = parser.parse_args()
    warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")
    logging.basicConfig(level=logging.WARNING)

    params = BenchParams.quick() if args.quick else BenchParams()
    busy = cpu_busy()
    print(f"CPU busy before start: {busy:.0%}; starting the embedded stack", flush=True)
    with embedded_stack() as stack:
        results = asyncio.run(run_bench(stack, params))
    results.busy_before = busy
    figures = report.summary(results, quick=args.quick)
    print(report.table(figures))
    print(f"\nwritten to {report.write(figures, args.output)}")


if __name__ == "__main__":
    main()
