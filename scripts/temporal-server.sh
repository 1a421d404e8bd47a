#!/usr/bin/env bash
# The Temporal server and its SQL schema tool, pinned, built from the Go module proxy into
# $(go env GOPATH)/bin/temporal-server-v<version>/{server,sql} and reused from there on later runs (a build takes
# 2–8 minutes on 2 cores). Prints that directory. Used by .ci/run and by the cluster launcher
# (bench/lib/temporal-cluster.ts); TEMPORAL_SERVER_DIR set to a directory holding both binaries skips it.
set -euo pipefail
VERSION=1.29.1

if [ -n "${TEMPORAL_SERVER_DIR:-}" ]; then
  echo "$TEMPORAL_SERVER_DIR"
  exit 0
fi
if ! command -v go >/dev/null; then
  echo "Go is needed to build the Temporal server (go install go.temporal.io/server/cmd/server@v$VERSION): install it (apt-get install golang, or the official toolchain), or set TEMPORAL_SERVER_DIR to a directory holding 'server' and 'sql' (temporal-sql-tool) v$VERSION" >&2
  exit 1
fi
DIR="$(go env GOPATH)/bin/temporal-server-v$VERSION"
built() { [ -x "$DIR/server" ] && [ -x "$DIR/sql" ] && "$DIR/server" --version 2>/dev/null | grep -q "$VERSION"; }
if ! built; then
  echo "building the Temporal server v$VERSION and its SQL tool into $DIR (go install; first run only, a few minutes)" >&2
  mkdir -p "$DIR"
  GOBIN="$DIR" GOFLAGS=-mod=mod go install \
    "go.temporal.io/server/cmd/server@v$VERSION" \
    "go.temporal.io/server/cmd/tools/sql@v$VERSION" >&2
  built || { echo "the build left no working $DIR/server v$VERSION" >&2; exit 1; }
fi
echo "$DIR"
