# bench/lib.sh - helpers shared by the benchmark scripts (sourced, not run).
# wrk_median NAME URL_BASE PATH [MAX_ID] [TOKEN]: run wrk BENCH_RUNS times
# and append "NAME rps p50 p99 errors" (medians) to $BENCH_OUT. PATH may hold
# {id} and {q} (bench/report.lua; {q} takes the lines of the file BENCH_QUERIES).
BENCH_RUNS=${BENCH_RUNS:-3}
BENCH_DURATION=${BENCH_DURATION:-10s}
BENCH_CONNS=${BENCH_CONNS:-32}
export BENCH_THREADS=${BENCH_THREADS:-2} # bench/report.lua spreads its ids over the threads
BENCH_TIMEOUT=${BENCH_TIMEOUT:-10s}
BENCH_WARMUP=${BENCH_WARMUP:-3s}

median() { sort -n | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }

wrk_median() {
	local name=$1 base=$2 path=$3 max_id=${4:-1} token=${5:-} i out
	local rps=() p50=() p99=() err=0
	# one uncounted run first (BENCH_WARMUP=0: none): caches and buffer pools warm up,
	# connections open
	[ "$BENCH_WARMUP" = 0 ] ||
		BENCH_PATH=$path BENCH_MAX_ID=$max_id BENCH_TOKEN=$token \
			wrk -t"$BENCH_THREADS" -c"$BENCH_CONNS" -d"$BENCH_WARMUP" --timeout "$BENCH_TIMEOUT" \
			-s "$(dirname "${BASH_SOURCE[0]}")/report.lua" "$base" >/dev/null
	for i in $(seq 1 "$BENCH_RUNS"); do
		out=$(BENCH_PATH=$path BENCH_MAX_ID=$max_id BENCH_TOKEN=$token \
			wrk -t"$BENCH_THREADS" -c"$BENCH_CONNS" -d"$BENCH_DURATION" --timeout "$BENCH_TIMEOUT" \
			-s "$(dirname "${BASH_SOURCE[0]}")/report.lua" "$base" | grep '^RESULT')
		rps+=("$(sed 's/.*rps=\([^ ]*\).*/\1/' <<<"$out")")
		p50+=("$(sed 's/.*p50_ms=\([^ ]*\).*/\1/' <<<"$out")")
		p99+=("$(sed 's/.*p99_ms=\([^ ]*\).*/\1/' <<<"$out")")
		err=$((err + $(sed 's/.*errors=\([0-9]*\).*/\1/' <<<"$out") + $(sed 's/.*non2xx=\([0-9]*\).*/\1/' <<<"$out")))
	done
	printf '%s %s %s %s %s\n' "$name" \
		"$(printf '%s\n' "${rps[@]}" | median)" "$(printf '%s\n' "${p50[@]}" | median)" \
		"$(printf '%s\n' "${p99[@]}" | median)" "$err" >>"$BENCH_OUT"
	echo "bench: $name rps=$(printf '%s\n' "${rps[@]}" | median) (runs: ${rps[*]})" >&2
}

