#!/usr/bin/env bash
# Routing's cost on a move to mql (bench/routing.sql) on a throwaway cluster:
#   make && bash bench/routing.sh
set -euo pipefail
cd "$(dirname "$0")/.."
LL_DAEMON=$PWD/bin/leadloopd exec bash tests/harness.sh bash -c '
    DATABASE_URL=$LL_TEST_DATABASE_URL "$LL_DAEMON" migrate >/dev/null
    psql -X -v ON_ERROR_STOP=1 "$LL_TEST_DATABASE_URL" -f bench/routing.sql'
