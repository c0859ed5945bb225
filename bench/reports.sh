#!/usr/bin/env bash
# bench/reports.sh: how long each closed-loop report takes over two years of one workspace.
#
# Builds the release binary (build/bench/leadloopd), starts a private PostgreSQL 15 cluster
# in a temporary directory (durable as shipped: fsync and synchronous_commit on) and
# leadloopd on loopback, seeds a workspace (bench/reports-seed.sql: 1,000,000 leads over
# 200 campaigns, 3,000,000 touches, 40 % MQLs, 300,000 feedback rows, written the way the
# daemon writes them so that the report aggregates see what the API would make them see),
# then times each report, after one warm-up request, over the last 90 days and over the
# whole history, and the searches (GET /v1/leads?q=, GET /v1/campaigns?q=) with common and
# rare terms, one at a time and then BENCH_SEARCH_CLIENTS at once while another workspace
# reads. Between the reports and the searches, the workspace moves to another time zone
# (timed: every lead's figures are re-bucketed) and the reports run again in it. Prints the seeding time, the database size and the tables; leaves nothing running.
#
# Usage: bench/reports.sh [--save]
#   --save  also write the output as Markdown to bench/results/YYYY-MM-DD-reports-<cores>core.md
# Env:
#   BENCH_REPORT_LEADS  seeded leads: 1000000; touches are 3x, feedback rows 0.3x
#                       (BENCH_REPORT_LEADS=20000 for a quick run)
#   BENCH_REPORT_RUNS   timed requests of each report and window: 21
#   BENCH_REPORT_TZ     the time zone the workspace moves to after the first runs, timed,
#                       before the reports run again: Asia/Kathmandu (+05:45); UTC: none
#   BENCH_REPORT_ONLY   only these reports, e.g. "funnel sources" (of: campaigns sources
#                       funnel rejections follow-up trends sla scoring search); "search"
#                       for the searches alone
#   BENCH_SEARCH_RUNS   timed requests of each search: 21
#   BENCH_SEARCH_CLIENTS, BENCH_SEARCH_SECONDS  the concurrent searches (wrk): 16
#                       connections, 10 s
#   BENCH_REPORT_CHECK  1: check the seeded rows' consistency (about 2 s per 100,000 leads);
#                       2: also compare the report tables with ll_report_rebuild (+15 s per
#                       100,000 leads); 0: no checks
#   BENCH_POOL          LEADLOOP_DB_POOL of the daemon: 8 (the default pool)
#   BENCH_SAVE=1        as --save
#   BENCH_BUILD_DIR     the build directory: build/bench (shared with make bench)
#   BENCH_BIN           the binary: $BENCH_BUILD_DIR/leadloopd
#   BENCH_PREBUILT=1    run BENCH_BIN as it is, without building it (another commit's build,
#                       for a before and after)
#   BENCH_KEEP=DIR      copy PostgreSQL's and leadloopd's logs and the answers to DIR at the end
#   PG_BINDIR           PostgreSQL 15 binaries (default /usr/lib/postgresql/15/bin)
# The daemon runs with its defaults otherwise (LEADLOOP_STATEMENT_TIMEOUT_MS 5000 and
# LEADLOOP_LIST_TIMEOUT_MS 2000 unless set in the environment): a report slower than that
# answers 503 and stops the run; a search's 503s are counted.
# As root, PostgreSQL runs as the postgres user (it refuses root); its directory is in /tmp.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
cd "$ROOT"

SAVE=${BENCH_SAVE:-0}
for arg in "$@"; do
	case "$arg" in
	--save) SAVE=1 ;;
	-h | --help)
		sed -n '2,43s/^# \{0,1\}//p' "$0"
		exit 0
		;;
	*)
		echo "reports.sh: unknown argument: $arg (try --help)" >&2
		exit 2
		;;
	esac
done

# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"

