#!/usr/bin/env bash
# `make demo`: fills a new workspace of the running `make run` daemon with 90 days of a
# marketing team's and a sales team's work, so that every report has numbers: campaigns
# with channels, budgets, dates and costs; leads from them, with their touches; hand-offs
# to sellers (MQL, with an owner); sales' verdicts (accepted, or rejected with a reason),
# ratings, meetings, deals won with their value and deals lost. Then it prints the key and
# the report URLs to look at.
#
# Everything is written through the HTTP API, except the clock: the API records a lead's
# creation and each stage change at the moment of the request, so the script then moves
# them back to their days in the 90 days with one SQL statement each (as an operator's fix
# would; the report triggers recount the figures in the same transaction). Touches and
# feedback carry their own times through the API. A seeded generator makes the same data on
# every run of a day with the same DEMO_SEED; the days are counted back from today.
#
# Usage: scripts/demo.sh          (in another terminal while `make run` serves)
# Env in: DEMO_SEED (default 42), DEMO_LEADS (default 3000), DEMO_WORKSPACE (default
#         demo-90d; with -2, -3, ... when taken), DATABASE_URL and LEADLOOP_LISTEN as for
#         `make run`, LEADLOOPD (default bin/leadloopd).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
cd "$ROOT"
LEADLOOPD=${LEADLOOPD:-$ROOT/bin/leadloopd}
SEED=${DEMO_SEED:-42}
LEADS=${DEMO_LEADS:-3000}
DAYS=90

die() {
	echo "demo.sh: $*" >&2
	exit 1
}
start_s=$SECONDS
note() { echo "demo.sh: [$((SECONDS - start_s)) s] $*" >&2; }
[[ "$SEED" =~ ^[0-9]+$ && "$LEADS" =~ ^[0-9]+$ ]] || die "DEMO_SEED and DEMO_LEADS are integers"
((LEADS >= 100 && LEADS <= 100000)) || die "DEMO_LEADS must be 100..100000"
for tool in curl jq psql; do
	command -v "$tool" >/dev/null || die "$tool is not installed (scripts/deps.sh)"
done
[[ -x "$LEADLOOPD" ]] || die "$LEADLOOPD is not built; run: make"

# The daemon and the database of `make run` (scripts/run.sh finds them the same way).
if [[ -z "${DATABASE_URL:-}" ]]; then
	bash scripts/pg.sh status >/dev/null 2>&1 || die "make run's database is not running; start: make run"
	DATABASE_URL=$(bash scripts/pg.sh url)
	export DATABASE_URL
fi
listen=${LEADLOOP_LISTEN:-127.0.0.1:8080}
host=${listen%:*}
case "$host" in "" | 0.0.0.0) host=127.0.0.1 ;; "[::]") host="[::1]" ;; esac
BASE="http://$host:${listen##*:}"
curl -s -o /dev/null --fail --max-time 5 "$BASE/readyz" ||
	die "no ready daemon at $BASE; start it with make run (in another terminal), then make demo"

TMP=$(mktemp -d /tmp/leadloop-demo.XXXXXX)
trap 'rm -rf "$TMP"' EXIT

# A workspace of its own, so the demo never mixes with what you made, and an admin key.
slug=${DEMO_WORKSPACE:-demo-90d}
base_slug=$slug
for ((n = 2; ; n++)); do
	keys=$("$LEADLOOPD" keys list --workspace "$slug" 2>/dev/null | wc -l)
	((keys <= 1)) && break # the header line only: no such workspace, or one without keys
	slug=$base_slug-$n
done
"$LEADLOOPD" workspace create "$slug" --name "Demo: 90 days" 2>/dev/null
KEY=$("$LEADLOOPD" keys create --workspace "$slug" --role admin --name "make demo" 2>/dev/null)
H="Authorization: Bearer $KEY"
J='Content-Type: application/json'
api() { curl -s --fail-with-body -H "$H" "$@"; }

# The script makes a few thousand requests in a minute: its key gets a rate limit to match.
kid=$(api "$BASE/v1/api-keys" | jq -r --arg p "${KEY:0:12}" '.data[] | select(.prefix == $p) | .id')
api -X PATCH -H 'Content-Type: application/merge-patch+json' \
	-d '{"rate_limit":{"per_second":100000,"burst":1000000}}' "$BASE/v1/api-keys/$kid" >/dev/null
