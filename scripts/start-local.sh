#!/usr/bin/env bash
# Start project-local MariaDB, PostgreSQL, Redis and RabbitMQ with data under $SOUK_VAR_DIR
# (DESIGN.md §7). Usage: start-local.sh [mariadb|postgres|redis|rabbitmq ...]
# Every server binds 127.0.0.1 only. See scripts/README.md for the environment variables.
# shellcheck disable=SC2317 # functions are called indirectly ("start_$n", traps)
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
VAR=${SOUK_VAR_DIR:-$ROOT/var}
mkdir -p "$VAR"
VAR=$(cd "$VAR" && pwd)
RUN=$VAR/run LOG=$VAR/log
mkdir -p "$RUN" "$LOG"

MARIADB_PORT=${SOUK_MARIADB_PORT:-53306}
PG_PORT=${SOUK_PG_PORT:-55432}
REDIS_PORT=${SOUK_REDIS_PORT:-56379}
RABBIT_PORT=${SOUK_RABBIT_PORT:-55672}
RABBIT_DIST_PORT=${SOUK_RABBIT_DIST_PORT:-$((RABBIT_PORT + 1))}
# A private epmd per data dir, so stop-local.sh can stop it and a test broker never shares
# (or outlives) the one `make run` uses.
RABBIT_EPMD_PORT=${SOUK_RABBIT_EPMD_PORT:-$((RABBIT_PORT + 2))}
RABBIT_NODE=souk$RABBIT_PORT@localhost
MARIADB_ADMIN_PASSWORD=${SOUK_MARIADB_ADMIN_PASSWORD:-souk-dev}
PG_ADMIN_PASSWORD=${SOUK_PG_ADMIN_PASSWORD:-souk-dev}
RABBIT_PASSWORD=${SOUK_RABBIT_PASSWORD:-souk-dev}
REDIS_PERSIST=${SOUK_REDIS_PERSIST:-1}
PGBIN=/usr/lib/postgresql/15/bin
RABBIT_BIN=/usr/lib/rabbitmq/bin # the /usr/sbin wrappers su to the rabbitmq user and reset HOME

if [ "$(id -u)" -eq 0 ]; then
	PG_USER=postgres
	AS_PG=(setpriv --reuid=postgres --regid=postgres --init-groups --) # execs, so $! is the server
else
	PG_USER=$(id -un)
	AS_PG=()
fi
ME=$(id -un)

