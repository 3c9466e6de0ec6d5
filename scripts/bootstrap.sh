#!/usr/bin/env bash
# Install the Debian packages souk builds, tests and runs against (DESIGN.md §8).
# Idempotent and silent when everything is already installed.
set -euo pipefail

PACKAGES="build-essential pkg-config libuv1-dev libhttp-parser-dev libjansson-dev libpq-dev
libmariadb-dev libhiredis-dev librabbitmq-dev libjwt-dev libsodium-dev postgresql
postgresql-contrib mariadb-server mariadb-client redis-server rabbitmq-server wrk nginx-light

clang clang-format curl perl libclang-rt-14-dev nodejs prometheus linux-perf chromium fonts-dejavu-core"

# One dpkg-query for all; unknown packages are simply absent from its output, and
# removed-but-configured ones show a status other than "installed".
# shellcheck disable=SC2086
have=" $(dpkg-query -W -f='${Package}=${db:Status-Status} ' $PACKAGES 2>/dev/null || true)"
missing=()
for p in $PACKAGES; do
	case "$have" in *" $p=installed "*) ;; *) missing+=("$p") ;; esac
done
# The npm packages, exactly as each package-lock.json pins them, again whenever the lock file
# changes: contracts/ (the OpenAPI linter, the JSON Schema validator) and web/ (the pages' view
# and chart libraries, esbuild that bundles them, playwright-core and axe-core for the browser
# tests, which drive Debian's chromium above: playwright downloads no browser).
npm_tools() {
	local dir
	dir="$(cd "$(dirname "$0")/.." && pwd)/$1"
	cmp -s "$dir/package-lock.json" "$dir/node_modules/.souk-lock" && return 0
	if ! command -v npm >/dev/null; then
		echo "bootstrap: npm is missing (Node.js 20 with npm; Debian's nodejs ships it from 'npm')" >&2
		exit 1
	fi
	echo "bootstrap: npm ci in $1/"
	(cd "$dir" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
	cp "$dir/package-lock.json" "$dir/node_modules/.souk-lock"
}
node_tools() {
	npm_tools contracts
	npm_tools web
}

if [ ${#missing[@]} -eq 0 ]; then
	node_tools
	exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
	echo "bootstrap: missing packages; install them with:" >&2
	echo "  sudo apt-get install ${missing[*]}" >&2
	exit 1
fi

echo "bootstrap: installing ${missing[*]}"
# Installing a server package must not start a system-wide instance: start-local.sh runs
# project-local ones. policy-rc.d exit 101 is Debian's "don't start services" switch; add one
# only for this install if the image has none.
if [ ! -e /usr/sbin/policy-rc.d ]; then
	printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
	chmod 755 /usr/sbin/policy-rc.d
	trap 'rm -f /usr/sbin/policy-rc.d' EXIT
fi
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
node_tools
