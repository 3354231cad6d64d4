#!/bin/sh
# Once the frontend answers: registers the namespace (72 h retention of closed sessions) and the session search
# attributes (CodingBackend, ... as in docs/observability.md), each only if missing. Safe to run again.
# Used by docker-compose.temporal.yml (admin-tools image) and by `npm run test:cluster`.
# Environment: TEMPORAL (the temporal CLI, default `temporal`), TEMPORAL_ADDRESS, NAMESPACE (default), plus any
# TEMPORAL_TLS_* / TEMPORAL_API_KEY the CLI understands.
set -eu
cli="${TEMPORAL:-temporal}"
ns="${NAMESPACE:-default}"
tries=0
until "$cli" operator cluster health >/dev/null 2>&1; do
  tries=$((tries + 1))
  if [ "$tries" -ge 120 ]; then echo "Temporal at ${TEMPORAL_ADDRESS:-127.0.0.1:7233} is not healthy after 120 s" >&2; exit 1; fi
  sleep 1
done
"$cli" operator namespace describe --namespace "$ns" >/dev/null 2>&1 || "$cli" operator namespace create --namespace "$ns" --retention 72h
# A new namespace reaches the server's namespace cache some seconds after it is created.
tries=0
until existing="$("$cli" operator search-attribute list --namespace "$ns" 2>/dev/null)"; do
  tries=$((tries + 1))
  if [ "$tries" -ge 60 ]; then echo "namespace $ns is not usable after 60 s" >&2; exit 1; fi
  sleep 1
done
for attr in CodingBackend:Keyword CodingRepo:Keyword CodingBranch:Keyword CodingState:Keyword CodingScope:Keyword CodingCost:Double CodingTitle:Keyword; do
  name="${attr%%:*}"
  case "$existing" in *"$name"*) continue ;; esac
  "$cli" operator search-attribute create --namespace "$ns" --name "$name" --type "${attr#*:}"
done
echo "namespace $ns ready"
