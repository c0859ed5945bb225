#!/usr/bin/env bash
# The change feed's figures (issue 11): what reading it costs with 1,000,000 changes kept,
# and what writing its rows costs a create.
#
# Builds the release binary, starts a private PostgreSQL 15 cluster (durable as shipped) and
# leadloopd on loopback, seeds bench/seed.sql's leads (their change rows come from the
# trigger) and tops the feed up to BENCH_CHANGES changes, then measures
#   1. GET /v1/changes?limit=500 from random positions (wrk, one connection, then four);
#   2. POST /v1/leads with the change trigger on and off (ALTER TABLE ... DISABLE TRIGGER),
#      alternating rounds, as requests/s and as CPU per request (the daemon's and every
#      PostgreSQL process's, from /proc), which moves less than throughput when the
#      machine is shared.
# Prints one Markdown report; leaves nothing running.
#
# Usage: bench/changes.sh [--save]
#   --save  also write it to bench/results/YYYY-MM-DD-changes-<cores>core.md
# Env: BENCH_CHANGES (1000000), BENCH_LEADS (100000), BENCH_DURATION (15, seconds a run),
#      BENCH_ROUNDS (3), PG_BINDIR (/usr/lib/postgresql/15/bin)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
cd "$ROOT"
SAVE=0
for arg in "$@"; do
	case "$arg" in
	--save) SAVE=1 ;;
	-h | --help)
		sed -n '2,19s/^# \{0,1\}//p' "$0"
		exit 0
		;;
	*)
		echo "changes.sh: unknown argument: $arg (try --help)" >&2
		exit 2
		;;
	esac
done

# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"
CHANGES=${BENCH_CHANGES:-1000000}
LEADS=${BENCH_LEADS:-100000}
DURATION=${BENCH_DURATION:-15}
ROUNDS=${BENCH_ROUNDS:-3}
for v in CHANGES LEADS DURATION ROUNDS; do posint "$v" "${!v}"; done
PGBIN=${PG_BINDIR:-/usr/lib/postgresql/15/bin}
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
LEADLOOPD=$ROOT/build/bench/leadloopd
POOL=8