WS=$(api "$BASE/v1/workspace")
WS_ID=$(jq -r .id <<<"$WS")
CUR=$(jq -r .currency <<<"$WS")

# The people.
user() { api -H "$J" -d "{\"name\":\"$1\",\"email\":\"$2\",\"team\":\"$3\"}" "$BASE/v1/users" | jq -r .id; }
marketers=(
	"$(user "Maya Lindqvist" maya@demo.example marketing)"
	"$(user "Omar Haddad" omar@demo.example marketing)"
	"$(user "Jo Tanaka" jo@demo.example marketing)"
)
sellers=()
for s in "Sam Carter" "Priya Nair" "Lucas Martin" "Grace Obi" "Noah Schulz" "Elena Rossi"; do
	first=${s%% *}
	sellers+=("$(user "$s" "${first,,}@demo.example" sales)")
done

# The campaigns: name, channel, source of its leads, first and last day (days ago; 0 is
# today), budget and cost in major units, and how its leads fare: a weight (its share of
# the leads while it runs), hand-off rate, acceptance rate, win rate of the accepted, and
# the mean deal in major units. Paid social brings many leads that sales rejects; events
# and referrals bring few that win.
campaigns=(
	"Website content|content|web|89|0|20000|17500|10|0.45|0.70|0.30|18000"
	"Paid search: brand|paid_search|paid|89|0|60000|52300|12|0.60|0.75|0.28|15000"
	"Paid social: awareness|paid_social|paid|80|20|45000|44100|14|0.40|0.35|0.15|9000"
	"Q3 product webinar|webinar|web|85|70|8000|6200|8|0.70|0.80|0.32|22000"
	"Q4 product webinar|webinar|web|30|15|8000|7400|8|0.70|0.78|0.30|22000"
	"SaaS Summit booth|event|event|60|57|35000|38900|25|0.85|0.85|0.40|40000"
	"Partner program|referral|partner|89|0|15000|9000|3|0.90|0.90|0.45|35000"
	"Customer referrals|referral|referral|89|0|5000|2500|3|0.95|0.92|0.50|30000"
	"Outbound: mid-market|direct_mail|outbound|75|10|25000|21000|6|0.55|0.60|0.20|16000"
	"Newsletter|email|web|89|0|3000|2800|5|0.35|0.55|0.22|12000"
	"Holiday promo|email|web|14|0|6000|2100|9|0.50|0.60|0.25|10000"
	"Analyst report download|content|web|45|5|12000|11000|7|0.50|0.65|0.25|20000"
)
today=$(date -u +%Y-%m-%d)
day_ago() { date -u -d "$today - $1 days" +%Y-%m-%d; }
camp_ids=()
: >"$TMP/campaigns.tsv"
for i in "${!campaigns[@]}"; do
	IFS='|' read -r name channel source from to budget cost weight hand accept win deal <<<"${campaigns[$i]}"
	status=active
	((to > 0)) && status=completed
	body=$(jq -nc --arg name "$name" --arg channel "$channel" --arg status "$status" \
		--arg cur "$CUR" --arg from "$(day_ago "$from")" --arg to "$(day_ago "$to")" \
		--arg owner "${marketers[$((i % 3))]}" --argjson budget $((budget * 100)) \
		--argjson cost $((cost * 100)) \
		'{name: $name, channel: $channel, status: $status, budget: $budget, cost: $cost,
		  currency: $cur, starts_on: $from, ends_on: (if $status == "active" then null else $to end),
		  owner_id: $owner, tags: ["demo"]}')
	id=$(api -H "$J" -d "$body" "$BASE/v1/campaigns" | jq -r .id)
	camp_ids+=("$id")
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$id" "$source" "$from" "$to" "$weight" \
		"$hand" "$accept" "$win" "$deal" >>"$TMP/campaigns.tsv"
done
note "workspace $slug: ${#marketers[@]} marketers, ${#sellers[@]} sellers, ${#camp_ids[@]} campaigns"

