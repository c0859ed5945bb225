# Sourced by the scripts that test a whole daemon as a user meets it (tests/readme/run.sh,
# tests/web/daemon.sh): on the throwaway PostgreSQL of tests/harness.sh, the migrations,
# workspace demo and an admin key as `make run` makes them, and the daemon on a free
# loopback port, ready. Stopped and its directory removed when the script exits.
#
# In:  DAEMON (the leadloopd binary), LL_TEST_DATABASE_URL, TMP (a directory the script
#      owns: daemon.log goes there); extra "NAME=value" settings as arguments.
# Out: KEY (the admin key), BASE (http://127.0.0.1:PORT), pid (the daemon's).

daemon_cleanup() {
	if [[ -n "${pid:-}" ]]; then
		kill -TERM "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	fi
	rm -rf "$TMP"
}

daemon_start() {
	local port attempt
	trap daemon_cleanup EXIT
	export DATABASE_URL=$LL_TEST_DATABASE_URL
	"$DAEMON" migrate >/dev/null
	"$DAEMON" workspace create demo --name Demo 2>/dev/null
	KEY=$("$DAEMON" keys create --workspace demo --role admin --name "make run" 2>/dev/null)
	port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
	port=$((20000 + RANDOM % 20000))
	# A port seen free can be taken by another process before the daemon binds it (other
	# test runs share the machine): then the daemon stops at once, and the next port is
	# tried.
	for ((attempt = 0; attempt < 5; attempt++)); do
		while ! port_free "$port"; do port=$((port >= 40000 ? 20000 : port + 1)); done
		BASE=http://127.0.0.1:$port
		env LEADLOOP_LISTEN="127.0.0.1:$port" LEADLOOP_LOG_LEVEL=warn "$@" \
			"$DAEMON" serve --no-migrate 2>"$TMP/daemon.log" &
		pid=$!
		# Ready when /readyz answers 200; curl's own retry waits for the port to open.
		# (and it is this daemon that answered, not another process that took the port)
		if curl -s -o /dev/null --retry 50 --retry-delay 0 --retry-connrefused \
			--retry-max-time 20 --fail "$BASE/readyz" && kill -0 "$pid" 2>/dev/null &&
			! grep -q "Address already in use" "$TMP/daemon.log"; then
			return 0
		fi
		if ! grep -q "Address already in use" "$TMP/daemon.log"; then
			break
		fi
		wait "$pid" 2>/dev/null || true
		pid=
		port=$((port + 1))
	done
	cat "$TMP/daemon.log" >&2
	echo "the daemon did not become ready on $BASE" >&2
	exit 1
}
