#!/usr/bin/env bash
# Checks that the Debian 12 packages needed to build, test and run Leadloop are installed
# (Node.js and npm among them, for the web app),
# and installs the missing ones when run as root (CI, containers). Silent when all is there,
# because `make run` and `make test` call it every time.
#
# Usage: scripts/deps.sh [--bench] [--web]
#   --bench  also what `make bench` drives the daemon with: wrk, and curl for its probes.
#            pgbench needs nothing more: on Debian 12 it ships in postgresql-15 itself.
#   --web    also Debian's Chromium, which `make test-web` drives (no browser is downloaded).
set -euo pipefail

pkgs=(
	build-essential pkg-config
	libmicrohttpd-dev libjansson-dev libpq-dev libssl-dev libsodium-dev
	libcurl4-openssl-dev check # HTTP client and unit test framework of the test suites
	curl jq                    # the README's examples (make test-readme) and make demo
	postgresql-15 postgresql-client-15
)

for arg in "$@"; do
	case "$arg" in
	--bench) pkgs+=(wrk curl) ;;
	--web) pkgs+=(chromium fonts-dejavu-core) ;;
	-h | --help)
		sed -n '2,11s/^# \{0,1\}//p' "$0"
		exit 0
		;;
	*)
		echo "deps.sh: unknown argument: $arg (try --help)" >&2
		exit 2
		;;
	esac
done

missing=()
for p in "${pkgs[@]}"; do
	# "ii" = wanted and installed; anything else (absent, half-installed, removed) is missing.
	status=$(dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null || true)
	[[ "$status" == ii* ]] || missing+=("$p")
done
# `make` builds the web app (web/) with Node.js and npm: Debian 12's own (node 18, npm 9)
# will do, and so will a newer node installed otherwise (NodeSource's package carries npm
# in itself, and conflicts with Debian's npm), so the commands are what is looked for.
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
	missing+=(nodejs npm)
fi

[[ ${#missing[@]} -eq 0 ]] && exit 0

if [[ $EUID -ne 0 ]]; then
	echo "deps.sh: missing Debian packages: ${missing[*]}" >&2
	echo "Install them with:" >&2
	echo "  sudo apt-get install -y --no-install-recommends ${missing[*]}" >&2
	exit 1
fi

echo "deps.sh: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
install=(apt-get install -y --no-install-recommends "${missing[@]}")
# Skip the slow `apt-get update` when the package lists are already fresh enough (CI has
# just run it); a fresh image has empty lists and the first try fails at once.
if ! "${install[@]}"; then
	echo "deps.sh: retrying after apt-get update" >&2
	apt-get update
	"${install[@]}"
fi
