#!/usr/bin/env bash
# `make run` after the build: a database (the private cluster of scripts/pg.sh unless
# DATABASE_URL is set), migrations, an admin key for the first try, then the daemon in the
# foreground. Ctrl-C stops the daemon; the cluster keeps running until `make db-stop`.
#
# Usage: scripts/run.sh [SERVE-ARGS...]   (extra arguments go to `leadloopd serve`)
# Env in: DATABASE_URL (optional), LEADLOOP_LISTEN (default 127.0.0.1:8080),
#         LEADLOOP_WEBHOOK_ALLOW_PRIVATE (default 1 here) and the rest of leadloopd's
#         settings, passed through. LEADLOOPD overrides the binary (bin/leadloopd).
# Files:  var/admin.key holds the admin key's secret (mode 600), reused while it is valid.
# Web app: until someone has signed in as LEADLOOP_ADMIN_EMAIL (default admin@example.com),
#          each run prints a fresh one-time link that sets that person's password.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
cd "$ROOT"
LEADLOOPD=${LEADLOOPD:-$ROOT/bin/leadloopd}
KEYFILE=var/admin.key

[[ -x "$LEADLOOPD" ]] || {
	echo "run.sh: $LEADLOOPD is not built; run: make run" >&2
	exit 1
}

if [[ -z "${DATABASE_URL:-}" ]]; then
	bash scripts/pg.sh start
	DATABASE_URL=$(bash scripts/pg.sh url)
	export DATABASE_URL
fi

"$LEADLOOPD" migrate

# Reuse the stored key while the database still knows it: `keys list` shows each key on a
# line with its visible prefix, the first 12 characters of the secret. A key whose line
# says "revoked", or a key file from another database (cluster cleaned, DATABASE_URL
# changed), makes a new one.
key_is_live() {
	local prefix=${1:0:12} keys line
	# Explicit exit: set -e does not act inside a function called left of ||.
	keys=$("$LEADLOOPD" keys list) || exit 1
	while IFS= read -r line; do
		if [[ "$line" == *"$prefix"* && "${line,,}" != *revoked* ]]; then
			return 0
		fi
	done <<<"$keys"
	return 1
}
secret=
if [[ -s "$KEYFILE" ]]; then
	secret=$(head -n 1 "$KEYFILE")
	if ((${#secret} < 12)) || ! key_is_live "$secret"; then secret=; fi
fi
if [[ -z "$secret" ]]; then
	"$LEADLOOPD" workspace create demo --name "Demo"
	secret=$("$LEADLOOPD" keys create --workspace demo --role admin --name "make run")
	if ((${#secret} < 12)) || [[ "$secret" == *[[:space:]]* ]]; then
		echo "run.sh: 'leadloopd keys create' printed no usable secret" >&2
		exit 1
	fi
	mkdir -p var
	# umask first, so the secret is never readable by others, not even for a moment.
	(
		umask 077
		printf '%s\n' "$secret" >"$KEYFILE.tmp"
	)
	mv -f "$KEYFILE.tmp" "$KEYFILE"
	echo "run.sh: created workspace demo and an admin key, saved in $KEYFILE" >&2
fi

# A daemon on a developer's machine may send webhooks to a receiver on the same machine (the
# README's example listens on 127.0.0.1); a deployed daemon keeps the default, which
# refuses loopback and private addresses. Set LEADLOOP_WEBHOOK_ALLOW_PRIVATE=0 to try that.
export LEADLOOP_WEBHOOK_ALLOW_PRIVATE=${LEADLOOP_WEBHOOK_ALLOW_PRIVATE:-1}

listen=${LEADLOOP_LISTEN:-127.0.0.1:8080}
# A wildcard listen address is reached through loopback.
url_host=${listen%:*}
case "$url_host" in
"" | 0.0.0.0) url_host=127.0.0.1 ;;
"[::]") url_host="[::1]" ;;
esac
base="http://$url_host:${listen##*:}"

# The web app's first admin: a link that sets their password, until they have one
# (`leadloopd invite` refuses a person who can sign in already).
admin_email=${LEADLOOP_ADMIN_EMAIL:-admin@example.com}
signin="Sign in at $base/app as $admin_email"
if link=$("$LEADLOOPD" invite --workspace demo --email "$admin_email" --name Admin \
	--role admin --url "$base" 2>/dev/null); then
	signin="Set the password of $admin_email (web app, role admin): $link"
fi

cat <<EOF

  Leadloop is starting on $listen  (Ctrl-C stops it; the database stays up: make db-stop)
  Web app:  $base/app      API reference: $base/docs
  $signin
  Try the API:
    curl -H "Authorization: Bearer $secret" $base/v1/users

EOF
exec "$LEADLOOPD" serve --no-migrate "$@"
