# shellcheck shell=bash
# What the bench scripts share: messages, the owner of PostgreSQL's files,
# a temporary directory that is deleted however the run ends (with the daemon and the
# cluster stopped first), the release build, and a private PostgreSQL 15 cluster on a free
# 127.0.0.1 port, durable as shipped. Sourced, not run; the caller sets ROOT and PGBIN.

note() { echo "bench: $*" >&2; }
die() {
	note "$*"
	exit 1
}
is_root() { [[ $EUID -eq 0 ]]; }
posint() { [[ "$2" =~ ^[1-9][0-9]*$ ]] || die "$1 must be a positive integer, not '$2'"; }

if is_root; then
	OWNER=postgres
	as_owner() { (cd / && runuser -u postgres -- "$@"); }
else
	OWNER=$(id -un)
	as_owner() { "$@"; }
fi

# bench_setup NAME: the run's directory /tmp/leadloop-NAME.*, with DATA (the cluster),
# PGLOG, CLIENT (our files) and TMP/leadloopd.log (the daemon's log, whose end is shown
# when the run fails), and the trap that cleans up. The caller sets DAEMON to the pid of
# the daemon it starts; BENCH_KEEP=DIR copies CLIENT and the logs there at the end.
bench_setup() {
	TMP=$(mktemp -d "/tmp/leadloop-$1.XXXXXX")
	DATA=$TMP/data
	PGLOG=$TMP/postgres.log
	CLIENT=$TMP/client
	mkdir "$CLIENT"
	DAEMON=
	CHILD=
	BENCH_PIDS= # more processes of the run to end (space-separated pids)
	trap bench_cleanup EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
}

# shellcheck disable=SC2317 # reached through the trap
bench_cleanup() {
	local rc=$? i
	trap - EXIT INT TERM
	if [[ -n "$CHILD" ]]; then
		kill -TERM "$CHILD" 2>/dev/null || true
		wait "$CHILD" 2>/dev/null || true
	fi
	for i in ${BENCH_PIDS:-}; do
		kill -TERM "$i" 2>/dev/null || true
		wait "$i" 2>/dev/null || true
	done
	if [[ -n "$DAEMON" ]] && kill -TERM "$DAEMON" 2>/dev/null; then
		for ((i = 0; i < 150; i++)); do
			kill -0 "$DAEMON" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$DAEMON" 2>/dev/null || true
		wait "$DAEMON" 2>/dev/null || true
	fi
	if [[ -f "$DATA/postmaster.pid" ]]; then
		as_owner "$PGBIN/pg_ctl" stop -D "$DATA" -m immediate -w >/dev/null 2>&1 || true
	fi
	if ((rc != 0)) && [[ -f "$TMP/leadloopd.log" ]]; then
		note "last lines of leadloopd's log:"
		tail -n 5 "$TMP/leadloopd.log" >&2 || true
	fi
	if [[ -n "${BENCH_KEEP:-}" && -d "$CLIENT" ]] && mkdir -p "$BENCH_KEEP"; then
		cp -r "$CLIENT/." "$BENCH_KEEP/" || true
		cp "$PGLOG" "$TMP/leadloopd.log" "$BENCH_KEEP/" 2>/dev/null || true
	fi
	rm -rf "$TMP"
	exit "$rc"
}

# Runs a command in the background and waits for it, so that INT or TERM reach the trap at
# once (bash defers traps while a foreground child runs) and the trap can end the command.
run_child() {
	local rc=0
	"$@" &
	CHILD=$!
	wait "$CHILD" || rc=$?
	CHILD=
	return "$rc"
}

# bench_build BUILD_DIR BIN: the release binary, without sanitizers.
bench_build() {
	note "building $2"
	make --no-print-directory SANITIZE= B="$1" BIN="$2" >"$CLIENT/build.log" 2>&1 || {
		cat "$CLIENT/build.log" >&2
		die "build failed"
	}
}

