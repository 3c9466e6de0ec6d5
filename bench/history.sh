#!/usr/bin/env bash
# bench/history.sh - souk-history against the monolith it takes "my orders" from (issue #13),
# on the same data in the same run:
#   - my orders: GET /api/v1/orders?limit=20, the monolith's join (orders ⋈ order_items ⋈
#     products ⋈ payments) against history's stored rows, same wrk settings (bench/lib.sh) in
#     interleaved rounds; target >= 10x req/s and p99 < 5 ms; history with its page cache
#     (the default) and without (SOUK_HISTORY_CACHE_TTL_MS=0). Each request as another of
#     the seed's customers (bench_tokens, BENCH_TOKENS in bench/report.lua), so the cache
#     hits as often as a real user comes back; then, as measured before, one user (the demo
#     customer) for every request, where every cached request after the first is a hit;
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
bench_init history
USERS=${BENCH_USERS:-20000}

report() {
	[ -s "$BENCH_OUT" ] || { echo "bench/history.sh: no results in $BENCH_OUT (run it first)" >&2; return 1; }
	awk -v orders="${BENCH_ORDERS:-1000000}" -v users="$USERS" -v runs="$BENCH_RUNS" -v dur="$BENCH_DURATION" \
		-v conns="$BENCH_CONNS" -v threads="$BENCH_THREADS" '
		$1 == "rounds" { nr[$2] = NF - 2; for (i = 3; i <= NF; i++) rr[$2, i - 2] = $i; next }
		$1 == "backfill_rows_per_s" { bf = $2; bfn = $3; bft = $4; next }
		$1 == "copy_rows_per_s" { cp = $2; cpt = $4; next }
		$1 == "same_pages" { same = $2; next }
		$1 == "loadavg" { l0 = $2; l1 = $3; next }
		$1 == "date" { date = $2 " " $3; next }
		$1 ~ /^my_orders_/ { rps[$1] = $2; p50[$1] = $3; p99[$1] = $4; err[$1] = $5 }
		function met(ok) { return ok ? "met" : "**not met**" }
		function row(k, label) {
			if (k in rps)
				printf "| %s | %.0f | %.2f | %.2f | %s |\n", label, rps[k], p50[k], p99[k], err[k]
		}
		# a / b within each round (the two ran side by side), and their median
		function rounds(a, b,    i, n, j, t, v, out) {
			n = nr[a] < nr[b] ? nr[a] : nr[b]
			for (i = 1; i <= n; i++) {
				v[i] = rr[b, i] > 0 ? rr[a, i] / rr[b, i] : 0
				out = out (i > 1 ? ", " : "") sprintf("%.1fx", v[i])
			}
			for (i = 2; i <= n; i++)
				for (j = i; j > 1 && v[j - 1] > v[j]; j--) { t = v[j]; v[j] = v[j - 1]; v[j - 1] = t }
			return n == 0 ? "" : sprintf("%s (median %.1fx)", out, n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2)
		}
		function ratio(a, b, label,    r) {
			if (!(a in rps) || !(b in rps) || rps[b] <= 0)
				return
			r = rps[a] / rps[b]
			printf "- %s: **%.1fx** req/s (target >= 10x: %s), p99 **%.2f ms** (target < 5 ms: %s); per round: %s.\n", label, r, met(r >= 10), p99[a], met(p99[a] < 5), rounds(a, b)
		}
		END {
			print "## History: my orders from a flat read model (souk-history)"
			print ""
			printf "Data: the monolith seed above (%d orders), copied by `soukctl backfill orders` into orders and\n", orders
			print "history. Command: `bench/history.sh` (part of `make bench`)" (date != "" ? ", run " date " UTC" : "") "."
			printf "`GET /api/v1/orders?limit=20`, `wrk -t%s -c%s`, %s interleaved rounds of %s per target (the order\n", threads, conns, runs, dur
			print "rotates every round). **Many users**: every request carries the token of another of the"
			printf "%d customers (a fixed-stride walk, bench/report.lua `BENCH_TOKENS`), the same walk for each\n", users - 1
			print "target, so the page cache helps as often as a user comes back within its TTL (1 s)."
			print ""
			print "| target | req/s (median) | p50 ms | p99 ms | errors |"
			print "|---|---:|---:|---:|---:|"
			row("my_orders_monolith", "monolith (join), many users")
			row("my_orders_history_nocache", "history, read model alone (no cache), many users")
			row("my_orders_history", "history with its page cache, many users")
			row("my_orders_1user_monolith", "monolith, one user")
			row("my_orders_1user_history", "history with its page cache, one user")
			print ""
			ratio("my_orders_history_nocache", "my_orders_monolith", "Many users, the read model alone")
			ratio("my_orders_history", "my_orders_monolith", "Many users, with the page cache")
			ratio("my_orders_1user_history", "my_orders_1user_monolith", "One user (every cached request a hit; the figure before)")
			if (same != "")
				printf "- First pages compared for every 997th user: %s.\n", same == 0 ? "all byte for byte the same" : "**" same " differ**"
			if (l0 != "" && l0 > 0.5)
				printf "- **Caution:** the machine was already busy when this benchmark started (1-minute load average %s; %s at the end).\n", l0, l1
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

bench_begin souk-monolith souk-history soukctl
monolith_db
bench_backbone orders history
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
# the same without history's page cache: every request one PostgreSQL statement
bench_start history-nocache "$BUILD/bin/souk-history" SOUK_HISTORY_CACHE_TTL_MS=0
nocache=$BENCH_URL
# Every customer (ids 2..BENCH_USERS; 1 is the admin), one token each, in a fixed-stride walk
# (bench/report.lua): at some thousands of req/s a user comes back every few seconds, after
# the cache's 1 s TTL, so the cache helps as it would with real users, not as with one.
tokens=$SOUK_VAR_DIR/history-tokens
bench_tokens "$tokens" 2 "$USERS"
# the same first pages from both, or the comparison means nothing (every 997th user)
differ=0
while read -r t; do
	a=$(curl -fsS "$mono/api/v1/orders?limit=20" -H "Authorization: Bearer $t" | sha256sum)
	b=$(curl -fsS "$nocache/api/v1/orders?limit=20" -H "Authorization: Bearer $t" | sha256sum)
	[ "$a" = "$b" ] || differ=$((differ + 1))
done < <(awk 'NR % 997 == 1' "$tokens")
echo "same_pages $differ" >>"$BENCH_OUT"
[ "$differ" = 0 ] || echo "bench: $differ first pages differ between history and the monolith (names renamed since?)" >&2
# the three side by side, in interleaved rounds (bench/lib.sh wrk_rounds)
BENCH_TOKENS=$tokens wrk_rounds "/api/v1/orders?limit=20" 1 my_orders_monolith="$mono" \
	my_orders_history="$hist" my_orders_history_nocache="$nocache"
# the figure measured before: one user (the demo customer, 20 orders) sends every request,
# so with the cache every request after the first is a hit
customer=$(sed -n 1p "$tokens")
BENCH_ROUNDS_TOKEN=$customer wrk_rounds "/api/v1/orders?limit=20" 1 \
	my_orders_1user_monolith="$mono" my_orders_1user_history="$hist"
echo "loadavg $load_start $(cut -d' ' -f1 /proc/loadavg)" >>"$BENCH_OUT"
echo "date $(date -u '+%Y-%m-%d %H:%M')" >>"$BENCH_OUT"
report | tee "$MD"
