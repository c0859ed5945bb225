#!/usr/bin/env bash
# Runs each libFuzzer target for FUZZ_SECONDS, FUZZ_JOBS targets at a time (the CI machine
# has 2 cores), from its committed seed corpus (tests/fuzz/corpus/<name>/). New inputs go
# to <build>/corpus/<name>/ and crashes to <build>/artifacts/, never into the repository.
# Prints each target's executions per second and total runs; exits 1 if any target found
# a crash, a leak, a timeout or undefined behaviour.
#
# Usage: tests/fuzz/run.sh <build dir> <name>...   (make fuzz calls it)
set -euo pipefail

build=$1
shift
seconds=${FUZZ_SECONDS:-60}
jobs=${FUZZ_JOBS:-2}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
mkdir -p "$build/artifacts" "$build/logs"

one() {
	local name=$1 build=$2 seconds=$3 here=$4
	mkdir -p "$build/corpus/$name" "$here/corpus/$name"
	# -timeout: one input taking 10 s is a hang; -rss_limit_mb: two at a time on a small
	# machine. The first corpus directory receives what the run finds.
	if "$build/fuzz_$name" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=1024 \
		-print_final_stats=1 -artifact_prefix="$build/artifacts/$name-" \
		"$build/corpus/$name" "$here/corpus/$name" >"$build/logs/$name.log" 2>&1; then
		echo "ok $name"
	else
		echo "CRASH $name (see $build/logs/$name.log and $build/artifacts/$name-*)"
	fi
}
export -f one

start=$(date +%s)
printf '%s\n' "$@" | xargs -P "$jobs" -I{} bash -c 'one "$@"' _ {} "$build" "$seconds" "$here" \
	>"$build/logs/summary"
end=$(date +%s)

failed=0
printf '%-12s %10s %12s  %s\n' target exec/s runs result
for name in "$@"; do
	log="$build/logs/$name.log"
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
	rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
	result=$(grep -E "^(ok|CRASH) $name( |$)" "$build/logs/summary" | cut -d' ' -f1)
	printf '%-12s %10s %12s  %s\n' "$name" "${rate:-?}" "${execs:-?}" "${result:-?}"
	if [[ "$result" != ok ]]; then
		failed=1
		grep -E "ERROR|SUMMARY|runtime error|Test unit written" "$log" | head -5 || true
	fi
done
echo "fuzz: ${#@} targets, ${seconds} s each, ${jobs} at a time: $((end - start)) s wall time"
exit $failed
