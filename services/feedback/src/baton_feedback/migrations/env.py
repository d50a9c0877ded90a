from baton_feedback.db.tables import metadata
from baton_runtime.migrations import run_alembic_env

run_alembic_env(metadata)
