#!/usr/bin/env bash
# Webhook delivery speed: events per second from leadloopd to a receiver on 127.0.0.1.
#
# Builds the release binary (build/bench/leadloopd) and a receiver in C
# (bench/webhook_receiver.c: libmicrohttpd, answers 200 at once, verifies each signature,
# counts distinct webhook-ids), starts a private PostgreSQL 15 cluster (durable as shipped,
# bench/lib.sh) and, per round:
#   1. the receiver starts on a port the kernel picks; a daemon that delivers nothing
#      (LEADLOOP_WEBHOOK_SENDERS=0) registers an endpoint for it and makes BENCH_EVENTS
#      leads through POST /v1/leads/batch (1,000 a request): as many lead.created changes,
#      all committed before delivery starts;
#   2. a delivering daemon starts (LEADLOOP_WEBHOOK_SENDERS from BENCH_SENDERS, private
#      addresses allowed); the dispatcher turns the changes into deliveries and the senders
#      POST them;
#   3. the round ends when the receiver has every webhook-id.
# Prints per round: events/s from the first to the last delivery (the figure), the time
# from the daemon's start to the last delivery, duplicates, unverified signatures, the
# delivering daemon's CPU seconds, and PostgreSQL's WAL flushes (pg_stat_wal: how many, and
# their mean time). Leaves nothing running.
#
# Usage: bench/webhooks.sh
# Env:
#   BENCH_EVENTS    events a round: 20000
#   BENCH_SENDERS   sender threads, one round each: "2" (the default of the daemon); e.g. "2 4 8"
#   BENCH_POOL      LEADLOOP_DB_POOL of the delivering daemon: 8 (the default)
#   BENCH_PERF=1    perf record -g the delivering daemon in each round; its top libraries
#                   and symbols are printed, perf.data kept with BENCH_KEEP
#   BENCH_PGCONF    more postgresql.conf lines, for experiments (e.g. synchronous_commit = off
#                   to see what the WAL flushes cost); the figure is made without
#   BENCH_LOG_LEVEL LEADLOOP_LOG_LEVEL of the daemons: warn
#   BENCH_KEEP=DIR  copy what the run made (logs, the receiver's lines) to DIR at the end
#   PG_BINDIR       PostgreSQL 15 binaries (default /usr/lib/postgresql/15/bin)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
cd "$ROOT"
case "${1:-}" in
-h | --help)
	sed -n '2,31s/^# \{0,1\}//p' "$0"
	exit 0
	;;
'') ;;
*)
	echo "webhooks.sh: unknown argument: $1 (try --help)" >&2
	exit 2
	;;
esac

# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"

EVENTS=${BENCH_EVENTS:-20000}
SENDERS_LIST=${BENCH_SENDERS:-2}
POOL=${BENCH_POOL:-8}
posint BENCH_EVENTS "$EVENTS"
posint BENCH_POOL "$POOL"
for s in $SENDERS_LIST; do posint BENCH_SENDERS "$s"; done
PGBIN=${PG_BINDIR:-/usr/lib/postgresql/15/bin}
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
LEADLOOPD=$ROOT/build/bench/leadloopd
for tool in initdb pg_ctl psql; do
	[[ -x "$PGBIN/$tool" ]] || die "$PGBIN/$tool not found (install postgresql-15, or set PG_BINDIR)"
done
command -v curl >/dev/null || die "curl is needed (scripts/deps.sh --bench)"
if [[ "${BENCH_PERF:-0}" == 1 ]]; then command -v perf >/dev/null || die "BENCH_PERF=1 needs perf"; fi

bench_setup webhooks
bench_build build/bench "$LEADLOOPD"
RECEIVER=$CLIENT/webhook_receiver
# shellcheck disable=SC2046 # pkg-config's flags are words
cc -std=c11 -O2 -Wall -Wextra -Werror -o "$RECEIVER" bench/webhook_receiver.c \
	$(pkg-config --cflags --libs libmicrohttpd libcrypto) -pthread ||
	die "the receiver does not build"
# track_wal_io_timing: the WAL flushes of each round and their time go into the table.
bench_postgres $((2 * POOL + 40)) "track_wal_io_timing = on
${BENCH_PGCONF:-}"

