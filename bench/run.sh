#!/usr/bin/env bash
# make bench: Leadloop's speed beside the database's own limit, on this machine.
#
# Builds the release binary (build/bench/leadloopd), starts a private PostgreSQL 15 cluster
# in a temporary directory (durable as shipped: fsync and synchronous_commit on) and
# leadloopd on loopback, seeds a workspace (bench/seed.sql), then runs one at a time, with
# wrk -t2 -c32 --latency, the scenarios of bench/*.lua, and with pgbench -M prepared (as
# many clients as the daemon's pool) the same SQL as the daemon sends for one lead by id,
# a page of 50 and one create. Prints one table; leaves nothing running.
#
# Usage: bench/run.sh [--save]
#   --save  also write the table as Markdown to bench/results/YYYY-MM-DD-<cores>core.md
# Env:
#   BENCH_DURATION     each run's length: 20s (also 20 or 1m)
#   BENCH_POOL         LEADLOOP_DB_POOL of the daemon = pgbench clients: 8 (the default pool)
#   BENCH_CONNECTIONS  wrk connections: 32         BENCH_THREADS  wrk threads: 2
#   BENCH_LEADS        seeded leads: 100000        BENCH_CAMPAIGNS  campaigns: 100
#   BENCH_BATCH_SIZE   leads per POST /v1/leads/batch: 1000
#   BENCH_ONLY         only these scenarios, e.g. "get list" (of: get list post patch feedback
#                      batch mixed rate idle); each brings its pgbench limit along; rate runs
#                      get and post first when they are not selected (it needs their maximum)
#   BENCH_IDLE         idle keep-alive connections held during the idle run: 10000
#   BENCH_SAVE=1       as --save
#   BENCH_RESULT_TAG   a word in the saved file's name: YYYY-MM-DD-<tag>-<cores>core.md
#   BENCH_PGSS=1       load pg_stat_statements (with planning times) and print the top
#                      statements of the runs at the end: for profiling, not for figures
#   BENCH_KEEP=DIR     copy what the run made to DIR at the end: the pgbench scripts, wrk's
#                      and pgbench's output, PostgreSQL's and leadloopd's logs
#   PG_BINDIR          PostgreSQL 15 binaries (default /usr/lib/postgresql/15/bin)
# As root, PostgreSQL runs as the postgres user (it refuses root); its directory is in /tmp.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
cd "$ROOT"

SAVE=${BENCH_SAVE:-0}
for arg in "$@"; do
	case "$arg" in
	--save) SAVE=1 ;;
	-h | --help)
		sed -n '2,30s/^# \{0,1\}//p' "$0"
		exit 0
		;;
	*)
		echo "run.sh: unknown argument: $arg (try --help)" >&2
		exit 2
		;;
	esac
done

# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"

DURATION=${BENCH_DURATION:-20s}
case "$DURATION" in
*m) SECS=${DURATION%m} && posint BENCH_DURATION "$SECS" && SECS=$((SECS * 60)) ;;
*s) SECS=${DURATION%s} ;;
*) SECS=$DURATION ;;
esac
posint BENCH_DURATION "$SECS"
POOL=${BENCH_POOL:-8}
CONNS=${BENCH_CONNECTIONS:-32}
THREADS=${BENCH_THREADS:-2}
LEADS=${BENCH_LEADS:-100000}
CAMPAIGNS=${BENCH_CAMPAIGNS:-100}
BATCH=${BENCH_BATCH_SIZE:-1000}
IDLE=${BENCH_IDLE:-10000}
for v in POOL CONNS THREADS LEADS CAMPAIGNS BATCH IDLE; do posint "$v" "${!v}"; done
((POOL >= 2)) || die "BENCH_POOL must be at least 2 (pgbench runs 2 threads)"
# The filter of the page scenario: about a third of the seeded leads are from the web.
LIST_QUERY="limit=50&source=web"

PGBIN=${PG_BINDIR:-/usr/lib/postgresql/15/bin}
# Other work on the machine skews every figure: the load average at the start is reported.
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
LEADLOOPD=$ROOT/build/bench/leadloopd

# ---------------------------------------------------------------- tools and build

bash scripts/deps.sh --bench
for tool in initdb pg_ctl psql pgbench; do
	[[ -x "$PGBIN/$tool" ]] || die "$PGBIN/$tool not found (install postgresql-15, or set PG_BINDIR)"
done

bench_setup bench
bench_build build/bench "$LEADLOOPD"
# The load generators in C of the rate and idle runs (bench/rate.c, bench/idle_conns.c).
make --no-print-directory bench-tools >"$CLIENT/tools.log" 2>&1 || {
	cat "$CLIENT/tools.log" >&2
	die "bench/rate.c or bench/idle_conns.c does not build"
}
EXTRA_CONF=
if [[ "${BENCH_PGSS:-0}" == 1 ]]; then
	EXTRA_CONF="shared_preload_libraries = 'pg_stat_statements'
pg_stat_statements.track_planning = on"
fi
bench_postgres $((2 * POOL + 20)) "$EXTRA_CONF"

