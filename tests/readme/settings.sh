#!/usr/bin/env bash
# The settings are listed in three places for three readers: `leadloopd --help` and the man
# page (`leadloopd --man`), both generated from server/config.c's table, and the README's
# Configuration table, written by hand. This fails when any two of them name a different
# set of (variable, flag) pairs, or when the man page does not render without warnings.
#
# Usage: tests/readme/settings.sh [LEADLOOPD]   (default bin/leadloopd)
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/../.."
bin=${1:-bin/leadloopd}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# --help: "  VARIABLE   --flag VALUE" lines.
"$bin" --help | awk '$1 ~ /^(LEADLOOP_[A-Z0-9_]+|DATABASE_URL|DATABASE_READ_URL)$/ && $2 ~ /^--/ { print $1, $2 }' |
	sort >"$tmp/help"
# The man page: ".BR VARIABLE ", " \-\-flag ..." lines, roff escapes undone.
"$bin" --man | awk '$1 == ".BR" && $2 ~ /^(LEADLOOP_|DATABASE_URL|DATABASE_READ_URL)/ { gsub(/\\-/, "-", $5); print $2, $5 }' |
	sort >"$tmp/man"
# The README: "| `VARIABLE` | `--flag` | ..." rows of the Configuration table.
sed -n 's/^| `\(LEADLOOP_[A-Z0-9_]*\|DATABASE_URL\|DATABASE_READ_URL\)` | `\(--[a-z0-9-]*\)` |.*/\1 \2/p' README.md |
	sort >"$tmp/readme"

rc=0
[[ -s "$tmp/help" ]] || {
	echo "settings.sh: no settings found in $bin --help" >&2
	exit 1
}
for other in man readme; do
	if ! diff -u --label "--help" --label "$other" "$tmp/help" "$tmp/$other" >"$tmp/diff"; then
		echo "settings.sh: --help and the $other list different settings:" >&2
		cat "$tmp/diff" >&2
		rc=1
	fi
done

# The page must render cleanly: groff's warnings name each roff mistake.
"$bin" --man >"$tmp/leadloopd.8"
if warnings=$(groff -man -ww -z "$tmp/leadloopd.8" 2>&1) && [[ -z "$warnings" ]]; then
	:
else
	echo "settings.sh: the man page does not render cleanly:" >&2
	echo "$warnings" >&2
	rc=1
fi
((rc == 0)) && echo "settings.sh: --help, the man page and README.md list the same $(wc -l <"$tmp/help") settings"
exit "$rc"
