#!/usr/bin/env bash
# `make test` driver: one set of servers for the whole run, then the C unit tests, then the
# Perl integration tests. Usage: tests/run.sh [DIR|FILE.t ...]   (default: lib/t monolith/t gateway/t services tests contracts/t migrate/t web/t)
# SOUK_BUILD (or BUILD) names the build dir, e.g. build-asan for `make check`.
# SOUK_SANITIZE=1 (`make check`; the default for build-asan) sends every ASan/UBSan/LSan report
# to a file of its own and fails the run if any was written (see the end).
# shellcheck disable=SC2317 # cleanup is called from a trap
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
export SOUK_BUILD=${SOUK_BUILD:-${BUILD:-build}}

VAR=$(mktemp -d "${TMPDIR:-/tmp}/souk-test.XXXXXX")
chmod 755 "$VAR" # postgres runs as its own user and must reach its data dir inside
infra=

# A sanitizer report goes to $SAN/<asan|ubsan>.<program>.<pid>, not to stderr: most processes
# here run with their stderr unread (a server stopped at the end of a test, a child a test
# expects to fail, a fork in a unit test), so only the files make every report count.
# tests/lsan.supp names each leak that is accepted, and why. UBSan is the exception: in GCC's
# combined ASan+UBSan runtime it ignores log_path and prints to stderr, but the build has
# -fno-sanitize-recover, so its first report ends the process with status 1, which the
# harness checks (unit tests here, services in Souk::Test's stop, soukctl by its callers).
SAN=
[ "$SOUK_BUILD" != build-asan ] || : "${SOUK_SANITIZE:=1}"
if [ "${SOUK_SANITIZE:-0}" = 1 ]; then
	SAN=$VAR/sanitizer
	mkdir -p "$SAN"
	export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:log_exe_name=1:log_path=$SAN/asan${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
	export UBSAN_OPTIONS="print_stacktrace=1:log_exe_name=1:log_path=$SAN/ubsan${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"
	export LSAN_OPTIONS="suppressions=$ROOT/tests/lsan.supp:print_suppressions=0${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
fi

cleanup() {
	# Let a start still under way finish, so nothing it launches outlives the stop.
	[ -z "$infra" ] || wait "$infra" 2>/dev/null || true
	SOUK_VAR_DIR=$VAR scripts/stop-local.sh >/dev/null || true
	rm -rf "$VAR"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM HUP

# Six distinct free ports, all held open until every one is chosen, and below the kernel's
# ephemeral range: the servers boot while the unit tests run, and a port the kernel may hand
# out (to a port-0 listener or as a connection's source port) was taken under RabbitMQ's feet
# once in CI (eaddrinuse). Below 20000: the test files take theirs from 20000 up
# (Souk::Test::free_port), and one of these is free only until its server binds it.
read -r P_MARIADB P_PG P_REDIS P_RABBIT P_DIST P_EPMD < <(perl -MIO::Socket::INET -e '
	my (@s, %seen);
	for (1 .. 1000) {
		my $port = 15000 + int(rand(5000));
		next if $seen{$port}++;
		my $s = IO::Socket::INET->new(LocalAddr => "127.0.0.1", LocalPort => $port, Listen => 1,
			ReuseAddr => 0) or next;
		push @s, $s;
		last if @s == 6;
	}
	die "free port: only " . scalar(@s) . " of 6 in [15000, 20000)\n" if @s < 6;
	print join(" ", map { $_->sockport } @s), "\n";')

# Servers boot (RabbitMQ ~10-17 s) while the unit tests run; they need no servers.
SOUK_VAR_DIR=$VAR SOUK_REDIS_PERSIST=0 SOUK_MARIADB_PORT=$P_MARIADB SOUK_PG_PORT=$P_PG \
	SOUK_REDIS_PORT=$P_REDIS SOUK_RABBIT_PORT=$P_RABBIT SOUK_RABBIT_DIST_PORT=$P_DIST \
	SOUK_RABBIT_EPMD_PORT=$P_EPMD scripts/start-local.sh </dev/null >"$VAR/start.out" 2>&1 &
infra=$!

unit_failed=()
for t in "$SOUK_BUILD"/t/*; do
	[ -f "$t" ] && [ -x "$t" ] || continue
	echo "# $t"
	# A unit binary fails if it exits non-zero, prints any "not ok", or hangs.
	if ! out=$(timeout "${SOUK_UNIT_TIMEOUT:-120}" "$t" </dev/null 2>&1); then
		unit_failed+=("$t")
	elif grep -q '^not ok' <<<"$out"; then
		unit_failed+=("$t")
	fi
	printf '%s\n' "$out"
done

if ! wait "$infra"; then
	cat "$VAR/start.out" >&2
	echo "tests/run.sh: could not start the test servers" >&2
	exit 1
fi
cat "$VAR/start.out"

export SOUK_TEST_VAR_DIR=$VAR SOUK_TEST_MARIADB_PORT=$P_MARIADB SOUK_TEST_PG_PORT=$P_PG \
	SOUK_TEST_REDIS_PORT=$P_REDIS SOUK_TEST_RABBIT_PORT=$P_RABBIT
# Every answer http() receives, and every event the test databases' outboxes hold, is captured
# here and checked against the OpenAPI documents and the event schemas at the end
# (contracts/README.md); set SOUK_API_CAPTURE=DIR to keep them.
export SOUK_API_CAPTURE=${SOUK_API_CAPTURE:-$VAR/api-capture}
mkdir -p "$SOUK_API_CAPTURE"

[ $# -gt 0 ] || set -- lib/t monolith/t gateway/t services tests contracts/t migrate/t web/t
targets=()
for p in "$@"; do [ -e "$p" ] && targets+=("$p"); done
rc=0
if [ ${#targets[@]} -gt 0 ] && [ -n "$(find "${targets[@]}" -name '*.t' -print -quit)" ]; then
	prove -j2 --timer -r -I tests/lib "${targets[@]}" </dev/null 2>&1 | tee "$VAR/prove.main.out" ||
		rc=$?
else
	echo "# no integration tests (*.t) under: $*"
fi

# The contract suite ran above against the monolith; the same files once more against the
# services behind the gateway (tests/contract/README.md).
contract=()
if [ ${#targets[@]} -gt 0 ]; then
	mapfile -t contract < <(find "${targets[@]}" -path '*tests/contract/[0-9]*.t' | sort -u)
fi
if [ ${#contract[@]} -gt 0 ]; then
	echo "# contract suite against the services (SOUK_CONTRACT_MODE=services)"
	SOUK_CONTRACT_MODE=services prove -j2 --timer -I tests/lib "${contract[@]}" </dev/null 2>&1 |
		tee "$VAR/prove.services.out" || rc=$?
fi

if [ -n "$(find "$SOUK_API_CAPTURE" -name '*.jsonl' ! -name '*.events.jsonl' -print -quit)" ]; then
	echo "# responses against the OpenAPI documents (contracts/bin/validate-responses.mjs)"
	node contracts/bin/validate-responses.mjs "$SOUK_API_CAPTURE" || rc=$?
fi
if [ -n "$(find "$SOUK_API_CAPTURE" -name '*.events.jsonl' -print -quit)" ]; then
	echo "# published events against contracts/events/ (contracts/bin/events.mjs validate)"
	node contracts/bin/events.mjs validate "$SOUK_API_CAPTURE" || rc=$?
fi

# Every report fails the run, whichever process wrote it. Processes still running are stopped
# by now (each test file stops what it started), so nothing is written after this check.
if [ -n "$SAN" ]; then
	mapfile -t reports < <(find "$SAN" -type f -size +0 | sort)
	for f in "${reports[@]}"; do
		printf '# sanitizer report %s:\n' "${f##*/}" >&2
		cat "$f" >&2
	done
	if [ ${#reports[@]} -gt 0 ]; then
		echo "sanitizer reports: ${#reports[@]} (above)" >&2
		[ $rc -ne 0 ] || rc=1
	fi
fi

# A log is often read from its end only (CI shows its last lines): the failures again, last.
for f in "$VAR"/prove.*.out; do
	[ -f "$f" ] && grep -q '^Test Summary Report' "$f" || continue
	echo "# recap (${f##*/prove.}): the failed tests' diagnostics, then prove's summary" >&2
	grep -E '^#   (Failed test|at |in )|^# +(got|expected|Looks like)' "$f" | head -60 >&2 || true
	sed -n '/^Test Summary Report/,/^Files=/p' "$f" >&2
done

if [ ${#unit_failed[@]} -gt 0 ]; then
	echo "unit tests failed: ${unit_failed[*]}" >&2
	[ $rc -ne 0 ] || rc=1
fi
exit $rc