DB=leadloop_bench
DATABASE_URL="postgresql://$OWNER@127.0.0.1:$PGPORT/$DB"
export DATABASE_URL
sql() { "$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -d "$DATABASE_URL" "$@"; }
sql_value() { sql -tA -c "$1"; }
"$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -d "postgresql://$OWNER@127.0.0.1:$PGPORT/postgres" \
	-c "CREATE DATABASE $DB"
if [[ "${BENCH_PGSS:-0}" == 1 ]]; then sql -c 'CREATE EXTENSION pg_stat_statements'; fi

# ---------------------------------------------------------------- data

"$LEADLOOPD" migrate >/dev/null
"$LEADLOOPD" workspace create bench --name "Bench" 2>"$CLIENT/leadloopd.err" || {
	cat "$CLIENT/leadloopd.err" >&2
	die "leadloopd workspace create failed"
}
KEY=$("$LEADLOOPD" keys create --workspace bench --role admin --name bench 2>"$CLIENT/leadloopd.err") || {
	cat "$CLIENT/leadloopd.err" >&2
	die "leadloopd keys create failed"
}
[[ "$KEY" =~ ^llk_[A-Za-z0-9_-]+$ ]] || die "'leadloopd keys create' printed no usable key"
WS=$(sql_value "SELECT id FROM workspaces WHERE slug = 'bench'")
KEY_ID=$(sql_value "SELECT id FROM api_keys WHERE workspace_id = '$WS'")

note "seeding $LEADS leads over $CAMPAIGNS campaigns"
t0=$SECONDS
sql -v ws="$WS" -v key="$KEY_ID" -v leads="$LEADS" -v campaigns="$CAMPAIGNS" \
	-f bench/seed.sql >/dev/null
# What the daemon's compactor and autovacuum would have done by now on a live database: the
# report deltas of the seed folded into their day and month rows (else the compactor folds
# them during the first run), statistics, hint bits and the visibility map; then a
# checkpoint, so that the seed's writes are not flushed during a run.
note "folded $(sql_value 'SELECT ll_report_compact(2000000000)') report deltas of the seed"
sql -c 'VACUUM (ANALYZE)' -c 'CHECKPOINT'
note "seeded in $((SECONDS - t0)) s: $(sql_value "SELECT format('%s leads, %s touches, %s stage changes, %s change-feed rows',
	(SELECT count(*) FROM leads), (SELECT count(*) FROM campaign_touches),
	(SELECT count(*) FROM lead_stage_changes), (SELECT count(*) FROM changes))")"

for t in lead_ids campaign_ids feedback_ids; do
	sql -c "\\copy (SELECT id FROM bench.$t ORDER BY n) TO '$CLIENT/$t.txt'"
done
tr -d '\n' <bench/lead.json >"$CLIENT/lead.json"
echo >>"$CLIENT/lead.json"

# ---------------------------------------------------------------- leadloopd

# BENCH_ONLY: run only these scenarios (get list post patch feedback batch mixed rate idle);
# a scenario brings its pgbench limit along.
only() { [[ -z "${BENCH_ONLY:-}" || " ${BENCH_ONLY//,/ } " == *" $1 "* ]]; }

# The idle run holds BENCH_IDLE connections from 127.0.0.1 beside wrk's: the daemon's
# connection limits (512 in all, 256 an address by default) are raised above them for the
# whole bench, and idle connections are not closed after the default 30 s. Limits only:
# below them the daemon serves the same way.
IDLE_ENV=
if only idle; then
	IDLE_ENV="LEADLOOP_MAX_CONNECTIONS=$((IDLE + IDLE / 4 + 2 * CONNS + 64))"
	IDLE_ENV+=" LEADLOOP_MAX_CONNECTIONS_PER_IP=$((IDLE + IDLE / 4 + 2 * CONNS + 64))"
	IDLE_ENV+=" LEADLOOP_MAX_PENDING=$((IDLE + 4096)) LEADLOOP_CONNECTION_TIMEOUT_S=3600"
	# shellcheck disable=SC2086 # words
	export ${IDLE_ENV?}
fi
bench_serve

# http METHOD PATH [BODY]: prints the body, then the status on a line of its own.
http() {
	local args=(-sS --max-time 30 -X "$1" -H "Authorization: Bearer $KEY" -w '\n%{http_code}')
	if [[ -n "${3:-}" ]]; then args+=(-H 'Content-Type: application/json' --data-binary "$3"); fi
	curl "${args[@]}" "$BASE$2"
}
status_of() { tail -n 1 <<<"$1"; }

# Random pages: the cursors of the filtered list's pages, collected by paging once, at most
# 128 of them spread evenly (pgbench takes at most 128 scripts: one a page, see below).
note "collecting the cursors of $LIST_QUERY"
cursor=
: >"$CLIENT/all-cursors.txt"
while :; do
	out=$(http GET "/v1/leads?$LIST_QUERY${cursor:+&cursor=$cursor}") || die "curl failed: $out"
	[[ "$(status_of "$out")" == 200 ]] || die "GET /v1/leads?$LIST_QUERY answered: $out"
	cursor=$(grep -o '"next_cursor":"[^"]*"' <<<"$out" | cut -d'"' -f4 || true)
	[[ -n "$cursor" ]] || break
	echo "$cursor" >>"$CLIENT/all-cursors.txt"
done
PAGES=$(wc -l <"$CLIENT/all-cursors.txt")
((PAGES > 0)) || die "the filtered list has a single page; nothing to page through"
awk -v step=$(((PAGES + 127) / 128)) '(NR - 1) % step == 0' "$CLIENT/all-cursors.txt" >"$CLIENT/cursors.txt"
NCURSORS=$(wc -l <"$CLIENT/cursors.txt")
# Each cursor's position as the daemon decodes it: base64url of "sort|value|id".
sql -c 'CREATE TABLE bench.cursors (n serial PRIMARY KEY, cursor text NOT NULL, ts text, id uuid)' \
	-c "\\copy bench.cursors (cursor) FROM '$CLIENT/cursors.txt'" \
	-c "UPDATE bench.cursors SET ts = split_part(raw, '|', 2), id = split_part(raw, '|', 3)::uuid
	    FROM (SELECT n AS k, convert_from(decode(rpad(translate(cursor, '-_', '+/'),
	          (length(cursor) + 3) / 4 * 4, '='), 'base64'), 'UTF8') AS raw FROM bench.cursors) d
	    WHERE n = k"

# ---------------------------------------------------------------- the pgbench scripts

# One request of each kind runs with every statement logged; pgbench-script.pl turns what
# the daemon sent into a pgbench script, the probe's id, cursor, email and campaign
# replaced by draws from the same sets as the wrk scenarios'. pgbench computes a lead's or
# a campaign's id from a random n (bench/seed.sql made them so); pages are one script each,
# pgbench choosing among them at random: a draw that cost a lookup in the database would
# lower the limit (by a third for one lead by id).
sql -c "ALTER SYSTEM SET log_statement = 'all'" -c 'SELECT pg_reload_conf()' >/dev/null
sleep 1

# probe FILE METHOD PATH BODY -- VALUE EXPR...: appends the statements to $CLIENT/FILE.
probe() {
	local file=$CLIENT/$1 method=$2 path=$3 body=$4 offset out
	shift 5
	offset=$(stat -c %s "$PGLOG")
	out=$(http "$method" "$path" "$body") || die "curl failed: $out"
	[[ "$(status_of "$out")" == 2* ]] || die "probe $method $path answered: $out"
	sleep 0.2
	perl bench/pgbench-script.pl "$PGLOG" "$offset" "$@" >>"$file" 2>"$CLIENT/probe.err" || {
		cat "$CLIENT/probe.err" >&2
		die "could not derive the pgbench script of $method $path"
	}
	note "$method ${path%%\?*}: $(grep -vc '^[\]' "$file") statement(s) for pgbench"
}

PROBE_ID=$(head -n 1 "$CLIENT/lead_ids.txt")
printf '\\set n random(1, %d)\n' "$LEADS" >"$CLIENT/by_id.sql"
probe by_id.sql GET "/v1/leads/$PROBE_ID" "" -- "$PROBE_ID" "md5('lead-' || :n::text)::uuid"

# PostgreSQL logs a parameter as its type prints it: the cursor's time as a timestamptz in
# the daemon's time zone (UTC).
PROBE_AFTER=$(sql_value "SELECT id FROM bench.cursors WHERE n = 1")
PROBE_TS=$(sql -tA -c "SET TIME ZONE 'UTC'" -c "SELECT ts::timestamptz FROM bench.cursors WHERE n = 1")
: >"$CLIENT/page.tmpl"
probe page.tmpl GET "/v1/leads?$LIST_QUERY&cursor=$(head -n 1 "$CLIENT/cursors.txt")" "" -- \
	"$PROBE_AFTER" "@AFTER@" "$PROBE_TS" "@TS@"
PAGE_SCRIPTS=()
while IFS='|' read -r n ts id; do
	# the literal as pgbench-script.pl writes one: a colon would be a pgbench variable
	sed -e "s/@AFTER@/'$id'/g" -e "s/@TS@/E'${ts//:/\\\\x3a}'/g" "$CLIENT/page.tmpl" >"$CLIENT/page-$n.sql"
	PAGE_SCRIPTS+=("page-$n.sql")
done < <(sql_value "SELECT n, ts, id FROM bench.cursors ORDER BY n")

# The create: the same body as the wrk scenario; each pgbench client numbers its own.
PROBE_CAMPAIGN=$(head -n 1 "$CLIENT/campaign_ids.txt")
body=$(sed -e 's/@EMAIL@/probe.email.x7@bench.example/' -e 's/@XID@/probe-xid-x7/' \
	-e "s/@CAMPAIGN@/$PROBE_CAMPAIGN/" -e 's/@SCORE@/50/' "$CLIENT/lead.json")
printf '\\set k :k + 1\n\\set c random(1, %d)\n' "$CAMPAIGNS" >"$CLIENT/insert.sql"
probe insert.sql POST /v1/leads "$body" -- \
	probe.email.x7@bench.example "'pgb-' || :client_id::text || '-' || :k::text || '@bench.example'" \
	probe-xid-x7 "'pgb-' || :client_id::text || '-' || :k::text" \
	"$PROBE_CAMPAIGN" "md5('campaign-' || :c::text)::uuid"

sql -c 'ALTER SYSTEM RESET log_statement' -c 'SELECT pg_reload_conf()' >/dev/null

# Routes that may not exist yet.
HAS_FEEDBACK=
# (Into a file first: grep -q would end the pipe early, and pipefail make that a failure.)
curl -s --max-time 10 -o "$CLIENT/openapi.yaml" "$BASE/openapi.yaml" || true
if grep -q '^  /v1/leads/{id}/feedback:' "$CLIENT/openapi.yaml" 2>/dev/null; then
	HAS_FEEDBACK=1
fi
HAS_BATCH=
case "$(status_of "$(http POST /v1/leads/batch '{"leads":[]}')")" in
404 | 405) ;;
*) HAS_BATCH=1 ;;
esac

