from __future__ import annotations

import sys

from baton_runtime.cli import run_service_cli
from baton_sla_monitor.config import SlaMonitorSettings
from baton_sla_monitor.main import MIGRATIONS, create_app


def main(argv: list[str] | None = None) -> int:
    return run_service_cli(
        argv, settings_factory=SlaMonitorSettings, app_factory=create_app, migrations=MIGRATIONS
    )


if __name__ == "__main__":
    sys.exit(main())
