# bench/lib.sh - helpers shared by the benchmark scripts (sourced, not run).
# wrk_median NAME URL_BASE PATH [MAX_ID] [TOKEN]: run wrk BENCH_RUNS times
# and append "NAME rps p50 p99 errors" (medians) to $BENCH_OUT.
BENCH_RUNS=${BENCH_RUNS:-3}
BENCH_DURATION=${BENCH_DURATION:-10s}
BENCH_CONNS=${BENCH_CONNS:-32}
BENCH_THREADS=${BENCH_THREADS:-2}
BENCH_TIMEOUT=${BENCH_TIMEOUT:-10s}
BENCH_WARMUP=${BENCH_WARMUP:-3s}

median() { sort -n | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }

wrk_median() {
	local name=$1 base=$2 path=$3 max_id=${4:-1} token=${5:-} i out
	local rps=() p50=() p99=() err=0
	# one uncounted run first: caches and buffer pools warm up, connections open
	BENCH_PATH=$path BENCH_MAX_ID=$max_id BENCH_TOKEN=$token wrk -t"$BENCH_THREADS" \
		-c"$BENCH_CONNS" -d"$BENCH_WARMUP" --timeout "$BENCH_TIMEOUT" \
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

free_port() {
	perl -MIO::Socket::INET -e 'print IO::Socket::INET->new(LocalAddr => "127.0.0.1",
		LocalPort => 0, Listen => 1)->sockport, "\n"'
}
