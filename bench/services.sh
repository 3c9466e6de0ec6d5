#!/usr/bin/env bash
# bench/services.sh - souk-catalog and souk-search against the monolith they replace
# (issue #4), on the same data in the same run:
#   - product detail: GET /api/v1/products/{id} over every id, catalog (Redis hits after
#     a cold pass over all ids, answered on the I/O loop) against the monolith's EAV join,
#     direct (target >= 10x, p99 < 2 ms) and each through a souk-gateway (target >= 5x),
#     and the CPU per product page (catalog + Redis);
#   - search latency: GET /api/v1/search?q=... cycling through bench/queries.tsv, search
#     (PostgreSQL full text) against the monolith's LIKE; target >= 10x, p99 < 20 ms;
#   - relevance: precision at 5 and 10 of both over the same queries (bench/relevance.pl).
#
#   bench/services.sh            run; write var/bench/services.results and services.md
#   bench/services.sh report     print the markdown section from the last results
#
# Data: the monolith's MariaDB under var/bench, seeded once (bench/lib.sh monolith_db,
# BENCH_PRODUCTS etc.), copied by `soukctl backfill catalog` (same ids) and indexed by
# `soukctl search rebuild`, both only when the catalog / search databases do not hold
# the products yet (a later run reuses them; BENCH_REBUILD=1 drops both databases and
# starts afresh, e.g. after a migration changed). PostgreSQL,
# Redis and RabbitMQ run from var/bench on their own ports (BENCH_PG_PORT 55442,
# BENCH_REDIS_PORT 56389, BENCH_RABBIT_PORT 55682) and are stopped on exit.
# Knobs as bench/lib.sh (BENCH_RUNS, BENCH_DURATION, BENCH_CONNS, ...), BENCH_QUERY_FILE;
# BENCH_PARTS="detail search" (the default) names the parts to run: BENCH_PARTS=search
# measures search alone (latency and relevance), without the product-detail passes;
# BENCH_PARTS=detail product detail alone.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
. bench/lib.sh
bench_init services
PRODUCTS=${BENCH_PRODUCTS:-100000}
QUERIES=${BENCH_QUERY_FILE:-$ROOT/bench/queries.tsv}
SEARCH_CONNS=4 # the monolith's LIKE scans every product: few connections, long timeouts
SEARCH_TIMEOUT=30s
SEARCH_WARMUP=10s
COLD_PARALLEL=16
REL_MD=$SOUK_VAR_DIR/relevance.md
PQ_OUT=$SOUK_VAR_DIR/search-queries.results
PER_QUERY=11

# ---- the markdown section ---------------------------------------------------------------

