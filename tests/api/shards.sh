#!/usr/bin/env bash
# Runs the HTTP tests in N processes at once, each under a tests/harness.sh of its own (a
# PostgreSQL cluster, two workspaces and a daemon per process), the k-th with LL_SHARD=k/N:
# the runner (tests/api/main.c) splits the suites by the seconds its table gives them, the
# same way every time, and runs its share in the table's order. Most of the suites' time
# is PostgreSQL's, about one core for one runner, so two pay on two cores. Each line of
# output is prefixed with [k/N]; each runner ends with the LL_SUITES that runs its suites
# again alone; the exit code is 0 only if every runner passed.
#
# Usage: tests/api/shards.sh N API_TESTS_BINARY
# N <= 1, or LL_SUITES set (suites picked by hand), runs one process as before.
set -euo pipefail

[[ $# -eq 2 ]] || {
	sed -n '2,11s/^# \{0,1\}//p' "$0" >&2
	exit 2
}
n=$1
bin=$2
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
harness=$here/harness.sh

if [[ ! "$n" =~ ^[0-9]+$ || "$n" -le 1 || -n "${LL_SUITES:-}" ]]; then
	exec bash "$harness" "$bin"
fi

pids=()
# shellcheck disable=SC2317 # reached through the trap below
stop_shards() {
	local p
	for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
	wait || true
}
trap 'stop_shards; exit 143' TERM
trap 'stop_shards; exit 130' INT

start=$SECONDS
# Each harness runs in the background with its output through sed, so that $! is the
# harness itself: TERM to it stops its runner and deletes its cluster.
for ((k = 1; k <= n; k++)); do
	LL_SHARD="$k/$n" bash "$harness" "$bin" </dev/null > >(sed -u "s|^|[$k/$n] |") 2>&1 &
	pids+=("$!")
done

failed=0
for ((k = 1; k <= n; k++)); do
	rc=0
	wait "${pids[k - 1]}" || rc=$?
	if [[ $rc -ne 0 ]]; then
		echo "shards.sh: shard $k/$n failed (exit $rc)" >&2
		failed=1
	fi
done
wait # for the sed processes to print the last lines
echo "shards.sh: $n shards in $((SECONDS - start)) s: $([[ $failed -eq 0 ]] && echo passed || echo FAILED)"
exit "$failed"
