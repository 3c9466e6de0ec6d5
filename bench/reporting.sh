#!/usr/bin/env bash
# bench/reporting.sh - souk-reporting's sales report against the monolith's GROUP BY over every
# order line (issue 13), on the same data in the same run:
#   - sales per month: GET /api/v1/reports/sales over all time, the monolith (MariaDB, GROUP BY
#     at query time) against souk-reporting (per-day tallies kept from order events, summed
#     per month), with the settings bench/monolith.sh gives the report (wrk -t1 -c2, 20 s,
#     60 s timeout) for both, in interleaved rounds; then reporting alone at -t2 -c32.
#     Targets: >= 1000x the monolith's throughput, p99 < 5 ms. Both answers must be equal.
#   - freshness under a checkout load: bench/saga.sh with BENCH_SAGA_REPORTING=1 (its own
#     servers and result files): from each order.confirmed written until reporting applied
#     it, median and p99. Target < 1 s.
#
#   bench/reporting.sh           run; write var/bench/reporting.results and reporting.md
#   bench/reporting.sh report    print the markdown section from the last results
#
# Data: the monolith's bench seed (bench/lib.sh monolith_db; BENCH_ORDERS, default 1 M), copied
# by `soukctl backfill reporting --if-empty` (COPY; timed the first time) into PostgreSQL under
# var/bench (BENCH_PG_PORT 55442, BENCH_RABBIT_PORT 55682, as bench/services.sh);
# BENCH_REBUILD=1 drops reporting's database first. BENCH_PARTS="sales freshness" (default)
# names the parts. Smoke at small scale: BENCH_ORDERS=20000 BENCH_PRODUCTS=2000
# BENCH_USERS=500 BENCH_VAR=/tmp/rb BENCH_RUNS=1 BENCH_SAGA_ORDERS=50 bench/reporting.sh
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
. bench/lib.sh
bench_init reporting
SAGA_VAR=${BENCH_SAGA_VAR:-$SOUK_VAR_DIR-saga-reporting}
PARTS=" ${BENCH_PARTS:-sales freshness} "
SALES='/api/v1/reports/sales?from=2000-01-01&to=2100-01-01'
SALES_DURATION=${BENCH_SALES_DURATION:-20s}

report() {
	[ -s "$BENCH_OUT" ] || { echo "bench/reporting.sh: no results in $BENCH_OUT (run it first)" >&2; return 1; }
	awk -v runs="$BENCH_RUNS" -v dur="$SALES_DURATION" -v orders="${BENCH_ORDERS:-1000000}" '
		function met(ok) { return ok ? "met" : "**not met**" }
		function row(k, label) {
			if (k in rps)
				printf "| %s | " (rps[k] < 10 ? "%.2f" : "%.0f") " | %.2f | %.2f | %s |\n", label, rps[k], p50[k], p99[k], err[k]
		}
		$1 == "rounds" { nr[$2] = NF - 2; for (i = 3; i <= NF; i++) rr[$2, i - 2] = $i; next }
		$1 == "backfill" { bf_s = $2; bf_n = $3; next }
		$1 == "same_body" { same = $2; next }
		$1 == "freshness_ms" { f50 = $2; f99 = $3; fn = $4; next }
		$1 == "date" { date = $2; next }
		$1 == "loadavg" { l0 = $2; l1 = $3; next }
		NF >= 5 { rps[$1] = $2; p50[$1] = $3; p99[$1] = $4; err[$1] = $5 }
		END {
			print "## Reporting: sales per month from kept tallies against the GROUP BY"
			print ""
			printf "Same data: the monolith seed (%d orders), copied by `soukctl backfill reporting` (COPY into\n", orders
			print "staging tables, then set-based SQL)" (bf_s != "" ? sprintf(" in %.1f s for %d orders", bf_s, bf_n) : "") "."
			print "`GET /api/v1/reports/sales?from=2000-01-01&to=2100-01-01` (admin): the monolith groups every"
			print "order line by month at query time; souk-reporting sums its per-day tallies (one row per day, kept"
			print "by its consumer from order events) per month. Both with the settings bench/monolith.sh gives the"
			printf "report (`wrk -t1 -c2`, %s, 60 s timeout), in %s interleaved rounds; then souk-reporting alone\n", dur, runs
			print "at `-t2 -c32`. Client and servers share the same 2-core machine."
			printf "Command: `bench/reporting.sh` (part of `make bench`), run on %s.\n", date
			print ""
			print "| target | req/s (median) | p50 ms | p99 ms | errors |"
			print "|---|---:|---:|---:|---:|"
			row("sales_monolith", "monolith (GROUP BY), -c2")
			row("sales_reporting", "souk-reporting (tallies), -c2")
			row("sales_reporting_c32", "souk-reporting (tallies), -c32")
			print ""
			m = "sales_monolith"; r = "sales_reporting"; c = "sales_reporting_c32"
			best = (c in rps) && rps[c] > rps[r] ? c : r
			if ((m in rps) && rps[m] > 0 && (best in rps))
				printf "- Throughput ratio reporting / monolith: **%.0f×** (%s; target ≥ 1000×: %s).\n", rps[best] / rps[m], best == c ? "reporting at -c32" : "same settings", met(rps[best] >= 1000 * rps[m])
			if ((m in rps) && rps[m] > 0 && (r in rps))
				printf "- With the same settings (-c2): %.0f×.\n", rps[r] / rps[m]
			if (best in rps)
				printf "- p99 of souk-reporting: **%.2f ms** (target < 5 ms: %s).\n", p99[best], met(p99[best] < 5)
			if (same != "")
				printf "- The two answers are %s.\n", same == 1 ? "byte for byte the same" : "**different**"
			if (fn > 0)
				printf "- Freshness under the checkout load (bench/saga.sh with BENCH_SAGA_REPORTING=1, %d confirmed orders): from order.confirmed written until souk-reporting applied it, p50 **%d ms**, p99 **%d ms** (target < 1 s: %s).\n", fn, f50, f99, met(f99 < 1000)
			if (l0 != "" && l0 > 0.5)
				printf "- **Caution:** the machine was already busy when this benchmark started (1-minute load average %s; %s at the end).\n", l0, l1
			print ""
		}' "$BENCH_OUT"
}