# The plan of every lead, from a seeded generator (minstd: exact in any awk's doubles, so
# every awk draws the same numbers). One line per lead, tab-separated:
#   1 email  2 lead JSON  3 created (epoch)  4 handed (0: never)  5 verdict (- accepted
#   rejected)  6 its reason  7 rating  8 verdict time  9 contact time (0: none)  10 outcome
#   (- won lost)  11 its reason  12 amount (minor units)  13 outcome time
# and touches.tsv: campaign id, email, kind, time.
# Times are counted back from the start of today (UTC), so a run gives the same data all day.
now=$(date -u -d "$today" +%s)
printf '%s\n' "${sellers[@]}" >"$TMP/sellers"
# An epoch second as RFC 3339 in UTC (awks have no common strftime): days to a civil date.
iso='function iso(t,   d, s, z, era, doe, yoe, y, doy, mp, dd, mm) {
	d = int(t / 86400); s = t - d * 86400
	z = d + 719468; era = int(z / 146097); doe = z - era * 146097
	yoe = int((doe - int(doe / 1460) + int(doe / 36524) - int(doe / 146096)) / 365)
	y = yoe + era * 400; doy = doe - (365 * yoe + int(yoe / 4) - int(yoe / 100))
	mp = int((5 * doy + 2) / 153); dd = doy - int((153 * mp + 2) / 5) + 1
	mm = mp < 10 ? mp + 3 : mp - 9; if (mm <= 2) y++
	return sprintf("%04d-%02d-%02dT%02d:%02d:%02dZ", y, mm, dd, int(s / 3600), int(s % 3600 / 60), s % 60)
}'
awk -F'\t' -v seed="$SEED" -v n="$LEADS" -v days="$DAYS" -v now="$now" \
	-v sellers="$TMP/sellers" -v touches="$TMP/touches.tsv" -v OFS='\t' "$iso"'
function rnd() { state = (state * 48271) % 2147483647; return state / 2147483647 }
function pick(list, k,   a) { k = split(list, a, ","); return a[1 + int(rnd() * k)] }
function between(lo, hi) { return lo + rnd() * (hi - lo) }
# hours, skewed short with a long tail
function delay(lo, mean) { return 3600 * (lo - mean * log(1 - rnd() * 0.999)) }
BEGIN {
	state = seed % 2147483646 + 1
	nc = 0; ns = 0 # numbers, not empty strings, as array subscripts
	while ((getline line < sellers) > 0) seller[ns++] = line
}
{ cid[nc] = $1; src[nc] = $2; from[nc] = $3; to[nc] = $4; w[nc] = $5
  hand[nc] = $6; acc[nc] = $7; win[nc] = $8; deal[nc] = $9; nc++ }