report() {
	[ -s "$BENCH_OUT" ] || { echo "bench/services.sh: no results in $BENCH_OUT (run it first)" >&2; return 1; }
	awk -v runs="$BENCH_RUNS" -v dur="$BENCH_DURATION" -v conns="$BENCH_CONNS" \
		-v threads="$BENCH_THREADS" -v sconns="$SEARCH_CONNS" -v stimeout="$SEARCH_TIMEOUT" -v swarm="$SEARCH_WARMUP" \
		-v products="$PRODUCTS" -v par="$COLD_PARALLEL" -v nq="$(grep -cv '^\(#\|[[:space:]]*$\)' "$QUERIES")" \
		-v qfile="${QUERIES#"$ROOT"/}" -v perq="$PER_QUERY" -v pq="$([ -s "$PQ_OUT" ] && echo "$PQ_OUT")" '
		function row(k, label) {
			if (k in rps)
				printf "| %s | " (rps[k] < 10 ? "%.1f" : "%.0f") " | %.2f | %.2f | %s |\n", label, rps[k], p50[k], p99[k], err[k]
		}
		function head() { print "| target | req/s (median) | p50 ms | p99 ms | errors |"; print "|---|---:|---:|---:|---:|" }
		function met(ok) { return ok ? "met" : "**not met**" }
		# the median over the rounds of a / b in the same round (the pair ran side by side)
		function paired(a, b,    i, j, n, t, v) {
			n = nr[a] < nr[b] ? nr[a] : nr[b]
			for (i = 1; i <= n; i++) {
				v[i] = rr[b, i] > 0 ? rr[a, i] / rr[b, i] : 0
				for (j = i; j > 1 && v[j - 1] > v[j]; j--) { t = v[j]; v[j] = v[j - 1]; v[j - 1] = t }
			}
			return n == 0 ? 0 : n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
		}
		function above(a, b, x,    i, n) {
			for (i = 1; i <= nr[a] && i <= nr[b]; i++)
				n += rr[b, i] > 0 && rr[a, i] / rr[b, i] >= x
			return n + 0
		}
		function rounds(a, b,    i, out) {
			for (i = 1; i <= nr[a] && i <= nr[b]; i++)
				out = out (i > 1 ? ", " : "") sprintf("%.1f×", rr[b, i] > 0 ? rr[a, i] / rr[b, i] : 0)
			return out
		}
		$1 == "cache" { for (i = 2; i <= NF; i++) { split($i, kv, "="); cache[kv[1]] = kv[2] } next }
		$1 == "cold" { for (i = 2; i <= NF; i++) { split($i, kv, "="); cold[kv[1]] = kv[2] } next }
		$1 == "relevance" { for (i = 2; i <= NF; i++) { split($i, kv, "="); rel[kv[1]] = kv[2] } next }
		$1 == "cpu" { for (i = 2; i <= NF; i++) { split($i, kv, "="); cpu[kv[1]] = kv[2] } next }
		$1 == "loadavg" { load_start = $2; load_end = $3; next }
		$1 == "date" { date = $2; next }
		$1 == "rounds" { nr[$2] = NF - 2; for (i = 3; i <= NF; i++) rr[$2, i - 2] = $i; next }
		NF >= 5 { rps[$1] = $2; p50[$1] = $3; p99[$1] = $4; err[$1] = $5 }
		END {
			print "## Catalog and search: the services against the monolith"
			print ""
			printf "Same data for all: the monolith seed above (%d products), copied by `soukctl backfill catalog`\n", products
			print "(same ids, one JSONB document each) and indexed by `soukctl search rebuild`. souk-catalog reads"
			print "PostgreSQL through a Redis cache-aside, souk-search answers from a PostgreSQL full-text index (its"
			print "narrow `matches` table, services/search/README.md; PostgreSQL with `shared_buffers` 512MB), the"
			print "monolith from MariaDB; all run on the same 2-core machine as wrk, which is busy with other work,"
			print "so absolute numbers are noisy: compare the ratios, each measured in one run with the same wrk"
			printf "settings for both sides. Every figure is the median of %s interleaved rounds of %s (the order of\n", runs, dur
			print "the targets rotates every round, so drift hits both alike)."
			printf "Command: `BENCH_ONLY=services bench/run.sh` (part of `make bench`), run on %s.\n", date
			print ""
			print "### Product detail"
			print ""
			printf "`GET /api/v1/products/{id}` over all %d ids in the same fixed-stride walk for both,\n", products
			printf "`wrk -t%s -c%s`. Before the rounds, one cold pass over every id (curl, %d in parallel) fills the\n", threads, conns, par
			print "catalog cache and warms MariaDB, so the rounds measure catalog cache hits against the monolith\047s"
			print "join of products, categories, inventory, the review aggregate and one row per EAV attribute."
			print ""
			head()
			row("product_detail_monolith", "monolith (MariaDB, EAV join)")
			row("product_detail_catalog", "souk-catalog (Redis hit)")
			print ""
			m = "product_detail_monolith"; c = "product_detail_catalog"
			if ((m in rps) && (c in rps) && rps[m] > 0) {
				ratio = rps[c] / rps[m]
				printf "- Throughput ratio catalog / monolith: **%.1f×** (target ≥ 10×: %s); p50 %.2f ms against %.2f ms, p99 %.2f ms against %.2f ms.\n", ratio, met(ratio >= 10), p50[c], p50[m], p99[c], p99[m]
				if (nr[c] > 1)
					printf "- Ratio within each round: %s (median %.1f×; ≥ 10× in %d of %d rounds).\n", rounds(c, m), paired(c, m), above(c, m, 10), nr[c]
			}
			if ((c in rps) && p99[c] > 0)
				printf "- p99 of catalog direct: **%.2f ms** (target < 2 ms: %s).\n", p99[c], met(p99[c] < 2)
			if (cpu["catalog_ms_per_req"] + 0 > 0)
				printf "- CPU per product page (souk-catalog and its Redis, from /proc over one -c%s run): **%.3f ms**; 2 idle cores would serve about %.0f req/s. Loop hits since start: %s.\n", conns, cpu["catalog_ms_per_req"], 2000 / cpu["catalog_ms_per_req"], cache["loop_hits"]
			if ("hits" in cache) {
				n = cache["hits"] + cache["misses"]
				printf "- Catalog cache during the measured rounds (from its `/metrics`): %d hits, %d misses, hit ratio **%.2f %%** (since start: %.2f %%).\n", cache["hits"], cache["misses"], n ? 100 * cache["hits"] / n : 0, cache["since_start"]
			}
			if ("catalog" in cold)
				printf "- Cold pass over all %d ids: catalog %.1f s (PostgreSQL read and cache fill), monolith %.1f s.\n", products, cold["catalog"], cold["monolith"]
			g = "product_detail_gw_monolith"; h = "product_detail_gw_catalog"
			if ((g in rps) && (h in rps) && rps[g] > 0) {
				print ""
				print "Through the gateway, the path shoppers take: one souk-gateway per side, each with one public"
				print "route to its upstream, the same walk and wrk settings, in rounds of their own."
				print ""
				head()
				row(g, "monolith through souk-gateway")
				row(h, "souk-catalog through souk-gateway")
				print ""
				printf "- Throughput ratio through the gateway: **%.1f×** (target ≥ 5×: %s); p99 %.2f ms against %.2f ms.\n", rps[h] / rps[g], met(rps[h] / rps[g] >= 5), p99[h], p99[g]
				if (nr[h] > 1)
					printf "- Ratio within each round: %s (median %.1f×).\n", rounds(h, g), paired(h, g)
			}
			print ""
			print "### Search latency"
			print ""
			printf "`GET /api/v1/search?q=...&limit=20` cycling through the %d queries of `%s` (below; each\n", nq, qfile
			print "request takes the next query, so p50/p99 are over the whole mix), the same settings for both:"
			printf "`wrk -t%s -c%s --timeout %s` (the LIKE scan needs few connections to be measured rather than queued),\n", threads, sconns, stimeout
			printf "after a %s warm-up each. The last row is search alone at `-c%s` (median of %s runs), for its\n", swarm, conns, runs
			print "throughput under load."
			print ""
			head()
			row("search_like", "monolith (LIKE over name and description)")
			row("search_fts", "souk-search (full text)")
			row("search_fts_load", "souk-search at -c" conns)
			print ""
			m = "search_like"; s = "search_fts"
			if ((m in rps) && (s in rps) && rps[m] > 0 && p50[s] > 0) {
				printf "- Throughput ratio search / monolith: **%.0f×**; p50 ratio monolith / search: **%.0f×** (target ≥ 10×: %s).\n", rps[s] / rps[m], p50[m] / p50[s], met(rps[s] / rps[m] >= 10 && p50[m] / p50[s] >= 10)
				if (nr[s] > 1)
					printf "- Throughput ratio within each round: %s.\n", rounds(s, m)
				printf "- p99 of search: **%.2f ms** (target < 20 ms: %s); the monolith: %.0f ms.\n", p99[s], met(p99[s] < 20), p99[m]
			}
			if ("search_fts_load" in rps)
				printf "- At -c%s: search p50 %.2f ms, p99 **%.2f ms** (target < 50 ms: %s), %.0f req/s.\n", conns, p50["search_fts_load"], p99["search_fts_load"], met(p99["search_fts_load"] < 50), rps["search_fts_load"]
			if (cpu["search_ms_per_req"] + 0 > 0)
				printf "- CPU per search request (souk-search and its PostgreSQL, from /proc over the -c%s runs): **%.2f ms**, which does not grow with the machine\047s other load; 2 idle cores would serve about %.0f req/s.\n", conns, cpu["search_ms_per_req"], (cpu["search_ms_per_req"] > 0 ? 2000 / cpu["search_ms_per_req"] : 0)
			if (load_start != "" && load_start > 0.5)
				printf "- **Caution:** the machine was already busy when this benchmark started (1-minute load average %s; %s at the end).\n", load_start, load_end
			if (pq != "") {
				print ""
				print "Each query alone (`limit=20`, one connection, median of " perq " requests after one uncounted), which shows"
				print "where the time of the mix goes. search counts at most 1001 matches and ranks at most the first"
				print "1000 (services/search/README.md, \"Cost\"), so its cost no longer grows with the number of"
				print "matches (1000 in the matches column: at least 1000); the monolith\047s LIKE is a full scan whatever the query."
				print ""
				print "| query | search matches | search ms |"
				print "|---|---:|---:|"
				while ((getline line < pq) > 0) {
					split(line, f, "\t")
					printf "| `%s` | %s | %.2f |\n", f[3], f[2], f[1]
				}
				close(pq)
			}
			print ""
			print "### Relevance"
			print ""
			print "Precision at 5 and at 10 of `GET /api/v1/search?q=...&limit=10` on both (`items[].id`), and of"
			printf "souk-search\047s v2 (`/api/v2/search`, which corrects misspelt words), for the queries of `%s`.\n", qfile
			print "Each query has a rule for which products are relevant: an SQL condition over the catalog documents"
			print "(category, brand, attribute, words of the name; listed in the file), derived from what the seed"
			print "generates. `bench/relevance.pl` computes the relevant ids with it and scores the first 5 / 10 ids"
			print "each engine returns (fewer than k results count as misses). The file\047s second part (issue 12) adds"
			print "brand + type, attribute + type, model tokens (`i7`, `m3`, `15.6`, `32 gb`), misspellings (v1 does not"
			print "correct them, by design), plurals and unfinished words (`headph`, `chelsea bo`)."
			print "Cells: P@5 / P@10 (the engine\047s `total`)."
			if ("monolith_p5" in rel)
				printf "Mean P@5: monolith **%.2f**, souk-search v1 **%.2f**, v2 **%.2f** (P@10: %.2f, %.2f, %.2f).\n", rel["monolith_p5"], rel["search_p5"], rel["search_v2_p5"], rel["monolith_p10"], rel["search_p10"], rel["search_v2_p10"]
			print ""
		}' "$BENCH_OUT"
	[ ! -s "$REL_MD" ] || cat "$REL_MD"
}

