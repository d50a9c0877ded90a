#!/bin/sh
# Runs once, on the first start of the compose stack's PostgreSQL (docker-entrypoint-initdb.d):
# one database `baton`, and per service a login role that owns the service's schema. Each
# service migrates and works only in its own schema (its search_path); none can read
# another's tables. CREATE on the database lets a service's migration run its
# `CREATE SCHEMA IF NOT EXISTS`.
set -eu

psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
  -v router_password="$ROUTER_DB_PASSWORD" \
  -v sla_monitor_password="$SLA_MONITOR_DB_PASSWORD" \
  -v feedback_password="$FEEDBACK_DB_PASSWORD" <<'SQL'
CREATE ROLE router LOGIN PASSWORD :'router_password';
CREATE ROLE sla_monitor LOGIN PASSWORD :'sla_monitor_password';
CREATE ROLE feedback LOGIN PASSWORD :'feedback_password';
REVOKE ALL ON SCHEMA public FROM PUBLIC;
GRANT CREATE, CONNECT ON DATABASE baton TO router, sla_monitor, feedback;
CREATE SCHEMA router AUTHORIZATION router;
CREATE SCHEMA sla_monitor AUTHORIZATION sla_monitor;
CREATE SCHEMA feedback AUTHORIZATION feedback;
SQL
