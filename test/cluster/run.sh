#!/usr/bin/env bash
# `npm run test:cluster`: the session suite against a real multi-service Temporal server, not the dev server.
# The topology of docker-compose.temporal.yml, natively (no container registry is reachable on these machines):
#   - the Temporal server and its SQL tool, built from the Go module proxy at TEMPORAL_SERVER_VERSION, cached under
#     $STATION_CACHE_DIR/temporal-server-v<version>/ (default ~/.cache/station-coding) so a machine builds it once;
#   - Debian's PostgreSQL 15 in a throw-away data directory on 127.0.0.1, schema set up by
#     deploy/temporal/setup-schema.sh with the release's own schema/postgresql/v12;
#   - the server started with deploy/temporal/config.yaml (the file compose mounts), namespace and search
#     attributes registered by deploy/temporal/setup-namespace.sh;
#   - the suite run with TWO workers of different worker_ids, and the mTLS test (its own server, same config).
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT="$PWD"

TEMPORAL_SERVER_VERSION=1.32.2
GO_TOOLCHAIN=go1.26.10
PG_BIN="${PG_BIN:-/usr/lib/postgresql/15/bin}"
CACHE="${STATION_CACHE_DIR:-$HOME/.cache/station-coding}/temporal-server-v$TEMPORAL_SERVER_VERSION"
SPECS="${*:-dist/test/session.test.js dist/test/foreign-clients.test.js dist/test/cluster/*.cluster-test.js}"

log() { echo "test:cluster: $*" >&2; }

# --- what the tests drive (PostgreSQL, Go, the Python SDK's environment, ...): test/support/setup.ts ----------
[ -f dist/test/support/setup.js ] || npm run build
node dist/test/support/setup.js --cluster

# --- the server binary, built once per version --------------------------------------------------------------
if [ ! -x "$CACHE/bin/server" ] || [ ! -x "$CACHE/bin/sql" ] || [ ! -d "$CACHE/schema/postgresql/v12" ]; then
  command -v go >/dev/null || { log "go is needed to build the Temporal server (apt-get install golang, or https://go.dev/dl)"; exit 1; }
  log "building the Temporal server v$TEMPORAL_SERVER_VERSION into $CACHE (8-17 minutes on 2 cores, once per version)"
  mkdir -p "$CACHE/bin"
  GOTOOLCHAIN=$GO_TOOLCHAIN GOBIN="$CACHE/bin" go install "go.temporal.io/server/cmd/server@v$TEMPORAL_SERVER_VERSION"
  GOTOOLCHAIN=$GO_TOOLCHAIN GOBIN="$CACHE/bin" go install "go.temporal.io/server/cmd/tools/sql@v$TEMPORAL_SERVER_VERSION"
  module="$(GOTOOLCHAIN=$GO_TOOLCHAIN go env GOMODCACHE)/go.temporal.io/server@v$TEMPORAL_SERVER_VERSION"
  mkdir -p "$CACHE/schema/postgresql"
  cp -r "$module/schema/postgresql/v12" "$CACHE/schema/postgresql/"
  chmod -R u+w "$CACHE/schema"
fi
[ -x "$PG_BIN/initdb" ] || { log "PostgreSQL 15 is needed: apt-get install -y postgresql"; exit 1; }

# --- a throw-away PostgreSQL on 127.0.0.1 ---------------------------------------------------------------------
free_port() {
  python3 - <<'PY'
import random, socket
while True:
    port = random.randint(20000, 32000)  # below the ephemeral range, like test/support/temporal-server.ts
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", port)); s.close(); print(port); break
    except OSError:
        s.close()
PY
}
WORK="$(mktemp -d /tmp/station-cluster-XXXXXX)"
chmod 755 "$WORK"
PIDS=()
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
cleanup() {
  local rc=$?
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  [ -d "$WORK/pg" ] && as_pg "$PG_BIN/pg_ctl" -D "$WORK/pg" -m fast -w stop >/dev/null 2>&1 || true
  if [ $rc -ne 0 ] && [ -z "${SUITE_RAN:-}" ] && [ -f "$WORK/server.log" ]; then log "server log (tail):"; tail -n 30 "$WORK/server.log" >&2 || true; fi
  rm -rf "$WORK"
  exit $rc
}
trap cleanup EXIT INT TERM

