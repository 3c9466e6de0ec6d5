#!/usr/bin/env bash
# Stop what start-local.sh (and `make run`, via $VAR/run/super-*.pid and app-*.pid) started
# from this data dir, by pid file only. Usage: stop-local.sh [mariadb|postgres|redis|rabbitmq|APP ...]
# Silent when nothing is running.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
VAR=${SOUK_VAR_DIR:-$ROOT/var}
RUN=$VAR/run
[ -d "$RUN" ] || exit 0
TIMEOUT=${SOUK_STOP_TIMEOUT:-30}

# Program each pid file must name, so a stale file whose pid was reused is never signalled.
declare -A COMM=([mariadb]=mariadbd [postgres]=postgres [redis]=redis-server [rabbitmq]=beam.smp
	[rabbitmq-launcher]=rabbitmq-server [epmd]=epmd)

# ours NAME PID: PID runs what run/NAME.pid should name. A supervisor (super-APP) is bash
# running supervise.sh APP, so its command line tells.
ours() {
	if [[ $1 == super-* ]]; then
		tr '\0' ' ' <"/proc/$2/cmdline" 2>/dev/null | grep -q "supervise\.sh ${1#super-} "
		return
	fi
	[ -z "${COMM[$1]:-}" ] || [ "$(cat "/proc/$2/comm" 2>/dev/null)" = "${COMM[$1]}" ]
}

# running PID: the process exists and is not a zombie (PID 1 here may reap them late).
running() {
	local s
	read -r s 2>/dev/null <"/proc/$1/stat" || return 1
	s=${s##*) }
	[ "${s%% *}" != Z ]
}

# stop NAME SIGNAL [quiet]: signal the pid in run/NAME.pid, wait for it to exit, SIGKILL after
# $TIMEOUT seconds. The servers are not our children, so poll instead of `wait`.
stop() {
	local name=$1 sig=$2 f=$RUN/$1.pid pid i=0 t0=${EPOCHREALTIME/,/.}
	pid=$(cat "$f" 2>/dev/null) || return 0
	if [ -z "$pid" ] || ! running "$pid" || ! ours "$name" "$pid"; then
		rm -f "$f"
		return 0
	fi
	kill "-$sig" "$pid" 2>/dev/null || true
	while running "$pid"; do
		i=$((i + 1))
		if [ $i -eq $((TIMEOUT * 10)) ]; then
			echo "$name: pid $pid did not exit after ${TIMEOUT}s, sending SIGKILL" >&2
			kill -KILL "$pid" 2>/dev/null || true
		fi
		sleep 0.1
	done
	rm -f "$f"
	[ -z "${3:-}" ] || return 0
	printf '%-8s stopped (pid %s, %s s)\n' "$name" "$pid" \
		"$(awk -v a="$t0" -v b="${EPOCHREALTIME/,/.}" 'BEGIN { printf "%.1f", b - a }')"
}

stop_server() {
	case $1 in
	postgres) stop postgres INT ;; # SIGINT is pg_ctl stop -m fast, without needing the postgres user
	rabbitmq)
		# Erlang/OTP turns SIGTERM into init:stop(), RabbitMQ's graceful shutdown. The private
		# epmd goes with it.
		stop rabbitmq TERM
		stop rabbitmq-launcher TERM quiet
		stop epmd TERM quiet
		;;
	*) stop "$1" TERM ;;
	esac
}

apps=() servers=()
if [ $# -eq 0 ]; then
	for f in "$RUN"/app-*.pid "$RUN"/super-*.pid; do
		[ -e "$f" ] || continue
		f=$(basename "$f" .pid)
		[[ " ${apps[*]} " == *" ${f#*-} "* ]] || apps+=("${f#*-}")
	done
	servers=(rabbitmq mariadb postgres redis)
else
	for n in "$@"; do
		case $n in
		mariadb | postgres | redis | rabbitmq) servers+=("$n") ;;
		*) apps+=("${n#app-}") ;;
		esac
	done
fi

# Apps first (they hold connections to the servers), then all servers in parallel. An app's
# supervisor goes first: it stops the app with SIGTERM and waits for it, and would restart an
# app stopped behind its back; the app's own pid file is a fallback for one left alone.
stop_app() {
	local pid t0=${EPOCHREALTIME/,/.}
	pid=$(cat "$RUN/app-$1.pid" 2>/dev/null || true)
	stop "super-$1" TERM quiet
	if [ -n "$pid" ] && [ ! -e "$RUN/app-$1.pid" ]; then
		printf '%-8s stopped (pid %s, %s s)\n' "app-$1" "$pid" \
			"$(awk -v a="$t0" -v b="${EPOCHREALTIME/,/.}" 'BEGIN { printf "%.1f", b - a }')"
	fi
	stop "app-$1" TERM
}
for a in "${apps[@]}"; do stop_app "$a" & done
wait
for s in "${servers[@]}"; do stop_server "$s" & done
wait