# A port nobody answers on, from a random start to stay clear of parallel runs.
free_port() {
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

# bench_postgres CONNECTIONS [EXTRA_CONF]: creates and starts the cluster in DATA, listening
# only on 127.0.0.1 (port in PGPORT). Durability as shipped: fsync, synchronous_commit and
# full_page_writes keep their defaults (on). EXTRA_CONF: more postgresql.conf lines.
bench_postgres() {
	local connections=$1 extra=${2:-} attempt started=
	if is_root; then chown postgres:postgres "$TMP"; fi
	note "creating a PostgreSQL cluster in $TMP"
	# -N: initdb itself need not sync a throwaway cluster; the server runs with fsync on.
	as_owner "$PGBIN/initdb" -D "$DATA" -N -E UTF8 --locale=C -A trust --no-instructions \
		>"$CLIENT/initdb.log" 2>&1 || {
		cat "$CLIENT/initdb.log" >&2
		die "initdb failed"
	}
	echo "include = 'bench.conf'" >>"$DATA/postgresql.conf"
	for attempt in 1 2 3; do
		PGPORT=$(free_port)
		{
			echo "# Written by bench/lib.sh."
			echo "listen_addresses = '127.0.0.1'"
			echo "port = $PGPORT"
			echo "unix_socket_directories = '$TMP'"
			echo "max_connections = $connections"
			echo "shared_buffers = 256MB"
			echo "lc_messages = 'C'"
			echo "log_line_prefix = 'LLB|%p|'"
			[[ -z "$extra" ]] || printf '%s\n' "$extra"
		} >"$DATA/bench.conf"
		if is_root; then chown postgres:postgres "$DATA/bench.conf"; fi
		if as_owner "$PGBIN/pg_ctl" start -D "$DATA" -l "$PGLOG" -w -t 60 >/dev/null 2>&1; then
			started=1
			break
		fi
		grep -q 'could not bind\|Address already in use' "$PGLOG" 2>/dev/null || break
		note "port $PGPORT was taken (attempt $attempt), trying another"
	done
	[[ -n "$started" ]] || {
		cat "$PGLOG" >&2 2>/dev/null || true
		die "PostgreSQL did not start"
	}
}

# bench_serve: starts LEADLOOPD on a free loopback port (HTTP_PORT, BASE; its pid in DAEMON,
# its log TMP/leadloopd.log) on DATABASE_URL with a pool of POOL, and waits until it is
# ready. One key is the whole load of a bench: its rate limit is set far above what the
# machine serves (the leases still run: one statement per 100 requests), and it may hold
# every pool connection, as pgbench's clients do.
bench_serve() {
	local i attempt
	# A free port can be taken by another process before the daemon binds it: then
	# another port, a few times.
	for attempt in 1 2 3 4 5; do
		HTTP_PORT=$(free_port)
		BASE=http://127.0.0.1:$HTTP_PORT
		LEADLOOP_RATE_PER_S=100000 LEADLOOP_RATE_BURST=1000000 LEADLOOP_KEY_CONNECTIONS=$POOL \
		LEADLOOP_LISTEN=127.0.0.1:$HTTP_PORT LEADLOOP_DB_POOL=$POOL LEADLOOP_LOG_LEVEL=warn \
			"$LEADLOOPD" serve --no-migrate >"$TMP/leadloopd.log" 2>&1 &
		DAEMON=$!
		for ((i = 0; i < 100; i++)); do
			kill -0 "$DAEMON" 2>/dev/null || break
			[[ "$(curl -s -o /dev/null -w '%{http_code}' "$BASE/readyz" || true)" == 200 ]] && break
			sleep 0.1
		done
		kill -0 "$DAEMON" 2>/dev/null && break
		wait "$DAEMON" 2>/dev/null || true
		grep -q 'Address already in use' "$TMP/leadloopd.log" || die "leadloopd exited at start"
		note "port $HTTP_PORT was taken (attempt $attempt), trying another"
	done
	kill -0 "$DAEMON" 2>/dev/null || die "leadloopd could not bind a port in 5 attempts"
	((i < 100)) || die "leadloopd is not ready after 10 s"
	note "leadloopd (pid $DAEMON) serves $BASE with a pool of $POOL"
}

# bench_about CLIENT: the first lines of a result, what ran on what machine (CLIENT: the
# load generator that shared it). LEADLOOPD and LOAD_START come from the caller.
bench_about() {
	local version cpu
	# The tree's, not the binary's: make does not rebuild main.o for a new commit alone.
	version=$(git describe --tags --always --dirty 2>/dev/null || "$LEADLOOPD" --version | awk '{ print $2 }')
	cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
	echo "- leadloopd $version, PostgreSQL $("$PGBIN/postgres" --version | awk '{ print $3 }'), $(date -u '+%Y-%m-%d %H:%M UTC')"
	echo "- machine: $(nproc) cores (nproc), ${cpu:-unknown CPU}, $(awk '/^MemTotal:/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo) RAM; $1, leadloopd and PostgreSQL share it; load average at the start: $LOAD_START"
}
