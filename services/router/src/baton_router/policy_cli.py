"""`baton`: the command line for people who own the policy.

baton policy check FILE [FILE...]   validate policy files (exit 1 if any is invalid)
baton policy default                print the policy shipped with the router
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import TextIO

from baton_router.domain.policy.loader import (
    PolicyError,
    default_policy_text,
    load_policy_file,
)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="baton", description="Baton lead routing tools")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    policy = commands.add_parser("policy", help="work with routing policy documents")
    policy_commands = policy.add_subparsers(dest="policy_command", required=True, metavar="COMMAND")
    check = policy_commands.add_parser(
        "check", help="validate policy files; errors name the line and field"
    )
    check.add_argument("files", nargs="+", metavar="FILE", help="policy YAML file")
    policy_commands.add_parser("default", help="print the policy shipped with the router")
    return parser


def check_files(files: Sequence[str], out: TextIO) -> int:
    failed = False
    for name in files:
        try:
            policy = load_policy_file(name)
        except PolicyError as exc:
            failed = True
            for problem in exc.problems:
                print(problem, file=out)
            count = len(exc.problems)
            print(f"{name}: invalid ({count} problem{'s' if count != 1 else ''})", file=out)
            continue
        print(
            f"{name}: ok (version {policy.version}, {len(policy.scoring.fit)} fit rules, "
            f"{len(policy.tiers)} tiers, {len(policy.routing.rules)} routing rules)",
            file=out,
        )
    return 1 if failed else 0


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "policy" and args.policy_command == "check":
        return check_files(args.files, sys.stdout)
    if args.command == "policy" and args.policy_command == "default":
        sys.stdout.write(default_policy_text())
        return 0
    return 2  # pragma: no cover - argparse rejects unknown commands


if __name__ == "__main__":
    sys.exit(main())
