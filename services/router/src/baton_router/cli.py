from __future__ import annotations

import sys

from baton_router.config import RouterSettings
from baton_router.main import MIGRATIONS, create_app
from baton_runtime.cli import run_service_cli


def main(argv: list[str] | None = None) -> int:
    return run_service_cli(
        argv, settings_factory=RouterSettings, app_factory=create_app, migrations=MIGRATIONS
    )


if __name__ == "__main__":
    sys.exit(main())
