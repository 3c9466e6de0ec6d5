#!/usr/bin/env bash
# bench/saga.sh - the order saga (souk-orders, -inventory, -payments with users, catalog and
# cart) against the monolith's checkout (issue 11), in the same run, with the same simulated
# payment provider latency on both sides (BENCH_PROVIDER_LATENCY_MS, default 50:
# SOUK_PAYMENTS_PROVIDER_LATENCY_MS for payments, SOUK_MONOLITH_PROVIDER_LATENCY_MS for the
# monolith, which charges inside its transaction while it holds the products' row locks):
# confirmed orders per second and p50/p99 from POST /api/v1/orders to CONFIRMED, (a) spread
# over BENCH_SAGA_SPREAD products and (b) every buyer on one hot product (bench/saga.pl).
# Targets: the saga >= 2x the monolith on the hot product, >= 0.5x on the spread load.
#
#   bench/saga.sh            run; write var/bench/saga.results and saga.md
#   bench/saga.sh report     print the markdown section from the last results
#
# Fresh databases every run (small: the checkout does not read the big seed), on servers of
# its own under BENCH_VAR (var/bench-saga) on their own ports (BENCH_SAGA_MARIADB_PORT 53326,
# BENCH_SAGA_PG_PORT 55452, BENCH_SAGA_REDIS_PORT 56399, BENCH_SAGA_RABBIT_PORT 55692), stopped
# on exit. Knobs: BENCH_SAGA_ORDERS (checkouts per scenario and side, 300), BENCH_SAGA_SPREAD
# (100), BENCH_CONNS (concurrent buyers, 32), BENCH_PROVIDER_LATENCY_MS (50).
# BENCH_SAGA_REPORTING=1 (bench/reporting.sh; off by default, so the saga's own figures are
# measured without it): souk-reporting consumes the order events too, and the run ends with
# its freshness lag, "freshness_ms P50 P99 N": from each order.confirmed written by orders
# (the checkout's answer follows that commit) until reporting applied it (its inbox).
# BENCH_REPORTING_CONSUMERS: reporting's consumer threads (default: the service's own).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
. bench/lib.sh
BUILD=${BUILD:-build}
export SOUK_VAR_DIR=${BENCH_VAR:-$ROOT/var/bench-saga}
LATENCY=${BENCH_PROVIDER_LATENCY_MS:-50}
export BENCH_SAGA_ORDERS=${BENCH_SAGA_ORDERS:-300} BENCH_SAGA_SPREAD=${BENCH_SAGA_SPREAD:-100}
export BENCH_CONNS BENCH_SECRET=bench-secret
BENCH_OUT=${BENCH_OUT:-$ROOT/var/bench/saga.results}
MD=${BENCH_MD:-$ROOT/var/bench/saga.md}

report() {
	[ -s "$BENCH_OUT" ] || { echo "bench/saga.sh: no results in $BENCH_OUT (run it first)" >&2; return 1; }
	awk -v n="$BENCH_SAGA_ORDERS" -v spread="$BENCH_SAGA_SPREAD" -v conns="$BENCH_CONNS" '
		function met(ok) { return ok ? "met" : "**not met**" }
		$1 == "latency" { lat = $2; next }
		$1 == "date" { date = $2; next }
		$1 == "loadavg" { l0 = $2; l1 = $3; next }
		NF >= 5 { rps[$1] = $2; p50[$1] = $3; p99[$1] = $4; bad[$1] = $5 }
		function row(k, label) {
			if (k in rps) printf "| %s | %.1f | %.0f | %.0f | %d |\n", label, rps[k], p50[k], p99[k], bad[k]
		}
		END {
			print "## Checkout: the order saga against the monolith"
			print ""
			printf "The same simulated payment provider latency on both sides, **%s ms** per provider call\n", lat
			print "(`SOUK_PAYMENTS_PROVIDER_LATENCY_MS`, `SOUK_MONOLITH_PROVIDER_LATENCY_MS`). The monolith charges"
			print "inside its checkout transaction, after locking the products\047 rows; the saga reserves in"
			print "inventory, charges in payments and confirms in orders over RabbitMQ. Fresh databases, one"
			printf "approved card; %d checkouts per scenario and side, %d concurrent buyers, each buyer with one\n", n, conns
			print "unit in the cart; the time is from `POST /api/v1/orders` until the order is CONFIRMED (the"
			print "v1 answer, or polling `GET /api/v1/orders/{id}` after a 202); throughput is confirmed orders"
			print "over the wall time of the scenario. Both sides on the same 2-core machine as the load."
			printf "Command: `bench/saga.sh` (part of `make bench`), run on %s.\n", date
			print ""
			print "| scenario / side | confirmed/s | p50 ms | p99 ms | not confirmed |"
			print "|---|---:|---:|---:|---:|"
			row("saga_hot_monolith", "hot product: monolith")
			row("saga_hot_saga", "hot product: saga")
			printf "| spread over %d products: monolith | ", spread
			if ("saga_spread_monolith" in rps) printf "%.1f | %.0f | %.0f | %d |\n", rps["saga_spread_monolith"], p50["saga_spread_monolith"], p99["saga_spread_monolith"], bad["saga_spread_monolith"]
			else print "- | - | - | - |"
			row("saga_spread_saga", "spread: saga")
			print ""
			if (rps["saga_hot_monolith"] > 0)
				printf "- Hot product, saga / monolith: **%.1f×** (target ≥ 2×: %s).\n", rps["saga_hot_saga"] / rps["saga_hot_monolith"], met(rps["saga_hot_saga"] >= 2 * rps["saga_hot_monolith"])
			if (rps["saga_spread_monolith"] > 0)
				printf "- Spread, saga / monolith: **%.2f×** (target ≥ 0.5×: %s).\n", rps["saga_spread_saga"] / rps["saga_spread_monolith"], met(rps["saga_spread_saga"] >= 0.5 * rps["saga_spread_monolith"])
			if (l0 != "" && l0 > 0.5)
				printf "- **Caution:** the machine was already busy when this benchmark started (1-minute load average %s; %s at the end).\n", l0, l1
			print ""
		}' "$BENCH_OUT"
}