DB=leadloop_bench
DATABASE_URL="postgresql://$OWNER@127.0.0.1:$PGPORT/$DB"
export DATABASE_URL
sql() { "$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -d "$DATABASE_URL" "$@"; }
"$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -d "postgresql://$OWNER@127.0.0.1:$PGPORT/postgres" \
	-c "CREATE DATABASE $DB"
"$LEADLOOPD" migrate >/dev/null
"$LEADLOOPD" workspace create bench --name Bench 2>"$CLIENT/leadloopd.err" || {
	cat "$CLIENT/leadloopd.err" >&2
	die "leadloopd workspace create failed"
}
KEY=$("$LEADLOOPD" keys create --workspace bench --role admin --name bench 2>"$CLIENT/leadloopd.err") || {
	cat "$CLIENT/leadloopd.err" >&2
	die "leadloopd keys create failed"
}

# start_daemon LOG ENV...: leadloopd on a free port (BASE), its pid in DAEMON.
start_daemon() {
	local log=$1 i
	shift
	HTTP_PORT=$(free_port)
	BASE=http://127.0.0.1:$HTTP_PORT
	env "$@" LEADLOOP_RATE_PER_S=100000 LEADLOOP_RATE_BURST=1000000 LEADLOOP_LOG_LEVEL="${BENCH_LOG_LEVEL:-warn}" \
		LEADLOOP_LISTEN="127.0.0.1:$HTTP_PORT" LEADLOOP_WEBHOOK_ALLOW_PRIVATE=1 \
		"$LEADLOOPD" serve --no-migrate >"$log" 2>&1 &
	DAEMON=$!
	for ((i = 0; i < 100; i++)); do
		kill -0 "$DAEMON" 2>/dev/null || die "leadloopd exited at start (log $log)"
		[[ "$(curl -s -o /dev/null -w '%{http_code}' "$BASE/readyz" || true)" == 200 ]] && return
		sleep 0.1
	done
	die "leadloopd is not ready after 10 s"
}

stop_daemon() {
	kill -TERM "$DAEMON"
	wait "$DAEMON" || die "leadloopd exited with $? on SIGTERM"
	DAEMON=
}

# http METHOD PATH [BODY]: the body, then the status on a line of its own.
http() {
	local args=(-sS --max-time 120 -X "$1" -H "Authorization: Bearer $KEY" -w '\n%{http_code}')
	if [[ -n "${3:-}" ]]; then args+=(-H 'Content-Type: application/json' --data-binary "@$3"); fi
	curl "${args[@]}" "$BASE$2"
}

# cpu_s PID: user + system CPU seconds of a process so far.
cpu_s() { awk -v hz="$(getconf CLK_TCK)" '{ printf "%.1f", ($14 + $15) / hz }' "/proc/$1/stat"; }

ROWS=()
round=0
for senders in $SENDERS_LIST; do
	round=$((round + 1))
	# The receiver first, on a port of the kernel's choosing; it reads the secret when the
	# first delivery comes.
	"$RECEIVER" "$CLIENT/secret-$round" "$EVENTS" 900 >"$CLIENT/receiver-$round.out" \
		2>"$CLIENT/receiver-$round.err" &
	RECV=$!
	CHILD=$RECV
	RPORT=
	for ((i = 0; i < 100; i++)); do
		RPORT=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$CLIENT/receiver-$round.err")
		[[ -n "$RPORT" ]] && break
		kill -0 "$RECV" 2>/dev/null || die "the receiver exited: $(cat "$CLIENT/receiver-$round.err")"
		sleep 0.05
	done
	[[ -n "$RPORT" ]] || die "the receiver did not say where it listens"
	start_daemon "$TMP/leadloopd-setup-$round.log" LEADLOOP_WEBHOOK_SENDERS=0
	printf '{"url":"http://127.0.0.1:%s/hook"}' "$RPORT" >"$CLIENT/endpoint.json"
	out=$(http POST /v1/webhooks "$CLIENT/endpoint.json")
	[[ "$(tail -n 1 <<<"$out")" == 201 ]] || die "POST /v1/webhooks answered: $out"
	grep -o '"secret":"[^"]*"' <<<"$out" | cut -d'"' -f4 >"$CLIENT/secret-$round"
	HOOK=$(grep -o '"id":"[^"]*"' <<<"$out" | head -n 1 | cut -d'"' -f4)
	note "round $round: making $EVENTS events"
	for ((from = 0; from < EVENTS; from += 1000)); do
		to=$((from + 1000 < EVENTS ? from + 1000 : EVENTS))
		awk -v r="$round" -v a="$from" -v b="$to" 'BEGIN {
			printf "{\"leads\":["
			for (i = a; i < b; i++) printf "%s{\"email\":\"wh%d-%d@bench.example\",\"source\":\"web\",\"score\":%d}", (i > a ? "," : ""), r, i, i % 100
			printf "]}"
		}' >"$CLIENT/batch.json"
		out=$(http POST /v1/leads/batch "$CLIENT/batch.json")
		[[ "$(tail -n 1 <<<"$out")" == 200 ]] || die "POST /v1/leads/batch answered: ${out:0:300}"
	done
	stop_daemon
	made=$(sql -tA -c "SELECT count(*) FROM changes c JOIN webhook_cursors w ON w.endpoint_id = '$HOOK' AND (c.xid, c.seq) > (w.xid, w.seq) WHERE c.workspace_id = w.workspace_id")
	((made == EVENTS)) || die "expected $EVENTS changes for the endpoint, the feed has $made"

	sql -c "SELECT pg_stat_reset_shared('wal')" >/dev/null
	t0=$(date +%s.%N)
	start_daemon "$TMP/leadloopd.log" LEADLOOP_WEBHOOK_SENDERS="$senders" LEADLOOP_DB_POOL="$POOL"
	PERF=
	if [[ "${BENCH_PERF:-0}" == 1 ]]; then
		perf record -q -g -o "$CLIENT/perf-$round.data" -p "$DAEMON" 2>"$CLIENT/perf-$round.err" &
		PERF=$!
	fi
	note "round $round: delivering with $senders sender(s)"
	CHILD=$RECV
	rc=0
	wait "$RECV" || rc=$?
	CHILD=
	cpu=$(cpu_s "$DAEMON")
	read -r syncs sync_ms < <(sql -tA -F ' ' -c 'SELECT wal_sync, round(wal_sync_time) FROM pg_stat_wal')
	if [[ -n "$PERF" ]]; then
		kill -INT "$PERF" 2>/dev/null || true
		wait "$PERF" || true
	fi
	stop_daemon
	((rc == 0)) || die "the receiver did not get every event in time: $(cat "$CLIENT/receiver-$round.out")"
	line=$(cat "$CLIENT/receiver-$round.out")
	eval "$(tr ' ' '\n' <<<"$line" | grep -E '^[a-z]+=[0-9.]+$')"
	# shellcheck disable=SC2154 # set by the eval of the receiver's line
	ROWS+=("$(awk -v n="$EVENTS" -v s="$senders" -v f="$first" -v l="$last" -v t0="$t0" \
		-v d="$duplicates" -v u="$unverified" -v cpu="$cpu" -v w="$syncs" -v wms="$sync_ms" 'BEGIN {
		printf "| %d | %d | %.0f | %.2f | %.2f | %d | %d | %.1f | %d (%.2f ms each) |", s, n, (n - 1) / (l - f), l - f, l - t0, d, u, cpu, w, (w ? wms / w : 0)
	}')")
	note "round $round: $line"
	if [[ -n "$PERF" ]]; then
		for sort in dso dso,symbol; do
			perf report -i "$CLIENT/perf-$round.data" --no-children -g none --sort "$sort" --stdio \
				2>/dev/null | grep -v '^#' | grep -v '^$' | head -n 20 || true
		done >"$CLIENT/perf-$round.txt"
		note "round $round: perf's top entries:"
		head -n 40 "$CLIENT/perf-$round.txt" >&2
	fi
	sql -c "DELETE FROM webhook_endpoints WHERE id = '$HOOK'" -c 'VACUUM (ANALYZE)' -c 'CHECKPOINT'
done

echo
echo "## Webhook delivery, $(date -u +%Y-%m-%d)"
echo
bench_about "the receiver (bench/webhook_receiver.c)"
echo "- LEADLOOP_DB_POOL=$POOL; the events made before the delivering daemon starts; PostgreSQL durable as shipped${BENCH_PGCONF:+, and: $BENCH_PGCONF}"
echo
echo "| senders | events | events/s (first to last delivery) | s | s from the daemon's start | duplicates | unverified | daemon CPU s | WAL flushes |"
echo "|---|---|---|---|---|---|---|---|---|"
printf '%s\n' "${ROWS[@]}"
