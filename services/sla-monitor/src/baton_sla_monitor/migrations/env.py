from baton_runtime.migrations import run_alembic_env
from baton_sla_monitor.db.tables import metadata

run_alembic_env(metadata)
