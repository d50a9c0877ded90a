from baton_runtime.migrations import run_alembic_env

from baton_feedback.db.tables import metadata

run_alembic_env(metadata)