if [ "${1:-}" = report ]; then
	report
	exit
fi

for bin in perl psql mariadb curl; do
	command -v "$bin" >/dev/null || { echo "bench/saga.sh: $bin is missing" >&2; exit 1; }
done
for bin in souk-monolith souk-users souk-catalog souk-cart souk-orders souk-inventory souk-payments soukctl; do
	[ -x "$BUILD/bin/$bin" ] || { echo "bench/saga.sh: $BUILD/bin/$bin is missing (make all)" >&2; exit 1; }
done
load_start=$(cut -d' ' -f1 /proc/loadavg)
mkdir -p "$SOUK_VAR_DIR" "$(dirname "$BENCH_OUT")"
: >"$BENCH_OUT"
trap 'bench_stop; scripts/stop-local.sh >/dev/null' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM HUP

export SOUK_MARIADB_PORT=${BENCH_SAGA_MARIADB_PORT:-53326} SOUK_PG_PORT=${BENCH_SAGA_PG_PORT:-55452}
export SOUK_REDIS_PORT=${BENCH_SAGA_REDIS_PORT:-56399} SOUK_RABBIT_PORT=${BENCH_SAGA_RABBIT_PORT:-55692}
SOUK_REDIS_PERSIST=0 scripts/start-local.sh mariadb postgres redis rabbitmq
export SOUK_MARIADB_ADMIN_DSN=mysql://souk_admin:souk-dev@127.0.0.1:$SOUK_MARIADB_PORT/mysql
export SOUK_PG_ADMIN_DSN=postgresql://souk_admin:souk-dev@127.0.0.1:$SOUK_PG_PORT/postgres
export SOUK_MONOLITH_DB=mysql://souk_monolith:souk-dev@127.0.0.1:$SOUK_MARIADB_PORT/souk_monolith
export SOUK_REDIS_URL=redis://127.0.0.1:$SOUK_REDIS_PORT/0
export SOUK_AMQP_URL=amqp://souk:souk-dev@127.0.0.1:$SOUK_RABBIT_PORT/%2f
MYSQL_PWD=souk-dev mariadb --no-defaults --protocol=tcp -h127.0.0.1 -P"$SOUK_MARIADB_PORT" -usouk_admin \
	-e 'DROP DATABASE IF EXISTS souk_monolith'
"$BUILD/bin/soukctl" db create monolith
"$BUILD/bin/soukctl" schema up monolith
with_reporting=${BENCH_SAGA_REPORTING:-0}
for t in users catalog cart orders inventory payments $([ "$with_reporting" = 1 ] && echo reporting); do
	psql -XAtq -d "$SOUK_PG_ADMIN_DSN" -c "DROP DATABASE IF EXISTS $t WITH (FORCE)"
	export "SOUK_${t^^}_DB=postgresql://$t:souk-dev@127.0.0.1:$SOUK_PG_PORT/$t"
	"$BUILD/bin/soukctl" db create "$t"
	"$BUILD/bin/soukctl" schema up "$t" >/dev/null
