#!/usr/bin/env bash
# bench/import.sh: how long a team's history takes to come in: a CSV file of leads with
# their created_at over two years (POST /v1/leads/import, one request, with an importing
# key), then their later touches, each dated (POST /v1/campaigns/{id}/touches/batch, 1,000
# a request, BENCH_IMPORT_CLIENTS at once), then the campaigns report over the whole
# history and last quarter, compared with ll_report_rebuild's figures.
#
# Builds the release binary, starts a private PostgreSQL 15 cluster (durable as shipped)
# and leadloopd on loopback; prints the times and rates; leaves nothing running.
#
# Usage: bench/import.sh [--save]
#   --save  also write the output as Markdown to bench/results/YYYY-MM-DD-import-<cores>core.md
# Env:
#   BENCH_IMPORT_LEADS    leads in the CSV file: 100000
#   BENCH_IMPORT_TOUCHES  dated touches after the leads' created touches: 300000
#   BENCH_IMPORT_CLIENTS  touch batches sent at once: 2
#   BENCH_IMPORT_KEY=1    send the leads' import with an Idempotency-Key (chunked commits)
#   BENCH_POOL            LEADLOOP_DB_POOL: 8
#   BENCH_BUILD_DIR, BENCH_BIN, BENCH_PREBUILT=1, BENCH_KEEP=DIR, PG_BINDIR: as bench/reports.sh
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
cd "$ROOT"
SAVE=${BENCH_SAVE:-0}
for arg in "$@"; do
	case "$arg" in
	--save) SAVE=1 ;;
	-h | --help)
		sed -n '2,19s/^# \{0,1\}//p' "$0"
		exit 0
		;;
	*)
		echo "import.sh: unknown argument: $arg (try --help)" >&2
		exit 2
		;;
	esac
done

# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"

