#!/usr/bin/env bash
# The schema as migrations build it from scratch, against the committed sql/schema.sql, so
# that every schema change shows in review (make schema-check, make schema-dump).
#
# Usage: tests/harness.sh scripts/schema.sh check|dump
#   check  migrate a fresh database (the embedded migrations of $LL_DAEMON), dump its schema
#          and fail, showing the difference, when it is not sql/schema.sql
#   dump   write that dump to sql/schema.sql
# Runs under tests/harness.sh (a throwaway cluster: LL_TEST_DATABASE_URL). The dump is
# normalized: no owners or grants (they name whoever ran it), and none of pg_dump's lines
# that differ between runs or versions (its version comments, the \restrict key).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
MODE=${1:-}
[[ "$MODE" == check || "$MODE" == dump ]] || {
	sed -n '2,11s/^# \{0,1\}//p' "$0" >&2
	exit 2
}
: "${LL_TEST_DATABASE_URL:?run me under tests/harness.sh}"
DAEMON=${LL_DAEMON:-$ROOT/bin/leadloopd}
BIN=${PG_BINDIR:-/usr/lib/postgresql/15/bin}
OUT=$(mktemp /tmp/leadloop-schema.XXXXXX)
trap 'rm -f "$OUT"' EXIT

DATABASE_URL=$LL_TEST_DATABASE_URL "$DAEMON" migrate >/dev/null
"$BIN/pg_dump" --schema-only --no-owner --no-privileges -d "$LL_TEST_DATABASE_URL" |
	sed -e '/^-- Dumped from database version/d' -e '/^-- Dumped by pg_dump version/d' \
		-e '/^\\restrict /d' -e '/^\\unrestrict /d' |
	cat -s >"$OUT"

if [[ "$MODE" == dump ]]; then
	cp "$OUT" "$ROOT/sql/schema.sql"
	echo "schema.sh: wrote sql/schema.sql ($(wc -l <"$OUT") lines)"
elif diff -u --label sql/schema.sql --label 'migrated from scratch' "$ROOT/sql/schema.sql" "$OUT"; then
	echo "schema.sh: the migrations build sql/schema.sql"
else
	echo "schema.sh: the migrations build another schema than sql/schema.sql (above: - committed," \
		"+ built). If the change is meant, run make schema-dump and commit sql/schema.sql." >&2
	exit 1
fi