done
redis-cli -p "$SOUK_REDIS_PORT" flushall >/dev/null
# a fresh broker state: queues of an earlier run hold nothing this run wants
rmq="$SOUK_VAR_DIR/bin/rabbitmqctl"
[ ! -x "$rmq" ] || "$rmq" -q list_queues name 2>/dev/null | while read -r q; do
	[ -z "$q" ] || "$rmq" -q delete_queue "$q" >/dev/null 2>&1 || true
done

# consumers first, so their queues are bound before anything is published
[ "$with_reporting" != 1 ] ||
	bench_start reporting "$BUILD/bin/souk-reporting" \
		${BENCH_REPORTING_CONSUMERS:+SOUK_REPORTING_CONSUMERS=$BENCH_REPORTING_CONSUMERS}
pc=$(free_port) pcart=$(free_port)
bench_start orders "$BUILD/bin/souk-orders" SOUK_CART_URL="http://127.0.0.1:$pcart" \
	SOUK_ORDERS_SYNC_WAIT_MS=15000 SOUK_ORDERS_WAITERS=128
orders=$BENCH_URL
# Inventory takes three events per order (created, payment succeeded, confirmed): on 4 threads
# it queued order.created ~335 ms on a quiet machine, ~145 ms on 8 (docs/benchmarks.md).
bench_start inventory "$BUILD/bin/souk-inventory" \
	SOUK_INVENTORY_CONSUMERS="${BENCH_INVENTORY_CONSUMERS:-8}"
inventory=$BENCH_URL
# Payments' threads wait on the provider: two calls per order (authorise, capture) at the
# provider's latency need rate x 2 x latency threads; 16 cover ~150 orders/s at 50 ms (the
# default 8 caps the saga near 80/s and queues before that).
bench_start payments "$BUILD/bin/souk-payments" SOUK_PAYMENTS_PROVIDER_LATENCY_MS="$LATENCY" \
	SOUK_PAYMENTS_CONSUMERS="${BENCH_PAYMENTS_CONSUMERS:-16}"
BENCH_PORT=$pcart bench_start cart "$BUILD/bin/souk-cart" SOUK_CATALOG_URL="http://127.0.0.1:$pc"
cart=$BENCH_URL
BENCH_PORT=$pc bench_start catalog "$BUILD/bin/souk-catalog"
catalog=$BENCH_URL
bench_start users "$BUILD/bin/souk-users" SOUK_ARGON2_OPS=1 SOUK_ARGON2_MEM_KIB=8192
users=$BENCH_URL
bench_start monolith "$BUILD/bin/souk-monolith" SOUK_MONOLITH_PROVIDER_LATENCY_MS="$LATENCY" \
	SOUK_ARGON2_OPS=1 SOUK_ARGON2_MEM_KIB=8192
mono=$BENCH_URL

echo "latency $LATENCY" >>"$BENCH_OUT"
MONOLITH_MYSQL="--no-defaults --protocol=tcp -h127.0.0.1 -P$SOUK_MARIADB_PORT -usouk_monolith -psouk-dev souk_monolith" \
	SAGA_USERS=$users SAGA_CATALOG=$catalog SAGA_INVENTORY=$inventory SAGA_CART=$cart \
	SAGA_ORDERS_DB=$SOUK_ORDERS_DB perl bench/saga.pl --side monolith="$mono" --side saga="$orders" |
	tee -a "$BENCH_OUT"

for p in "${BENCH_PIDS[@]}"; do
	kill -0 "$p" 2>/dev/null || { echo "bench/saga.sh: a service died during the run" >&2; exit 1; }
done
# what the run did to money and stock, as the chaos test judges it
"$BUILD/bin/soukctl" check orders --wait 60 | sed 's/^/# /' >&2 || echo "bench/saga.sh: soukctl check orders found violations" >&2
# where the saga's time goes: orders' timeline, median ms after the order's creation
psql -XAtq -F' ' -d "$SOUK_ORDERS_DB" -c "SELECT '# timeline', e.direction, e.type, count(*),
	round(percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM e.at - o.created_at) * 1000))
	FROM saga_events e JOIN orders o ON o.id = e.order_id GROUP BY 2, 3 ORDER BY 5" >&2 || true
