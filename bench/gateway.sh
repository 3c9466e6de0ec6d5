#!/usr/bin/env bash
# bench/gateway.sh - souk-gateway against Debian's nginx as an equivalent keep-alive reverse
# proxy (issue: souk-gateway), in the same run, in front of the SAME upstream: a third
# nginx serving a ~200-byte static JSON. wrk (bench/lib.sh wrk_median, bench/report.lua)
# measures the upstream directly, nginx and the gateway in BENCH_RUNS interleaved rounds.
#
#   bench/gateway.sh            run; write var/bench/gateway.results and gateway.md
#   bench/gateway.sh report     print the markdown section from the last results
#   BENCH_RUNS=0 bench/gateway.sh   only the syscall counts (below), no throughput rounds
#
# Results ("name rps p50_ms p99_ms errors", medians) plus a line
# "rss_kb souk_gateway=N nginx_proxy=N" (peak RSS sampled during the proxies' runs; nginx
# counts master + workers) and "loadavg START END" (1-minute load average before anything
# started and after the last wrk run; the markdown warns when the machine was already busy). Knobs: BENCH_RUNS (3), BENCH_DURATION (10s), BENCH_CONNS (64),
# BENCH_THREADS (2), BENCH_LOOPS (2: SOUK_LOOPS = nginx worker_processes),
# BENCH_UPSTREAM_WORKERS (1), BENCH_ACCESS_LOG (off | on, for both proxies; BENCH_KEEP_LOGS=1
# keeps the logs afterwards), BENCH_VAR (var/bench), BUILD (build),
# BENCH_SYSCALL_REQUESTS (20000; 0 = off): after the rounds, `perf stat` counts every syscall
# each proxy's processes make while wrk sends that many requests through it (perf's
# syscalls:sys_enter_* tracepoints, so the proxies run at full speed, unlike under strace);
# lines "syscalls NAME REQUESTS TOTAL name=count..." in the results, a table in the markdown.
# Everything it starts is stopped on exit; it needs only Debian's nginx, wrk, curl, perl.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
: "${BENCH_CONNS:=64}"
. bench/lib.sh
BUILD=${BUILD:-build}
NGINX=${NGINX:-/usr/sbin/nginx}
LOOPS=${BENCH_LOOPS:-2}
UP_WORKERS=${BENCH_UPSTREAM_WORKERS:-1}
ACCESS_LOG=${BENCH_ACCESS_LOG:-off}
BENCH_VAR=${BENCH_VAR:-$ROOT/var/bench}
DIR=$BENCH_VAR/gateway
BENCH_OUT=${BENCH_OUT:-$BENCH_VAR/gateway.results}
MD=${BENCH_MD:-$BENCH_VAR/gateway.md}

# ---- the markdown section ---------------------------------------------------------------