END {
	firsts = "Ava,Ben,Chloe,Daniel,Emma,Felix,Hana,Ivan,Julia,Kofi,Lena,Mateo,Nina,Oscar,Paula,Quinn,Rosa,Sven,Tara,Umar,Vera,Wes,Yara,Zane"
	lasts = "Novak,Silva,Berg,Khan,Moreau,Ito,Costa,Fischer,Reid,Park,Haas,Lopez,Meyer,Adeyemi,Varga,Holm,Duarte,Kim,Ross,Weber"
	co1 = "North,Blue,Bright,Iron,Silver,Green,Rapid,Clear,Summit,Harbor,Pioneer,Cedar"
	co2 = "wind,stone,path,field,works,labs,logic,point,bridge,line,forge,gate"
	titles = "CTO,Head of Marketing,VP Sales,IT Manager,Operations Lead,CFO,Founder,Product Manager,Procurement"
	countries = "US,US,US,GB,DE,FR,PT,NL,SE,CA,AU,IN,BR,SG"
	rejects = "no_budget,no_budget,bad_timing,bad_timing,no_need,bad_fit,not_reachable,competitor,duplicate"
	junk = "student_or_job_seeker,spam,bad_fit"
	losts = "no_budget,bad_timing,competitor,competitor,no_need,no_authority,bad_fit"
	# sellers answer at their own pace: a multiplier of the follow-up delay
	split("0.5,0.8,1,1.2,1.8,3", pace, ",")
	for (i = 0; i < n; i++) {
		# the day: more leads lately (growth) and fewer at weekends
		do {
			ago = int(days * (1 - sqrt(rnd())))
			created = now - ago * 86400 - int(rnd() * 86400)
			dow = int(created / 86400 + 4) % 7
		} while (created > now - 1800 || ((dow == 0 || dow == 6) && rnd() < 0.6))
		ago = int((now - created) / 86400)
		if (ago > days - 1) ago = days - 1
		# the campaign: among those running that day, by weight
		tw = 0
		for (c = 0; c < nc; c++) if (from[c] >= ago && to[c] <= ago) tw += w[c]
		r = rnd() * tw
		for (c = 0; c < nc; c++) if (from[c] >= ago && to[c] <= ago && (r -= w[c]) < 0) break
		f = pick(firsts); l = pick(lasts); company = pick(co1) pick(co2)
		email = tolower(f "." l "." i "@" company ".example")
		handed = 0; verdict = "-"; vreason = ""; rating = ""; vat = 0; contact = 0
		outcome = "-"; oreason = ""; amount = 0; oat = 0; owner = ""
		if (rnd() < hand[c]) {
			handed = int(created + delay(2, 20))
			if (handed > now - 600) handed = 0
		}
		if (handed) {
			o = int(rnd() * ns); owner = seller[o]
			vat = int(handed + delay(0.5, 10) * pace[o + 1])
			if (vat > now - 60) vat = 0
		}
		if (vat) {
			if (rnd() < acc[c]) {
				verdict = "accepted"; rating = 3 + int(rnd() * 3)
				if (rnd() < 0.75) { contact = int(vat + delay(2, 24)); if (contact > now - 60) contact = 0 }
				if (rnd() < 0.7) {
					oat = int(vat + 86400 * between(5, 40))
					if (oat > now - 60) oat = 0
					else if (rnd() < win[c] / 0.7) {
						outcome = "won"; amount = 100 * 100 * int(deal[c] * between(0.4, 1.6) / 100)
					} else { outcome = "lost"; oreason = pick(losts) }
				}
			} else {
				verdict = "rejected"; rating = 1 + int(rnd() * 3)
				vreason = (src[c] == "paid" && rnd() < 0.4) ? pick(junk) : pick(rejects)
			}
		}
		if (oat == 0) outcome = "-"
		if (contact && oat && contact > oat) contact = 0
		lead = sprintf("{\"email\":\"%s\",\"first_name\":\"%s\",\"last_name\":\"%s\",\"company\":\"%s\",\"title\":\"%s\",\"country\":\"%s\",\"source\":\"%s\",\"score\":%d,\"campaign_id\":\"%s\"%s}",
			email, f, l, company, pick(titles), pick(countries), src[c], int(rnd() * 101), cid[c],
			owner == "" ? "" : ",\"owner_id\":\"" owner "\"")
		print email, lead, created, handed, verdict, vreason, rating, vat, contact, outcome, oreason, amount, oat
		# touches: the lead was created from its campaign (campaign_id: a created touch),
		# and other campaigns reached it before the hand-off
		k = rnd(); k = k < 0.45 ? 0 : k < 0.8 ? 1 : 2
		last = handed ? handed : now - 60
		for (j = 0; j < k; j++) {
			t = int(created + rnd() * (last - created))
			c2 = int(rnd() * nc)
			if (from[c2] * 86400 < now - t) continue
			print cid[c2], email, pick("sent,opened,opened,clicked,visited,responded"), iso(t) > touches
		}
	}
}' "$TMP/campaigns.tsv" >"$TMP/plan.tsv"

# curl with a config file of requests, 4 at a time over kept-alive connections; fails on
# any answer that is not 2xx, naming the first few.
run_requests() {
	local what=$1 file=$2 count bad
	count=$(grep -c '^url' "$file" || true)
	((count > 0)) || return 0
	# (curl 7.88 shows its parallel progress meter despite -s: stderr is kept apart)
	curl -s -Z --parallel-max 4 -K "$file" >"$TMP/$what.out" 2>"$TMP/$what.err" || true
	bad=$(grep -vc '^2' "$TMP/$what.out" || true)
	if ((bad > 0)) || (($(wc -l <"$TMP/$what.out") != count)); then
		grep -v '^2' "$TMP/$what.out" | head -n 5 >&2
		grep -v '%' "$TMP/$what.err" | head -n 5 >&2
		die "$what: $bad of $count requests failed"
	fi
	note "$what: $count requests"
}
# One request of a curl config file: method POST, JSON body from stdin's line.
cfg_header() {
	printf 'header = "Authorization: Bearer %s"\nheader = "%s"\n' "$KEY" "$J"
}

