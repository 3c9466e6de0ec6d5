#!/usr/bin/env bash
# bench/monolith.sh - the baseline the microservices must beat (issue: the
# legacy shop). Seeds a MariaDB under var/bench at benchmark scale once
# (BENCH_PRODUCTS, BENCH_USERS, BENCH_ORDERS; default 100 k / 20 k / 1 M),
# starts the monolith, and measures with wrk: product detail, product list
# with an attribute filter, search, my orders, the sales report.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
. bench/lib.sh
BUILD=${BUILD:-build}
export SOUK_VAR_DIR=${BENCH_VAR:-$ROOT/var/bench}
PRODUCTS=${BENCH_PRODUCTS:-100000}
BENCH_OUT=${BENCH_OUT:-$SOUK_VAR_DIR/monolith.results}
mkdir -p "$SOUK_VAR_DIR"
: >"$BENCH_OUT"

trap 'bench_stop; scripts/stop-local.sh >/dev/null' EXIT
monolith_db
bench_start monolith "$BUILD/bin/souk-monolith"
base=$BENCH_URL

login() {
	curl -fsS "$base/api/v1/accounts/login" -H 'Content-Type: application/json' \
		-d "{\"email\":\"$1\",\"password\":\"souk-demo\"}" | sed 's/.*"token":"\([^"]*\)".*/\1/'
}
customer=$(login demo@souk.test)
admin=$(login admin@souk.test)

wrk_median product_detail "$base" "/api/v1/products/{id}" "$PRODUCTS"
wrk_median product_list_filter "$base" "/api/v1/products?category=shirts&colour=blue&limit=20"
# The slow legacy queries get few connections and a long timeout, so they are
# measured instead of timing out in a queue.
BENCH_CONNS=4 BENCH_TIMEOUT=30s wrk_median search_like "$base" "/api/v1/search?q=wireless&limit=20"
wrk_median my_orders "$base" "/api/v1/orders?limit=20" 1 "$customer"
BENCH_CONNS=2 BENCH_THREADS=1 BENCH_TIMEOUT=60s BENCH_DURATION=20s wrk_median sales_report "$base" "/api/v1/reports/sales?from=2000-01-01&to=2100-01-01" 1 "$admin"
cat "$BENCH_OUT"