LEADS=${BENCH_IMPORT_LEADS:-100000}
TOUCHES=${BENCH_IMPORT_TOUCHES:-300000}
CLIENTS=${BENCH_IMPORT_CLIENTS:-2}
POOL=${BENCH_POOL:-8}
CAMPAIGNS=20
for v in LEADS TOUCHES CLIENTS POOL; do posint "$v" "${!v}"; done
PGBIN=${PG_BINDIR:-/usr/lib/postgresql/15/bin}
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
BUILD=${BENCH_BUILD_DIR:-build/bench}
LEADLOOPD=${BENCH_BIN:-$BUILD/leadloopd}
[[ "$LEADLOOPD" == /* ]] || LEADLOOPD=$ROOT/$LEADLOOPD

bash scripts/deps.sh
for tool in curl jq python3; do command -v "$tool" >/dev/null || die "$tool not found"; done
bench_setup import
if [[ "${BENCH_PREBUILT:-0}" == 1 ]]; then
	[[ -x "$LEADLOOPD" ]] || die "BENCH_PREBUILT=1: $LEADLOOPD is not an executable"
else
	bench_build "$BUILD" "$LEADLOOPD"
fi
bench_postgres $((POOL + 20)) "max_wal_size = 8GB"
DATABASE_URL="postgresql://$OWNER@127.0.0.1:$PGPORT/leadloop_import"
export DATABASE_URL
sql_value() { "$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -d "$DATABASE_URL" -tA -c "$1"; }
"$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -d "postgresql://$OWNER@127.0.0.1:$PGPORT/postgres" \
	-c "CREATE DATABASE leadloop_import"
"$LEADLOOPD" migrate >/dev/null
"$LEADLOOPD" workspace create history --name History 2>/dev/null
ADMIN=$("$LEADLOOPD" keys create --workspace history --role admin --name bench 2>/dev/null)
KEY=$("$LEADLOOPD" keys create --workspace history --role marketing --name importer --import 2>/dev/null)
WS=$(sql_value "SELECT id FROM workspaces WHERE slug = 'history'")

bench_serve

api() { curl -s --fail-with-body --max-time 3600 -H "Authorization: Bearer $1" "${@:2}"; }
curl -s --fail-with-body -X PATCH -H "Authorization: Bearer $ADMIN" \
	-H 'Content-Type: application/merge-patch+json' -d '{"time_zone":"America/New_York"}' \
	"$BASE/v1/workspace" >/dev/null
: >"$CLIENT/campaigns"
for ((c = 0; c < CAMPAIGNS; c++)); do
	api "$ADMIN" -H 'Content-Type: application/json' \
		-d "{\"name\":\"Campaign $c\",\"channel\":\"webinar\",\"cost\":$((100000 + c * 5000))}" \
		"$BASE/v1/campaigns" | jq -r .id >>"$CLIENT/campaigns"
done

# The files: leads created at any time of the last two years, in no order; touches of
# random leads of random campaigns, each after its lead's creation, 1,000 a file, per
# campaign (the batch is a campaign's).
note "writing $LEADS leads and $TOUCHES touches"
python3 - "$CLIENT" "$LEADS" "$TOUCHES" <<'PY'
import json, random, sys, time
out, leads, touches = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
random.seed(14)
camps = open(f"{out}/campaigns").read().split()
now = int(time.time())
created = []
with open(f"{out}/leads.csv", "w") as f:
    f.write("email,first_name,source,campaign_id,created_at\n")
    for i in range(leads):
        t = now - 120 - random.randrange(730 * 86400)
        created.append(t)
        f.write("lead%07d@import.example,Lead %d,%s,%s,%s\n" % (
            i, i, random.choice(["web", "event", "referral", "paid", "partner"]),
            random.choice(camps), time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))))
by = {c: [] for c in camps}
for _ in range(touches):
    i = random.randrange(leads)
    t = created[i] + random.randrange(max(1, now - 60 - created[i]))
    by[random.choice(camps)].append({"email": "lead%07d@import.example" % i,
        "kind": random.choice(["visited", "clicked", "attended"]),
        "occurred_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))})
n = 0
with open(f"{out}/batches", "w") as index:
    for c, items in by.items():
        for k in range(0, len(items), 1000):
            name = f"{out}/touches-{n}.json"
            json.dump({"touches": items[k:k + 1000]}, open(name, "w"))
            index.write(f"{c} {name}\n")
            n += 1
PY

IDEM=()
[[ "${BENCH_IMPORT_KEY:-0}" == 1 ]] && IDEM=(-H "Idempotency-Key: bench-import-$$")
t0=$(date +%s.%N)
api "$KEY" "${IDEM[@]}" -H 'Content-Type: text/csv' --data-binary "@$CLIENT/leads.csv" \
	"$BASE/v1/leads/import?mode=create" >"$CLIENT/import.json" || die "the import failed: $(head -c 500 "$CLIENT/import.json")"
T_LEADS=$(echo "$(date +%s.%N) - $t0" | bc)
CREATED=$(jq -r .created "$CLIENT/import.json")
[[ "$CREATED" == "$LEADS" ]] || die "the import created $CREATED of $LEADS leads: $(head -c 500 "$CLIENT/import.json")"
note "$LEADS leads imported in $(printf '%.1f' "$T_LEADS") s${IDEM[*]:+ (with an Idempotency-Key)}"

t0=$(date +%s.%N)
# shellcheck disable=SC2016 # expanded by the inner shell
xargs -P "$CLIENTS" -L 1 sh -c 'curl -s --fail-with-body --max-time 600 -H "Authorization: Bearer $0" -H "Content-Type: application/json" --data-binary "@$2" "$1/v1/campaigns/$3/touches/batch" | jq -e ".failed == 0" >/dev/null || { echo "batch $2 failed" >&2; exit 255; }' \
	"$KEY" "$BASE" < <(awk '{ print $2, $1 }' "$CLIENT/batches") || die "a touch batch failed"
T_TOUCHES=$(echo "$(date +%s.%N) - $t0" | bc)
NTOUCHES=$(sql_value "SELECT count(*) FROM campaign_touches WHERE workspace_id = '$WS' AND kind <> 'created'")
[[ "$NTOUCHES" == "$TOUCHES" ]] || die "$NTOUCHES of $TOUCHES touches were recorded"
note "$TOUCHES touches recorded in $(printf '%.1f' "$T_TOUCHES") s"
TOTAL=$(echo "$T_LEADS + $T_TOUCHES" | bc)

# the reports place them on their days: every figure equals ll_report_rebuild's
sql_value "SELECT ll_report_compact(2000000000)" >/dev/null
SUMS="SELECT dim, day, key, sum(leads) AS l, sum(mqls) AS m FROM (SELECT dim, day, key,
	leads, mqls FROM report_days WHERE workspace_id = '$WS' AND NOT month UNION ALL SELECT dim,
	day, key, leads, mqls FROM report_day_deltas WHERE workspace_id = '$WS') x GROUP BY 1, 2, 3
	HAVING sum(leads) <> 0"
DIFF=$(sql_value "BEGIN; CREATE TEMP TABLE kept ON COMMIT DROP AS $SUMS;
	SELECT ll_report_rebuild('$WS'); CREATE TEMP TABLE built ON COMMIT DROP AS $SUMS;
	SELECT (SELECT count(*) FROM (TABLE kept EXCEPT TABLE built) a)
	     + (SELECT count(*) FROM (TABLE built EXCEPT TABLE kept) b); ROLLBACK;" | tail -n 1)
[[ "$DIFF" == 0 ]] || die "$DIFF figures differ from ll_report_rebuild's"
DAYS=$(sql_value "SELECT count(DISTINCT day) FROM report_leads WHERE workspace_id = '$WS'")
time_report() {
	local i times=()
	for ((i = 0; i < 11; i++)); do
		times+=("$(curl -s -o /dev/null -w '%{time_total}' -H "Authorization: Bearer $ADMIN" "$BASE$1")")
	done
	printf '%s\n' "${times[@]}" | sort -g | sed -n 6p | awk '{ printf "%.1f", $1 * 1000 }'
}
Q_FROM=$(TZ=America/New_York date -d '90 days ago' +%Y-%m-%d)
R_ALL=$(time_report "/v1/reports/campaigns?attribution=linear")
R_90=$(time_report "/v1/reports/campaigns?attribution=linear&from=$Q_FROM")

summary() {
	bench_about "curl"
	echo "- one workspace in America/New_York, $CAMPAIGNS campaigns, LEADLOOP_DB_POOL=$POOL"
	echo "- $LEADS leads, one CSV file (POST /v1/leads/import?mode=create, created_at over two years, each with its created touch): $(printf '%.1f' "$T_LEADS") s, $(echo "$LEADS / $T_LEADS" | bc) leads/s"
	echo "- $TOUCHES dated touches, 1,000 a request, $CLIENTS at once (POST /v1/campaigns/{id}/touches/batch): $(printf '%.1f' "$T_TOUCHES") s, $(echo "$TOUCHES / $T_TOUCHES" | bc) touches/s"
	echo "- together: $(printf '%.1f' "$TOTAL") s (target: under 60 s)"
	echo "- afterwards the leads span $DAYS report days; every kept figure equals ll_report_rebuild's; campaigns report (linear) median of 11: whole history $R_ALL ms, last 90 days $R_90 ms"
}
echo
summary
if [[ "$SAVE" == 1 ]]; then
	out=bench/results/$(date '+%Y-%m-%d')-import-$(nproc)core.md
	{
		echo "# bench/import.sh, $(date '+%Y-%m-%d'), $(nproc) cores"
		echo
		summary
	} >"$out"
	note "saved $out"
fi
