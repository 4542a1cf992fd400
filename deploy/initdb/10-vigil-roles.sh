#!/usr/bin/env bash
# First start of the PostgreSQL container of docker-compose.prod.yml only (the postgres image
# runs /docker-entrypoint-initdb.d/* once, on an empty data directory): the two roles of
# docs/operations.md, "The audit table is append-only" — vigil_owner owns the database and runs
# the migrations, vigil_app is what web, worker, sweeper and beat connect as.
set -euo pipefail
: "${VIGIL_OWNER_PASSWORD:?set VIGIL_OWNER_PASSWORD}"
: "${VIGIL_APP_PASSWORD:?set VIGIL_APP_PASSWORD}"
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
    -v owner_pw="$VIGIL_OWNER_PASSWORD" -v app_pw="$VIGIL_APP_PASSWORD" <<'SQL'
CREATE ROLE vigil_owner LOGIN PASSWORD :'owner_pw';
CREATE ROLE vigil_app LOGIN PASSWORD :'app_pw';
CREATE DATABASE vigil OWNER vigil_owner;
\c vigil
GRANT USAGE ON SCHEMA public TO vigil_app;
ALTER DEFAULT PRIVILEGES FOR ROLE vigil_owner IN SCHEMA public
    GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO vigil_app;
ALTER DEFAULT PRIVILEGES FOR ROLE vigil_owner IN SCHEMA public
    GRANT USAGE, SELECT ON SEQUENCES TO vigil_app;
SQL
