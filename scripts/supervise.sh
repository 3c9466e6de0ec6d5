#!/usr/bin/env bash
# supervise.sh NAME CMD [ARG...]: run CMD as the souk process NAME the way systemd's
# Restart=always or a Kubernetes pod would: its output appended to $VAR/log/NAME.log, its pid
# in $VAR/run/app-NAME.pid (what soukctl status and stop-local.sh read), this script's own in
# $VAR/run/super-NAME.pid. When CMD exits on its own, one report goes to stdout (make run sends
# it to $VAR/log/supervise.log, which its console shows): the exit status, how long it ran,
# the last lines of its log but access lines; then CMD is started again after a back-off that doubles from
# SOUK_RESTART_DELAY (1 s) up to SOUK_RESTART_MAX_DELAY (30 s), and starts over after a run of
# a minute. Exit status 2 (bad settings: service_run, cfg_load) is not retried, as systemd's
# RestartPreventExitStatus. SIGTERM/SIGINT/SIGHUP: stop CMD with SIGTERM, wait, exit 0.
set -uo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
[ $# -ge 2 ] || { echo "usage: supervise.sh NAME CMD [ARG...]" >&2; exit 2; }
NAME=$1
shift
VAR=${SOUK_VAR_DIR:-$ROOT/var}
LOG=$VAR/log/$NAME.log PIDF=$VAR/run/app-$NAME.pid SELF=$VAR/run/super-$NAME.pid
DELAY0=${SOUK_RESTART_DELAY:-1} MAX=${SOUK_RESTART_MAX_DELAY:-30} STEADY=60
mkdir -p "$VAR/log" "$VAR/run"
echo $$ >"$SELF"

say() { echo "$(date -u +%Y-%m-%dT%H:%M:%S.%3NZ) $*"; }

# The pid files go with this supervisor, but only while they are still its own: a
# supervisor started for NAME while this one was stopping has written its pids there, and
# removing them would hide it from soukctl and stop-local.sh.
forget() {
	[ "$(cat "$SELF" 2>/dev/null)" != $$ ] || rm -f "$SELF" "$PIDF"
}

stopping=0 child='' nap=''
stop() {
	stopping=1
	[ -z "$child" ] || kill -TERM "$child" 2>/dev/null
	[ -z "$nap" ] || kill -TERM "$nap" 2>/dev/null
}
trap stop TERM INT HUP

# how STATUS: "status 3" or "signal 9 (KILL)", from the shell's 128+N convention.
how() {
	if [ "$1" -gt 128 ]; then
		echo "signal $(($1 - 128)) ($(kill -l $(($1 - 128)) 2>/dev/null || echo '?'))"
	else
		echo "status $1"
	fi
}

delay=$DELAY0 runs=0
while :; do
	t0=$SECONDS
	"$@" </dev/null >>"$LOG" 2>&1 &
	child=$!
	# A TERM between the fork and the line above found no child to stop: stop it now.
	[ "$stopping" = 0 ] || kill -TERM "$child" 2>/dev/null
	echo "$child" >"$PIDF"
	runs=$((runs + 1))
	[ $runs -eq 1 ] || say "$NAME restarted (pid $child)"
	# A trapped signal interrupts wait (status > 128) while the child still runs: wait again.
	# A zombie still answers kill -0, so the child's own status is always the one kept.
	while :; do
		wait "$child" 2>/dev/null # no "Killed" job notice: the report below says it
		st=$?
		kill -0 "$child" 2>/dev/null || break
	done
	child=
	if [ $stopping = 1 ]; then
		forget
		exit 0
	fi
	ran=$((SECONDS - t0))
	[ $ran -lt $STEADY ] || delay=$DELAY0
	if [ "$st" = 2 ]; then
		say "$NAME exited with status 2 (bad settings) after ${ran} s; not restarting it." \
			"Last lines of $LOG:"
	else
		say "$NAME exited with $(how "$st") after ${ran} s; restarting in ${delay} s." \
			"Last lines of $LOG:"
	fi
	"$ROOT/scripts/logs.pl" -n 5 --no-access "$NAME" 2>&1 | sed 's/^/    /'
	if [ "$st" = 2 ]; then
		forget
		exit 1
	fi
	sleep "$delay" &
	nap=$!
	[ "$stopping" = 0 ] || kill "$nap" 2>/dev/null # TERM came before nap was set
	wait $nap || true
	nap=
	[ $stopping = 0 ] || { forget; exit 0; }
	delay=$((delay * 2 > MAX ? MAX : delay * 2))
done