# and each hop of the backbone (outbox created_at = the writer's transaction start, sent_at =
# the relay's mark, inbox processed_at = the consumer's transaction start), median ms
hop() { # label, db1, sql1 (id, epoch), db2, sql2 (id, epoch): median of epoch2 - epoch1 by id
	perl -e 'my ($l, $f1, $f2) = @ARGV; my %a; open my $h, "<", $f1; while (<$h>) { chomp; my ($i, $t) = split / /; $a{$i} = $t }
		open $h, "<", $f2; my @d; while (<$h>) { chomp; my ($i, $t) = split / /; push @d, 1000 * ($t - $a{$i}) if exists $a{$i} }
		@d = sort { $a <=> $b } @d; printf "# hop %s: %d events, median %.0f ms\n", $l, scalar @d, @d ? $d[$#d / 2] : 0' \
		"$1" <(psql -XAtq -F' ' -d "$2" -c "$3") <(psql -XAtq -F' ' -d "$4" -c "$5") >&2 || true
}
ob() { echo "SELECT id, extract(epoch FROM $2) FROM outbox WHERE type = '$1'"; }
ib() { echo "SELECT event_id, extract(epoch FROM processed_at) FROM inbox WHERE type = '$1'"; }
hop 'order.created written -> sent' "$SOUK_ORDERS_DB" "$(ob order.created created_at)" "$SOUK_ORDERS_DB" "$(ob order.created sent_at)"
hop 'order.created sent -> inventory takes it' "$SOUK_ORDERS_DB" "$(ob order.created sent_at)" "$SOUK_INVENTORY_DB" "$(ib order.created)"
hop 'inventory.reserved written -> sent' "$SOUK_INVENTORY_DB" "$(ob inventory.reserved created_at)" "$SOUK_INVENTORY_DB" "$(ob inventory.reserved sent_at)"
hop 'inventory.reserved sent -> payments takes it' "$SOUK_INVENTORY_DB" "$(ob inventory.reserved sent_at)" "$SOUK_PAYMENTS_DB" "$(ib inventory.reserved)"
hop 'inventory.reserved sent -> orders takes it' "$SOUK_INVENTORY_DB" "$(ob inventory.reserved sent_at)" "$SOUK_ORDERS_DB" "$(ib inventory.reserved)"
hop 'payment.succeeded written -> sent' "$SOUK_PAYMENTS_DB" "$(ob payment.succeeded created_at)" "$SOUK_PAYMENTS_DB" "$(ob payment.succeeded sent_at)"
hop 'payment.succeeded sent -> orders takes it' "$SOUK_PAYMENTS_DB" "$(ob payment.succeeded sent_at)" "$SOUK_ORDERS_DB" "$(ib payment.succeeded)"
if [ "$with_reporting" = 1 ]; then
	hop 'order.confirmed written -> sent (orders relay)' "$SOUK_ORDERS_DB" \
		"$(ob order.confirmed created_at)" "$SOUK_ORDERS_DB" "$(ob order.confirmed sent_at)"
	hop 'order.confirmed sent -> reporting takes it' "$SOUK_ORDERS_DB" \
		"$(ob order.confirmed sent_at)" "$SOUK_REPORTING_DB" "$(ib order.confirmed)"
	hop 'order.confirmed written -> reporting applied it' "$SOUK_ORDERS_DB" \
		"$(ob order.confirmed created_at)" "$SOUK_REPORTING_DB" "$(ib order.confirmed)"
	perl -e 'my %a; open my $h, "<", $ARGV[0]; while (<$h>) { chomp; my ($i, $t) = split / /; $a{$i} = $t }
		open $h, "<", $ARGV[1]; my @d; while (<$h>) { chomp; my ($i, $t) = split / /; push @d, 1000 * ($t - $a{$i}) if exists $a{$i} }
		@d = sort { $a <=> $b } @d; printf "freshness_ms %.0f %.0f %d\n", @d ? ($d[$#d / 2], $d[int(0.99 * $#d)]) : (0, 0), scalar @d' \
		<(psql -XAtq -F' ' -d "$SOUK_ORDERS_DB" -c "$(ob order.confirmed created_at)") \
		<(psql -XAtq -F' ' -d "$SOUK_REPORTING_DB" -c "$(ib order.confirmed)") | tee -a "$BENCH_OUT"
fi
echo "loadavg $load_start $(cut -d' ' -f1 /proc/loadavg)" >>"$BENCH_OUT"
echo "date $(date -u +%Y-%m-%d)" >>"$BENCH_OUT"
report >"$MD"
cat "$MD"
echo "wrote $BENCH_OUT and $MD"
