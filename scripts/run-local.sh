#!/usr/bin/env bash
# `make run`: start the four servers, create and migrate the monolith's
# database and load demo data once, create and migrate the services'
# databases and backfill them from the monolith once, start every souk
# process under scripts/supervise.sh (restarted with a back-off when it
# dies), print how to use it, then stay as a quiet console until Ctrl-C
# (which stops everything): only warnings, errors and the supervisor's
# reports, each with its process's name; the full logs are in var/log
# (`make logs`).
# SOUK_DETACH=1 returns right after start-up instead (stop with `make stop`).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
BUILD=${BUILD:-build}
VAR=${SOUK_VAR_DIR:-$ROOT/var}
mkdir -p "$VAR/run" "$VAR/log"
VAR=$(cd "$VAR" && pwd)
export SOUK_VAR_DIR=$VAR

MARIADB_PORT=${SOUK_MARIADB_PORT:-53306}
PG_PORT=${SOUK_PG_PORT:-55432}
REDIS_PORT=${SOUK_REDIS_PORT:-56379}
RABBIT_PORT=${SOUK_RABBIT_PORT:-55672}
MONOLITH_LISTEN=${SOUK_MONOLITH_LISTEN:-127.0.0.1:7000}
USERS_LISTEN=${SOUK_USERS_LISTEN:-127.0.0.1:7101}
CATALOG_LISTEN=${SOUK_CATALOG_LISTEN:-127.0.0.1:7102}
SEARCH_LISTEN=${SOUK_SEARCH_LISTEN:-127.0.0.1:7103}
REVIEWS_LISTEN=${SOUK_REVIEWS_LISTEN:-127.0.0.1:7104}
CART_LISTEN=${SOUK_CART_LISTEN:-127.0.0.1:7105}
ORDERS_LISTEN=${SOUK_ORDERS_LISTEN:-127.0.0.1:7106}
INVENTORY_LISTEN=${SOUK_INVENTORY_LISTEN:-127.0.0.1:7107}
PAYMENTS_LISTEN=${SOUK_PAYMENTS_LISTEN:-127.0.0.1:7108}
HISTORY_LISTEN=${SOUK_HISTORY_LISTEN:-127.0.0.1:7109}
REPORTING_LISTEN=${SOUK_REPORTING_LISTEN:-127.0.0.1:7110}
GATEWAY_LISTEN=${SOUK_GATEWAY_LISTEN:-127.0.0.1:8080}
GATEWAY_ADMIN_LISTEN=${SOUK_GATEWAY_ADMIN_LISTEN:-127.0.0.1:8081}
export SOUK_GATEWAY_ADMIN_TOKEN=${SOUK_GATEWAY_ADMIN_TOKEN:-souk-admin-dev}
export SOUK_MONOLITH_DB=${SOUK_MONOLITH_DB:-mysql://souk_monolith:souk-dev@127.0.0.1:$MARIADB_PORT/souk_monolith}
export SOUK_MARIADB_ADMIN_DSN=${SOUK_MARIADB_ADMIN_DSN:-mysql://souk_admin:${SOUK_MARIADB_ADMIN_PASSWORD:-souk-dev}@127.0.0.1:$MARIADB_PORT/mysql}
export SOUK_PG_ADMIN_DSN=${SOUK_PG_ADMIN_DSN:-postgresql://souk_admin:${SOUK_PG_ADMIN_PASSWORD:-souk-dev}@127.0.0.1:$PG_PORT/postgres}
export SOUK_CATALOG_DB=${SOUK_CATALOG_DB:-postgresql://catalog:souk-dev@127.0.0.1:$PG_PORT/catalog}
export SOUK_SEARCH_DB=${SOUK_SEARCH_DB:-postgresql://search:souk-dev@127.0.0.1:$PG_PORT/search}
export SOUK_USERS_DB=${SOUK_USERS_DB:-postgresql://users:souk-dev@127.0.0.1:$PG_PORT/users}
export SOUK_REVIEWS_DB=${SOUK_REVIEWS_DB:-postgresql://reviews:souk-dev@127.0.0.1:$PG_PORT/reviews}
export SOUK_CART_DB=${SOUK_CART_DB:-postgresql://cart:souk-dev@127.0.0.1:$PG_PORT/cart}
export SOUK_ORDERS_DB=${SOUK_ORDERS_DB:-postgresql://orders:souk-dev@127.0.0.1:$PG_PORT/orders}
export SOUK_INVENTORY_DB=${SOUK_INVENTORY_DB:-postgresql://inventory:souk-dev@127.0.0.1:$PG_PORT/inventory}
export SOUK_PAYMENTS_DB=${SOUK_PAYMENTS_DB:-postgresql://payments:souk-dev@127.0.0.1:$PG_PORT/payments}
export SOUK_HISTORY_DB=${SOUK_HISTORY_DB:-postgresql://history:souk-dev@127.0.0.1:$PG_PORT/history}
export SOUK_REPORTING_DB=${SOUK_REPORTING_DB:-postgresql://reporting:souk-dev@127.0.0.1:$PG_PORT/reporting}
export SOUK_MIGRATE_DB=${SOUK_MIGRATE_DB:-postgresql://migrate:souk-dev@127.0.0.1:$PG_PORT/migrate}
export SOUK_REDIS_URL=${SOUK_REDIS_URL:-redis://127.0.0.1:$REDIS_PORT/0}
export SOUK_AMQP_URL=${SOUK_AMQP_URL:-amqp://souk:${SOUK_RABBIT_PASSWORD:-souk-dev}@127.0.0.1:$RABBIT_PORT/%2f}
export SOUK_JWT_SECRET=${SOUK_JWT_SECRET:-souk-dev-secret-change-me}
# Where the cart takes its price snapshots, and where orders reads the cart at checkout.
export SOUK_CATALOG_URL=${SOUK_CATALOG_URL:-http://$CATALOG_LISTEN}
export SOUK_CART_URL=${SOUK_CART_URL:-http://$CART_LISTEN}
# What `soukctl history rebuild` talks to: orders' event feed and history.
export SOUK_ORDERS_URL=${SOUK_ORDERS_URL:-http://$ORDERS_LISTEN}
export SOUK_HISTORY_URL=${SOUK_HISTORY_URL:-http://$HISTORY_LISTEN}
CTL=$BUILD/bin/soukctl

scripts/start-local.sh

"$CTL" db create monolith
"$CTL" schema up monolith
"$CTL" seed --if-empty

# Each service gets its own database and role (one whose migrations are not
# in this tree yet is skipped); catalog, users and reviews are filled from the
# monolith once (later starts find them non-empty and skip), and search is
# rebuilt from catalog right after catalog's first fill.
for svc in catalog search users reviews cart orders inventory payments history reporting; do
	if [ ! -d "services/$svc/migrations" ]; then
		echo "run-local: services/$svc/migrations does not exist; no $svc database" >&2
		continue
	fi
	"$CTL" db create "$svc"
	"$CTL" schema up "$svc"
done
# soukctl migrate's state (docs/migration.md): each domain's step, who ran what when.
"$CTL" db create migrate
"$CTL" schema up migrate
"$CTL" backfill catalog --if-empty | tee "$VAR/log/backfill.out"
if grep -q '^backfilled' "$VAR/log/backfill.out" && "$CTL" search --help >/dev/null 2>&1; then
	"$CTL" search rebuild
fi
"$CTL" backfill users --if-empty
"$CTL" backfill reviews --if-empty
# The order domain: orders' replicas and past orders, inventory's stock, payments' records,
# each once the service's database exists and soukctl knows how to fill it. `backfill orders`
# fills history's read model too (and orders' retained event log, for history rebuilds), and
# reporting's order facts and sales tallies, once.
for svc in orders inventory payments; do
	if [ -d "services/$svc/migrations" ] && "$CTL" backfill --help 2>&1 | grep -q "^  $svc "; then
		"$CTL" backfill "$svc" --if-empty
	else
		echo "run-local: soukctl backfill $svc is not available; $svc starts empty" >&2
	fi
done

# start_app NAME LISTEN [ENV=VALUE ...]: one souk process under its supervisor
# (pids in var/run/app-NAME.pid and super-NAME.pid, output in var/log/NAME.log,
# the supervisor's reports in var/log/supervise.log); LISTEN is where /ready
# answers (SOUK_LISTEN unless ENV names another). setsid: Ctrl-C on the console
# reaches the console only, and `stop` below takes the processes down in order.
start_app() {
	local name=$1 listen=$2 pid sup
	shift 2
	pid=$(cat "$VAR/run/app-$name.pid" 2>/dev/null || true)
	sup=$(cat "$VAR/run/super-$name.pid" 2>/dev/null || true)
	if { [ -n "$sup" ] && kill -0 "$sup" 2>/dev/null; } || { [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; }; then
		printf '%-8s already running on http://%s (pid %s)\n' "$name" "$listen" "$pid"
		return
	fi
	setsid scripts/supervise.sh "$name" env SOUK_LISTEN="$listen" "$@" "$BUILD/bin/souk-$name" \
		</dev/null >>"$VAR/log/supervise.log" 2>&1 &
	sup=$!
	for _ in $(seq 1 100); do
		if curl -fsS "http://$listen/ready" >/dev/null 2>&1; then
			printf '%-8s ready on http://%s (pid %s)\n' "$name" "$listen" "$(cat "$VAR/run/app-$name.pid")"
			return
		fi
		kill -0 "$sup" 2>/dev/null || break
		sleep 0.1
	done
	echo "run-local: $name did not become ready; last log lines:" >&2
	tail -n 20 "$VAR/log/$name.log" >&2
	exit 1
}

start_app monolith "$MONOLITH_LISTEN"
for svc in users:"$USERS_LISTEN" catalog:"$CATALOG_LISTEN" search:"$SEARCH_LISTEN" \
	reviews:"$REVIEWS_LISTEN" cart:"$CART_LISTEN" inventory:"$INVENTORY_LISTEN" \
	reporting:"$REPORTING_LISTEN" payments:"$PAYMENTS_LISTEN" history:"$HISTORY_LISTEN" orders:"$ORDERS_LISTEN"; do
	if [ -x "$BUILD/bin/souk-${svc%%:*}" ]; then
		start_app "${svc%%:*}" "${svc#*:}"
	else
		echo "run-local: $BUILD/bin/souk-${svc%%:*} is not built; skipping it" >&2
	fi
done

# The souk-sync processes whose /metrics the control room charts (the gateway's GET /sync), at
# docs/migration.md's default addresses, where soukctl migrate starts them.
export SOUK_GATEWAY_SYNC="${SOUK_GATEWAY_SYNC:-reviews=127.0.0.1:7121,catalog=127.0.0.1:7122,users=127.0.0.1:7123,cart=127.0.0.1:7124}"

# The gateway's table starts as the default one (every route legacy, to the
# monolith) and is kept in var/: admin changes persist across restarts. One
# address per line, so `t` ends the line after its substitution and a new
# address is never rewritten again by a later expression.
mkdir -p "$VAR/gateway"
if [ ! -f "$VAR/gateway/routes.json" ]; then
	sed -e "s/\"127.0.0.1:7000\"/\"$MONOLITH_LISTEN\"/;t" -e "s/\"127.0.0.1:7101\"/\"$USERS_LISTEN\"/;t" \
		-e "s/\"127.0.0.1:7102\"/\"$CATALOG_LISTEN\"/;t" -e "s/\"127.0.0.1:7103\"/\"$SEARCH_LISTEN\"/;t" \
		-e "s/\"127.0.0.1:7104\"/\"$REVIEWS_LISTEN\"/;t" -e "s/\"127.0.0.1:7105\"/\"$CART_LISTEN\"/;t" \
		-e "s/\"127.0.0.1:7106\"/\"$ORDERS_LISTEN\"/;t" -e "s/\"127.0.0.1:7107\"/\"$INVENTORY_LISTEN\"/;t" \
		-e "s/\"127.0.0.1:7108\"/\"$PAYMENTS_LISTEN\"/;t" -e "s/\"127.0.0.1:7109\"/\"$HISTORY_LISTEN\"/;t" \
		-e "s/\"127.0.0.1:7110\"/\"$REPORTING_LISTEN\"/" \
		gateway/routes.default.json >"$VAR/gateway/routes.json"
fi
start_app gateway "$GATEWAY_LISTEN" SOUK_GATEWAY_LISTEN="$GATEWAY_LISTEN" \
	SOUK_GATEWAY_ADMIN_LISTEN="$GATEWAY_ADMIN_LISTEN" SOUK_GATEWAY_ROUTES="$VAR/gateway/routes.json" \
	SOUK_GATEWAY_WEB_DIR="$BUILD/web"
# A routes file kept from before the pages has no storefront route (gateway/README.md, Pages).
grep -q '"static"' "$VAR/gateway/routes.json" ||
	echo "run-local: $VAR/gateway/routes.json has no static route: remove it to get the storefront at /" >&2

cat <<EOT

souk is up.
  storefront                http://$GATEWAY_LISTEN/
  control room              http://$GATEWAY_ADMIN_LISTEN/
  storefront API (gateway)  http://$GATEWAY_LISTEN/api/v1/products
  gateway admin API         http://$GATEWAY_ADMIN_LISTEN/routes  (Bearer \$SOUK_GATEWAY_ADMIN_TOKEN = $SOUK_GATEWAY_ADMIN_TOKEN)
  monolith (legacy v1 API)  http://$MONOLITH_LISTEN/api/v1/products
  users service             http://$USERS_LISTEN/api/v1/accounts/login
  catalog service           http://$CATALOG_LISTEN/api/v1/products
  search service            http://$SEARCH_LISTEN/api/v1/search?q=wireless
  reviews service           http://$REVIEWS_LISTEN/api/v1/products/1/reviews
  cart service              http://$CART_LISTEN/api/v1/cart
  orders service            http://$ORDERS_LISTEN/api/v1/orders  (v2: /api/v2/orders, /api/v2/admin/sagas)
  inventory service         http://$INVENTORY_LISTEN/api/v1/products/1/stock  (admin PUT)
  payments service          http://$PAYMENTS_LISTEN/health
  history service           http://$HISTORY_LISTEN/api/v1/orders  (my orders, the query side; v2: /api/v2/orders)
  reporting service         http://$REPORTING_LISTEN/api/v1/reports/sales  (admin; v2: /api/v2/reports/sales?group=month_category)
  health / metrics          http://$MONOLITH_LISTEN/ready   http://$MONOLITH_LISTEN/metrics  (same on every process;
                            the gateway's /metrics: http://$GATEWAY_ADMIN_LISTEN/metrics)
  MariaDB                   127.0.0.1:$MARIADB_PORT  (souk_monolith / souk-dev)
  PostgreSQL                127.0.0.1:$PG_PORT  (users, catalog, search, reviews, cart, orders, inventory,
                            payments, history, reporting: role = database, password souk-dev; admin souk_admin)
  Redis / RabbitMQ          127.0.0.1:$REDIS_PORT / $RABBIT_PORT  (RabbitMQ user souk / souk-dev)

Demo logins (password "souk-demo"):
  customer  demo@souk.test
  admin     admin@souk.test

Try:
  curl -s 'http://$GATEWAY_LISTEN/api/v1/products?category=laptops&ram_gb=16&limit=3'
  TOKEN=\$(curl -s http://$GATEWAY_LISTEN/api/v1/accounts/login -H 'Content-Type: application/json' \\
      -d '{"email":"demo@souk.test","password":"souk-demo"}' | sed 's/.*"token":"\\([^"]*\\)".*/\\1/')
  curl -s http://$GATEWAY_LISTEN/api/v1/orders -H "Authorization: Bearer \$TOKEN"
  curl -s http://$GATEWAY_ADMIN_LISTEN/routes -H "Authorization: Bearer $SOUK_GATEWAY_ADMIN_TOKEN"
  curl -s -X PATCH http://$GATEWAY_ADMIN_LISTEN/routes/products -H "Authorization: Bearer $SOUK_GATEWAY_ADMIN_TOKEN" \\
      -H 'Content-Type: application/json' -d '{"mode":"shadow"}'   # compare catalog with the monolith
  curl -s -X PATCH http://$GATEWAY_ADMIN_LISTEN/routes/reviews -H "Authorization: Bearer $SOUK_GATEWAY_ADMIN_TOKEN" \\
      -H 'Content-Type: application/json' -d '{"mode":"new"}'      # reviews served by souk-reviews
  (routes with a service: accounts→users, products/categories→catalog, search, reviews, cart,
   orders, orders_read→history (GET), stock→inventory, reports→reporting; /api/v2/products,
   /categories, /search, /orders, /admin/sagas, /products/{id}/stock, /payments, /reports are new)

State: build/bin/soukctl status      Logs: make logs (or scripts/logs.pl --help; files in $VAR/log/)
Stop:  Ctrl-C here, or \`make stop\` from another shell.
EOT

if [ "${SOUK_DETACH:-0}" = 1 ]; then
	exit 0
fi
stop() {
	trap - INT TERM HUP
	echo
	echo "stopping..."
	scripts/stop-local.sh
	exit 0
}
trap stop INT TERM HUP
echo
echo "Warnings and errors of every process follow (everything: make logs)."
# In the foreground, so Ctrl-C reaches it (a background job of a script
# ignores SIGINT); bash runs the trap when it exits.
scripts/logs.pl --follow --new --level warn || true
stop