# ---------------------------------------------------------------- the runs

CLK_TCK=$(getconf CLK_TCK)
# The daemon's CPU time so far, in clock ticks (utime + stime of /proc/PID/stat).
daemon_ticks() {
	local stat
	stat=$(<"/proc/$DAEMON/stat")
	read -r -a f <<<"${stat##*) }"
	echo $((f[11] + f[12]))
}

declare -A RPS P50 P99 ERRS CPU HWM LABEL

# The daemon's peak RSS so far (VmHWM), in MiB.
daemon_hwm() { awk '/^VmHWM:/ { printf "%.1f", $2 / 1024 }' "/proc/$DAEMON/status"; }

# wrk_run KEY LABEL SCRIPT [UNIT]: one wrk scenario; UNIT is the number of items a request
# carries (a batch's leads), which requests/s and CPU are counted in.
wrk_run() {
	local key=$1 label=$2 script=$3 unit=${4:-1} before after kv log=$CLIENT/wrk-$1.log
	local requests='' duration_us='' p50_us='' p99_us='' non2xx='' socket='' failed_items='' codes=''
	LABEL[$key]=$label
	note "wrk: $label (${SECS} s)"
	sql -c CHECKPOINT
	before=$(daemon_ticks)
	BENCH_TAG=$key BENCH_LUA_DIR=$ROOT/bench BENCH_DATA=$CLIENT BENCH_KEY=$KEY \
		BENCH_LIST_QUERY=$LIST_QUERY BENCH_BATCH_SIZE=$BATCH \
		run_child wrk -t"$THREADS" -c"$CONNS" -d"${SECS}s" --timeout 10s --latency \
		-s "bench/$script" "$BASE" >"$log" 2>&1 || die "wrk failed: $(tail -n 5 "$log")"
	after=$(daemon_ticks)
	# BENCH requests=N duration_us=N p50_us=N p99_us=N non2xx=N socket=N failed_items=N codes=C
	for kv in $(grep '^BENCH ' "$log" | head -n 1); do
		case "${kv%%=*}" in
		requests) requests=${kv#*=} ;;
		duration_us) duration_us=${kv#*=} ;;
		p50_us) p50_us=${kv#*=} ;;
		p99_us) p99_us=${kv#*=} ;;
		non2xx) non2xx=${kv#*=} ;;
		socket) socket=${kv#*=} ;;
		failed_items) failed_items=${kv#*=} ;;
		codes) codes=${kv#*=} ;;
		esac
	done
	[[ -n "$requests" && -n "$codes" ]] || die "wrk printed no summary: $(tail -n 5 "$log")"
	RPS[$key]=$(awk -v n="$requests" -v u="$unit" -v d="$duration_us" \
		'BEGIN { printf "%.0f", n * u / (d / 1e6) }')
	P50[$key]=$(awk -v v="$p50_us" 'BEGIN { printf "%.2f", v / 1000 }')
	P99[$key]=$(awk -v v="$p99_us" 'BEGIN { printf "%.2f", v / 1000 }')
	local why='' list=${codes//x/: }
	if [[ "$codes" != - ]]; then why+="; HTTP ${list//,/, }"; fi # 503x12,409x3
	if ((socket > 0)); then why+="; socket: $socket"; fi
	if ((failed_items > 0)); then why+="; failed items: $failed_items"; fi
	ERRS[$key]=$((non2xx + socket + failed_items))
	if [[ -n "$why" ]]; then ERRS[$key]+=" (${why#; })"; fi
	CPU[$key]=$(awk -v t=$((after - before)) -v hz="$CLK_TCK" -v n="$requests" -v u="$unit" \
		'BEGIN { if (n > 0) printf "%.3f", t / hz / (n * u) * 1000; else printf "-" }')
	HWM[$key]=$(daemon_hwm)
}

# pgbench_run KEY LABEL SCRIPT...: the limit of the same work, as pgbench -M prepared runs
# it; with several scripts, each transaction runs one of them, chosen at random.
pgbench_run() {
	local key=$1 label=$2 log=$CLIENT/pgbench-$1.log tps failed aborted pct script files=()
	shift 2
	for script in "$@"; do files+=(-f "$CLIENT/$script"); done
	LABEL[$key]=$label
	note "$label (${SECS} s)"
	sql -c CHECKPOINT
	rm -f "$CLIENT/pgb-$key".*
	# -l: each transaction's latency (3rd column), for p50 and p99 as wrk reports them.
	run_child "$PGBIN/pgbench" -n -M prepared -c "$POOL" -j 2 -T "$SECS" -D k=0 \
		"${files[@]}" -l --log-prefix="$CLIENT/pgb-$key" \
		-h 127.0.0.1 -p "$PGPORT" -U "$OWNER" "$DB" >"$log" 2>&1 || true
	tps=$(sed -n 's/^tps = \([0-9.]*\) .*/\1/p' "$log")
	[[ -n "$tps" ]] || die "pgbench failed: $(tail -n 5 "$log")"
	failed=$(sed -n 's/^number of failed transactions: \([0-9]*\).*/\1/p' "$log")
	aborted=$(grep -c 'aborted in command' "$log" || true)
	RPS[$key]=$(printf '%.0f' "$tps")
	pct=$(cat "$CLIENT/pgb-$key".* | awk '{ print $3 }' | sort -n | awk '
		{ v[NR] = $1 }
		function at(q,  i) { i = int(NR * q + 0.5); return v[i < 1 ? 1 : i] / 1000 }
		END { if (NR) printf "%.2f %.2f", at(0.50), at(0.99); else printf "- -" }')
	P50[$key]=${pct% *}
	P99[$key]=${pct#* }
	ERRS[$key]=$((${failed:-0} + aborted))
	if ((aborted > 0)); then ERRS[$key]+=" ($aborted clients aborted)"; fi
	CPU[$key]=-
	rm -f "$CLIENT/pgb-$key".*
}

daemon_rss() { awk '/^VmRSS:/ { printf "%.1f", $2 / 1024 }' "/proc/$DAEMON/status"; }
daemon_threads() { awk '/^Threads:/ { print $2 }' "/proc/$DAEMON/status"; }

# field NAME LINE: the value of NAME=value in a line of words.
field() {
	local kv
	for kv in $2; do
		if [[ "${kv%%=*}" == "$1" ]]; then
			echo "${kv#*=}"
			return
		fi
	done
	echo -
}
ms() { awk -v v="$1" 'BEGIN { printf "%.2f", v / 1000 }'; }

declare -A R_MAX R_TARGET R_DONE R_P50 R_P90 R_P99 R_P999 R_PMAX R_LAG R_LATE R_QUEUED R_ERRS

# rate_run KEY LABEL KIND MAX: bench/rate.c, open loop at half of MAX requests/s for the
# run's length over BENCH_CONNECTIONS keep-alive connections; latency from each request's
# due time (no coordinated omission).
rate_run() {
	local key=$1 label=$2 kind=$3 max=$4 rate before after line codes log=$CLIENT/rate-$1.log
	rate=$((max / 2))
	((rate > 0)) || rate=1
	LABEL[$key]=$label
	note "rate: $label: $rate requests/s offered, open loop (${SECS} s)"
	sql -c CHECKPOINT
	before=$(daemon_ticks)
	BENCH_KEY=$KEY BENCH_DATA=$CLIENT BENCH_TAG=$key run_child "$ROOT/build/bench/rate" \
		"$HTTP_PORT" "$kind" "$rate" "$SECS" "$CONNS" >"$log" 2>&1 ||
		die "bench/rate failed: $(tail -n 5 "$log")"
	after=$(daemon_ticks)
	line=$(grep '^RATE ' "$log" | head -n 1) || die "bench/rate printed no summary: $(tail -n 5 "$log")"
	R_MAX[$key]=$max
	R_TARGET[$key]=$rate
	R_DONE[$key]=$(field achieved "$line")
	R_P50[$key]=$(ms "$(field p50_us "$line")")
	R_P90[$key]=$(ms "$(field p90_us "$line")")
	R_P99[$key]=$(ms "$(field p99_us "$line")")
	R_P999[$key]=$(ms "$(field p999_us "$line")")
	R_PMAX[$key]=$(ms "$(field max_us "$line")")
	R_LAG[$key]=$(ms "$(field lag_p99_us "$line")")
	R_LATE[$key]=$(ms "$(field late_p99_us "$line")")
	R_QUEUED[$key]=$(field queued "$line")
	R_ERRS[$key]=$(($(field non2xx "$line") + $(field errors "$line")))
	codes=$(field codes "$line")
	if [[ "$codes" != - ]]; then R_ERRS[$key]+=" (HTTP ${codes//,/, })"; fi
	CPU[$key]=$(awk -v t=$((after - before)) -v hz="$CLK_TCK" -v n="$(field "done" "$line")" \
		'BEGIN { if (n > 0) printf "%.3f", t / hz / n * 1000; else printf "-" }')
	HWM[$key]=$(daemon_hwm)
}

# idle_run: GET by id as run 1, then BENCH_IDLE keep-alive connections (bench/idle_conns.c:
# each has had one GET /healthz answered, then stays idle) opened and held, and GET by id
# again beside them; the daemon's RSS and threads while it holds them.
IDLE_NOTE=
idle_run() {
	local out=$CLIENT/idle.out line i readyz
	: >"$out"
	# The runs before this one (a batch of thousands of leads) leave work behind:
	# autovacuum, the report compactor's deltas. Done now, as after the seed, so that
	# rows 10 and 11 meet the same database.
	note "idle: folding report deltas ($(sql_value 'SELECT ll_report_compact(2000000000)')), VACUUM, CHECKPOINT"
	sql -c 'VACUUM (ANALYZE)' -c 'CHECKPOINT'
	wrk_run idle0 "10. GET /v1/leads/{id}, before the idle connections" get_lead.lua
	I_RSS0=$(daemon_rss)
	I_THR0=$(daemon_threads)
	note "idle: opening $IDLE keep-alive connections"
	"$ROOT/build/bench/idle_conns" "$HTTP_PORT" "$IDLE" /healthz >"$out" 2>"$CLIENT/idle.err" </dev/null &
	IDLE_PID=$!
	BENCH_PIDS+=" $IDLE_PID"
	for ((i = 0; i < 3000; i++)); do
		if grep -q '^IDLE ready' "$out"; then break; fi
		kill -0 "$IDLE_PID" 2>/dev/null || die "bench/idle_conns exited: $(tail -n 5 "$CLIENT/idle.err")"
		sleep 0.1
	done
	line=$(grep '^IDLE ready' "$out") || die "bench/idle_conns did not get ready in 300 s"
	I_OPEN=$(field open "$line")
	I_FAILED=$(($(field failed "$line") + $(field non200 "$line") + $(field unfinished "$line")))
	I_SETUP=$(awk -v v="$(field setup_ms "$line")" 'BEGIN { printf "%.1f", v / 1000 }')
	if [[ -s "$CLIENT/idle.err" ]]; then IDLE_NOTE=$(head -n 3 "$CLIENT/idle.err" | tr '\n' ' '); fi
	if ! kill -0 "$DAEMON" 2>/dev/null; then
		IDLE_NOTE+=" leadloopd exited while the connections were opened."
		skip idle "11. GET /v1/leads/{id}, $IDLE idle connections held" "leadloopd exited"
		DAEMON=
		return
	fi
	I_RSS1=$(daemon_rss)
	I_THR1=$(daemon_threads)
	# One fresh client meanwhile: how long /readyz takes beside them.
	readyz=$(curl -s -o /dev/null -w '%{http_code} %{time_total}' --max-time 10 "$BASE/readyz" || true)
	I_READYZ="${readyz% *} in $(awk -v t="${readyz#* }" 'BEGIN { printf "%.1f", t * 1000 }') ms"
	wrk_run idle "11. GET /v1/leads/{id}, $IDLE idle connections held" get_lead.lua
	I_RSS2=$(daemon_rss)
	I_THR2=$(daemon_threads)
	I_HWM=$(daemon_hwm)
	kill -USR1 "$IDLE_PID"
	for ((i = 0; i < 50; i++)); do
		if grep -q '^IDLE status' "$out"; then break; fi
		sleep 0.1
	done
	I_STILL=$(field open "$(grep '^IDLE status' "$out" | tail -n 1)")
	kill -TERM "$IDLE_PID" 2>/dev/null || true
	wait "$IDLE_PID" 2>/dev/null || true
}

skip() {
	LABEL[$1]=$2
	RPS[$1]=skipped
	ERRS[$1]="skipped ($3)"
	note "$2: skipped ($3)"
}

if [[ "${BENCH_PGSS:-0}" == 1 ]]; then sql -c 'SELECT pg_stat_statements_reset()' >/dev/null; fi

# Not measured: the first connections of the pool, cold caches.
note "warming up (3 s)"
BENCH_LUA_DIR=$ROOT/bench BENCH_DATA=$CLIENT BENCH_KEY=$KEY \
	run_child wrk -t"$THREADS" -c"$CONNS" -d3s -s bench/get_lead.lua "$BASE" >/dev/null 2>&1 || true

if only get; then
	wrk_run get "1. GET /v1/leads/{id}" get_lead.lua
	pgbench_run pg_get "pgbench: one lead by id" by_id.sql
fi
if only list; then
	wrk_run list "2. GET /v1/leads?$LIST_QUERY&cursor=" list_leads.lua
	pgbench_run pg_list "pgbench: a page of 50" "${PAGE_SCRIPTS[@]}"
fi
if only post; then
	wrk_run post "3. POST /v1/leads" post_lead.lua
	pgbench_run pg_post "pgbench: one create" insert.sql
fi
if only patch; then wrk_run patch "4. PATCH /v1/leads/{id}" patch_lead.lua; fi
if only feedback; then
	if [[ -n "$HAS_FEEDBACK" ]]; then
		wrk_run feedback "5. POST /v1/leads/{id}/feedback" feedback.lua
	else
		skip feedback "5. POST /v1/leads/{id}/feedback" "no feedback endpoint yet"
	fi
fi
# The mix before the batch, so that it meets the seeded data, not a million new leads.
if only mixed; then wrk_run mixed "7. mixed: 80 % reads, 20 % writes" mixed.lua; fi
if only rate; then
	# The maximum of each, measured by wrk in this run (runs 1 and 3, made now if not
	# selected), then an open-loop run at half of it.
	if [[ -z "${RPS[get]:-}" ]]; then wrk_run get "1. GET /v1/leads/{id}" get_lead.lua; fi
	if [[ -z "${RPS[post]:-}" ]]; then wrk_run post "3. POST /v1/leads" post_lead.lua; fi
	rate_run rate_get "8. GET /v1/leads/{id} at half the maximum" get "${RPS[get]}"
	rate_run rate_post "9. POST /v1/leads at half the maximum" post "${RPS[post]}"
fi
if only batch; then
	if [[ -n "$HAS_BATCH" ]]; then
		wrk_run batch "6. POST /v1/leads/batch of $BATCH (leads/s)" batch.lua "$BATCH"
	else
		skip batch "6. POST /v1/leads/batch of $BATCH" "answers 404 or 405: not landed yet"
	fi
fi

PEAK=$(daemon_hwm)
NOW=$(daemon_rss)

# Last, after the peak RSS of the bench was read: the idle connections.
if only idle; then idle_run; fi

# ---------------------------------------------------------------- the table

declare -A VS=([get]=pg_get [list]=pg_list [post]=pg_post)
ratio() {
	local limit=${VS[$1]:-}
	if [[ -n "$limit" && "${RPS[$1]}" =~ ^[0-9]+$ && "${RPS[$limit]:-}" =~ ^[1-9][0-9]*$ ]]; then
		awk -v a="${RPS[$1]}" -v b="${RPS[$limit]}" 'BEGIN { printf "%.0f %%", 100 * a / b }'
	else
		echo -
	fi
}

# A Markdown table, its columns padded to be read as text too.
table() {
	local k
	{
		printf 'scenario\trequests/s\tp50 ms\tp99 ms\terrors\tvs pgbench\tCPU s/1k req\tRSS MiB\n'
		for k in get list post patch feedback batch mixed idle0 idle pg_get pg_list pg_post; do
			[[ -n "${LABEL[$k]:-}" ]] || continue
			printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "${LABEL[$k]}" "${RPS[$k]}" "${P50[$k]:--}" \
				"${P99[$k]:--}" "${ERRS[$k]:--}" "$(ratio "$k")" "${CPU[$k]:--}" "${HWM[$k]:--}"
		done
	} | awk -F '\t' '
		{ for (i = 1; i <= NF; i++) { cell[NR, i] = $i; if (length($i) > w[i]) w[i] = length($i) } }
		END {
			for (r = 1; r <= NR; r++) {
				line = "|"
				for (i = 1; i <= NF; i++) {
					right = i > 1 && i != 5
					line = line " " sprintf(right ? "%" w[i] "s" : "%-" w[i] "s", cell[r, i]) " |"
				}
				print line
				if (r == 1) {
					line = "|"
					for (i = 1; i <= NF; i++) {
						dash = ""
						for (j = 0; j < w[i] + (i > 1 && i != 5 ? 1 : 2); j++) dash = dash "-"
						line = line dash (i > 1 && i != 5 ? ":" : "") "|"
					}
					print line
				}
			}
		}'
}

CORES=$(nproc)
summary() {
	bench_about wrk
	echo "- runs: ${SECS} s each, one at a time; wrk -t$THREADS -c$CONNS; LEADLOOP_DB_POOL=$POOL, pgbench -M prepared -c $POOL -j 2"
	echo "- data: $LEADS seeded leads over $CAMPAIGNS campaigns in one workspace; fsync and synchronous_commit on"
	echo
	table
	echo
	echo "- leadloopd peak RSS (VmHWM) over the whole bench: $PEAK MiB (VmRSS at the end: $NOW MiB)"
	echo "- CPU s/1k req: leadloopd's user+system CPU seconds per 1,000 requests (the batch row: per 1,000 leads)."
	echo "- RSS MiB: leadloopd's peak RSS (VmHWM) so far, read after each run."
	echo "- errors: non-2xx answers + socket errors (connect, read, write, timeout > 10 s); the batch row adds its failed items."
	echo "- pgbench runs the statements the daemon sent for one probe request of each kind, captured from"
	echo "  PostgreSQL's log, with the id, page, email and campaign drawn per transaction from the same sets"
	echo "  as wrk's ($LEADS leads, $NCURSORS of the $PAGES pages of $LIST_QUERY, $CAMPAIGNS campaigns). Not in it:"
	echo "  API-key statements (the daemon caches keys; a miss costs it one lookup), the rate limit's leases"
	echo "  (one statement per 100 requests of a key) and the webhook dispatcher's poll (it borrows a pooled"
	echo "  connection between requests). The create sends no Idempotency-Key, so neither writes an"
	echo "  idempotency row."
	if [[ -n "${LABEL[rate_get]:-}" ]]; then
		echo
		echo "### Latency at a fixed offered load (bench/rate.c)"
		echo
		echo "Open loop: request i is due at start + i / rate, sent then over $CONNS keep-alive connections"
		echo "(or as soon as its connection is free); latency runs from the due time to the end of the answer,"
		echo "so a queue shows in it (no coordinated omission). The rate is half the maximum wrk measured in"
		echo "this run (rows 1 and 3). Targets: p99 < 5 ms for reads, < 15 ms for writes."
		echo
		echo "| scenario | max req/s (wrk) | offered req/s | answered req/s | p50 ms | p90 ms | p99 ms | p99.9 ms | max ms | errors | p99 target | send lag p99 ms | generator late p99 ms | queued | CPU s/1k req |"
		echo "|---|--:|--:|--:|--:|--:|--:|--:|--:|---|---|--:|--:|--:|--:|"
		for k in rate_get rate_post; do
			[[ -n "${LABEL[$k]:-}" ]] || continue
			local goal=5 met
			[[ "$k" == rate_post ]] && goal=15
			met=$(awk -v p="${R_P99[$k]}" -v g="$goal" 'BEGIN { print (p < g) ? "met" : "missed" }')
			echo "| ${LABEL[$k]} | ${R_MAX[$k]} | ${R_TARGET[$k]} | ${R_DONE[$k]} | ${R_P50[$k]} | ${R_P90[$k]} | ${R_P99[$k]} | ${R_P999[$k]} | ${R_PMAX[$k]} | ${R_ERRS[$k]} | < $goal ms: $met | ${R_LAG[$k]} | ${R_LATE[$k]} | ${R_QUEUED[$k]} | ${CPU[$k]} |"
		done
		echo
		echo "- send lag: from a request's due time to its sending, inside the latency (not added to it);"
		echo "  generator late: the same for the requests whose connection was free when due, the generator's"
		echo "  own delay (its timer, a core); queued: requests due while their connection awaited an answer."
	fi
	if [[ -n "${LABEL[idle0]:-}" ]]; then
		echo
		echo "### $IDLE idle keep-alive connections (bench/idle_conns.c)"
		echo
		echo "Each connection from 127.0.0.1 has had one GET /healthz answered, then stays idle (at most 256"
		echo "being set up at once); rows 10 and 11 run wrk as row 1, before and while they are held."
		echo "The daemon ran with $IDLE_ENV for the whole bench (limits only)."
		echo "Targets: GET requests/s with them within 10 % of without; daemon RSS holding them < 64 MiB."
		echo
		echo "| measure | value |"
		echo "|---|---|"
		echo "| connections open after setup / failed or refused | ${I_OPEN:--} / ${I_FAILED:--} (setup ${I_SETUP:--} s) |"
		echo "| still open after the wrk run | ${I_STILL:--} |"
		echo "| GET /v1/leads/{id} req/s without / with them | ${RPS[idle0]:--} / ${RPS[idle]:--} ($(awk -v a="${RPS[idle]:-0}" -v b="${RPS[idle0]:-0}" 'BEGIN { if (b > 0 && a ~ /^[0-9]+$/) printf "%+.1f %%", 100 * (a - b) / b; else printf "-" }')) |"
		echo "| p99 ms without / with them | ${P99[idle0]:--} / ${P99[idle]:--} |"
		echo "| daemon VmRSS MiB before / holding / holding after wrk | ${I_RSS0:--} / ${I_RSS1:--} / ${I_RSS2:--} (VmHWM ${I_HWM:--}) |"
		echo "| daemon threads before / holding / after wrk | ${I_THR0:--} / ${I_THR1:--} / ${I_THR2:--} |"
		echo "| a fresh GET /readyz while holding them | ${I_READYZ:--} |"
		if [[ -n "$IDLE_NOTE" ]]; then echo "| notes | $IDLE_NOTE |"; fi
	fi
}

echo
summary

if [[ "$SAVE" == 1 ]]; then
	mkdir -p bench/results
	out=bench/results/$(date '+%Y-%m-%d')-${BENCH_RESULT_TAG:+$BENCH_RESULT_TAG-}${CORES}core.md
	{
		echo "# make bench, $(date '+%Y-%m-%d'), $CORES cores"
		echo
		summary
	} >"$out.tmp"
	mv "$out.tmp" "$out"
	note "saved $out"
fi

if [[ "${BENCH_PGSS:-0}" == 1 ]]; then
	echo
	echo "pg_stat_statements since the warm-up (the daemon's and pgbench's statements), top 12:"
	sql -c "SELECT calls, plans, round(mean_plan_time::numeric, 3) AS plan_ms,
		round(mean_exec_time::numeric, 3) AS exec_ms,
		round((total_plan_time + total_exec_time)::numeric / 1000, 1) AS total_s,
		left(regexp_replace(query, '\s+', ' ', 'g'), 80) AS query
		FROM pg_stat_statements ORDER BY total_exec_time + total_plan_time DESC LIMIT 12"
fi
