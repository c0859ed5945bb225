#!/usr/bin/env bash
# `make test-web`: the browser test (tests/web/run.sh) against a fresh daemon that serves
# the web app itself, on the throwaway PostgreSQL of tests/harness.sh: workspace demo and
# an admin key as `make run` makes them, the daemon on a free loopback port.
#
# Usage: tests/harness.sh bash tests/web/daemon.sh
# Env in: LL_TEST_DATABASE_URL (from tests/harness.sh), LL_DAEMON (the leadloopd binary),
#         LL_SCREENSHOTS (default build/screenshots).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)
cd "$ROOT"
DAEMON=${LL_DAEMON:-$ROOT/bin/leadloopd}
: "${LL_TEST_DATABASE_URL:?run me under tests/harness.sh}"

TMP=$(mktemp -d /tmp/leadloop-web.XXXXXX)
# shellcheck source=tests/daemon.sh
source "$ROOT/tests/daemon.sh"
# The test tops the workspace up to 200 campaigns through the API: no rate limit here.
daemon_start LEADLOOP_RATE_PER_S=0
export LL_BASE_URL=$BASE LL_ADMIN_KEY=$KEY
rc=0
bash tests/web/run.sh || rc=$?
if ((rc != 0)); then
	echo "web: the daemon's log:" >&2
	tail -n 40 "$TMP/daemon.log" >&2
fi
exit "$rc"
