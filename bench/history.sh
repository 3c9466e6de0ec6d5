#!/usr/bin/env bash
# bench/history.sh - souk-history against the monolith it takes "my orders" from (issue #13),
# on the same data in the same run:
#   - my orders: GET /api/v1/orders?limit=20 for the demo customer, the monolith's join
#     (orders ⋈ order_items ⋈ products ⋈ payments) against history's stored rows, same wrk
#     settings (bench/lib.sh); target >= 10x req/s and p99 < 5 ms; history with its page
#     cache (the default) and without (SOUK_HISTORY_CACHE_TTL_MS=0);
#   - backfill rate: `soukctl backfill orders` fills history with COPY (rows rendered by
#     history's own code); its rows/s against a plain PostgreSQL COPY of the very same rows
#     (exported from history, loaded into an empty copy of the table); target >= 0.5x.
#
#   bench/history.sh            run; write var/bench/history.results and history.md
#   bench/history.sh report     print the markdown section from the last results
#
# Data: the monolith seed under var/bench (bench/lib.sh monolith_db: BENCH_ORDERS, default
# 1 M), copied by `soukctl backfill orders` into orders and history (once: a later run reuses
# them; BENCH_REBUILD=1 starts afresh). PostgreSQL and RabbitMQ from var/bench on their own
# ports (BENCH_PG_PORT 55442, BENCH_RABBIT_PORT 55682), stopped on exit. Smoke it small:
# BENCH_ORDERS=20000 BENCH_USERS=2000 BENCH_PRODUCTS=2000 BENCH_VAR=/tmp/hb bench/history.sh
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
. bench/lib.sh
BUILD=${BUILD:-build}
export SOUK_VAR_DIR=${BENCH_VAR:-$ROOT/var/bench}
BENCH_OUT=${BENCH_OUT:-$SOUK_VAR_DIR/history.results}
MD=${BENCH_MD:-$SOUK_VAR_DIR/history.md}

report() {
	[ -s "$BENCH_OUT" ] || { echo "bench/history.sh: no results in $BENCH_OUT (run it first)" >&2; return 1; }
	awk -v orders="${BENCH_ORDERS:-1000000}" -v runs="$BENCH_RUNS" -v dur="$BENCH_DURATION" \
		-v conns="$BENCH_CONNS" -v threads="$BENCH_THREADS" '
		$1 ~ /^my_orders_/ { rps[$1] = $2; p50[$1] = $3; p99[$1] = $4; err[$1] = $5 }
		$1 == "backfill_rows_per_s" { bf = $2; bfn = $3; bft = $4 }
		$1 == "copy_rows_per_s" { cp = $2; cpt = $4 }
		function met(ok) { return ok ? "met" : "**not met**" }
		END {
			print "## History: my orders from a flat read model (souk-history)"
			print ""
			printf "Data: the monolith seed above (%d orders), copied by `soukctl backfill orders` into orders and\n", orders
			print "history. Command: `bench/history.sh` (part of `make bench`); wrk as above (" runs " runs of " dur ", -t" threads " -c" conns ")."
			print ""
			print "| target | req/s (median) | p50 ms | p99 ms | errors |"
			print "|---|---:|---:|---:|---:|"
			split("my_orders_monolith my_orders_history my_orders_history_nocache", ks, " ")
			for (i = 1; i <= 3; i++) if (ks[i] in rps)
				printf "| %s | %.0f | %.2f | %.2f | %s |\n", ks[i], rps[ks[i]], p50[ks[i]], p99[ks[i]], err[ks[i]]
			if (("my_orders_monolith" in rps) && rps["my_orders_monolith"] > 0) {
				r = rps["my_orders_history"] / rps["my_orders_monolith"]
				print ""
				printf "history / monolith: %.1fx req/s (target >= 10x: %s), p99 %.2f ms (target < 5 ms: %s).\n", r, met(r >= 10), p99["my_orders_history"], met(p99["my_orders_history"] < 5)
				if ("my_orders_history_nocache" in rps)
					printf "Without the page cache (`SOUK_HISTORY_CACHE_TTL_MS=0`, one index range scan per request): %.1fx, p99 %.2f ms.\n", rps["my_orders_history_nocache"] / rps["my_orders_monolith"], p99["my_orders_history_nocache"]
			}
			if (bf > 0 && cp > 0) {
				print ""
				printf "Backfill: %d history rows in %.1f s = %.0f rows/s (read from orders, rendered, COPY); plain `COPY` of the same rows: %.0f rows/s (%.1f s); ratio %.2fx (target >= 0.5x: %s).\n", bfn, bft, bf, cp, cpt, bf / cp, met(bf / cp >= 0.5)
			}
		}' "$BENCH_OUT"
}
if [ "${1:-}" = report ]; then
	report
	exit
fi

