#!/usr/bin/env bash
# npm run up [-- --detach] [--observe] [--cluster]: install what is missing, build, then start the stack (scripts/stack.ts).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi
if ! command -v java >/dev/null || ! command -v mvn >/dev/null; then
  echo "[keygate] Java 17 and Maven are needed to run Apache Kafka locally (or set KAFKA_BROKERS to a running broker)" >&2
fi
npm run --silent build
exec node --enable-source-maps dist/scripts/stack.js up "$@"