report() {
	local res=${1:-$BENCH_OUT}
	[ -s "$res" ] || { echo "bench/gateway.sh: no results in $res (run it first)" >&2; return 1; }
	awk -v runs="${BENCH_RUNS}" -v dur="${BENCH_DURATION}" -v conns="${BENCH_CONNS}" \
		-v threads="${BENCH_THREADS}" -v loops="$LOOPS" -v upw="$UP_WORKERS" -v alog="$ACCESS_LOG" \
		-v nginxv="$("$NGINX" -v 2>&1 | sed 's/.*nginx\///')" '
		$1 == "rss_kb" { for (i = 2; i <= NF; i++) { split($i, kv, "="); rss[kv[1]] = kv[2] } next }
		$1 == "loadavg" { load_start = $2; load_end = $3; next }
		$1 == "syscalls" {
			sreq[$2] = $3; stot[$2] = $4; sorder[++ns] = $2
			for (i = 5; i <= NF; i++) { split($i, kv, "="); sc[$2, kv[1]] = kv[2]; if (!(kv[1] in seen)) { seen[kv[1]] = 1; scn[++nsc] = kv[1] } }
			next
		}
		NF >= 5 { rps[$1] = $2; p50[$1] = $3; p99[$1] = $4; err[$1] = $5; order[++n] = $1 }
		function label(k) {
			return k == "direct" ? "upstream directly (no proxy)" : k == "nginx_proxy" ? "nginx " nginxv " reverse proxy" : k == "souk_gateway" ? "souk-gateway" : k
		}
		END {
			print "## Gateway: souk-gateway against nginx as a reverse proxy"
			print ""
			printf "Same upstream for both (Debian nginx %s, %d worker, serving a %s static JSON with keep-alive),\n", nginxv, upw, "~200-byte"
			printf "same wrk settings in the same run: `wrk -t%s -c%s -d%s`, median of %s runs; both proxies with\n", threads, conns, dur, runs
			printf "%s workers (`SOUK_LOOPS=%s`, nginx `worker_processes %s`), HTTP/1.1 keep-alive pools of 64 to the\n", loops, loops, loops
			printf "upstream, access logs %s for both, and the same per-request headers added (X-Forwarded-For/-Proto, Via,\n", alog
			print "X-Request-Id). Client, proxies and upstream share the machine, so compare ratios from one run."
			print "Command: `bench/gateway.sh` (part of `make bench`)."
			print ""
			print "| target | req/s (median) | p50 ms | p99 ms | errors |"
			print "|---|---:|---:|---:|---:|"
			for (i = 1; i <= n; i++) { k = order[i]; printf "| %s | %.0f | %.2f | %.2f | %s |\n", label(k), rps[k], p50[k], p99[k], err[k] }
			print ""
			g = "souk_gateway"; x = "nginx_proxy"; d = "direct"
			if ((g in rps) && (x in rps) && rps[x] > 0) {
				ratio = rps[g] / rps[x]
				printf "- Throughput ratio souk-gateway / nginx: **%.2f×** (target ≥ 1.2×: %s).\n", ratio, ratio >= 1.2 ? "met" : "not met"
				printf "- p99: souk-gateway %.2f ms, nginx %.2f ms (target: no worse than nginx: %s).\n", p99[g], p99[x], p99[g] <= p99[x] ? "met" : "not met"
			}
			if ((d in rps) && (g in rps)) {
				printf "- Added latency against the upstream directly: souk-gateway p50 %+.2f ms, p99 %+.2f ms", p50[g] - p50[d], p99[g] - p99[d]
				if (x in rps) printf "; nginx p50 %+.2f ms, p99 %+.2f ms", p50[x] - p50[d], p99[x] - p99[d]
				print "."
			}
			if (load_start != "" && load_start > 0.5)
				printf "- **Caution:** the machine was already busy when the benchmark started (1-minute load average %s). Rerun on a quiet machine before quoting these numbers.\n", load_start
			if ("souk_gateway" in rss) {
				printf "- Peak RSS under this load: souk-gateway %.1f MiB", rss["souk_gateway"] / 1024
				if ("nginx_proxy" in rss) printf "; nginx %.1f MiB (master + workers)", rss["nginx_proxy"] / 1024
				print "."
			}
			if (ns > 0) {
				print ""
				printf "Syscalls per proxied request (`perf stat -e raw_syscalls:sys_enter,syscalls:sys_enter_*` on every\n"
				printf "process and thread of the proxy while `wrk -t%s -c%s` sends a fixed number of requests through it;\n", threads, conns
				print "calls below 0.01 per request on both sides left out):"
				print ""
				hdr = "| syscall |"; sep = "|---|"
				for (j = 1; j <= ns; j++) { hdr = hdr " " label(sorder[j]) " |"; sep = sep "---:|" }
				print hdr; print sep
				line = "| **all** |"
				for (j = 1; j <= ns; j++) line = line sprintf(" **%.2f** |", stot[sorder[j]] / sreq[sorder[j]])
				print line
				for (i = 1; i <= nsc; i++) {
					keep = 0; line = "| " scn[i] " |"
					for (j = 1; j <= ns; j++) {
						v = sc[sorder[j], scn[i]] / sreq[sorder[j]]
						if (v >= 0.01) keep = 1
						line = line sprintf(" %.2f |", v)
					}
					if (keep) print line
				}
				line = "| requests counted |"
				for (j = 1; j <= ns; j++) line = line " " sreq[sorder[j]] " |"
				print line
			}
		}' "$res"
}

if [ "${1:-}" = report ]; then
	report "${2:-}"
	exit
fi

# ---- setup -------------------------------------------------------------------------------