# wrk_rounds PATH MAX_ID NAME=URL_BASE...: the same scenario against several targets in
# BENCH_RUNS interleaved rounds of one wrk run each (the order rotates every round, so
# drift on a shared machine hits every target alike; one warm-up each in the first
# round); appends one line of medians over the rounds per target to $BENCH_OUT, and
# "rounds NAME rps..." (each round's req/s, for ratios of runs made side by side).
# BENCH_ROUNDS_TOKEN: a bearer token sent by every request (an admin route).
wrk_rounds() {
	local path=$1 max_id=$2 dir r k i n warm token=${BENCH_ROUNDS_TOKEN:-}
	shift 2
	local targets=("$@")
	dir=$(mktemp -d)
	for r in $(seq 1 "$BENCH_RUNS"); do
		warm=0
		[ "$r" != 1 ] || warm=$BENCH_WARMUP
		for k in "${!targets[@]}"; do
			i=$(((k + r - 1) % ${#targets[@]}))
			n=${targets[$i]%%=*}
			BENCH_RUNS=1 BENCH_OUT=$dir/$n BENCH_WARMUP=$warm \
				wrk_median "$n" "${targets[$i]#*=}" "$path" "$max_id" "$token"
		done
	done
	for k in "${targets[@]}"; do
		n=${k%%=*}
		printf '%s %s %s %s %s\n' "$n" "$(awk '{ print $2 }' "$dir/$n" | median)" \
			"$(awk '{ print $3 }' "$dir/$n" | median)" "$(awk '{ print $4 }' "$dir/$n" | median)" \
			"$(awk '{ s += $5 } END { print s + 0 }' "$dir/$n")" >>"$BENCH_OUT"
		echo "rounds $n $(awk '{ printf "%s ", $2 }' "$dir/$n")" >>"$BENCH_OUT"
	done
	rm -rf "$dir"
}

free_port() {
	perl -MIO::Socket::INET -e 'print IO::Socket::INET->new(LocalAddr => "127.0.0.1",
		LocalPort => 0, Listen => 1)->sockport, "\n"'
}

# ---- the opening of history.sh, reporting.sh and services.sh -------------------------------

# bench_init NAME: BUILD (default build), SOUK_VAR_DIR (BENCH_VAR, default var/bench; exported),
# BENCH_OUT and MD (BENCH_OUT / BENCH_MD, default $SOUK_VAR_DIR/NAME.results and NAME.md).
# The caller has set ROOT (the checkout) and cd'ed there.
bench_init() {
	BUILD=${BUILD:-build}
	export SOUK_VAR_DIR=${BENCH_VAR:-$ROOT/var/bench}
	BENCH_OUT=${BENCH_OUT:-$SOUK_VAR_DIR/$1.results}
	MD=${BENCH_MD:-$SOUK_VAR_DIR/$1.md}
}

# bench_begin BIN...: fail unless each $BUILD/bin/BIN is built; note the 1-minute load average
# before anything of ours runs (load_start, for the report's caution), empty $BENCH_OUT, and
# stop the services and servers we start on any exit (an interrupt included).
bench_begin() {
	local bin
	for bin in "$@"; do
		[ -x "$BUILD/bin/$bin" ] || { echo "$0: $BUILD/bin/$bin is missing (make all)" >&2; exit 1; }
	done
	load_start=$(cut -d' ' -f1 /proc/loadavg)
	mkdir -p "$SOUK_VAR_DIR"
	: >"$BENCH_OUT"
	trap 'bench_stop; scripts/stop-local.sh >/dev/null' EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM HUP
}

# bench_backbone [redis] DB...: RabbitMQ and PostgreSQL (and Redis, without persistence) from
# $SOUK_VAR_DIR on the bench ports (BENCH_PG_PORT 55442, BENCH_RABBIT_PORT 55682,
# BENCH_REDIS_PORT 56389); exports SOUK_PG_ADMIN_DSN, SOUK_AMQP_URL (SOUK_REDIS_URL) and each
# DB's SOUK_<DB>_DB, and creates and migrates each DB (BENCH_REBUILD=1: dropped first, e.g.
# after a migration was edited; a later run reuses what is there).
bench_backbone() {
	local servers=(rabbitmq postgres) t
	export SOUK_PG_PORT=${BENCH_PG_PORT:-55442} SOUK_RABBIT_PORT=${BENCH_RABBIT_PORT:-55682}
	if [ "${1:-}" = redis ]; then
		shift
		servers+=(redis)
		export SOUK_REDIS_PORT=${BENCH_REDIS_PORT:-56389}
		export SOUK_REDIS_URL=redis://127.0.0.1:$SOUK_REDIS_PORT/0
	fi
	SOUK_REDIS_PERSIST=0 scripts/start-local.sh "${servers[@]}"
	export SOUK_PG_ADMIN_DSN=postgresql://souk_admin:souk-dev@127.0.0.1:$SOUK_PG_PORT/postgres
	export SOUK_AMQP_URL=amqp://souk:souk-dev@127.0.0.1:$SOUK_RABBIT_PORT/%2f
	for t in "$@"; do
		export "SOUK_${t^^}_DB=postgresql://$t:souk-dev@127.0.0.1:$SOUK_PG_PORT/$t"
		[ "${BENCH_REBUILD:-0}" = 0 ] ||
			psql -XAtq -d "$SOUK_PG_ADMIN_DSN" -c "DROP DATABASE IF EXISTS $t WITH (FORCE)"
		"$BUILD/bin/soukctl" db create "$t"
		"$BUILD/bin/soukctl" schema up "$t" >/dev/null
	done
}

# bench_tokens FILE FIRST LAST: one bearer token a line for the customers FIRST..LAST, signed
# as users and the monolith sign theirs at login (HS256, BENCH_JWT_SECRET, a day's life), so
# a scenario can rotate over many users (BENCH_TOKENS, bench/report.lua) without an Argon2
# login each. Both sides of a comparison get the same file.
BENCH_JWT_SECRET=${BENCH_JWT_SECRET:-bench-secret}
bench_tokens() {
	perl -I"$ROOT/tests/lib" -MSouk::Token=jwt_mint -e '
		my ($first, $last, $secret) = @ARGV;
		print jwt_mint(sub => "$_", secret => $secret, exp => time + 86400), "\n" for $first .. $last' \
		"$2" "$3" "$BENCH_JWT_SECRET" >"$1"
}

# ---- shared by monolith.sh, services.sh, history.sh and reporting.sh ----------------------
# The caller sets BUILD and exports SOUK_VAR_DIR (the bench data dir, var/bench).

# monolith_db: the bench MariaDB (port BENCH_MARIADB_PORT, 53316) with the monolith's
# schema, seeded at benchmark scale (BENCH_PRODUCTS, BENCH_USERS, BENCH_ORDERS; default
# 100 k / 20 k / 1 M, deterministic) the first time only: later calls reuse the seed.
# Exports SOUK_MARIADB_PORT and SOUK_MONOLITH_DB.
monolith_db() {
	export SOUK_MARIADB_PORT=${BENCH_MARIADB_PORT:-53316}
	scripts/start-local.sh mariadb
	export SOUK_MARIADB_ADMIN_DSN=mysql://souk_admin:souk-dev@127.0.0.1:$SOUK_MARIADB_PORT/mysql
	export SOUK_MONOLITH_DB=mysql://souk_monolith:souk-dev@127.0.0.1:$SOUK_MARIADB_PORT/souk_monolith
	"$BUILD/bin/soukctl" db create monolith
	"$BUILD/bin/soukctl" schema up monolith
	"$BUILD/bin/soukctl" seed --if-empty --products "${BENCH_PRODUCTS:-100000}" \
		--users "${BENCH_USERS:-20000}" --orders "${BENCH_ORDERS:-1000000}"
}

# bench_start NAME BIN [VAR=value ...]: start BIN on a free port with the bench settings
# (log level warn, one JWT secret) and the given environment, its stderr in
# $SOUK_VAR_DIR/NAME.log; wait until /ready answers. Sets BENCH_URL; the pid joins
# BENCH_PIDS, which bench_stop ends. BENCH_PORT=N bench_start ...: on that port (one peers
# were told already).
BENCH_PIDS=()
bench_start() {
	local name=$1 bin=$2 port
	shift 2
	port=${BENCH_PORT:-$(free_port)}
	env SOUK_LISTEN="127.0.0.1:$port" SOUK_LOG_LEVEL=warn SOUK_JWT_SECRET="$BENCH_JWT_SECRET" "$@" \
		"$bin" 2>"$SOUK_VAR_DIR/$name.log" &
	BENCH_PIDS+=($!)
	BENCH_URL=http://127.0.0.1:$port
	bench_wait "$name" "$BENCH_URL/ready"
}

# bench_wait NAME URL: wait up to 30 s until URL answers 2xx while the last of BENCH_PIDS
# lives; else show the end of $SOUK_VAR_DIR/NAME.log and fail.
bench_wait() {
	local i
	for i in $(seq 1 150); do
		curl -fs -o /dev/null "$2" && return 0
		kill -0 "${BENCH_PIDS[-1]}" 2>/dev/null || break
		sleep 0.2
	done
	echo "bench: $1 did not become ready on $2; the end of its log:" >&2
	tail -20 "$SOUK_VAR_DIR/$1.log" >&2
	return 1
}

bench_stop() {
	local p
	for p in "${BENCH_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${BENCH_PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
	BENCH_PIDS=()
}