PG_PORT="$(free_port)"
PG_PASSWORD="pw-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
mkdir -p "$WORK/pg"
[ "$(id -u)" = 0 ] && chown postgres:postgres "$WORK/pg"
as_pg "$PG_BIN/initdb" -D "$WORK/pg" -U postgres --auth-local=trust --auth-host=scram-sha-256 >"$WORK/initdb.log"
as_pg "$PG_BIN/pg_ctl" -D "$WORK/pg" -w -l "$WORK/pg/postgres.log" \
  -o "-c listen_addresses=127.0.0.1 -c port=$PG_PORT -c unix_socket_directories=$WORK/pg -c max_connections=200" start >/dev/null
as_pg "$PG_BIN/psql" -h "$WORK/pg" -p "$PG_PORT" -U postgres -q -v ON_ERROR_STOP=1 \
  -c "CREATE ROLE temporal LOGIN CREATEDB PASSWORD '$PG_PASSWORD'"
log "PostgreSQL $("$PG_BIN/postgres" --version | awk '{print $3}') on 127.0.0.1:$PG_PORT"

export SQL_HOST=127.0.0.1 SQL_PORT="$PG_PORT" SQL_USER=temporal SQL_PASSWORD="$PG_PASSWORD"
export SQL_TOOL="$CACHE/bin/sql" SCHEMA_DIR="$CACHE/schema/postgresql/v12"
sh deploy/temporal/setup-schema.sh >"$WORK/schema.log" 2>&1 || { cat "$WORK/schema.log" >&2; exit 1; }

# --- the Temporal server with the shared config ---------------------------------------------------------------
export POSTGRES_SEEDS=127.0.0.1 DB_PORT="$PG_PORT" POSTGRES_USER=temporal POSTGRES_PWD="$PG_PASSWORD"
export BIND_ON_IP=127.0.0.1 DYNAMIC_CONFIG_FILE_PATH="$ROOT/deploy/temporal/dynamicconfig/station.yaml" LOG_LEVEL=warn
FRONTEND="$(free_port)"
FRONTEND_GRPC_PORT=$FRONTEND FRONTEND_HTTP_PORT="$(free_port)" HISTORY_GRPC_PORT="$(free_port)" MATCHING_GRPC_PORT="$(free_port)" \
  WORKER_GRPC_PORT="$(free_port)" FRONTEND_MEMBERSHIP_PORT="$(free_port)" HISTORY_MEMBERSHIP_PORT="$(free_port)" \
  MATCHING_MEMBERSHIP_PORT="$(free_port)" WORKER_MEMBERSHIP_PORT="$(free_port)" \
  "$CACHE/bin/server" --config-file "$ROOT/deploy/temporal/config.yaml" --allow-no-auth start >"$WORK/server.log" 2>&1 &
PIDS+=($!)
TEMPORAL_CLI="${TEMPORAL_CLI_PATH:-$(node --input-type=module -e "import { ensureTemporalCli } from '$ROOT/dist/src/client/temporal-cli.js'; console.log(ensureTemporalCli())")}"
TEMPORAL="$TEMPORAL_CLI" TEMPORAL_ADDRESS="127.0.0.1:$FRONTEND" NAMESPACE=default sh deploy/temporal/setup-namespace.sh >&2
log "Temporal server v$TEMPORAL_SERVER_VERSION (PostgreSQL persistence and visibility) on 127.0.0.1:$FRONTEND"

# --- the suite: two workers with different worker_ids, and the TLS test's own server -----------------------
[ -f dist/test/support/world.js ] || npm run build
export STATION_TEST_TEMPORAL_ADDRESS="127.0.0.1:$FRONTEND"
export STATION_TEST_SECOND_WORKER_ID=cluster-worker-2
export STATION_TEST_TEMPORAL_SERVER="$CACHE/bin/server"
export STATION_TEST_CLUSTER_WORK="$WORK"
SUITE_RAN=1
set +e
# shellcheck disable=SC2086
npx mocha --no-config --timeout 300000 --slow 20000 --exit --require dist/test/support/world.js $SPECS
rc=$?
set -e
exit $rc
