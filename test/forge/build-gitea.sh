#!/usr/bin/env bash
# Build the Gitea server the pull-request tests drive (a real forge on 127.0.0.1), once per version, into
# $STATION_CACHE_DIR/gitea-v<version>/ (default ~/.cache/station-coding), beside the cached Temporal server.
# Gitea's go.mod names another module and has replace lines, so `go install ...@version` cannot build it: the
# source comes from the Go module proxy (`go mod download`) and is built in a writable copy. A build without
# bindata reads its options/ (locales, templates) from the work path, so options/ is kept beside the binary.
# About 10 minutes on 2 cores, once.
set -euo pipefail
GITEA_VERSION=1.27.3
CACHE="${STATION_CACHE_DIR:-$HOME/.cache/station-coding}/gitea-v$GITEA_VERSION"
log() { echo "build-gitea: $*" >&2; }

if [ -x "$CACHE/gitea" ] && [ -d "$CACHE/options" ]; then
  echo "$CACHE"
  exit 0
fi
command -v go >/dev/null || { log "go is needed to build Gitea (apt-get install golang-go)"; exit 1; }
log "building Gitea v$GITEA_VERSION into $CACHE (about 10 minutes on 2 cores, once per version)"
src="$(go mod download -json "code.gitea.io/gitea@v$GITEA_VERSION" | python3 -c 'import json,sys; print(json.load(sys.stdin)["Dir"])')"
work="$(mktemp -d "${TMPDIR:-/tmp}/gitea-build-XXXXXX")"
trap 'rm -rf "$work"' EXIT
cp -r "$src/." "$work/"
chmod -R u+w "$work"
(cd "$work" && CGO_ENABLED=1 go build -tags 'sqlite sqlite_unlock_notify' -o gitea . )
mkdir -p "$CACHE"
rm -rf "$CACHE/options"
cp -r "$work/options" "$CACHE/options"
mv "$work/gitea" "$CACHE/gitea.tmp" && mv "$CACHE/gitea.tmp" "$CACHE/gitea"
chmod -R a+rX "$CACHE"
log "built $("$CACHE/gitea" --version)"
echo "$CACHE"
