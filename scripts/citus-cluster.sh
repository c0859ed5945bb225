#!/usr/bin/env bash
# A throwaway 3-node Citus cluster on loopback, for tests: a coordinator and two workers,
# each its own PostgreSQL 15 data directory under DIR, on free 127.0.0.1 ports.
#
# Usage: scripts/citus-cluster.sh start|stop|clean|status|url DIR
#   start   stop and delete whatever an earlier run left under DIR (servers included),
#           create the three nodes, CREATE EXTENSION citus in database DB on each, register
#           the coordinator and add both workers; print the coordinator's DATABASE_URL
#   stop    stop the three servers (fast mode; nothing running is not an error)
#   clean   stop them and delete DIR's nodes
#   status  list the nodes Citus knows (exit 3 when the coordinator is not running)
#   url     print the coordinator's DATABASE_URL
# Env in: PG_BINDIR (default /usr/lib/postgresql/15/bin), CITUS_DB (database, default
#   leadloop), CITUS_SHARD_COUNT (citus.shard_count for new distributed tables, default 32).
# Needs Citus installed in that PostgreSQL (../shared/citus/build.sh).
#
# PostgreSQL refuses to run as root: as root the nodes belong to and run as `postgres`
# (as in tests/harness.sh), so DIR must be a place that user can reach (e.g. under /tmp).
set -euo pipefail

NODES=(coord w1 w2)
DB=${CITUS_DB:-leadloop}
SHARDS=${CITUS_SHARD_COUNT:-32}
BIN=${PG_BINDIR:-/usr/lib/postgresql/15/bin}

note() { echo "citus-cluster.sh: $*" >&2; }
die() {
	note "$*"
	exit 1
}
usage() {
	sed -n '2,17s/^# \{0,1\}//p' "$0" >&2
	exit 2
}
is_root() { [[ $EUID -eq 0 ]]; }