# The leads, in batches of 1,000; their ids come back in the batch's order.
: >"$TMP/ids.tsv"
total=$(wc -l <"$TMP/plan.tsv")
for ((off = 0; off < total; off += 1000)); do
	sed -n "$((off + 1)),$((off + 1000))p" "$TMP/plan.tsv" >"$TMP/chunk"
	cut -f2 "$TMP/chunk" | jq -sc '{leads: .}' >"$TMP/batch.json"
	api -H "$J" --data-binary @"$TMP/batch.json" "$BASE/v1/leads/batch" >"$TMP/batch.out"
	[[ $(jq .failed "$TMP/batch.out") == 0 ]] || die "lead batch: $(jq -c '[.results[] | select(.problem)][0]' "$TMP/batch.out")"
	paste <(cut -f1 "$TMP/chunk") <(jq -r '.results[].id' "$TMP/batch.out") >>"$TMP/ids.tsv"
done
note "leads: $total in $(((total + 999) / 1000)) batches"

# The touches, per campaign in batches of 1,000, naming their leads by id.
awk -F'\t' -v OFS='\t' 'NR == FNR { id[$1] = $2; next } { $2 = id[$2]; print }' \
	"$TMP/ids.tsv" "$TMP/touches.tsv" | sort -t$'\t' -k1,1 -s >"$TMP/touches.sorted"
ntouches=0
for id in "${camp_ids[@]}"; do
	awk -F'\t' -v id="$id" '$1 == id' "$TMP/touches.sorted" >"$TMP/ct"
	m=$(wc -l <"$TMP/ct")
	for ((off = 0; off < m; off += 1000)); do
		sed -n "$((off + 1)),$((off + 1000))p" "$TMP/ct" |
			jq -Rsc 'split("\n") | map(select(length > 0) | split("\t")
				| {lead_id: .[1], kind: .[2], occurred_at: .[3]}) | {touches: .}' >"$TMP/tb.json"
		api -H "$J" --data-binary @"$TMP/tb.json" "$BASE/v1/campaigns/$id/touches/batch" >"$TMP/tb.out"
		[[ $(jq .failed "$TMP/tb.out") == 0 ]] || die "touch batch: $(jq -c '[.results[] | select(.problem)][0]' "$TMP/tb.out")"
	done
	ntouches=$((ntouches + m))
done
note "touches: $ntouches, and the created touch of each lead's campaign"

# The plan joined with the ids: id, then the plan's columns 3-13.
awk -F'\t' -v OFS='\t' 'NR == FNR { id[$1] = $2; next } { $1 = id[$1]; $2 = ""; print }' \
	"$TMP/ids.tsv" "$TMP/plan.tsv" >"$TMP/work.tsv"

# Each step of the sales process as one file of requests, in the order they happened for
# every lead: hand-off, verdict, contact, outcome.
step_file() { # $1: awk condition and body printing "url<TAB>json"
	awk -F'\t' -v base="$BASE" -v cur="$CUR" "$1" "$TMP/work.tsv" |
		while IFS=$'\t' read -r url body; do
			[[ -n "${first:-}" ]] && echo next
			first=no
			printf 'url = "%s"\ndata = "%s"\n' "$url" "${body//\"/\\\"}"
			cfg_header
			printf 'output = "/dev/null"\nwrite-out = "%%{http_code} %%{url}\\n"\n'
		done >"$2"
}
step_file "$iso"'$4 > 0 { print base "/v1/leads/" $1 "/transitions\t{\"to\":\"mql\",\"reason\":\"hand-off to sales\"}" }' "$TMP/handoff.cfg"
step_file "$iso"'$5 != "-" {
	b = "{\"kind\":\"" $5 "\",\"rating\":" $7 ",\"occurred_at\":\"" iso($8) "\""
	if ($6 != "") b = b ",\"reason\":\"" $6 "\""
	print base "/v1/leads/" $1 "/feedback\t" b "}" }' "$TMP/verdict.cfg"
step_file "$iso"'$9 > 0 {
	print base "/v1/leads/" $1 "/feedback\t{\"kind\":\"" ($9 % 3 ? "contacted" : "meeting_booked") "\",\"occurred_at\":\"" iso($9) "\"}" }' "$TMP/contact.cfg"
