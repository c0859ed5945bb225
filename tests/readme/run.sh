#!/usr/bin/env bash
# Runs the README's examples as a reader pastes them: every ```sh (or ```bash) block of
# README.md, in order, in one shell, against a fresh daemon set up as `make run` sets one up
# (workspace demo, an admin key, LEADLOOP_WEBHOOK_ALLOW_PRIVATE=1), with $BASE and $KEY
# set. Blocks fenced otherwise (```text, ```console, ```python, ...) are not run.
#
# Every HTTP answer a block's curl gets must be 2xx, unless the block announces another
# status with a line `# expect: NNN`: then every answer of that block must be NNN. A
# command that fails (curl --fail-with-body on a 4xx, jq on a bad answer) fails the run
# too. On failure it names the block's line in README.md and what was answered.
#
# Usage: tests/harness.sh bash tests/readme/run.sh   (what `make test-readme` runs)
# Env in: LL_TEST_DATABASE_URL (from tests/harness.sh), LL_DAEMON (the leadloopd binary),
#         README (default README.md), README_SHOW=1 prints the examples' output.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)
cd "$ROOT"
README=${README:-README.md}
DAEMON=${LL_DAEMON:-$ROOT/bin/leadloopd}
: "${LL_TEST_DATABASE_URL:?run me under tests/harness.sh}"

die() {
	echo "readme: $*" >&2
	exit 1
}
command -v jq >/dev/null || die "jq is not installed (scripts/deps.sh installs it)"

TMP=$(mktemp -d /tmp/leadloop-readme.XXXXXX)
# The daemon and its key, as scripts/run.sh makes them.
# shellcheck source=tests/daemon.sh
source "$ROOT/tests/daemon.sh"
daemon_start LEADLOOP_WEBHOOK_ALLOW_PRIVATE=1

# The blocks, with the README line each starts on and its announced status.
mkdir -p "$TMP/blocks"
awk -v out="$TMP/blocks" '
	/^```(sh|bash)[[:space:]]*$/ && !inblock { inblock = 1; n++; start = NR + 1
		printf "" > (out "/" n ".sh"); printf "%d", start > (out "/" n ".line"); next }
	/^```/ && inblock { inblock = 0; close(out "/" n ".sh"); next }
	inblock { print >> (out "/" n ".sh") }
	END { if (inblock) { print "unterminated block at line " start > "/dev/stderr"; exit 1 } }
' "$README"
nblocks=$(find "$TMP/blocks" -name '*.sh' | wc -l)
((nblocks > 0)) || die "no \`\`\`sh blocks in $README"

# One script: a curl that records each answer's status and checks it, then the blocks.
{
	cat <<-'EOF'
		set -eo pipefail
		trap 'echo "readme: README.md:$__line (block $__block): a command failed (exit $?)" >&2' ERR
		curl() {
			local h rc=0 status
			h=$(mktemp "$__tmp/headers.XXXXXX")
			command curl -D "$h" "$@" || rc=$?
			status=$(awk '/^HTTP\// { s = $2 } END { print s }' "$h")
			rm -f "$h"
			if [[ -n "$status" ]]; then
				echo "$__block $status" >>"$__tmp/statuses"
				if [[ -n "$__expect" && "$status" != "$__expect" ]]; then
					__fail "answered $status; the text announces $__expect"
				elif [[ -z "$__expect" && "$status" != 2?? ]]; then
					__fail "answered $status, which the text does not announce"
				fi
			fi
			return "$rc"
		}
		__fail() {
			echo "README.md:$__line (block $__block): $*" >>"$__tmp/failures"
			echo "readme: README.md:$__line (block $__block): $*" >&2
			exit 1
		}
	EOF
	for ((b = 1; b <= nblocks; b++)); do
		expect=$(sed -n 's/^[[:space:]]*# expect: \([0-9][0-9][0-9]\)[[:space:]]*$/\1/p' \
			"$TMP/blocks/$b.sh" | head -n 1)
		printf '\n__block=%d __line=%d __expect=%s\n' "$b" "$(cat "$TMP/blocks/$b.line")" "$expect"
		printf 'echo "--- block %d (README.md:%d)%s" >&2\n' "$b" "$(cat "$TMP/blocks/$b.line")" \
			"${expect:+, expects $expect}"
		cat "$TMP/blocks/$b.sh"
	done
	printf '\necho "--- all blocks ran" >&2\n'
} >"$TMP/readme.sh"

# In a directory of its own, as a reader's shell in a clone would be, so that the files the
# examples write (curl -OJ) do not land in the repository.
mkdir "$TMP/work"
ln -s "$ROOT/examples" "$TMP/work/examples"
touch "$TMP/statuses" "$TMP/failures"
rc=0
(cd "$TMP/work" && BASE=$BASE KEY=$KEY __tmp=$TMP bash "$TMP/readme.sh" >"$TMP/stdout" </dev/null) ||
	rc=$?
if ((rc != 0)) || [[ -s "$TMP/failures" ]]; then
	echo "readme: the examples failed (exit $rc); the last of their output:" >&2
	tail -n 20 "$TMP/stdout" >&2
	cat "$TMP/failures" >&2
	echo "readme: the daemon's log:" >&2
	tail -n 20 "$TMP/daemon.log" >&2
	exit 1
fi
if [[ -n "${README_SHOW:-}" ]]; then cat "$TMP/stdout"; fi
echo "readme: $nblocks blocks of $README ran, $(wc -l <"$TMP/statuses") HTTP answers as announced"