[[ $# -eq 2 ]] || usage
CMD=$1
[[ "$2" == /* ]] || die "DIR must be an absolute path: $2"
DIR=${2%/}
[[ "$DB" =~ ^[a-z_][a-z0-9_]*$ ]] || die "CITUS_DB must be a plain lower-case name: $DB"
[[ "$SHARDS" =~ ^[1-9][0-9]*$ ]] || die "CITUS_SHARD_COUNT must be a positive integer: $SHARDS"
[[ -x "$BIN/initdb" && -x "$BIN/pg_ctl" ]] ||
	die "PostgreSQL 15 server binaries not found in $BIN (set PG_BINDIR)"

# From / because the caller's cwd may be a directory postgres cannot enter.
if is_root; then
	OWNER=postgres
	as_owner() { (cd / && runuser -u postgres -- "$@"); }
else
	OWNER=$(id -un)
	as_owner() { "$@"; }
fi

psql_at() { # PORT SQL...: runs each SQL on that node's database DB, stops at the first error
	local port=$1 sql
	shift
	for sql in "$@"; do
		"$BIN/psql" -X -q -A -t -v ON_ERROR_STOP=1 \
			-d "postgresql://$OWNER@127.0.0.1:$port/$DB" -c "$sql"
	done
}

port_of() { sed -n 's/^port = //p' "$DIR/$1/data/cluster.conf" 2>/dev/null; }
running() { [[ -f "$DIR/$1/data/postmaster.pid" ]] && as_owner "$BIN/pg_ctl" status -D "$DIR/$1/data" >/dev/null 2>&1; }

stop_all() { # MODE: fast or immediate; a node that does not run is skipped
	local n
	for n in "${NODES[@]}"; do
		if [[ -f "$DIR/$n/data/postmaster.pid" ]]; then
			if ! as_owner "$BIN/pg_ctl" stop -D "$DIR/$n/data" -m "$1" -w -t 60 >/dev/null 2>&1 &&
				running "$n"; then
				die "could not stop $n (see $DIR/$n/postgres.log)"
			fi
		fi
	done
}

# A port is in use if something answers on it; start from a random point to stay clear
# of other clusters starting at the same time (harness.sh uses 20000-40000 too).
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

write_conf() { # NODE PORT
	cat >"$DIR/$1/data/cluster.conf" <<-EOF
		# Written by scripts/citus-cluster.sh: a disposable Citus node, fast rather than durable.
		port = $2
		listen_addresses = '127.0.0.1'
		unix_socket_directories = ''
		shared_preload_libraries = 'citus'
		max_connections = 300
		fsync = off
		synchronous_commit = off
		full_page_writes = off
		# shard moves (citus_rebalance_start) copy through logical replication
		wal_level = logical
		citus.shard_count = $SHARDS
		log_min_messages = warning
	EOF
	if is_root; then chown postgres:postgres "$DIR/$1/data/cluster.conf"; fi
}

start_node() { # NODE: on a free port; another process may take it first, then another
	local n=$1 attempt port
	for attempt in 1 2 3; do
		port=$(find_port)
		write_conf "$n" "$port"
		if as_owner "$BIN/pg_ctl" start -D "$DIR/$n/data" -l "$DIR/$n/postgres.log" -w -t 60 \
			>/dev/null 2>&1; then
			return 0
		fi
		grep -q 'could not bind\|Address already in use' "$DIR/$n/postgres.log" 2>/dev/null || break
		note "port $port was taken (attempt $attempt), trying another"
	done
	cat "$DIR/$n/postgres.log" >&2 2>/dev/null || true
	die "node $n did not start"
}

url() { echo "postgresql://$OWNER@127.0.0.1:$(port_of coord)/$DB"; }

cmd_start() {
	local n wport
	[[ -f "$("$BIN/pg_config" --pkglibdir 2>/dev/null || echo /usr/lib/postgresql/15/lib)/citus.so" ]] ||
		die "Citus is not installed in this PostgreSQL (run ../shared/citus/build.sh)"
	# Leftovers of an earlier run: servers still up (immediate: their data goes anyway)
	# and their directories.
	stop_all immediate
	for n in "${NODES[@]}"; do rm -rf "${DIR:?}/$n"; done
	mkdir -p "$DIR"
	if is_root; then
		chown postgres:postgres "$DIR"
		as_owner test -w "$DIR" || die "user postgres cannot write $DIR (choose a DIR under /tmp)"
	fi
	# One initdb (no fsync: -N; the cluster lives for one test run), copied for the workers:
	# a copy of a fresh data directory is a valid cluster, and much cheaper than initdb.
	for n in "${NODES[@]}"; do
		mkdir -p "$DIR/$n"
		if is_root; then chown postgres:postgres "$DIR/$n"; fi
	done
	as_owner "$BIN/initdb" -D "$DIR/coord/data" -N -E UTF8 --locale=C -A trust --no-instructions \
		>"$DIR/coord/initdb.log" 2>&1 || {
		cat "$DIR/coord/initdb.log" >&2
		die "initdb failed"
	}
	echo "include = 'cluster.conf'" >>"$DIR/coord/data/postgresql.conf"
	for n in w1 w2; do as_owner cp -a "$DIR/coord/data" "$DIR/$n/data"; done
	for n in "${NODES[@]}"; do
		start_node "$n"
		"$BIN/psql" -X -q -v ON_ERROR_STOP=1 -d "postgresql://$OWNER@127.0.0.1:$(port_of "$n")/postgres" \
			-c "CREATE DATABASE $DB" >/dev/null
		psql_at "$(port_of "$n")" 'CREATE EXTENSION citus' >/dev/null
	done
	psql_at "$(port_of coord)" "SELECT citus_set_coordinator_host('127.0.0.1', $(port_of coord))" >/dev/null
	for n in w1 w2; do
		wport=$(port_of "$n")
		psql_at "$(port_of coord)" "SELECT citus_add_node('127.0.0.1', $wport)" >/dev/null
	done
	url
}

case "$CMD" in
start) cmd_start ;;
stop) stop_all fast ;;
clean)
	stop_all immediate
	for n in "${NODES[@]}"; do rm -rf "${DIR:?}/$n"; done
	rmdir "$DIR" 2>/dev/null || true
	;;
status)
	running coord || {
		note "the coordinator under $DIR is not running"
		exit 3
	}
	psql_at "$(port_of coord)" "SELECT nodename || ':' || nodeport || ' group ' || groupid || ' ' ||
		CASE WHEN groupid = 0 THEN 'coordinator' ELSE 'worker' END ||
		CASE WHEN isactive THEN '' ELSE ' (inactive)' END FROM pg_dist_node ORDER BY groupid"
	;;
url)
	[[ -n "$(port_of coord)" ]] || die "no cluster under $DIR"
	url
	;;
*) usage ;;
esac
