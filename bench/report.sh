#!/usr/bin/env bash
# bench/report.sh - write docs/benchmarks.md from the results of the last
# `make bench` (var/bench/*.results: "name rps p50_ms p99_ms errors"), with the
# sections bench/services.sh and bench/gateway.sh wrote (var/bench/*.md).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
res=var/bench/monolith.results
out=docs/benchmarks.md
mkdir -p docs

table() {
	echo "| scenario | req/s (median) | p50 ms | p99 ms | errors |"
	echo "|---|---:|---:|---:|---:|"
	awk '{ printf("| %s | " ($2 < 10 ? "%.1f" : "%.0f") " | %.2f | %.2f | %s |\n", $1, $2, $3, $4, $5) }' "$1"
}

{
	cat <<EOT
# Benchmarks

Produced by \`make bench\` (bench/run.sh) on $(date -u +%Y-%m-%d), $(nproc) cores,
$(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo), $(. /etc/os-release; echo "$PRETTY_NAME").
Each figure is the median of ${BENCH_RUNS:-3} wrk runs of ${BENCH_DURATION:-10s}
(\`wrk -t${BENCH_THREADS:-2} -c${BENCH_CONNS:-32}\` after an uncounted 3 s warm-up; search with -c4 and the sales report with -t1 -c2 over 20 s, both with long timeouts), client and
server on the same 2-core machine, so absolute numbers are modest and noisy:
compare ratios measured in the same run.

## Baseline: the legacy monolith (MariaDB, EAV, LIKE, joins, GROUP BY)

Data: \`soukctl seed --products ${BENCH_PRODUCTS:-100000} --users ${BENCH_USERS:-20000} --orders ${BENCH_ORDERS:-1000000}\`
(deterministic, seed 42). Command: \`bench/monolith.sh\` (part of \`make bench\`).

EOT
	if [ -s "$res" ]; then table "$res"; else echo "(no results yet: run \`BENCH_ONLY=monolith bench/run.sh\`)"; fi
	cat <<'EOT'

Scenarios:
- product_detail: `GET /api/v1/products/{id}` over every id: products ⋈ categories ⋈ inventory
  ⋈ review aggregate ⋈ one row per EAV attribute.
- product_list_filter: `GET /api/v1/products?category=shirts&colour=blue` — a join per attribute
  filter plus `COUNT(*)` over the same joins.
- search_like: `GET /api/v1/search?q=wireless` — `LIKE '%wireless%'` over name and description
  (full scan).
- my_orders: `GET /api/v1/orders` for the demo customer — orders ⋈ order_items ⋈ products ⋈ payments.
- sales_report: `GET /api/v1/reports/sales` over all time — `GROUP BY` month over every order line.

These are the numbers the microservices must beat (catalog ≥ 5× on product detail, search ≥ 10×
with p99 < 20 ms, history and reporting against my_orders and sales_report).
EOT
	if [ -f var/bench/services.md ]; then
		echo
		cat var/bench/services.md
	fi
	if [ -f var/bench/gateway.md ]; then
		echo
		cat var/bench/gateway.md
	fi
	if [ -f var/bench/history.md ]; then
		echo
		cat var/bench/history.md
	fi
	if [ -f var/bench/saga.md ]; then
		echo
		cat var/bench/saga.md
	fi
	if [ -f var/bench/reporting.md ]; then
		echo
		cat var/bench/reporting.md
	fi
	# Measured by hand (tests/run.sh bench/cutover_catalog.t), kept in the tree.
	echo
	cat bench/cutover_catalog.md
} >"$out"
echo "wrote $out"