if [ "${1:-}" = report ]; then
	report
	exit
fi

# ---- data --------------------------------------------------------------------------------

for bin in wrk curl perl psql redis-cli; do
	command -v "$bin" >/dev/null || { echo "bench/services.sh: $bin is missing" >&2; exit 1; }
done
bench_begin souk-monolith souk-catalog souk-search soukctl
rm -f "$REL_MD" "$PQ_OUT"

monolith_db
bench_backbone redis catalog search
count() { psql -XAtq -d "$1" -c "$2"; }
backfilled=
monolith_n=$(MYSQL_PWD=souk-dev mariadb --no-defaults --protocol=tcp -h127.0.0.1 -P"$SOUK_MARIADB_PORT" \
	-usouk_monolith souk_monolith -N -e 'SELECT COUNT(*) FROM products')
if [ "$(count "$SOUK_CATALOG_DB" 'SELECT count(*) FROM products')" != "$monolith_n" ]; then
	"$BUILD/bin/soukctl" backfill catalog
	backfilled=1
fi
if [ -n "$backfilled" ] || [ "$(count "$SOUK_SEARCH_DB" 'SELECT count(*) FROM documents')" != "$monolith_n" ]; then
	"$BUILD/bin/soukctl" search rebuild
fi
redis-cli -p "$SOUK_REDIS_PORT" flushall >/dev/null # the cache starts cold

