#!/usr/bin/env bash
# Runs a command against a throwaway PostgreSQL cluster, then deletes the cluster.
#
# Usage: tests/harness.sh CMD [ARGS...]
# The cluster lives in a fresh temporary directory, listens on 127.0.0.1 on a free port
# (and on a unix socket in that directory), is tuned for speed, not durability, and has a
# database leadloop_test. CMD runs with these in its environment:
#   LL_TEST_DATABASE_URL  postgresql://USER@127.0.0.1:PORT/leadloop_test
#   LL_TEST_PG_ADMIN_URL  the same server, database postgres (to create more databases)
#   LL_TEST_PGCTL         an executable: `stop` (fast, waits), `immediate` (stop -m immediate,
#                         a crash), `start` (waits), `freeze` / `thaw` (SIGSTOP / SIGCONT to
#                         the postmaster and every process it started) this cluster
#   LL_TEST_PGDATA        its data directory
#   LL_TEST_PGPORT        its port
# The cluster is stopped and deleted however CMD ends; the exit code is CMD's.
# Env in: PG_BINDIR (default /usr/lib/postgresql/15/bin). LL_TEST_CITUS=1: a Citus cluster
# instead (scripts/citus-cluster.sh: a coordinator and two workers on loopback, with
# CITUS_SHARD_COUNT shards per table, default 4), leadloop_test on the coordinator, where
# the variables point; LL_TEST_PGCTL then stops and starts the coordinator.
set -euo pipefail

