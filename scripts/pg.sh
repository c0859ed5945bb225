#!/usr/bin/env bash
# The private PostgreSQL cluster behind `make run`: data in var/pg/data, log in var/pg/log,
# reachable only through a unix socket in var/pg/run (no TCP, no system service touched).
#
# Usage: scripts/pg.sh start|stop|clean|status|url
#   start   create the cluster and database "leadloop" on first use, start it (idempotent)
#   stop    stop it (fast mode: open sessions are cut, committed data is kept)
#   clean   stop it and delete var/pg with all its data
#   status  say whether it runs (exit 0 running, 3 stopped, 4 not created)
#   url     print its DATABASE_URL (libpq key=value conninfo)
# Env: PG_BINDIR overrides where initdb/pg_ctl are (default /usr/lib/postgresql/15/bin).
#
# PostgreSQL refuses to run as root: as root the cluster belongs to the `postgres` user and
# the server runs as it; otherwise it belongs to and runs as the current user.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
PGLINK=$ROOT/var/pg
DBNAME=leadloop
PORT=5432 # with no TCP listener it only names the socket file, .s.PGSQL.5432
HASH=$(printf '%s' "$ROOT" | sha256sum | cut -c1-12)

note() { echo "pg.sh: $*" >&2; }
die() {
	note "$*"
	exit 1
}
is_root() { [[ $EUID -eq 0 ]]; }

if is_root; then OWNER=postgres; else OWNER=$(id -un); fi

# Runs a command as the cluster's owner. From / because the repo may be a directory the
# postgres user cannot enter, and initdb/postgres fail when they cannot read their cwd.
as_owner() {
	if is_root; then
		(cd / && runuser -u postgres -- "$@")
	else
		"$@"
	fi
}

pg_bindir() {
	local d
	for d in "${PG_BINDIR:-}" /usr/lib/postgresql/15/bin; do
		[[ -n "$d" && -x "$d/pg_ctl" && -x "$d/initdb" ]] && {
			echo "$d"
			return
		}
	done
	die "PostgreSQL 15 server binaries not found (install postgresql-15: scripts/deps.sh, or set PG_BINDIR)"
}

# Can the postgres user reach var/ (or, before var/ exists, the repo)? Not when the repo is
# under a mode-700 home such as /root.
postgres_can_reach() {
	local dir=$ROOT/var
	[[ -d "$dir" ]] || dir=$ROOT
	(cd / && runuser -u postgres -- test -x "$dir") 2>/dev/null
}

# Where var/pg really lives: var/pg itself, or the target of the var/pg symlink made when
# the postgres user cannot reach the repo.
base_dir() {
	if [[ -L "$PGLINK" ]]; then
		readlink -m "$PGLINK"
	elif [[ -e "$PGLINK" ]] || ! is_root || postgres_can_reach; then
		echo "$PGLINK"
	else
		echo "/var/tmp/leadloop-$HASH"
	fi
}

