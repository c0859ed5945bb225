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
pid=
cleanup() {
	if [[ -n "$pid" ]]; then
		kill -TERM "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	fi
	rm -rf "$TMP"
}
trap cleanup EXIT

export DATABASE_URL=$LL_TEST_DATABASE_URL
"$DAEMON" migrate >/dev/null
"$DAEMON" workspace create demo --name Demo 2>/dev/null
LL_ADMIN_KEY=$("$DAEMON" keys create --workspace demo --role admin --name "web test" 2>/dev/null)
export LL_ADMIN_KEY

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
port=$((20000 + RANDOM % 20000))
for ((i = 0; i < 200; i++)); do
	port_free "$port" && break
	port=$((port >= 40000 ? 20000 : port + 1))
done
export LL_BASE_URL=http://127.0.0.1:$port
# The test tops the workspace up to 200 campaigns through the API: no rate limit here.
LEADLOOP_LISTEN=127.0.0.1:$port LEADLOOP_LOG_LEVEL=warn LEADLOOP_RATE_PER_S=0 \
	"$DAEMON" serve --no-migrate 2>"$TMP/daemon.log" &
pid=$!
curl -s -o /dev/null --retry 50 --retry-delay 0 --retry-connrefused --retry-max-time 20 \
	--fail "$LL_BASE_URL/readyz" || {
	cat "$TMP/daemon.log" >&2
	echo "web: the daemon did not become ready on $LL_BASE_URL" >&2
	exit 1
}
rc=0
bash tests/web/run.sh || rc=$?
if ((rc != 0)); then
	echo "web: the daemon's log:" >&2
	tail -n 40 "$TMP/daemon.log" >&2
fi
exit "$rc"
