#!/usr/bin/env bash
# npm test: lint, typecheck, build (e2e runs the built services), then every jest tier against the real
# Kafka, PostgreSQL and Redis, which the jest global setup starts when they are not running.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -d node_modules ] || npm ci --no-audit --no-fund
npm run --silent lint
npm run --silent typecheck
npm run --silent build
# browser: the console in Chromium (apt-get installs Debian's chromium when it is missing) and the --observe UIs.
# unit includes promtool check/test of infra/prometheus (apt-get installs Debian's prometheus when it is missing).
# The fault suite (npm run test:faults) breaks private infrastructure and runs on its own.
npx jest --ci --selectProjects unit integration e2e browser "$@"
# Then (a plain `npm test`, not one narrowed by arguments) the gateway and key-lifecycle e2e tests once more on a
# Redis Cluster (3 masters, 3 replicas) and a three-node Kafka, both started by the test run's global set-up.
[ $# -gt 0 ] || npm run --silent test:cluster