# A unix socket path (dir + "/.s.PGSQL.5432") must fit sun_path: 107 bytes and a NUL.
sock_dir() {
	local dir
	dir=$(base_dir)/run
	if ((${#dir} + 14 > 107)); then
		dir=/tmp/leadloop-$HASH
	fi
	echo "$dir"
}

# Quotes a value for a libpq key=value conninfo string when it needs it.
conninfo_quote() {
	local v=$1
	if [[ "$v" =~ ^[A-Za-z0-9_./-]+$ ]]; then
		printf '%s' "$v"
	else
		v=${v//\\/\\\\}
		printf "'%s'" "${v//\'/\\\'}"
	fi
}

url() {
	printf 'host=%s port=%s dbname=%s user=%s\n' \
		"$(conninfo_quote "$(sock_dir)")" "$PORT" "$DBNAME" "$(conninfo_quote "$OWNER")"
}

# Creates dir (mode 700, owned by the cluster owner) or checks that an existing one is
# ours: a shared place like /tmp may hold a directory or symlink planted by someone else.
private_dir() {
	local dir=$1
	[[ -L "$dir" ]] && die "$dir is a symlink; refusing to use it"
	if [[ ! -d "$dir" ]]; then
		mkdir -m 700 "$dir"
		if is_root; then chown postgres:postgres "$dir"; fi
	fi
	[[ "$(stat -c %U "$dir")" == "$OWNER" ]] ||
		die "$dir belongs to $(stat -c %U "$dir"), not $OWNER (made by another user? try: sudo scripts/pg.sh clean)"
}

# Writes stdin to a file the server must read, owned by the cluster owner.
write_owned() {
	cat >"$1"
	if is_root; then chown postgres:postgres "$1"; fi
}

layout() {
	local base=$1
	if [[ ! -d "$ROOT/var" ]]; then
		mkdir -m 755 "$ROOT/var" # explicit mode: root's umask may be 077
	fi
	if [[ ! -e "$PGLINK" && ! -L "$PGLINK" && "$base" != "$PGLINK" ]]; then
		note "the postgres user cannot enter $ROOT, so the cluster lives in $base (var/pg links to it)"
		ln -s "$base" "$PGLINK"
	fi
	private_dir "$base"
}

start() {
	local bin base data sock db
	bin=$(pg_bindir)
	base=$(base_dir)
	data=$base/data
	sock=$(sock_dir)
	layout "$base"
	[[ "$sock" == "$base/run" ]] ||
		note "socket path under $base is too long for a unix socket; using $sock"
	private_dir "$sock"

	if [[ ! -f "$data/PG_VERSION" ]]; then
		[[ -e "$data" ]] && rm -rf "$data" # leftovers of an interrupted initdb
		note "creating cluster in $data"
		local locale=C
		# C.UTF-8 keeps C's byte order for sorting but knows non-ASCII upper/lower case.
		if locale -a 2>/dev/null | grep -qix 'c\.utf-\?8'; then locale=C.UTF-8; fi
		if ! as_owner "$bin/initdb" -D "$data" -E UTF8 --locale="$locale" \
			--auth-local=trust --auth-host=reject --no-instructions >"$base/initdb.log" 2>&1; then
			cat "$base/initdb.log" >&2
			rm -rf "$data"
			die "initdb failed"
		fi
		echo "include = 'leadloop.conf'" >>"$data/postgresql.conf"
	fi
	# Rewritten at every start so that a moved repo gets its new socket path.
	write_owned "$data/leadloop.conf" <<-EOF
		# Written by scripts/pg.sh at each start: unix socket only, in a private directory.
		listen_addresses = ''
		port = $PORT
		unix_socket_directories = '${sock//\'/\'\'}'
	EOF

	if as_owner "$bin/pg_ctl" status -D "$data" >/dev/null 2>&1; then
		note "already running"
	elif ! as_owner "$bin/pg_ctl" start -D "$data" -l "$base/log" -w -t 60 >/dev/null; then
		tail -n 30 "$base/log" >&2 || true
		die "PostgreSQL did not start; log: $base/log"
	else
		note "started (socket in $sock, log in $base/log)"
	fi

	local admin=(
		"$bin/psql" -X -q -v ON_ERROR_STOP=1
		-d "host=$(conninfo_quote "$sock") port=$PORT dbname=postgres user=$(conninfo_quote "$OWNER")"
	)
	db=$("${admin[@]}" -tA -c "SELECT 1 FROM pg_database WHERE datname = '$DBNAME'")
	if [[ "$db" != 1 ]]; then
		"${admin[@]}" -c "CREATE DATABASE $DBNAME"
		note "created database $DBNAME"
	fi
}

is_running() {
	[[ -f "$1/PG_VERSION" ]] && as_owner "$(pg_bindir)/pg_ctl" status -D "$1" >/dev/null 2>&1
}

stop() {
	local data
	data=$(base_dir)/data
	if is_running "$data"; then
		as_owner "$(pg_bindir)/pg_ctl" stop -D "$data" -m fast -w >/dev/null
		note "stopped"
	else
		note "not running"
	fi
}

clean() {
	local base sock
	base=$(base_dir)
	sock=$(sock_dir)
	stop
	if [[ -L "$PGLINK" ]]; then
		# Delete only a target that this script made; never follow a foreign link.
		if [[ "$base" == "/var/tmp/leadloop-$HASH" ]]; then
			rm -rf "$base"
		else
			note "var/pg links to $base, which pg.sh did not make: left in place"
		fi
		rm -f "$PGLINK"
	else
		rm -rf "$PGLINK"
	fi
	if [[ "$sock" == "/tmp/leadloop-$HASH" ]]; then
		rm -rf "$sock"
	fi
	note "deleted var/pg"
}

status() {
	local data
	data=$(base_dir)/data
	if [[ ! -f "$data/PG_VERSION" ]]; then
		echo "not created (scripts/pg.sh start creates it)"
		return 4
	fi
	if is_running "$data"; then
		echo "running: data $data, socket $(sock_dir)"
	else
		echo "stopped: data $data"
		return 3
	fi
}

case "${1:-}" in
start) start ;;
stop) stop ;;
clean) clean ;;
status) status ;;
url) url ;;
*)
	sed -n '2,11s/^# \{0,1\}//p' "$0" >&2
	exit 2
	;;
esac