LEADS=${BENCH_REPORT_LEADS:-1000000}
RUNS=${BENCH_REPORT_RUNS:-21}
POOL=${BENCH_POOL:-8}
CAMPAIGNS=200
CHECK=${BENCH_REPORT_CHECK:-1}
for v in LEADS RUNS POOL; do posint "$v" "${!v}"; done
[[ "$CHECK" =~ ^[012]$ ]] || die "BENCH_REPORT_CHECK must be 0, 1 or 2, not '$CHECK'"
FEEDBACK=$((LEADS * 3 / 10))

PGBIN=${PG_BINDIR:-/usr/lib/postgresql/15/bin}
# Other work on the machine skews every figure: the load average at the start is reported.
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
BUILD=${BENCH_BUILD_DIR:-build/bench}
LEADLOOPD=${BENCH_BIN:-$BUILD/leadloopd}
[[ "$LEADLOOPD" == /* ]] || LEADLOOPD=$ROOT/$LEADLOOPD

# The reports: a key (for BENCH_REPORT_ONLY) and the path with its own parameters.
REPORTS=(
	"campaigns /v1/reports/campaigns?attribution=first_touch"
	"campaigns /v1/reports/campaigns?attribution=last_touch"
	"campaigns /v1/reports/campaigns?attribution=linear"
	"sources /v1/reports/sources"
	"funnel /v1/reports/funnel"
	"rejections /v1/reports/rejections?group_by=campaign"
	"rejections /v1/reports/rejections?group_by=source"
	"rejections /v1/reports/rejections?group_by=owner"
	"follow-up /v1/reports/follow-up"
	"campaigns /v1/reports/campaigns?group_by=channel&attribution=first_touch"
	"campaigns /v1/reports/campaigns?group_by=channel&attribution=linear"
	"trends /v1/reports/trends?metric=leads&interval=week&group_by=campaign"
	"trends /v1/reports/trends?metric=won_amount&interval=month&group_by=channel&attribution=linear"
	"trends /v1/reports/trends?metric=cost&interval=week&group_by=channel"
	"trends /v1/reports/trends?metric=mqls&interval=month&group_by=source"
	"sla /v1/reports/sla"
	"sla /v1/reports/sla?period=$(date -u -d "$(date -u +%Y-%m-15) -1 month" +%Y-%m)"
	"sla /v1/reports/sla?period=$(date -u -d "$(date -u +%Y-%m-15) -3 months" +%Y)-Q$((($(date -u -d "$(date -u +%Y-%m-15) -3 months" +%-m) + 2) / 3))"
	"scoring /v1/reports/scoring?score=fit"
	"scoring /v1/reports/scoring?score=engagement"
)
only() { [[ -z "${BENCH_REPORT_ONLY:-}" || " ${BENCH_REPORT_ONLY//,/ } " == *" $1 "* ]]; }

# ---------------------------------------------------------------- tools and build

bash scripts/deps.sh
command -v curl >/dev/null || die "curl not found (apt-get install curl)"
for tool in initdb pg_ctl psql; do
	[[ -x "$PGBIN/$tool" ]] || die "$PGBIN/$tool not found (install postgresql-15, or set PG_BINDIR)"
done

bench_setup reports
if [[ "${BENCH_PREBUILT:-0}" == 1 ]]; then
	[[ -x "$LEADLOOPD" ]] || die "BENCH_PREBUILT=1: $LEADLOOPD is not an executable"
	note "running $LEADLOOPD as it is (BENCH_PREBUILT=1)"
else
	bench_build "$BUILD" "$LEADLOOPD"
fi
# max_wal_size only spaces the seed's checkpoints; the reports read.
bench_postgres $((2 * POOL + 20)) "max_wal_size = 8GB"

DB=leadloop_reports
DATABASE_URL="postgresql://$OWNER@127.0.0.1:$PGPORT/$DB"
export DATABASE_URL
sql() { "$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -d "$DATABASE_URL" "$@"; }
sql_value() { sql -tA -c "$1"; }
"$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -d "postgresql://$OWNER@127.0.0.1:$PGPORT/postgres" \
	-c "CREATE DATABASE $DB"

# ---------------------------------------------------------------- data

"$LEADLOOPD" migrate >/dev/null
"$LEADLOOPD" workspace create reports --name "Reports" 2>"$CLIENT/leadloopd.err" || {
	cat "$CLIENT/leadloopd.err" >&2
	die "leadloopd workspace create failed"
}
KEY=$("$LEADLOOPD" keys create --workspace reports --role admin --name bench 2>"$CLIENT/leadloopd.err") || {
	cat "$CLIENT/leadloopd.err" >&2
	die "leadloopd keys create failed"
}
[[ "$KEY" =~ ^llk_[A-Za-z0-9_-]+$ ]] || die "'leadloopd keys create' printed no usable key"
WS=$(sql_value "SELECT id FROM workspaces WHERE slug = 'reports'")
KEY_ID=$(sql_value "SELECT id FROM api_keys WHERE workspace_id = '$WS'")
[[ "$(sql_value "SELECT currency FROM workspaces WHERE id = '$WS'")" == USD ]] ||
	die "the new workspace does not report in USD"

note "seeding $LEADS leads, $((LEADS * 3)) touches, $FEEDBACK feedback rows over $CAMPAIGNS campaigns"
t0=$SECONDS
# The seed's progress (\warn) goes to its log, shown as it grows.
rc=0
"$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -d "$DATABASE_URL" -v ws="$WS" -v key="$KEY_ID" \
	-v leads="$LEADS" -v campaigns="$CAMPAIGNS" -v feedback="$FEEDBACK" -v check="$CHECK" \
	-f bench/reports-seed.sql >/dev/null 2>"$CLIENT/seed.log" &
CHILD=$!
tail -n +1 -s 0.5 -f --pid="$CHILD" "$CLIENT/seed.log" >&2 &
wait "$CHILD" || rc=$?
CHILD=
wait $! || true
((rc == 0)) || die "bench/reports-seed.sql failed"
SEED_S=$((SECONDS - t0))
# Its phases: "1. leads, ...: 12.3 s; 2. ...".
PHASES=$(sed -n 's/^reports-seed: \([0-9]\. [^:]*\): \([0-9.]* s\)$/\1: \2/p' "$CLIENT/seed.log" | paste -sd ';' | sed 's/;/; /g')
SEEDED=$(sed -n 's/^reports-seed: seeded in \([0-9.]* s\)$/\1/p' "$CLIENT/seed.log")
[[ "$SEEDED" =~ ^[0-9]+\.[0-9]\ s$ ]] || die "bench/reports-seed.sql printed no 'seeded in' line"
CHECK_S=$((SEED_S - ${SEEDED%%.*}))
# What autovacuum would have done by now on a live database: statistics, hint bits and the
# visibility map; then a checkpoint, so that the seed's writes are not flushed during a run.
t0=$SECONDS
# the deltas the seed appended, folded as the daemon's compactor does every second (the
# seed wrote two years in minutes; a running daemon folds about a second's worth at a time)
run_child "$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -d "$DATABASE_URL" \
	-c 'SELECT ll_report_compact(2000000000)' -c 'VACUUM (ANALYZE)' -c 'CHECKPOINT'
VACUUM_S=$((SECONDS - t0))
COUNTS=$(sql_value "SELECT format('%s leads, %s touches, %s stage changes, %s feedback rows, %s change-feed rows',
	(SELECT count(*) FROM leads), (SELECT count(*) FROM campaign_touches),
	(SELECT count(*) FROM lead_stage_changes), (SELECT count(*) FROM feedback), (SELECT count(*) FROM changes))")
STAGES=$(sql_value "SELECT string_agg(stage || ' ' || n, ', ' ORDER BY n DESC)
	FROM (SELECT stage, count(*) AS n FROM leads GROUP BY stage) s")
DBSIZE=$(sql_value "SELECT pg_size_pretty(pg_database_size(current_database()))")
# The largest tables with their indexes: the report aggregates show up here when they are big.
TABLES=$(sql_value "SELECT string_agg(relname || ' ' || pg_size_pretty(s), ', ' ORDER BY s DESC)
	FROM (SELECT c.relname, pg_total_relation_size(c.oid) AS s FROM pg_class c
	      JOIN pg_namespace n ON n.oid = c.relnamespace
	      WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'm')
	      ORDER BY s DESC LIMIT 8) t")
note "seeded in $SEEDED ($SEED_S s with the checks), deltas folded, VACUUM (ANALYZE) and CHECKPOINT in $VACUUM_S s: $COUNTS; database $DBSIZE"

# ---------------------------------------------------------------- leadloopd

bench_serve

# ---------------------------------------------------------------- the runs

# The days as the API takes them (UTC, as the daemon's dates).
TO=$(date -u '+%Y-%m-%d')
FROM=$(date -u -d '90 days ago' '+%Y-%m-%d')
WINDOWS=("90 days|from=$FROM&to=$TO" "all|")

# get URL OUT: one timed request; prints "status seconds bytes".
get() {
	curl -s --max-time 120 -H "Authorization: Bearer $KEY" -o "$2" \
		-w '%{http_code} %{time_total} %{size_download}\n' "$1" || echo "000 0 0"
}

declare -a ROWS=()
n=0
# run_reports SUFFIX: times every report of BENCH_REPORT_ONLY in each window (labelled with
# SUFFIX, the workspace's time zone when it is not UTC).
run_reports() {
local entry key path window label query url answer code secs bytes r stats windows
for entry in "${REPORTS[@]}"; do
	key=${entry%% *}
	path=${entry#* }
	only "$key" || continue
	windows=("${WINDOWS[@]}")
	# the SLA report names its own period (a month or a quarter), no window
	[[ "$key" == sla ]] && windows=("period|")
	for window in "${windows[@]}"; do
		label=${window%%|*}$1
		query=${window#*|}
		url=$BASE$path
		if [[ -n "$query" ]]; then
			if [[ "$path" == *\?* ]]; then url+="&$query"; else url+="?$query"; fi
		fi
		n=$((n + 1))
		answer=$CLIENT/answer-$n.json
		read -r code secs bytes < <(get "$url" "$answer")
		if [[ "$code" != 200 ]]; then
			note "GET ${url#"$BASE"} answered $code (warm-up):"
			head -c 2000 "$answer" >&2 2>/dev/null || true
			echo >&2
			die "GET ${url#"$BASE"} did not answer 200"
		fi
		: >"$CLIENT/times"
		for ((r = 0; r < RUNS; r++)); do
			read -r code secs bytes < <(get "$url" /dev/null)
			[[ "$code" == 200 ]] || die "GET ${url#"$BASE"} answered $code on run $((r + 1)) of $RUNS"
			echo "$secs" >>"$CLIENT/times"
		done
		# median and p90 by nearest rank, in ms
		stats=$(sort -g "$CLIENT/times" | awk '
			{ v[NR] = $1 * 1000 }
			function rank(q,  i) { i = int(NR * q); if (i < NR * q) i++; return v[i < 1 ? 1 : i] }
			END { printf "%.1f %.1f", rank(0.5), rank(0.9) }')
		ROWS+=("${path#/v1/reports/}"$'\t'"$label"$'\t'"${stats% *}"$'\t'"${stats#* }"$'\t'"$bytes")
		note "${path#/v1/reports/} ($label): median ${stats% *} ms, p90 ${stats#* } ms, $bytes bytes"
	done
done
}
# The SLA report measures goals: last month's and last quarter's, one of each metric, the
# team's (each goal reads the period's cohort once more).
if only sla; then
	for period in "${REPORTS[@]}"; do
		[[ "$period" == *period=* ]] || continue
		period=${period##*period=}
		for goal in '"metric":"mqls","target":4000' '"metric":"accepted_leads","target":2000' \
			'"metric":"first_attempt_within","within_hours":4,"target":90' \
			'"metric":"attempts","min_attempts":3,"target":80' \
			'"metric":"verdict_within","within_days":5,"target":95'; do
			curl -s --fail-with-body -o /dev/null -H "Authorization: Bearer $KEY" \
				-H 'Content-Type: application/json' -d "{\"period\":\"$period\",$goal}" \
				"$BASE/v1/sla/goals" || die "could not set an SLA goal for $period"
		done
	done
fi
# The scoring report reads the score bands' kept figures: the bench rule set
# (bench/scoring-rules.json) is published first, and its rescore of every lead timed.
if only scoring; then
	t0=$(date +%s.%N)
	curl -s --fail-with-body -o /dev/null -X PUT -H "Authorization: Bearer $KEY" \
		-H 'Content-Type: application/json' --data-binary @bench/scoring-rules.json \
		"$BASE/v1/scoring/draft" || die "could not put the scoring draft"
	curl -s --fail-with-body -o /dev/null -X POST -H "Authorization: Bearer $KEY" \
		-H 'Content-Type: application/json' -d '{}' "$BASE/v1/scoring/draft/publish" ||
		die "could not publish the scoring draft"
	until curl -s --fail-with-body -H "Authorization: Bearer $KEY" "$BASE/v1/scoring" |
		grep -q '"state":"done"'; do
		sleep 1
	done
	note "scoring: publish of bench/scoring-rules.json rescored $LEADS leads in $(printf '%.0f' "$(echo "$(date +%s.%N) - $t0" | bc)") s (two lanes, durable cluster)"
fi
run_reports ""

# ---------------------------------------------------------------- another time zone

# The workspace moves to BENCH_REPORT_TZ: PATCH /v1/workspace re-buckets every lead's
# figures in its transaction (timed), then the campaigns and sources reports run again in
# that time zone; with BENCH_REPORT_CHECK=2, the re-bucketed figures are compared with
# what ll_report_rebuild computes from the rows.
TZ_NAME=${BENCH_REPORT_TZ:-Asia/Kathmandu}
TZ_NOTE=""
if [[ "$TZ_NAME" != UTC ]] && { only campaigns || only sources; }; then
	t0=$(date +%s.%N)
	code=$(curl -s -o "$CLIENT/tz.json" -w '%{http_code}' --max-time 1800 -X PATCH \
		-H "Authorization: Bearer $KEY" -H 'Content-Type: application/merge-patch+json' \
		-d "{\"time_zone\":\"$TZ_NAME\"}" "$BASE/v1/workspace")
	[[ "$code" == 200 ]] || die "PATCH /v1/workspace time_zone=$TZ_NAME answered $code: $(head -c 500 "$CLIENT/tz.json")"
	TZ_S=$(echo "$(date +%s.%N) - $t0" | bc)
	run_child "$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -d "$DATABASE_URL" \
		-c 'SELECT ll_report_compact(2000000000)' -c 'VACUUM (ANALYZE) report_days, report_day_deltas, report_leads, report_follow_ups'
	TZ_NOTE="- time zone: PATCH /v1/workspace {\"time_zone\":\"$TZ_NAME\"} re-bucketed $LEADS leads in $(printf '%.1f' "$TZ_S") s (one transaction; the deltas it appended folded and the report tables vacuumed after it, as the compactor and autovacuum would)"
	note "${TZ_NOTE#- }"
	if [[ "$CHECK" == 2 ]]; then
		sums="SELECT dim, day, key, sum(leads) AS l, sum(won_amount) AS w, sum(followed) AS f
			FROM (SELECT dim, day, key, leads, won_amount, followed FROM report_days
			WHERE workspace_id = '$WS' AND NOT month UNION ALL SELECT dim, day, key, leads,
			won_amount, followed FROM report_day_deltas WHERE workspace_id = '$WS') x
			GROUP BY 1, 2, 3 HAVING sum(leads) <> 0"
		diff=$(sql_value "BEGIN; CREATE TEMP TABLE kept ON COMMIT DROP AS $sums;
			SELECT ll_report_rebuild('$WS'); CREATE TEMP TABLE built ON COMMIT DROP AS $sums;
			SELECT (SELECT count(*) FROM (TABLE kept EXCEPT TABLE built) a)
			     + (SELECT count(*) FROM (TABLE built EXCEPT TABLE kept) b); ROLLBACK;" | tail -n 1)
		[[ "$diff" == 0 ]] || die "after the time zone change, $diff figures differ from ll_report_rebuild's"
		TZ_NOTE+="; the figures equal ll_report_rebuild's (BENCH_REPORT_CHECK=2)"
	fi
	run_reports " ($TZ_NAME)"
fi

# ---------------------------------------------------------------- the searches

# urlencode TEXT: TEXT percent-encoded for a query string (bytewise, so UTF-8 stays whole).
urlencode() {
	local LC_ALL=C s=$1 out='' c i
	for ((i = 0; i < ${#s}; i++)); do
		c=${s:i:1}
		case "$c" in
		[A-Za-z0-9.~_-]) out+=$c ;;
		*) out+=$(printf '%%%02X' "'$c") ;;
		esac
	done
	printf '%s' "$out"
}

# p50_max TIMES_FILE: "p50 max" in ms by nearest rank, of curl's time_total values (seconds).
p50_max() {
	sort -g "$1" | awk '
		{ v[NR] = $1 * 1000 }
		END { i = int(NR * 0.5); if (i < NR * 0.5) i++; printf "%.1f %.1f", v[i < 1 ? 1 : i], v[NR] }'
}

# GET /v1/leads?q= (a prefix of email, first or last name, or company) and
# GET /v1/campaigns?q= (a substring of the name), one request at a time: common and rare
# terms of the seed's names. "matches" counts the leads or campaigns q finds (by SQL).
declare -a SEARCH_ROWS=()
SEARCH_RUNS=${BENCH_SEARCH_RUNS:-21}
SEARCH_CLIENTS=${BENCH_SEARCH_CLIENTS:-16}
SEARCH_SECONDS=${BENCH_SEARCH_SECONDS:-10}
for v in SEARCH_RUNS SEARCH_CLIENTS SEARCH_SECONDS; do posint "$v" "${!v}"; done
if only search; then
	# one lead's whole email: a term that finds one lead
	RARE=$(sql_value "SELECT email FROM leads WHERE workspace_id = '$WS' ORDER BY id LIMIT 1")
	# A common term whose leads are all old (a big customer of two years ago): the seed's
	# names are spread evenly over time, so the 0.5 % oldest leads get a company of their own.
	sql -c "UPDATE leads SET company = 'Oldco Holdings' WHERE workspace_id = '$WS' AND id IN
		(SELECT id FROM leads WHERE workspace_id = '$WS' ORDER BY created_at LIMIT $((LEADS / 200)))" \
		-c "ANALYZE leads"
	SEARCHES=(
		"leads ana"         # a first name (1 in 40 leads) and those leads' emails
		"leads silva"       # a last name (1 in 40)
		"leads nor"         # companies Norte ... (1 in 20)
		"leads ana.silva"   # emails of one first and last name (1 in 1,600)
		"leads $RARE"       # one lead
		"leads zzz"         # none
		"leads example"     # none: each email ends with it, none starts with it
		"leads oldco"       # the 0.5 % oldest leads
		"leads a"           # one character: first and last names, companies (Apex, Atlas)
		"campaigns webinar" # one channel's campaigns (1 in 9)
		"campaigns #17"     # #17 and #170..#179
	)
	for entry in "${SEARCHES[@]}"; do
		list=${entry%% *}
		term=${entry#* }
		enc=$(urlencode "$term")
		url="$BASE/v1/$list?q=$enc"
		if [[ "$list" == leads ]]; then
			matches=$(sql_value "SELECT count(*) FROM leads WHERE workspace_id = '$WS'
				AND erased_at IS NULL AND (starts_with(ll_fold(email), ll_fold('$term'))
				OR starts_with(ll_fold(first_name), ll_fold('$term'))
				OR starts_with(ll_fold(last_name), ll_fold('$term'))
				OR starts_with(ll_fold(company), ll_fold('$term')))")
		else
			matches=$(sql_value "SELECT count(*) FROM campaigns WHERE workspace_id = '$WS'
				AND strpos(ll_fold(name), ll_fold('$term')) > 0")
		fi
		# a search slower than the list timeout answers 503: counted, not fatal (a build
		# from before the search indexes, BENCH_PREBUILT=1, has some)
		read -r code secs bytes < <(get "$url" "$CLIENT/search.json")
		[[ "$code" == 200 || "$code" == 503 ]] ||
			die "GET /v1/$list?q=$enc answered $code (warm-up): $(head -c 500 "$CLIENT/search.json")"
		: >"$CLIENT/times"
		failed=0
		for ((r = 0; r < SEARCH_RUNS; r++)); do
			read -r code secs bytes < <(get "$url" /dev/null)
			[[ "$code" == 200 ]] || failed=$((failed + 1))
			echo "$secs" >>"$CLIENT/times"
		done
		stats=$(p50_max "$CLIENT/times")
		SEARCH_ROWS+=("$list"$'\t'"$term"$'\t'"$matches"$'\t'"${stats% *}"$'\t'"${stats#* }"$'\t'"$failed")
		note "search $list q=$term ($matches matches): p50 ${stats% *} ms, max ${stats#* } ms, $failed not 200"
	done

	# The incident of the security issue: SEARCH_CLIENTS connections search the big
	# workspace for SEARCH_SECONDS (terms that find one lead or none, wrk), while another
	# workspace reads one lead at a time over one connection (wrk too): how its requests fare.
	command -v wrk >/dev/null || die "wrk not found (bash scripts/deps.sh --bench)"
	"$LEADLOOPD" workspace create bystander --name Bystander >/dev/null 2>"$CLIENT/leadloopd.err" ||
		die "leadloopd workspace create bystander failed: $(cat "$CLIENT/leadloopd.err")"
	OTHER_KEY=$("$LEADLOOPD" keys create --workspace bystander --role readonly --name bench 2>"$CLIENT/leadloopd.err") ||
		die "leadloopd keys create failed: $(cat "$CLIENT/leadloopd.err")"
	sql -c "INSERT INTO leads (workspace_id, email) SELECT id, 'one@bystander.example' FROM workspaces WHERE slug = 'bystander'"
	printf '%s\n' "/v1/leads?q=$(urlencode "$RARE")" /v1/leads?q=zzz /v1/leads?q=example >"$CLIENT/search_paths.txt"
	echo "/v1/leads?limit=1" >"$CLIENT/bystander_paths.txt"
	BENCH_LUA_DIR=$ROOT/bench BENCH_DATA=$CLIENT BENCH_KEY=$KEY BENCH_PATHS=search_paths.txt \
		wrk -t2 -c"$SEARCH_CLIENTS" -d"${SEARCH_SECONDS}s" --timeout 30s -s bench/paths.lua "$BASE" \
		>"$CLIENT/wrk-search.log" 2>&1 &
	CHILD=$!
	sleep 1 # the searches are under way
	BENCH_LUA_DIR=$ROOT/bench BENCH_DATA=$CLIENT BENCH_KEY=$OTHER_KEY BENCH_PATHS=bystander_paths.txt \
		wrk -t1 -c1 -d"$((SEARCH_SECONDS > 2 ? SEARCH_SECONDS - 2 : 1))s" --timeout 30s -s bench/paths.lua "$BASE" \
		>"$CLIENT/wrk-bystander.log" 2>&1 || die "wrk failed: $(tail -n 5 "$CLIENT/wrk-bystander.log")"
	wait "$CHILD" || die "wrk failed: $(tail -n 5 "$CLIENT/wrk-search.log")"
	CHILD=
	# "N requests (N/s), p50 N ms, p99 N ms, N not 2xx (codes)" from wrk's BENCH line
	wrk_summary() {
		grep '^BENCH ' "$1" | head -n 1 | tr ' ' '\n' | awk -F= '
			{ v[$1] = $2 }
			END {
				printf "%d requests (%.0f/s), p50 %.1f ms, p99 %.1f ms, %d not 2xx%s", v["requests"],
					v["requests"] / (v["duration_us"] / 1e6), v["p50_us"] / 1000, v["p99_us"] / 1000,
					v["non2xx"] + v["socket"], v["codes"] == "-" ? "" : " (" v["codes"] ")"
			}'
	}
	SEARCH_LOAD="$SEARCH_CLIENTS connections searching for $SEARCH_SECONDS s (q= one lead's email, zzz, example): $(wrk_summary "$CLIENT/wrk-search.log"); meanwhile another workspace's GET /v1/leads?limit=1 on one connection: $(wrk_summary "$CLIENT/wrk-bystander.log")"
	note "$SEARCH_LOAD"
fi
((${#ROWS[@]} + ${#SEARCH_ROWS[@]} > 0)) || die "BENCH_REPORT_ONLY='${BENCH_REPORT_ONLY:-}' names no report"

# ---------------------------------------------------------------- the table

# table HEADER ROW...: a Markdown table (tab-separated cells; from the third column on,
# right-aligned numbers), its columns padded to be read as text too.
table() {
	printf '%s\n' "$@" | awk -F '\t' '
		{ for (i = 1; i <= NF; i++) { cell[NR, i] = $i; if (length($i) > w[i]) w[i] = length($i) } }
		END {
			for (r = 1; r <= NR; r++) {
				line = "|"
				for (i = 1; i <= NF; i++)
					line = line " " sprintf(i > 2 ? "%" w[i] "s" : "%-" w[i] "s", cell[r, i]) " |"
				print line
				if (r == 1) {
					line = "|"
					for (i = 1; i <= NF; i++) {
						dash = ""
						for (j = 0; j < w[i] + (i > 2 ? 1 : 2); j++) dash = dash "-"
						line = line dash (i > 2 ? ":" : "") "|"
					}
					print line
				}
			}
		}'
}

CORES=$(nproc)
summary() {
	bench_about curl
	echo "- data: one workspace, two years: $COUNTS over $CAMPAIGNS campaigns; stages: $STAGES"
	echo "- seeding (bench/reports-seed.sql): $SEEDED ($PHASES); checks (BENCH_REPORT_CHECK=$CHECK): $CHECK_S s more; then the deltas folded, VACUUM (ANALYZE) and CHECKPOINT: $VACUUM_S s"
	echo "- database: $DBSIZE; largest tables with their indexes: $TABLES"
	if ((${#ROWS[@]} > 0)); then
		echo "- runs: one request at a time, $RUNS timed after one warm-up, curl's time_total; LEADLOOP_DB_POOL=$POOL; window \"90 days\" is from=$FROM&to=$TO, \"all\" has neither"
		echo
		table $'report\twindow\tmedian ms\tp90 ms\tbytes' "${ROWS[@]}"
	fi
	[[ -z "$TZ_NOTE" ]] || echo "$TZ_NOTE"
	if ((${#SEARCH_ROWS[@]} > 0)); then
		echo
		echo "- searches: one request at a time, $SEARCH_RUNS timed after one warm-up, curl's time_total, default page of 50, sort -created_at; LEADLOOP_DB_POOL=$POOL"
		echo "- $SEARCH_LOAD"
		echo
		table $'list\tq\tmatches\tp50 ms\tmax ms\tnot 200' "${SEARCH_ROWS[@]}"
	fi
}

echo
summary

if [[ "$SAVE" == 1 ]]; then
	mkdir -p bench/results
	out=bench/results/$(date '+%Y-%m-%d')-reports-${CORES}core.md
	{
		echo "# bench/reports.sh, $(date '+%Y-%m-%d'), $CORES cores"
		echo
		summary
	} >"$out.tmp"
	mv "$out.tmp" "$out"
	note "saved $out"
fi
