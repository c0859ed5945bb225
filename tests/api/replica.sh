#!/usr/bin/env bash
# A streaming replica of the harness's cluster (tests/harness.sh), for the replica suite
# (tests/api/test_replica.c): made with pg_basebackup -R from the running cluster over
# loopback, in a directory of its own, on a port of its own.
#
# Usage: tests/api/replica.sh create DIR PORT   base backup into DIR/data, then start it
#        tests/api/replica.sh start|immediate|stop DIR
#        tests/api/replica.sh freeze|thaw DIR   SIGSTOP / SIGCONT to the postmaster and
#                                               every process it started
#        tests/api/replica.sh up DIR            thawed and running, whatever a test left
#        tests/api/replica.sh destroy DIR       stop it (immediate) and delete DIR
# Env in: LL_TEST_PGPORT (the primary's port, from the harness), PG_BINDIR.
set -euo pipefail

die() {
	echo "replica.sh: $*" >&2
	exit 1
}

BIN=${PG_BINDIR:-/usr/lib/postgresql/15/bin}
if [[ $EUID -eq 0 ]]; then
	OWNER=postgres
	as_owner() { (cd / && runuser -u postgres -- "$@"); }
else
	OWNER=$(id -un)
	as_owner() { "$@"; }
fi

[[ $# -ge 2 ]] || die "usage: $0 create DIR PORT | start|immediate|stop|freeze|thaw|up|destroy DIR"
cmd=$1
dir=$2
data=$dir/data
log=$dir/postgres.log

case "$cmd" in
create)
	[[ $# -eq 3 ]] || die "usage: $0 create DIR PORT"
	port=$3
	primary_port=${LL_TEST_PGPORT:?LL_TEST_PGPORT is not set (run under tests/harness.sh)}
	mkdir -p "$dir"
	if [[ $EUID -eq 0 ]]; then chown postgres:postgres "$dir"; fi
	# -R writes primary_conninfo and standby.signal; -c fast: no wait for a checkpoint.
	as_owner "$BIN/pg_basebackup" -h 127.0.0.1 -p "$primary_port" -U "$OWNER" -D "$data" \
		-R -X stream -c fast >"$dir/basebackup.log" 2>&1 || {
		cat "$dir/basebackup.log" >&2
		die "pg_basebackup failed"
	}
	# postgresql.auto.conf comes after the primary's harness.conf: its own port and socket.
	cat >>"$data/postgresql.auto.conf" <<-CONF
		port = $port
		unix_socket_directories = '$dir'
		hot_standby = on
		hot_standby_feedback = on
	CONF
	as_owner "$BIN/pg_ctl" start -D "$data" -l "$log" -w -t 60 >/dev/null ||
		{
			cat "$log" >&2
			die "the replica did not start"
		}
	;;
start) as_owner "$BIN/pg_ctl" start -D "$data" -l "$log" -w -t 60 >/dev/null ;;
up)
	if [[ -f "$data/postmaster.pid" ]]; then "$0" thaw "$dir" 2>/dev/null || :; fi
	as_owner "$BIN/pg_ctl" status -D "$data" >/dev/null ||
		as_owner "$BIN/pg_ctl" start -D "$data" -l "$log" -w -t 60 >/dev/null
	;;
stop) as_owner "$BIN/pg_ctl" stop -D "$data" -m fast -w >/dev/null ;;
immediate) as_owner "$BIN/pg_ctl" stop -D "$data" -m immediate -w >/dev/null ;;
freeze | thaw)
	# the postmaster first, so that it starts nothing while its children stop; a child may
	# exit between the listing and the signal
	pm=$(head -n 1 "$data/postmaster.pid")
	sig=STOP
	[[ $cmd == thaw ]] && sig=CONT
	kill -s "$sig" "$pm"
	for pid in $(ps -o pid= --ppid "$pm"); do kill -s "$sig" "$pid" 2>/dev/null || :; done
	;;
destroy)
	if [[ -f "$data/postmaster.pid" ]]; then
		"$0" thaw "$dir" 2>/dev/null || :
		as_owner "$BIN/pg_ctl" stop -D "$data" -m immediate -w >/dev/null 2>&1 || true
	fi
	rm -rf "$dir"
	;;
*) die "unknown command $cmd" ;;
esac