if [ "${1:-}" = report ]; then
	report
	exit
fi

bench_begin souk-monolith souk-reporting soukctl

if [[ $PARTS == *" sales "* ]]; then
	monolith_db
	bench_backbone reporting
	t0=$(date +%s.%N)
	out=$("$BUILD/bin/soukctl" backfill reporting --if-empty)
	echo "$out" >&2
	n=$(sed -n 's/^backfilled \([0-9]*\) order facts.*/\1/p' <<<"$out")
	[ -z "$n" ] || echo "backfill $(echo "$(date +%s.%N) - $t0" | bc) $n" >>"$BENCH_OUT"

	bench_start monolith "$BUILD/bin/souk-monolith"
	mono=$BENCH_URL
	bench_start reporting "$BUILD/bin/souk-reporting"
	rep=$BENCH_URL
	admin=$(curl -fsS "$mono/api/v1/accounts/login" -H 'Content-Type: application/json' \
		-d '{"email":"admin@souk.test","password":"souk-demo"}' | sed 's/.*"token":"\([^"]*\)".*/\1/')
	a=$(curl -fsS "$mono$SALES" -H "Authorization: Bearer $admin")
	b=$(curl -fsS "$rep$SALES" -H "Authorization: Bearer $admin")
	echo "same_body $([ "$a" = "$b" ] && echo 1 || echo 0)" >>"$BENCH_OUT"
	[ "$a" = "$b" ] || echo "bench/reporting.sh: the answers differ:
monolith:  $a
reporting: $b" >&2
	BENCH_ROUNDS_TOKEN=$admin BENCH_CONNS=2 BENCH_THREADS=1 BENCH_TIMEOUT=60s \
		BENCH_DURATION=$SALES_DURATION wrk_rounds "$SALES" 1 sales_monolith="$mono" sales_reporting="$rep"
	wrk_median sales_reporting_c32 "$rep" "$SALES" 1 "$admin"
	bench_stop
	scripts/stop-local.sh >/dev/null
fi

if [[ $PARTS == *" freshness "* ]]; then
	BENCH_SAGA_REPORTING=1 BENCH_VAR=$SAGA_VAR BENCH_OUT=$SOUK_VAR_DIR/reporting-saga.results \
		BENCH_MD=$SOUK_VAR_DIR/reporting-saga.md bench/saga.sh >&2
	grep '^freshness_ms ' "$SOUK_VAR_DIR/reporting-saga.results" >>"$BENCH_OUT" || true
fi

echo "loadavg $load_start $(cut -d' ' -f1 /proc/loadavg)" >>"$BENCH_OUT"
echo "date $(date -u +%Y-%m-%d)" >>"$BENCH_OUT"
report >"$MD"
cat "$MD"
echo "wrote $BENCH_OUT and $MD"