step_file "$iso"'$10 != "-" {
	b = "{\"kind\":\"" $10 "\",\"occurred_at\":\"" iso($13) "\""
	if ($10 == "won") b = b ",\"amount\":" $12 ",\"currency\":\"" cur "\""
	else b = b ",\"reason\":\"" $11 "\""
	print base "/v1/leads/" $1 "/feedback\t" b "}" }' "$TMP/outcome.cfg"
run_requests hand-offs "$TMP/handoff.cfg"
run_requests verdicts "$TMP/verdict.cfg"
run_requests contacts "$TMP/contact.cfg"
run_requests outcomes "$TMP/outcome.cfg"

# The clock: each lead's creation (and the created touch of its campaign) and its stage changes (creation, hand-off, verdict,
# outcome, in that order) moved to the times of the plan. One transaction; the report
# triggers recount the leads it touches.
awk -F'\t' -v OFS='\t' '{
	n = 0
	print $1, ++n, $3
	if ($4 > 0) print $1, ++n, $4
	if ($5 != "-") print $1, ++n, $8
	if ($10 != "-") print $1, ++n, $13
}' "$TMP/work.tsv" >"$TMP/times.tsv"
{
	echo '\set ON_ERROR_STOP on'
	echo 'BEGIN;'
	echo 'CREATE TEMP TABLE demo_times (lead_id uuid, n int, epoch bigint) ON COMMIT DROP;'
	echo 'COPY demo_times FROM STDIN;'
	cat "$TMP/times.tsv"
	echo '\.'
	cat <<-SQL
		UPDATE campaign_touches c SET occurred_at = to_timestamp(t.epoch)
		FROM demo_times t WHERE c.workspace_id = '$WS_ID' AND c.lead_id = t.lead_id AND t.n = 1
		    AND c.kind = 'created';
		UPDATE lead_stage_changes s SET changed_at = to_timestamp(t.epoch)
		FROM (SELECT id, lead_id, row_number() OVER (PARTITION BY lead_id ORDER BY changed_at, id) AS n
		      FROM lead_stage_changes WHERE workspace_id = '$WS_ID') x
		JOIN demo_times t ON t.lead_id = x.lead_id AND t.n = x.n
		WHERE s.workspace_id = '$WS_ID' AND s.id = x.id;
		-- One statement for both columns: each statement on leads recounts every lead it writes.
		UPDATE leads l SET created_at = to_timestamp(t.epoch), stage_changed_at = x.at
		FROM demo_times t,
		     (SELECT lead_id, max(changed_at) AS at FROM lead_stage_changes
		      WHERE workspace_id = '$WS_ID' GROUP BY lead_id) x
		WHERE l.workspace_id = '$WS_ID' AND l.id = t.lead_id AND t.n = 1 AND x.lead_id = l.id;
		COMMIT;
	SQL
} >"$TMP/clock.sql"
psql -X -q -d "$DATABASE_URL" -f "$TMP/clock.sql" >/dev/null
note "clock: $(wc -l <"$TMP/times.tsv") times moved into the last $DAYS days"

# Every report must have numbers now.
for r in campaigns sources funnel rejections follow-up; do
	rows=$(api "$BASE/v1/reports/$r" | jq '.data | length')
	((rows > 0)) || die "report $r has no rows"
done
from=$(date -u -d "$today - $((DAYS - 1)) days" +%Y-%m-%d)
cat <<EOF

  make demo: workspace "$slug" holds $DAYS days of work ($total leads, $ntouches touches,
  seed $SEED) after $((SECONDS - start_s)) s. Its admin key (shown only now):

    KEY=$KEY

  Look at:
    curl -s -H "Authorization: Bearer \$KEY" "$BASE/v1/reports/campaigns?from=$from&attribution=linear" | jq
    curl -s -H "Authorization: Bearer \$KEY" "$BASE/v1/reports/sources?from=$from" | jq
    curl -s -H "Authorization: Bearer \$KEY" "$BASE/v1/reports/funnel" | jq
    curl -s -H "Authorization: Bearer \$KEY" "$BASE/v1/reports/rejections?group_by=campaign" | jq
    curl -s -H "Authorization: Bearer \$KEY" "$BASE/v1/reports/follow-up" | jq
    curl -s -H "Authorization: Bearer \$KEY" -H 'Accept: text/csv' "$BASE/v1/reports/campaigns"

EOF
