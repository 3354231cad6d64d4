#!/bin/sh
# Creates (once) and upgrades the PostgreSQL databases of the Temporal server: the persistence store and the SQL
# visibility store, with the SQL tool and schema of the server's own release. Safe to run again: it only applies
# versions the databases do not have yet, so it is also the upgrade step before starting a newer server.
# Used by docker-compose.temporal.yml (admin-tools image) and by `npm run test:cluster` (natively built tool).
# Environment: SQL_TOOL (temporal-sql-tool), SCHEMA_DIR (/etc/temporal/schema/postgresql/v12), SQL_HOST,
# SQL_PORT, SQL_USER, SQL_PASSWORD (read by the SQL tool itself), DBNAME (temporal), VISIBILITY_DBNAME
# (temporal_visibility).
set -eu
tool="${SQL_TOOL:-temporal-sql-tool}"
schema="${SCHEMA_DIR:-/etc/temporal/schema/postgresql/v12}"
for pair in "${DBNAME:-temporal}:temporal" "${VISIBILITY_DBNAME:-temporal_visibility}:visibility"; do
  db="${pair%%:*}"
  dir="$schema/${pair#*:}/versioned"
  "$tool" --plugin postgres12 --db "$db" create-database 2>/dev/null || echo "database $db exists"
  # Version 0.0 marks an empty database as managed; update-schema then applies every versioned step.
  "$tool" --plugin postgres12 --db "$db" setup-schema -v 0.0 2>/dev/null || echo "database $db is already versioned"
  "$tool" --plugin postgres12 --db "$db" update-schema -d "$dir"
done