# ---- services ----------------------------------------------------------------------------

bench_start monolith "$BUILD/bin/souk-monolith"
mono=$BENCH_URL
# BENCH_CATALOG_ENV="VAR=value ..." adds settings (e.g. SOUK_CATALOG_CACHE_LOOP_TIMEOUT_MS=0,
# hits on workers as before issue 12, for a comparison in the same conditions).
# shellcheck disable=SC2086 # word splitting intended
bench_start catalog "$BUILD/bin/souk-catalog" SOUK_CATALOG_CACHE_TTL=3600 ${BENCH_CATALOG_ENV:-}
cat=$BENCH_URL
cat_pid=${BENCH_PIDS[-1]}
bench_start search "$BUILD/bin/souk-search"
search=$BENCH_URL
search_pid=${BENCH_PIDS[-1]}

# The same bytes from both, or the comparison means nothing.
for id in 1 4711 "$PRODUCTS"; do
	a=$(curl -fsS "$mono/api/v1/products/$id")
	b=$(curl -fsS "$cat/api/v1/products/$id")
	[ "$a" = "$b" ] || { echo "bench/services.sh: product $id differs between monolith and catalog" >&2; exit 1; }
done
redis-cli -p "$SOUK_REDIS_PORT" flushall >/dev/null

# ---- product detail ----------------------------------------------------------------------