[[ $# -ge 1 ]] || {
	sed -n '2,14s/^# \{0,1\}//p' "$0" >&2
	exit 2
}

die() {
	echo "harness.sh: $*" >&2
	exit 1
}
is_root() { [[ $EUID -eq 0 ]]; }

BIN=${PG_BINDIR:-/usr/lib/postgresql/15/bin}
[[ -x "$BIN/initdb" && -x "$BIN/pg_ctl" ]] ||
	die "PostgreSQL 15 server binaries not found in $BIN (run scripts/deps.sh, or set PG_BINDIR)"

# PostgreSQL refuses to run as root, so as root the cluster belongs to and runs as postgres.
# From / because the caller's cwd may be a directory postgres cannot enter.
if is_root; then
	OWNER=postgres
	as_owner() { (cd / && runuser -u postgres -- "$@"); }
else
	OWNER=$(id -un)
	as_owner() { "$@"; }
fi

# A short directory in /tmp: the socket path (dir + "/.s.PGSQL.NNNNN") must fit in 107
# bytes, and a $TMPDIR under a private home would be out of the postgres user's reach.
TMP=$(mktemp -d /tmp/leadloop-test.XXXXXX)
DATA=$TMP/data
LOG=$TMP/postgres.log
CITUS=${LL_TEST_CITUS:-}
CLUSTER_SH=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/scripts/citus-cluster.sh
if [[ -n "$CITUS" ]]; then
	DATA=$TMP/citus/coord/data
	LOG=$TMP/citus/coord/postgres.log
fi
child=

# shellcheck disable=SC2317 # reached through the trap below
cleanup() {
	local rc=$? i
	trap - EXIT INT TERM
	if [[ -n "$child" ]] && kill -TERM "$child" 2>/dev/null; then
		# Give CMD 10 s to finish its own clean-up, then end it.
		for ((i = 0; i < 100; i++)); do
			kill -0 "$child" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$child" 2>/dev/null || true
		wait "$child" 2>/dev/null || true
	fi
	# Immediate: the data is thrown away, so no shutdown checkpoint is worth waiting for.
	# A fault test that ended while the cluster was frozen (SIGSTOP) leaves it so: thaw first.
	if [[ -f "$DATA/postmaster.pid" ]]; then
		[[ -x "${PGCTL:-}" ]] && "$PGCTL" thaw >/dev/null 2>&1 || true
		as_owner "$BIN/pg_ctl" stop -D "$DATA" -m immediate -w >/dev/null 2>&1 || true
	fi
	# a Citus cluster: the workers too
	if [[ -n "$CITUS" && -d "$TMP/citus" ]]; then
		bash "$CLUSTER_SH" clean "$TMP/citus" >/dev/null 2>&1 || true
	fi
	rm -rf "$TMP"
	exit "$rc"
}
trap cleanup EXIT
# Forwarded as TERM: a command run in the background ignores SIGINT (see below).
trap 'exit 130' INT
trap 'exit 143' TERM

if is_root; then chown postgres:postgres "$TMP"; fi

if [[ -n "$CITUS" ]]; then
	url=$(CITUS_DB=leadloop_test CITUS_SHARD_COUNT=${CITUS_SHARD_COUNT:-4} \
		bash "$CLUSTER_SH" start "$TMP/citus") || die "the Citus cluster did not start"
	PORT=${url##*:}
	PORT=${PORT%%/*}
else
	# No fsync during initdb (-N): the cluster lives for one test run.
	as_owner "$BIN/initdb" -D "$DATA" -N -E UTF8 --locale=C -A trust --no-instructions \
		>"$TMP/initdb.log" 2>&1 || {
		cat "$TMP/initdb.log" >&2
		die "initdb failed"
	}
	echo "include = 'harness.conf'" >>"$DATA/postgresql.conf"

	# Port is in use if something answers on it; start from a random point to stay clear of
	# other harnesses running at the same time.
	find_port() {
		local p=$((20000 + RANDOM % 20000)) i
		for ((i = 0; i < 200; i++)); do
			if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
				echo "$p"
				return
			fi
			p=$((p >= 40000 ? 20000 : p + 1))
		done
		die "no free TCP port found in 20000-40000"
	}

	write_conf() {
		cat >"$DATA/harness.conf" <<-EOF
			# Written by tests/harness.sh: a disposable cluster, fast rather than durable.
			listen_addresses = '127.0.0.1'
			port = $1
			unix_socket_directories = '$TMP'
			max_connections = 200
			fsync = off
			synchronous_commit = off
			full_page_writes = off
		EOF
		if is_root; then chown postgres:postgres "$DATA/harness.conf"; fi
	}

	# Another process may take the port between the probe and the bind: then try another.
	started=
	for attempt in 1 2 3; do
		PORT=$(find_port)
		write_conf "$PORT"
		if as_owner "$BIN/pg_ctl" start -D "$DATA" -l "$LOG" -w -t 60 >/dev/null 2>&1; then
			started=1
			break
		fi
		grep -q 'could not bind\|Address already in use' "$LOG" 2>/dev/null || break
		echo "harness.sh: port $PORT was taken (attempt $attempt), trying another" >&2
	done
	[[ -n "$started" ]] || {
		cat "$LOG" >&2 2>/dev/null || true
		die "PostgreSQL did not start"
	}
fi

# The command that stops and starts this very cluster, for tests that restart PostgreSQL
# under a running daemon. Paths and port are baked in, so it needs no environment.
PGCTL=$TMP/pgctl
{
	echo '#!/bin/sh'
	echo '# Generated by tests/harness.sh: stop|immediate|start|status|freeze|thaw the cluster.'
	echo 'set -eu'
	if is_root; then
		echo 'cd /'
		printf 'run() { runuser -u postgres -- "$@"; }\n'
	else
		printf 'run() { "$@"; }\n'
	fi
	printf 'pg_ctl=%q data=%q log=%q\n' "$BIN/pg_ctl" "$DATA" "$LOG"
	# shellcheck disable=SC2016 # $1 and $pg_ctl belong to the generated script
	# freeze stops the postmaster first, so that it starts nothing while its children stop;
	# a child may exit between the listing and the signal.
	printf '%s\n' 'case "${1:-}" in' \
		'stop) run "$pg_ctl" stop -D "$data" -m fast -w >/dev/null ;;' \
		'immediate) run "$pg_ctl" stop -D "$data" -m immediate -w >/dev/null ;;' \
		'start) run "$pg_ctl" start -D "$data" -l "$log" -w -t 60 >/dev/null ;;' \
		'status) run "$pg_ctl" status -D "$data" ;;' \
		'freeze|thaw)' \
		'  pm=$(head -n 1 "$data/postmaster.pid")' \
		'  sig=STOP; [ "$1" = thaw ] && sig=CONT' \
		'  kill -s "$sig" "$pm"' \
		'  for pid in $(ps -o pid= --ppid "$pm"); do kill -s "$sig" "$pid" 2>/dev/null || :; done ;;' \
		'*) echo "usage: $0 stop|immediate|start|status|freeze|thaw" >&2; exit 2 ;;' \
		'esac'
} >"$PGCTL"
chmod 755 "$PGCTL"

[[ -n "$CITUS" ]] || "$BIN/psql" -X -q -v ON_ERROR_STOP=1 \
	-d "postgresql://$OWNER@127.0.0.1:$PORT/postgres" -c 'CREATE DATABASE leadloop_test' ||
	die "could not create database leadloop_test"

export LL_TEST_DATABASE_URL="postgresql://$OWNER@127.0.0.1:$PORT/leadloop_test"
export LL_TEST_PG_ADMIN_URL="postgresql://$OWNER@127.0.0.1:$PORT/postgres"
export LL_TEST_PGCTL=$PGCTL
export LL_TEST_PGDATA=$DATA
export LL_TEST_PGPORT=$PORT

# In the background so that a TERM or INT to this script runs the trap at once (bash
# defers traps while a foreground child runs), and the trap can pass TERM on to CMD.
# `<&0` keeps stdin, which a background command would otherwise lose to /dev/null.
"$@" <&0 &
child=$!
rc=0
wait "$child" || rc=$?
child=
exit "$rc"
