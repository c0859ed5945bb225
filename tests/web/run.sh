#!/usr/bin/env bash
# The web app's browser test (tests/web/run.mjs): Debian's Chromium driven by playwright-core
# from web/node_modules. Nothing here downloads a browser.
#
# Usage: LL_BASE_URL=http://127.0.0.1:8080 LL_ADMIN_KEY=llk_... tests/web/run.sh
# Env in: LL_BASE_URL (a running leadloopd), LL_ADMIN_KEY (an admin key of its workspace),
#         LL_SCREENSHOTS (default build/screenshots), LL_CHROMIUM (default /usr/bin/chromium),
#         LL_DEV=1: the daemon has no sign-in API; the test runs through
#         tests/web/devserver.mjs (started here, on a free port) with API keys for people.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)
cd "$ROOT"
: "${LL_BASE_URL:?set LL_BASE_URL to a running leadloopd}"
: "${LL_ADMIN_KEY:?set LL_ADMIN_KEY to an admin API key}"
export LL_SCREENSHOTS=${LL_SCREENSHOTS:-$ROOT/build/screenshots}
export LL_CHROMIUM=${LL_CHROMIUM:-/usr/bin/chromium}

[[ -x "$LL_CHROMIUM" ]] || {
	echo "run.sh: no browser at $LL_CHROMIUM (Debian: apt-get install -y chromium)" >&2
	exit 1
}
[[ -d web/node_modules/playwright-core ]] || {
	echo "run.sh: web/node_modules lacks playwright-core (run: npm ci --prefix web)" >&2
	exit 1
}
dev_pid=
cleanup() { [[ -z "$dev_pid" ]] || kill "$dev_pid" 2>/dev/null || true; }
trap cleanup EXIT

if [[ "${LL_DEV:-}" == 1 ]]; then
	[[ -f build/web/app/index.html ]] || node web/build.mjs build/web
	port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
	node tests/web/devserver.mjs --port "$port" --daemon "$LL_BASE_URL" --root build/web &
	dev_pid=$!
	# Wait for the dev server to answer (bounded), rather than for a fixed time.
	for _ in $(seq 100); do
		curl -fs -o /dev/null "http://127.0.0.1:$port/app" && break
		sleep 0.1
	done
	export LL_API_URL=$LL_BASE_URL LL_BASE_URL=http://127.0.0.1:$port
fi

node tests/web/run.mjs