product_detail() { # BENCH_PARTS without "detail" skips it (e.g. BENCH_PARTS=search)

# cold NAME BASE: every id once, COLD_PARALLEL at a time; prints seconds, fails on a non-200.
cold() {
	local t0 codes
	t0=$EPOCHREALTIME
	codes=$(curl -s --parallel --parallel-max "$COLD_PARALLEL" -o /dev/null -w '%{http_code}\n' \
		"$2/api/v1/products/[1-$PRODUCTS]" 2>/dev/null | sort | uniq -c) # -s leaves --parallel's meter on
	awk -v a="${t0/,/.}" -v b="${EPOCHREALTIME/,/.}" 'BEGIN { printf "%.1f", b - a }'
	[ "$(awk '{ print $2 }' <<<"$codes")" = 200 ] ||
		{ echo "bench/services.sh: cold pass over $1 answered: $codes" >&2; return 1; }
}
metric() { curl -fsS "$cat/metrics" | awk -v m="$1" '$1 == m { print $2 }'; }

cold_cat=$(cold catalog "$cat")
cold_mono=$(cold monolith "$mono")
echo "cold catalog=$cold_cat monolith=$cold_mono" >>"$BENCH_OUT"
echo "bench: cold pass over $PRODUCTS ids: catalog ${cold_cat}s, monolith ${cold_mono}s" >&2
h0=$(metric souk_catalog_cache_hits_total)
m0=$(metric souk_catalog_cache_misses_total)
wrk_rounds "/api/v1/products/{id}" "$PRODUCTS" \
	product_detail_monolith="$mono" product_detail_catalog="$cat"
h1=$(metric souk_catalog_cache_hits_total)
m1=$(metric souk_catalog_cache_misses_total)
echo "cache hits=$((h1 - h0)) misses=$((m1 - m0)) since_start=$(awk -v h="$h1" -v m="$m1" \
	'BEGIN { printf "%.2f", 100 * h / (h + m) }')" >>"$BENCH_OUT"
echo "bench: catalog cache over the rounds: $((h1 - h0)) hits, $((m1 - m0)) misses" >&2
echo "cache loop_hits=$(metric souk_cache_loop_hits_total)" >>"$BENCH_OUT"

# CPU per product page (souk-catalog and its Redis, from /proc): what a hit costs, whatever
# else the machine is doing. One run at BENCH_CONNS.
cat_ticks() {
	local p t=0
	for p in "$cat_pid" "$(cat "$SOUK_VAR_DIR/run/redis.pid" 2>/dev/null)"; do
		[ -n "$p" ] || continue
		t=$((t + $(awk '{ print $14 + $15 }' "/proc/$p/stat" 2>/dev/null || echo 0)))
	done
	echo "$t"
}
detail_served() { curl -fsS "$cat/metrics" | awk 'index($0, "souk_http_requests_total{route=\"GET /api/v1/products/{id}\",status=\"200\"} ") == 1 { print $NF }'; }
t0=$(cat_ticks) n0=$(detail_served)
BENCH_RUNS=1 BENCH_WARMUP=0 wrk_median product_detail_catalog_cpu "$cat" "/api/v1/products/{id}" "$PRODUCTS"
t1=$(cat_ticks) n1=$(detail_served)
echo "cpu catalog_ms_per_req=$(awk -v t=$((t1 - t0)) -v n=$((n1 - n0)) -v hz="$(getconf CLK_TCK)" \
	'BEGIN { printf "%.3f", (n > 0 ? 1000 * t / hz / n : 0) }')" >>"$BENCH_OUT"

# Through the gateway (the path shoppers take): one souk-gateway per side, each with one
# public route to its upstream, the same wrk rounds.
gw_start() { # NAME UPSTREAM_URL: sets BENCH_URL
	local name=$1 up=${2#http://} port aport
	port=$(free_port) aport=$(free_port)
	cat >"$SOUK_VAR_DIR/$name.routes.json" <<EOF
{
  "version": 1,
  "upstreams": {"up": {"servers": ["$up"], "balance": "round_robin", "max_idle": 64}},
  "routes": [{"name": "detail", "path": "/", "legacy": "up", "mode": "legacy", "auth": "public"}]
}
EOF
	SOUK_GATEWAY_LISTEN=127.0.0.1:$port SOUK_GATEWAY_ADMIN_LISTEN=127.0.0.1:$aport \
		SOUK_GATEWAY_ADMIN_TOKEN=bench-admin SOUK_GATEWAY_ROUTES=$SOUK_VAR_DIR/$name.routes.json \
		SOUK_JWT_SECRET=bench-secret SOUK_LOG_LEVEL=warn "$BUILD/bin/souk-gateway" \
		2>"$SOUK_VAR_DIR/$name.log" &
	BENCH_PIDS+=($!)
	BENCH_URL=http://127.0.0.1:$port
	bench_wait "$name" "$BENCH_URL/api/v1/products/1"
}
if [ -x "$BUILD/bin/souk-gateway" ]; then
	gw_start gw_monolith "$mono"
	gw_mono=$BENCH_URL
	gw_start gw_catalog "$cat"
	gw_cat=$BENCH_URL
	[ "$(curl -fsS "$gw_mono/api/v1/products/4711")" = "$(curl -fsS "$gw_cat/api/v1/products/4711")" ] ||
		{ echo "bench/services.sh: product 4711 differs through the gateways" >&2; exit 1; }
	wrk_rounds "/api/v1/products/{id}" "$PRODUCTS" \
		product_detail_gw_monolith="$gw_mono" product_detail_gw_catalog="$gw_cat"
fi
}
[[ " ${BENCH_PARTS:-detail search} " != *" detail "* ]] || product_detail

# BENCH_PARTS without "search" skips search latency and relevance (e.g. BENCH_PARTS=detail).
if [[ " ${BENCH_PARTS:-detail search} " == *" search "* ]]; then
# ---- search latency ----------------------------------------------------------------------

# A longer warm-up: each of search's database connections maps the shared buffers the
# broad queries touch on its first pass (~80 ms then, ~12 ms after), which is start-up
# cost, not steady state.
export BENCH_QUERIES=$QUERIES
BENCH_CONNS=$SEARCH_CONNS BENCH_TIMEOUT=$SEARCH_TIMEOUT BENCH_WARMUP=$SEARCH_WARMUP wrk_rounds "/api/v1/search?q={q}&limit=20" 1 \
	search_like="$mono" search_fts="$search"
# CPU per search request over the -c32 runs, which only search and its PostgreSQL serve:
# their CPU time from /proc (ticks) over the requests search counted. Unlike latency, this
# does not grow when other work shares the machine.
cpu_ticks() {
	local p t=0 pg
	pg=$(cat "$SOUK_VAR_DIR/run/postgres.pid")
	for p in "$pg" $(pgrep -P "$pg") "$search_pid"; do
		t=$((t + $(awk '{ print $14 + $15 }' "/proc/$p/stat" 2>/dev/null || echo 0)))
	done
	echo "$t"
}
served() { curl -fsS "$search/metrics" | awk 'index($0, "souk_http_requests_total{route=\"GET /api/v1/search\",status=\"200\"} ") == 1 { print $NF }'; }
t0=$(cpu_ticks) n0=$(served)
BENCH_WARMUP=0 wrk_median search_fts_load "$search" "/api/v1/search?q={q}&limit=20"
t1=$(cpu_ticks) n1=$(served)
echo "cpu search_ms_per_req=$(awk -v t=$((t1 - t0)) -v n=$((n1 - n0)) -v hz="$(getconf CLK_TCK)" \
	'BEGIN { printf "%.2f", (n > 0 ? 1000 * t / hz / n : 0) }')" >>"$BENCH_OUT"
unset BENCH_QUERIES

# Each query alone on one connection: where the time of the mix goes. Median of
# PER_QUERY sequential requests (after one uncounted), and the number of matches.
: >"$PQ_OUT"
while IFS=$'\t' read -r q _; do
	case $q in '' | '#'*) continue ;; esac
	url="$search/api/v1/search?limit=20&q=$(printf %s "$q" | perl -pe 's/([^A-Za-z0-9._~-])/sprintf("%%%02X", ord $1)/ge')"
	total=$(curl -fsS "$url" | sed 's/.*"total":\([0-9]*\).*/\1/')
	args=()
	for _ in $(seq 0 "$PER_QUERY"); do args+=(-o /dev/null "$url"); done
	ms=$(curl -sS -w '%{time_total}\n' "${args[@]}" | tail -n +2 | median)
	printf '%s\t%s\t%s\n' "$(awk -v s="$ms" 'BEGIN { printf "%.2f", s * 1000 }')" "$total" "$q" >>"$PQ_OUT"
done <"$QUERIES"

# ---- relevance ---------------------------------------------------------------------------

perl bench/relevance.pl --dsn "$SOUK_CATALOG_DB" --queries "$QUERIES" --md "$REL_MD" \
	--engine monolith="$mono/api/v1/search" --engine search="$search/api/v1/search" \
	--engine search_v2="$search/api/v2/search" |
	tee "$SOUK_VAR_DIR/relevance.out"
awk '$1 == "MEAN" { sub("p5=", "", $3); sub("p10=", "", $4); printf " %s_p5=%s %s_p10=%s", $2, $3, $2, $4 }
	END { print "" }' "$SOUK_VAR_DIR/relevance.out" | sed 's/^/relevance/' >>"$BENCH_OUT"

fi

for p in "${BENCH_PIDS[@]}"; do
	kill -0 "$p" 2>/dev/null || { echo "bench/services.sh: a service died during the run" >&2; exit 1; }
done
echo "loadavg $load_start $(cut -d' ' -f1 /proc/loadavg)" >>"$BENCH_OUT"
echo "date $(date -u +%Y-%m-%d)" >>"$BENCH_OUT"
cat "$BENCH_OUT"
report >"$MD"
echo "wrote $BENCH_OUT and $MD"