for bin in "$NGINX" wrk curl perl; do
	command -v "$bin" >/dev/null || { echo "bench/gateway.sh: $bin is missing" >&2; exit 1; }
done
GW=$BUILD/bin/souk-gateway
[ -x "$GW" ] || { echo "bench/gateway.sh: $GW is missing (make all)" >&2; exit 1; }
case $ACCESS_LOG in on | off) ;; *) echo "BENCH_ACCESS_LOG must be on or off" >&2; exit 1 ;; esac

load_start=$(cut -d' ' -f1 /proc/loadavg) # before anything of ours runs
mkdir -p "$DIR/www" "$DIR/tmp"
rm -f "$DIR"/*.log # logs of the last run (the access logs grow by ~100 MB per run)
: >"$BENCH_OUT"
# ~200 bytes, like a small product read
printf '%s' '{"id":4711,"sku":"SOUK-4711","name":"Linen shirt, blue","price":{"amount":3990,"currency":"EUR"},"stock":17,"rating":4.4,"reviews":12,"category":"shirts","updated_at":"2025-11-25T10:00:00Z","tags":["linen"]}' \
	>"$DIR/www/bench.json"

pids=()
cleanup() {
	local p
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM HUP

# Four distinct free ports, all held until every one is chosen.
read -r P_UP P_NGINX P_GW P_ADMIN < <(perl -MIO::Socket::INET -e '
	my @s = map { IO::Socket::INET->new(LocalAddr => "127.0.0.1", LocalPort => 0,
		Listen => 1) or die "free port: $!" } 1 .. 4;
	print join(" ", map { $_->sockport } @s), "\n";')

# Root runs nginx workers as "nobody" unless told; keep them able to read var/.
user_line=
[ "$(id -u)" != 0 ] || user_line="user root;"
render() { # template out key=value...
	local tpl=$1 out=$2 kv
	shift 2
	local sedargs=(-e "s|@USER@|$user_line|" -e "s|@DIR@|$DIR|g")
	for kv in "$@"; do sedargs+=(-e "s|@${kv%%=*}@|${kv#*=}|g"); done
	sed "${sedargs[@]}" "$tpl" >"$out"
	! grep -v '^#' "$out" | grep -n '@[A-Z_]*@' || { echo "bench/gateway.sh: unfilled placeholder in $out" >&2; exit 1; }
}
render bench/nginx-upstream.conf "$DIR/upstream.conf" PORT="$P_UP" WORKERS="$UP_WORKERS"
if [ "$ACCESS_LOG" = on ]; then alog="$DIR/proxy.access.log"; else alog=off; fi
render bench/nginx-proxy.conf "$DIR/proxy.conf" PORT="$P_NGINX" WORKERS="$LOOPS" \
	UPSTREAM_PORT="$P_UP" ACCESS_LOG="$alog"
cat >"$DIR/routes.json" <<EOF
{
  "version": 1,
  "upstreams": {
    "upstream": {"servers": ["127.0.0.1:$P_UP"], "balance": "round_robin", "max_idle": 64}
  },
  "routes": [
    {"name": "bench", "path": "/", "legacy": "upstream", "mode": "legacy", "auth": "public"}
  ]
}
EOF

wait_ready() { # name url pid
	local i
	for i in $(seq 1 100); do
		curl -fsS -o /dev/null "$2" 2>/dev/null && return 0
		kill -0 "$3" 2>/dev/null || break
		sleep 0.1
	done
	echo "bench/gateway.sh: $1 did not come up ($2); its log:" >&2
	cat "$DIR/$1.log" "$DIR/$1.error.log" 2>/dev/null | tail -20 >&2
	exit 1
}

"$NGINX" -p "$DIR" -e "$DIR/upstream.error.log" -c "$DIR/upstream.conf" >"$DIR/upstream.log" 2>&1 &
pids+=($!)
wait_ready upstream "http://127.0.0.1:$P_UP/bench.json" "${pids[-1]}"
"$NGINX" -p "$DIR" -e "$DIR/proxy.error.log" -c "$DIR/proxy.conf" >"$DIR/proxy.log" 2>&1 &
pids+=($!)
nginx_pid=${pids[-1]}
wait_ready proxy "http://127.0.0.1:$P_NGINX/bench.json" "$nginx_pid"
# The gateway's access lines are info-level JSON on stderr: with logs on, let them through.
if [ "$ACCESS_LOG" = on ]; then gw_alog=1 gw_level=info; else gw_alog=0 gw_level=warn; fi
SOUK_GATEWAY_LISTEN=127.0.0.1:$P_GW SOUK_GATEWAY_ADMIN_LISTEN=127.0.0.1:$P_ADMIN \
	SOUK_GATEWAY_ADMIN_TOKEN=bench-admin SOUK_GATEWAY_ROUTES=$DIR/routes.json \
	SOUK_JWT_SECRET=bench-secret SOUK_LOOPS=$LOOPS SOUK_GATEWAY_ACCESS_LOG=$gw_alog \
	SOUK_LOG_LEVEL=$gw_level "$GW" 2>"$DIR/gateway.log" &
pids+=($!)
gw_pid=${pids[-1]}
wait_ready gateway "http://127.0.0.1:$P_GW/bench.json" "$gw_pid"

# All three must serve the same bytes, or the comparison means nothing.
want=$(cat "$DIR/www/bench.json")
for u in "$P_UP" "$P_NGINX" "$P_GW"; do
	got=$(curl -fsS "http://127.0.0.1:$u/bench.json")
	[ "$got" = "$want" ] || { echo "bench/gateway.sh: port $u answered '$got'" >&2; exit 1; }
done

# Peak RSS (KiB) of a process and its children while $1 runs the rest of the arguments.
peak_rss() {
	local pid=$1 out=$2
	shift 2
	(
		peak=0
		while :; do
			kb=$(ps -o rss= -p "$pid" --ppid "$pid" 2>/dev/null | awk '{ s += $1 } END { print s + 0 }')
			[ "$kb" -le "$peak" ] || peak=$kb
			echo "$peak" >"$out"
			sleep 0.5
		done
	) &
	local sampler=$!
	"$@"
	kill "$sampler" 2>/dev/null || true
	wait "$sampler" 2>/dev/null || true
}

# A short warm-up of each (pools filled, caches hot), not recorded.
for u in "$P_UP" "$P_NGINX" "$P_GW"; do
	wrk -t"$BENCH_THREADS" -c"$BENCH_CONNS" -d2s "http://127.0.0.1:$u/bench.json" >/dev/null
done

# Interleaved rounds (the order rotates), so drift on this shared machine hits every
# target alike; each round is one wrk_median run, medians are taken over the rounds.
BENCH_PATH=/bench.json
names=(direct nginx_proxy souk_gateway)
ports=("$P_UP" "$P_NGINX" "$P_GW")
rss_pids=("" "$nginx_pid" "$gw_pid")
for n in "${names[@]}"; do : >"$DIR/rounds.$n"; echo 0 >"$DIR/rss.$n"; done
for r in $(seq 1 "$BENCH_RUNS"); do # BENCH_RUNS=0: syscall counts only
	for k in 0 1 2; do
		i=$(((k + r - 1) % 3))
		n=${names[$i]}
		if [ -n "${rss_pids[$i]}" ]; then
			BENCH_RUNS=1 BENCH_OUT=$DIR/rounds.$n peak_rss "${rss_pids[$i]}" "$DIR/rss.$n.now" \
				wrk_median "$n" "http://127.0.0.1:${ports[$i]}" "$BENCH_PATH"
			sort -n "$DIR/rss.$n" "$DIR/rss.$n.now" | tail -1 >"$DIR/rss.$n.max"
			mv "$DIR/rss.$n.max" "$DIR/rss.$n"
		else
			BENCH_RUNS=1 BENCH_OUT=$DIR/rounds.$n wrk_median "$n" "http://127.0.0.1:${ports[$i]}" "$BENCH_PATH"
		fi
	done
done
for n in "${names[@]}"; do
	[ "$BENCH_RUNS" -gt 0 ] || break
	printf '%s %s %s %s %s\n' "$n" "$(awk '{ print $2 }' "$DIR/rounds.$n" | median)" \
		"$(awk '{ print $3 }' "$DIR/rounds.$n" | median)" "$(awk '{ print $4 }' "$DIR/rounds.$n" | median)" \
		"$(awk '{ s += $5 } END { print s + 0 }' "$DIR/rounds.$n")" >>"$BENCH_OUT"
done
echo "rss_kb souk_gateway=$(cat "$DIR/rss.souk_gateway") nginx_proxy=$(cat "$DIR/rss.nginx_proxy")" >>"$BENCH_OUT"

# ---- syscalls per proxied request ---------------------------------------------------------
SYSCALL_REQUESTS=${BENCH_SYSCALL_REQUESTS:-20000}
SYSCALLS=(read readv recvfrom recvmsg write writev sendto sendmsg sendfile epoll_wait epoll_pwait
	epoll_ctl accept4 accept close shutdown futex ioctl setsockopt getsockopt connect socket
	getsockname getpeername getrandom getpid clock_gettime gettimeofday timerfd_settime madvise mmap munmap
	brk)
count_syscalls() { # NAME URL PID,PID...: one "syscalls" line into $BENCH_OUT
	local name=$1 url=$2 pids=$3 ev=raw_syscalls:sys_enter s out reqs perf_pid wrk_pid
	for s in "${SYSCALLS[@]}"; do
		[ ! -e "/sys/kernel/tracing/events/syscalls/sys_enter_$s" ] || ev="$ev,syscalls:sys_enter_$s"
	done
	rm -rf "$DIR/done" && mkdir -p "$DIR/done"
	perf stat -x, -e "$ev" -p "$pids" -o "$DIR/perf.$name" &
	perf_pid=$!
	sleep 0.3
	BENCH_PATH=/bench.json BENCH_REQUESTS=$SYSCALL_REQUESTS BENCH_DONE_DIR=$DIR/done \
		wrk -t"$BENCH_THREADS" -c"$BENCH_CONNS" -d120s --timeout 10s -s bench/report.lua "$url" \
		>"$DIR/wrk.$name" &
	wrk_pid=$!
	# Every thread has its share: stop counting now, not when -d runs out (idle timers
	# would be counted too).
	while [ "$(find "$DIR/done" -type f | wc -l)" -lt "$BENCH_THREADS" ] && kill -0 "$wrk_pid" 2>/dev/null; do
		sleep 0.05
	done
	kill -INT "$perf_pid"
	wait "$perf_pid" || true
	kill -INT "$wrk_pid" 2>/dev/null || true
	wait "$wrk_pid" || true
	out=$(grep '^RESULT' "$DIR/wrk.$name")
	reqs=$(sed 's/.*requests=\([0-9]*\).*/\1/' <<<"$out")
	awk -F, -v name="$name" -v reqs="$reqs" '
		/^#/ || NF < 3 { next }
		{ ev = $3; sub(/^(raw_)?syscalls:sys_enter_?/, "", ev); if (ev == "") total = $1; else list = list " " ev "=" $1 }
		ev != "" { sum += $1 }
		END { print "syscalls " name " " reqs " " total list " other=" total - sum }' "$DIR/perf.$name" >>"$BENCH_OUT"
}
if [ "$SYSCALL_REQUESTS" -gt 0 ]; then
	command -v perf >/dev/null || { echo "bench/gateway.sh: perf is missing (linux-perf)" >&2; exit 1; }
	count_syscalls nginx_proxy "http://127.0.0.1:$P_NGINX" \
		"$(pgrep -d, -P "$nginx_pid" | sed "s/^/$nginx_pid,/")"
	count_syscalls souk_gateway "http://127.0.0.1:$P_GW" "$gw_pid"
fi
echo "loadavg $load_start $(cut -d' ' -f1 /proc/loadavg)" >>"$BENCH_OUT"

kill -0 "$gw_pid" 2>/dev/null || { echo "bench/gateway.sh: souk-gateway died during the run" >&2; exit 1; }
cat "$BENCH_OUT"
report >"$MD"
# The access logs of a run with BENCH_ACCESS_LOG=on are hundreds of MB; keep them on request.
[ "$ACCESS_LOG" = off ] || [ -n "${BENCH_KEEP_LOGS:-}" ] || rm -f "$DIR/proxy.access.log" "$DIR/gateway.log"
echo "wrote $BENCH_OUT and $MD"