bash scripts/deps.sh --bench
bench_setup changes
bench_build build/bench "$LEADLOOPD"
bench_postgres 60
DB=leadloop_bench
DATABASE_URL="postgresql://$OWNER@127.0.0.1:$PGPORT/$DB"
export DATABASE_URL
sql() { "$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -d "$DATABASE_URL" "$@"; }
sql_value() { sql -tA -c "$1"; }
"$PGBIN/psql" -X -q -d "postgresql://$OWNER@127.0.0.1:$PGPORT/postgres" -c "CREATE DATABASE $DB"

"$LEADLOOPD" migrate >/dev/null
"$LEADLOOPD" workspace create bench --name Bench >/dev/null 2>&1
KEY=$("$LEADLOOPD" keys create --workspace bench --role admin --name bench 2>/dev/null)
WS=$(sql_value "SELECT id FROM workspaces WHERE slug = 'bench'")
KEY_ID=$(sql_value "SELECT id FROM api_keys WHERE workspace_id = '$WS'")

note "seeding $LEADS leads"
sql -v ws="$WS" -v key="$KEY_ID" -v leads="$LEADS" -v campaigns=100 -f bench/seed.sql >/dev/null
have=$(sql_value "SELECT count(*) FROM changes WHERE workspace_id = '$WS'")
note "the seed wrote $have changes; topping the feed up to $CHANGES in transactions of 100,000"
while ((have < CHANGES)); do
	n=$((CHANGES - have < 100000 ? CHANGES - have : 100000))
	sql -c "INSERT INTO changes (workspace_id, type, entity, entity_id, lead_id, actor, doc)
	        SELECT l.workspace_id, 'lead.updated', 'lead', l.id::text, l.id, 'sql', to_jsonb(l)
	        FROM (SELECT * FROM leads WHERE workspace_id = '$WS' ORDER BY random() LIMIT $n) l"
	have=$((have + n))
done
sql -c 'VACUUM (ANALYZE)' -c 'CHECKPOINT'
KEPT=$(sql_value "SELECT count(*) FROM changes WHERE workspace_id = '$WS'")
# 500 random positions, as the daemon writes cursors
sql -tA -c "SELECT to_hex(xid::text::bigint) || '.' || to_hex(seq) || '.' ||
                   left(replace(workspace_id::text, '-', ''), 8)
            FROM changes WHERE workspace_id = '$WS' ORDER BY random() LIMIT 500" >"$CLIENT/cursors.txt"

HTTP_PORT=$(free_port)
BASE=http://127.0.0.1:$HTTP_PORT
LEADLOOP_RATE_PER_S=100000 LEADLOOP_RATE_BURST=1000000 LEADLOOP_KEY_CONNECTIONS=$POOL \
LEADLOOP_LISTEN=127.0.0.1:$HTTP_PORT LEADLOOP_DB_POOL=$POOL LEADLOOP_LOG_LEVEL=warn \
	"$LEADLOOPD" serve --no-migrate >"$TMP/leadloopd.log" 2>&1 &
DAEMON=$!
for ((i = 0; i < 100; i++)); do
	[[ "$(curl -s -o /dev/null -w '%{http_code}' "$BASE/readyz" || true)" == 200 ]] && break
	sleep 0.1
done
((i < 100)) || die "leadloopd is not ready"

cat >"$CLIENT/changes.lua" <<EOF
local cursors = {}
for line in io.lines("$CLIENT/cursors.txt") do cursors[#cursors + 1] = line end
wrk.headers["Authorization"] = "Bearer $KEY"
bad = 0
request = function()
   return wrk.format("GET", "/v1/changes?limit=500&after=" .. cursors[math.random(#cursors)])
end
response = function(status) if status ~= 200 then bad = bad + 1 end end
done = function(summary, latency)
   io.write(string.format("RESULT rps=%.0f p50_ms=%.2f p99_ms=%.2f non200=%d\n",
      summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000,
      latency:percentile(99) / 1000, summary.errors.status))
end
EOF
read_changes() { wrk -t1 -c"$1" -d"${DURATION}s" --latency -s "$CLIENT/changes.lua" "$BASE" | grep RESULT; }
note "GET /v1/changes?limit=500 from random positions"
ONE=$(read_changes 1)
FOUR=$(read_changes 4)
ITEMS=$(curl -s -H "Authorization: Bearer $KEY" "$BASE/v1/changes?limit=500&after=$(head -1 "$CLIENT/cursors.txt")" |
	python3 -c 'import json, sys; print(len(json.load(sys.stdin)["data"]))')

# CPU of the daemon and of every PostgreSQL process, in clock ticks, with their ended
# children (a backend that ended counts in the postmaster)
cpu_ticks() {
	local t=0 p
	for p in $DAEMON $(pgrep -u "$OWNER" postgres || true); do
		[[ -r /proc/$p/stat ]] || continue
		t=$((t + $(awk '{ print $14 + $15 + $16 + $17 }' "/proc/$p/stat")))
	done
	echo "$t"
}
cat >"$CLIENT/post.lua" <<EOF
wrk.headers["Authorization"] = "Bearer $KEY"
wrk.headers["Content-Type"] = "application/json"
local n = 0
request = function()
   n = n + 1
   return wrk.format("POST", "/v1/leads", nil, string.format(
      '{"email":"w%d-%d-%d@bench.example","first_name":"Ana","company":"Acme","source":"web"}',
      os.time(), math.random(1000000000), n))
end
done = function(summary)
   io.write(string.format("RESULT requests=%d rps=%.0f errors=%d\n", summary.requests,
      summary.requests / (summary.duration / 1e6), summary.errors.status))
end
EOF
declare -a ON_RPS OFF_RPS ON_CPU OFF_CPU
post_round() {
	local c0 c1 out req
	c0=$(cpu_ticks)
	out=$(wrk -t2 -c16 -d"${DURATION}s" -s "$CLIENT/post.lua" "$BASE" | grep RESULT)
	c1=$(cpu_ticks)
	req=$(sed 's/.*requests=\([0-9]*\).*/\1/' <<<"$out")
	echo "$(sed 's/.*rps=\([0-9]*\).*/\1/' <<<"$out") $(((c1 - c0) * 10000000 / $(getconf CLK_TCK) / req / 10))"
}
for ((r = 1; r <= ROUNDS; r++)); do
	note "POST /v1/leads round $r: change feed on"
	sql -c 'ALTER TABLE leads ENABLE TRIGGER change_feed, ENABLE TRIGGER change_feed_insert'
	read -r rps us < <(post_round)
	ON_RPS+=("$rps")
	ON_CPU+=("$us")
	note "POST /v1/leads round $r: change feed off"
	sql -c 'ALTER TABLE leads DISABLE TRIGGER change_feed, DISABLE TRIGGER change_feed_insert'
	read -r rps us < <(post_round)
	OFF_RPS+=("$rps")
	OFF_CPU+=("$us")
done
sql -c 'ALTER TABLE leads ENABLE TRIGGER change_feed, ENABLE TRIGGER change_feed_insert'
median() { printf '%s\n' "$@" | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }

report() {
	echo "# The change feed's cost, $(date -u +%Y-%m-%d), $(nproc) cores"
	echo
	bench_about "wrk"
	echo
	echo "## GET /v1/changes?limit=500, $KEPT changes kept, random positions ($DURATION s each)"
	echo
	echo "| connections | requests/s | p50 | p99 | non-200 |"
	echo "|---:|---:|---:|---:|---:|"
	for pair in "1 $ONE" "4 $FOUR"; do
		set -- $pair
		c=$1
		shift
		eval "$(sed 's/RESULT //' <<<"$*")"
		echo "| $c | $rps | ${p50_ms} ms | ${p99_ms} ms | $non200 |"
	done
	echo
	echo "A page from a random position held $ITEMS changes (each rendered with its entity)."
	echo
	echo "## POST /v1/leads with the change feed's trigger on and off (wrk -t2 -c16, $DURATION s, $ROUNDS rounds alternating)"
	echo
	echo "| round | req/s on | req/s off | CPU per request on | CPU per request off |"
	echo "|---:|---:|---:|---:|---:|"
	for ((r = 0; r < ROUNDS; r++)); do
		echo "| $((r + 1)) | ${ON_RPS[r]} | ${OFF_RPS[r]} | ${ON_CPU[r]} us | ${OFF_CPU[r]} us |"
	done
	local on off con coff
	on=$(median "${ON_RPS[@]}")
	off=$(median "${OFF_RPS[@]}")
	con=$(median "${ON_CPU[@]}")
	coff=$(median "${OFF_CPU[@]}")
	echo "| median | $on | $off | $con us | $coff us |"
	echo
	echo "The change rows cost a create $(awk -v a="$on" -v b="$off" 'BEGIN { printf "%.1f", (b - a) * 100 / b }') % of its requests/s and $(awk -v a="$con" -v b="$coff" 'BEGIN { printf "%.1f", (a - b) * 100 / b }') % more CPU (medians)."
}
report | tee "$CLIENT/report.md"
if ((SAVE)); then
	cp "$CLIENT/report.md" "bench/results/$(date -u +%Y-%m-%d)-changes-$(nproc)core.md"
fi