now() { echo "${EPOCHREALTIME/,/.}"; }
T0=$(now)
elapsed() { awk -v a="$T0" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

# running PID: the process exists and is not a zombie (PID 1 here may reap them late).
running() {
	local s
	read -r s 2>/dev/null <"/proc/$1/stat" || return 1
	s=${s##*) }
	[ "${s%% *}" != Z ]
}

# alive NAME: the pid in run/NAME.pid is running and is the expected program
# (guards against a stale pid file whose number was reused).
declare -A COMM=([mariadb]=mariadbd [postgres]=postgres [redis]=redis-server [rabbitmq]=beam.smp [epmd]=epmd)
alive() {
	local pid
	pid=$(cat "$RUN/$1.pid" 2>/dev/null) || return 1
	[ -n "$pid" ] && running "$pid" || return 1
	[ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "${COMM[$1]}" ]
}

fail() { # fail NAME MESSAGE: report and show the end of the server's log
	echo "$1 FAILED: $2" >&2
	[ -f "$LOG/$1.log" ] && { echo "--- tail of $LOG/$1.log" >&2; tail -n 30 "$LOG/$1.log" >&2; }
	return 1
}

# wait_for NAME TIMEOUT PID CMD...: poll CMD until it succeeds; give up early if PID (the
# process we launched, or "-" for the pid file the server writes itself) has died.
wait_for() {
	local name=$1 timeout=$2 pid=$3 i=0
	shift 3
	while ! "$@" >/dev/null 2>&1; do
		i=$((i + 1))
		[ "$i" -gt $((timeout * 5)) ] && { fail "$name" "not ready after ${timeout}s"; return 1; }
		[ "$pid" = - ] && pid=$(cat "$RUN/$name.pid" 2>/dev/null || echo -)
		if [ "$pid" != - ] && ! running "$pid"; then
			fail "$name" "server exited during start"
			return 1
		fi
		sleep 0.2
	done
}

# A readiness probe cannot tell our server from a stranger on the same port, so refuse
# to start when something already answers there.
port_free() {
	if (exec 3<>"/dev/tcp/127.0.0.1/$2") 2>/dev/null; then
		echo "$1 FAILED: 127.0.0.1:$2 is in use by another process (set SOUK_${3}_PORT)" >&2
		exit 1
	fi
}

already() { # already NAME PORT: reuse a running server if it is on the requested port
	alive "$1" || { rm -f "$RUN/$1.pid"; return 1; }
	local was
	was=$(cat "$RUN/$1.port" 2>/dev/null || echo "?")
	if [ "$was" != "$2" ]; then
		echo "$1 FAILED: already running from $VAR on port $was, not $2; run stop-local.sh first" >&2
		exit 1
	fi
	printf '%-8s already running on 127.0.0.1:%s (pid %s)\n' "$1" "$2" "$(cat "$RUN/$1.pid")"
	exit 0
}

ready() { printf '%-8s ready on 127.0.0.1:%s (%s s)\n' "$1" "$2" "$(elapsed)"; }

sql_quote() { local s=${1//\\/\\\\}; printf "'%s'" "${s//\'/\'\'}"; }

start_mariadb() {
	already mariadb "$MARIADB_PORT" || true
	port_free mariadb "$MARIADB_PORT" MARIADB
	local dir=$VAR/mariadb sock=$VAR/mariadb/mysqld.sock
	mkdir -p "$dir"
	# Root owns everything here, so the server runs as root (explicit --user=root): no chown,
	# and the mysql user need not traverse the repo path. The marker tells a finished
	# initialisation from one that was interrupted.
	if [ ! -f "$dir/data/.souk-initialised" ]; then
		rm -rf "$dir/data"
		mariadb-install-db --no-defaults --datadir="$dir/data" --user="$ME" \
			--auth-root-authentication-method=socket --auth-root-socket-user="$ME" \
			--skip-test-db --skip-name-resolve >"$LOG/mariadb-install.log" 2>&1 ||
			{ tail -n 30 "$LOG/mariadb-install.log" >&2; fail mariadb "mariadb-install-db failed"; return 1; }
		touch "$dir/data/.souk-initialised"
	fi
	echo "$MARIADB_PORT" >"$RUN/mariadb.port"
	setsid mariadbd --no-defaults --user="$ME" --datadir="$dir/data" \
		--bind-address=127.0.0.1 --port="$MARIADB_PORT" --socket="$sock" \
		--pid-file="$RUN/mariadb.pid" --log-error="$LOG/mariadb.log" \
		--skip-name-resolve \
		--log-bin=mariadb-bin --server-id="${SOUK_MARIADB_SERVER_ID:-1}" --binlog-format=ROW \
		--binlog-row-image=FULL --binlog-row-metadata=FULL --gtid-strict-mode=1 \
		--binlog-expire-logs-seconds="${SOUK_MARIADB_BINLOG_EXPIRE_S:-86400}" \
		--max-binlog-size=64M --log-bin-trust-function-creators=1 \
		--character-set-server=utf8mb4 --collation-server=utf8mb4_unicode_ci \
		--innodb-buffer-pool-size=256M --innodb-flush-log-at-trx-commit=2 \
		--auto-increment-increment=2 --auto-increment-offset=1 \
		</dev/null >>"$LOG/mariadb.log" 2>&1 &
	echo $! >"$RUN/mariadb.pid" # setsid execs, so this is mariadbd (which rewrites the same pid)
	wait_for mariadb 60 $! mariadb-admin --no-defaults --protocol=socket --socket="$sock" -u"$ME" ping || return 1
	local pw q
	pw=$(sql_quote "$MARIADB_ADMIN_PASSWORD")
	for h in 127.0.0.1 localhost; do
		q+="CREATE USER IF NOT EXISTS 'souk_admin'@'$h' IDENTIFIED BY $pw;
			ALTER USER 'souk_admin'@'$h' IDENTIFIED BY $pw;
			GRANT ALL PRIVILEGES ON *.* TO 'souk_admin'@'$h' WITH GRANT OPTION;"
	done
	mariadb --no-defaults --protocol=socket --socket="$sock" -u"$ME" -e "$q" ||
		{ fail mariadb "could not create souk_admin"; return 1; }
	MYSQL_PWD=$MARIADB_ADMIN_PASSWORD mariadb --no-defaults --protocol=tcp -h127.0.0.1 \
		-P"$MARIADB_PORT" -usouk_admin -e 'SELECT 1' >/dev/null ||
		{ fail mariadb "souk_admin cannot log in over TCP"; return 1; }
	ready mariadb "$MARIADB_PORT"
}

start_postgres() {
	already postgres "$PG_PORT" || true
	port_free postgres "$PG_PORT" PG
	local base=$VAR/postgres
	# The server runs as the postgres user, which must be able to reach its data dir. If the
	# var dir sits under a path postgres cannot traverse (e.g. a repo in /root, or a 0700
	# temp dir), keep the cluster in /tmp and leave a symlink; chmod-ing the user's parent
	# directories behind their back is not ours to do. /tmp is wiped at reboot: the cluster
	# is then re-created empty, which is acceptable for dev data.
	if [ ! -e "$base" ] && [ ! -L "$base" ]; then
		if [ ${#AS_PG[@]} -gt 0 ] && ! "${AS_PG[@]}" test -x "$VAR"; then
			ln -s "/tmp/souk-pg-$(printf %s "$VAR" | md5sum | cut -c1-12)" "$base"
		else
			mkdir "$base"
		fi
	fi
	base=$(readlink -f "$base") # postgres must never resolve a path through $VAR itself
	mkdir -p "$base"
	chown "$PG_USER": "$base"
	chmod 700 "$base"
	local data=$base/data
	if [ ! -f "$data/PG_VERSION" ]; then
		(cd / && "${AS_PG[@]}" "$PGBIN/initdb" -D "$data" -U "$PG_USER" -E UTF8 --locale=C.UTF-8 \
			--auth-local=trust --auth-host=scram-sha-256 --no-sync) >"$LOG/postgres-initdb.log" 2>&1 ||
			{ tail -n 30 "$LOG/postgres-initdb.log" >&2; fail postgres "initdb failed"; return 1; }
		printf 'local all %s trust\nhost all all 127.0.0.1/32 scram-sha-256\n' "$PG_USER" |
			"${AS_PG[@]}" tee "$data/pg_hba.conf" >/dev/null
	fi
	echo "$PG_PORT" >"$RUN/postgres.port"
	# Settings on the command line, so a changed port never disagrees with a config file.
	# No fsync: this is a throw-away dev/test cluster. shared_buffers 512MB instead of the
	# default 128MB: at the bench's 100k products the search database (~330 MB) and the
	# catalog's (~160 MB) did not fit, so broad searches kept evicting each other's pages
	# and re-reading them through the kernel. Shared memory is touched as it is used, so
	# a small test cluster still costs little. max_connections 300 instead of 100: every
	# service keeps a connection per handler and consumer thread, and souk-orders one per
	# waiting v1 checkout; the saga's load tests (tests/e2e/53_oversell.t) ran out at 100.
	(cd / && exec setsid "${AS_PG[@]}" "$PGBIN/postgres" -D "$data" -p "$PG_PORT" -k "$base" \
		-c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off \
		-c full_page_writes=off -c shared_buffers=512MB -c max_connections=300 </dev/null >>"$LOG/postgres.log" 2>&1) &
	echo $! >"$RUN/postgres.pid"
	wait_for postgres 60 $! "$PGBIN/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT" || return 1
	(cd / && "${AS_PG[@]}" "$PGBIN/psql" -X -q -h "$base" -p "$PG_PORT" -U "$PG_USER" -d postgres \
		-v ON_ERROR_STOP=1 -v pw="$PG_ADMIN_PASSWORD") <<-'SQL' || { fail postgres "could not create souk_admin"; return 1; }
		SELECT NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'souk_admin') AS missing \gset
		\if :missing
		CREATE ROLE souk_admin;
		\endif
		ALTER ROLE souk_admin WITH LOGIN SUPERUSER PASSWORD :'pw';
	SQL
	PGPASSWORD=$PG_ADMIN_PASSWORD "$PGBIN/psql" -X -q -h 127.0.0.1 -p "$PG_PORT" -U souk_admin \
		-d postgres -Atc 'SELECT 1' >/dev/null ||
		{ fail postgres "souk_admin cannot log in over TCP"; return 1; }
	ready postgres "$PG_PORT"
}

redis_ready() { [ "$(redis-cli -h 127.0.0.1 -p "$1" ping)" = PONG ]; }

start_redis() {
	already redis "$REDIS_PORT" || true
	port_free redis "$REDIS_PORT" REDIS
	mkdir -p "$VAR/redis"
	local aof=yes
	[ "$REDIS_PERSIST" = 1 ] || aof=no
	echo "$REDIS_PORT" >"$RUN/redis.port"
	(cd "$VAR/redis" && redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --daemonize yes \
		--pidfile "$RUN/redis.pid" --logfile "$LOG/redis.log" --dir "$VAR/redis" \
		--save '' --appendonly "$aof" </dev/null >>"$LOG/redis.log" 2>&1) ||
		{ fail redis "redis-server failed"; return 1; }
	wait_for redis 30 - redis_ready "$REDIS_PORT" || return 1
	ready redis "$REDIS_PORT"
}

# Environment that both the broker and the CLI tools need to find each other.
rabbit_env() {
	export HOME=$VAR/rabbitmq # holds .erlang.cookie, shared by the server and rabbitmqctl
	export RABBITMQ_NODENAME=$RABBIT_NODE
	export RABBITMQ_CONF_ENV_FILE=$VAR/rabbitmq/rabbitmq-env.conf
	export ERL_EPMD_PORT=$RABBIT_EPMD_PORT ERL_EPMD_ADDRESS=127.0.0.1
	export RABBITMQ_CTL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}"
}

# AMQP 0-9-1 handshake: the broker answers the protocol header with a Connection.Start
# frame (type byte 1) only once it accepts clients.
amqp_ready() {
	[ "$(timeout 3 bash -c 'exec 3<>/dev/tcp/127.0.0.1/'"$1"'; printf "AMQP\0\0\11\1" >&3; head -c 1 <&3' |
		od -An -tx1 | tr -d ' ')" = 01 ]
}

start_rabbitmq() {
	already rabbitmq "$RABBIT_PORT" || true
	port_free rabbitmq "$RABBIT_PORT" RABBIT
	local dir=$VAR/rabbitmq
	mkdir -p "$dir"
	if [ ! -s "$dir/.erlang.cookie" ]; then
		(umask 077 && head -c 15 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$dir/.erlang.cookie")
		chmod 400 "$dir/.erlang.cookie"
	fi
	: >"$dir/rabbitmq-env.conf" # keep /etc/rabbitmq/rabbitmq-env.conf out
	echo '[].' >"$dir/enabled_plugins" # no management plugin
	# default_user* create the account only when the node's database is first created,
	# instead of guest; changing SOUK_RABBIT_PASSWORD later needs `rabbitmqctl change_password`.
	cat >"$dir/rabbitmq.conf" <<-EOF
		listeners.tcp.default = 127.0.0.1:$RABBIT_PORT
		loopback_users.guest = true
		default_user = souk
		default_pass = $RABBIT_PASSWORD
		default_user_tags.administrator = true
		default_permissions.configure = .*
		default_permissions.read = .*
		default_permissions.write = .*
		log.console = true
		log.console.level = info
		log.file = false
	EOF
	# Wrapper so `var/bin/rabbitmqctl status` etc. reach this node with its cookie.
	mkdir -p "$VAR/bin"
	cat >"$VAR/bin/rabbitmqctl" <<-EOF
		#!/bin/sh
		export HOME='$dir' RABBITMQ_NODENAME='$RABBIT_NODE' RABBITMQ_CONF_ENV_FILE='$dir/rabbitmq-env.conf'
		export ERL_EPMD_PORT=$RABBIT_EPMD_PORT ERL_EPMD_ADDRESS=127.0.0.1
		export RABBITMQ_CTL_ERL_ARGS='-kernel inet_dist_use_interface {127,0,0,1}'
		exec $RABBIT_BIN/\$(basename "\$0") "\$@"
	EOF
	chmod 755 "$VAR/bin/rabbitmqctl"
	ln -sf rabbitmqctl "$VAR/bin/rabbitmq-diagnostics"
	echo "$RABBIT_PORT" >"$RUN/rabbitmq.port"
	(
		rabbit_env
		if ! alive epmd; then
			setsid epmd -address 127.0.0.1 -port "$RABBIT_EPMD_PORT" </dev/null >>"$LOG/epmd.log" 2>&1 &
			echo $! >"$RUN/epmd.pid"
		fi
		# The node registers with epmd as it boots; one that finds no epmd listening yet
		# exits with `nodistribution` (seen on a loaded machine): wait for the port, 5 s at most.
		for _ in $(seq 1 50); do
			(exec 3<>"/dev/tcp/127.0.0.1/$RABBIT_EPMD_PORT") 2>/dev/null && break
			sleep 0.1
		done
		export RABBITMQ_CONFIG_FILE=$dir/rabbitmq.conf
		export RABBITMQ_ADVANCED_CONFIG_FILE=$dir/advanced.config
		export RABBITMQ_ENABLED_PLUGINS_FILE=$dir/enabled_plugins
		export RABBITMQ_MNESIA_BASE=$dir/mnesia RABBITMQ_LOG_BASE=$LOG RABBITMQ_LOGS=-
		export RABBITMQ_PID_FILE=$RUN/rabbitmq.pid RABBITMQ_DIST_PORT=$RABBIT_DIST_PORT
		export RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}"
		export ERL_CRASH_DUMP=$LOG/rabbitmq-erl_crash.dump
		cd "$dir"
		exec setsid "$RABBIT_BIN/rabbitmq-server" </dev/null >>"$LOG/rabbitmq.log" 2>&1
	) &
	# The beam writes rabbitmq.pid itself once it runs; until then only the launcher (the
	# rabbitmq-server script, which forwards SIGTERM to the beam) is known.
	echo $! >"$RUN/rabbitmq-launcher.pid"
	# First boot takes ~17 s on 2 cores, a restart ~9 s; allow for a loaded CI box.
	wait_for rabbitmq 120 $! amqp_ready "$RABBIT_PORT" || return 1
	ready rabbitmq "$RABBIT_PORT"
}

write_env() { # shell-sourceable summary for `make run` and humans
	local f=$VAR/env
	{
		echo "# written by scripts/start-local.sh"
		for v in VAR MARIADB_PORT PG_PORT REDIS_PORT RABBIT_PORT RABBIT_DIST_PORT RABBIT_EPMD_PORT \
			RABBIT_NODE MARIADB_ADMIN_PASSWORD PG_ADMIN_PASSWORD RABBIT_PASSWORD; do
			name=SOUK_$v
			[ "$v" = VAR ] && name=SOUK_VAR_DIR
			printf '%s=%q\n' "$name" "${!v}"
		done
		printf 'SOUK_MARIADB_SOCKET=%q\n' "$VAR/mariadb/mysqld.sock"
		echo "SOUK_MARIADB_ADMIN_USER=souk_admin"
		echo "SOUK_PG_ADMIN_USER=souk_admin"
		echo "SOUK_RABBIT_USER=souk"
	} >"$f.tmp"
	mv "$f.tmp" "$f"
}

names=("$@")
[ ${#names[@]} -gt 0 ] || names=(rabbitmq mariadb postgres redis)
for n in "${names[@]}"; do
	case $n in mariadb | postgres | redis | rabbitmq) ;; *)
		echo "usage: $0 [mariadb|postgres|redis|rabbitmq ...]" >&2
		exit 2
		;;
	esac
done
# RabbitMQ is the slowest to boot, so it goes first; all start in parallel.
ordered=()
for n in rabbitmq mariadb postgres redis; do
	[[ " ${names[*]} " == *" $n "* ]] && ordered+=("$n")
done

write_env
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
declare -A jobs
for n in "${ordered[@]}"; do
	("start_$n") >"$out/$n" 2>&1 &
	jobs[$n]=$!
done
# Report each server as soon as it is up (or has failed).
rc=0
for _ in "${ordered[@]}"; do
	wait -n -p finished || rc=1
	for n in "${!jobs[@]}"; do [ "${jobs[$n]}" = "$finished" ] && cat "$out/$n"; done
done
exit $rc