mkdir -p "$SOUK_VAR_DIR"
: >"$BENCH_OUT"
trap 'bench_stop; scripts/stop-local.sh >/dev/null' EXIT
monolith_db
export SOUK_PG_PORT=${BENCH_PG_PORT:-55442} SOUK_RABBIT_PORT=${BENCH_RABBIT_PORT:-55682}
scripts/start-local.sh rabbitmq postgres
export SOUK_PG_ADMIN_DSN=postgresql://souk_admin:souk-dev@127.0.0.1:$SOUK_PG_PORT/postgres
export SOUK_ORDERS_DB=postgresql://orders:souk-dev@127.0.0.1:$SOUK_PG_PORT/orders
export SOUK_HISTORY_DB=postgresql://history:souk-dev@127.0.0.1:$SOUK_PG_PORT/history
export SOUK_AMQP_URL=amqp://souk:souk-dev@127.0.0.1:$SOUK_RABBIT_PORT/%2f
for t in orders history; do
	[ -z "${BENCH_REBUILD:-}" ] || psql -XAtq -d "$SOUK_PG_ADMIN_DSN" -c "DROP DATABASE IF EXISTS $t WITH (FORCE)"
	"$BUILD/bin/soukctl" db create "$t"
	"$BUILD/bin/soukctl" schema up "$t"
done
count() { psql -XAtq -d "$1" -c "$2"; }

# ---- backfill rate, and COPY of the same rows -------------------------------------------
# Measured only in a run that fills history (the first, or BENCH_REBUILD=1), so both rates
# come from the same run.
filled=
if [ "$(count "$SOUK_HISTORY_DB" 'SELECT count(*) FROM order_rows')" = 0 ]; then
	"$BUILD/bin/soukctl" backfill orders --if-empty 2>"$SOUK_VAR_DIR/history-backfill.err" |
		tee "$SOUK_VAR_DIR/history-backfill.out"
	tail -1 "$SOUK_VAR_DIR/history-backfill.err" >&2
	filled=1
fi
# "backfilled history: N orders in T s"
if [ -n "$filled" ] && line=$(grep '^backfilled history:' "$SOUK_VAR_DIR/history-backfill.out"); then
	n=$(awk '{ print $3 }' <<<"$line")
	t=$(awk '{ print $6 }' <<<"$line")
	echo "backfill_rows_per_s $(awk -v n="$n" -v t="$t" 'BEGIN { printf "%.0f", n / t }') $n $t 0" >>"$BENCH_OUT"
	cols="id, user_id, status, created, terminal, legacy, v1, items, ship, total_minor, currency, card_last4, payment, created_txt, updated_txt, created_at, v1_json, v2_json"
	dump=$SOUK_VAR_DIR/history-rows.copy
	count "$SOUK_HISTORY_DB" "COPY (SELECT $cols FROM order_rows) TO STDOUT" >"$dump"
	count "$SOUK_HISTORY_DB" "DROP TABLE IF EXISTS order_rows_copy; CREATE TABLE order_rows_copy (LIKE order_rows INCLUDING ALL)"
	t0=$(date +%s.%N)
	psql -XAtq -d "$SOUK_HISTORY_DB" -c "COPY order_rows_copy ($cols) FROM STDIN" <"$dump"
	t1=$(date +%s.%N)
	count "$SOUK_HISTORY_DB" "DROP TABLE order_rows_copy"
	rm -f "$dump"
	echo "copy_rows_per_s $(awk -v n="$n" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.0f", n / (b - a) }') $n $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }') 0" >>"$BENCH_OUT"
fi

# ---- my orders ----------------------------------------------------------------------------
bench_start monolith "$BUILD/bin/souk-monolith"
mono=$BENCH_URL
bench_start history "$BUILD/bin/souk-history"
hist=$BENCH_URL
customer=$(curl -fsS "$mono/api/v1/accounts/login" -H 'Content-Type: application/json' \
	-d '{"email":"demo@souk.test","password":"souk-demo"}' | sed 's/.*"token":"\([^"]*\)".*/\1/')
# the same first page from both, or the comparison means nothing
a=$(curl -fsS "$mono/api/v1/orders?limit=20" -H "Authorization: Bearer $customer" | sha256sum)
b=$(curl -fsS "$hist/api/v1/orders?limit=20" -H "Authorization: Bearer $customer" | sha256sum)
[ "$a" = "$b" ] || echo "bench: history's first page differs from the monolith's (names renamed since?)" >&2
wrk_median my_orders_monolith "$mono" "/api/v1/orders?limit=20" 1 "$customer"
wrk_median my_orders_history "$hist" "/api/v1/orders?limit=20" 1 "$customer"
# the same without history's page cache: every request one PostgreSQL statement
bench_start history-nocache "$BUILD/bin/souk-history" SOUK_HISTORY_CACHE_TTL_MS=0
wrk_median my_orders_history_nocache "$BENCH_URL" "/api/v1/orders?limit=20" 1 "$customer"
report | tee "$MD"
