#!/usr/bin/env bash
# fuzz/run.sh - run libFuzzer targets for a bounded time each (fuzz/README.md).
# Usage: fuzz/run.sh [SECONDS [TARGET...]]   (default: 60 s, every binary in $FUZZ_BUILD/bin)
#
#   FUZZ_BUILD      where `make fuzz-build` put the binaries (default build-fuzz)
#   FUZZ_CORPUS     working corpora, one directory per target, grown by each run
#                   (default var/fuzz/corpus). The committed seeds in fuzz/corpus/<target>/
#                   are read, never written.
#   FUZZ_LOGS       one log per target (default var/fuzz/logs)
#   FUZZ_CRASHES    where a crash, leak, timeout or OOM input is saved (default fuzz/crashes,
#                   which git ignores: a reproducer is never part of the committed corpus)
#
# Exit status 0 when every target ran its time with no finding; 1 otherwise, with the end
# of the failing logs and the path of each reproducer. Reproduce one with
#   build-fuzz/bin/<target> fuzz/crashes/<target>-crash-<sha1>
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
SECONDS_EACH=${1:-60}
if [ $# -gt 0 ]; then shift; fi
BIN=${FUZZ_BUILD:-build-fuzz}/bin
CORPUS=${FUZZ_CORPUS:-var/fuzz/corpus}
LOGS=${FUZZ_LOGS:-var/fuzz/logs}
CRASHES=${FUZZ_CRASHES:-fuzz/crashes}

targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
	for f in fuzz/*.c; do
		t=$(basename "$f" .c)
		targets+=("$t")
	done
fi

# Inputs larger than the defaults reach the size limits of bounds.h (16 KiB of header lines).
max_len() {
	case "$1" in
	http_request) echo 40000 ;;
	routes_json) echo 16384 ;;
	*) echo 4096 ;;
	esac
}

mkdir -p "$LOGS" "$CRASHES"
# The sanitizers' own settings, whatever the caller's environment says (make check exports
# its own ASAN_OPTIONS): a report is fatal, leaks are checked.
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:allocator_may_return_null=0:detect_stack_use_after_return=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

failed=()
for t in "${targets[@]}"; do
	bin=$BIN/$t
	if [ ! -x "$bin" ]; then
		echo "fuzz: $bin is missing (make fuzz-build)" >&2
		failed+=("$t")
		continue
	fi
	mkdir -p "$CORPUS/$t"
	log=$LOGS/$t.log
	dict=()
	[ -f "fuzz/$t.dict" ] && dict=(-dict="fuzz/$t.dict")
	start=$(date +%s)
	rc=0
	# The first corpus directory is written to; the seeds only read.
	"$bin" -max_total_time="$SECONDS_EACH" -rss_limit_mb=2048 -detect_leaks=1 -timeout=10 \
		-max_len="$(max_len "$t")" -use_value_profile=1 -print_final_stats=1 \
		-artifact_prefix="$CRASHES/$t-" "${dict[@]}" "$CORPUS/$t" "fuzz/corpus/$t" \
		>"$log" 2>&1 || rc=$?
	took=$(($(date +%s) - start))
	stats=$(grep -E '^#[0-9]+[[:space:]]+DONE' "$log" | tail -1 | sed -E 's/^#([0-9]+)[[:space:]]+DONE[[:space:]]+/\1 runs, /' || true)
	if [ $rc -ne 0 ] || grep -qE 'ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error:|invariant broken' "$log"; then
		echo "fuzz: $t FAILED after ${took}s (exit $rc), log $log" >&2
		grep -E 'invariant broken|ERROR:|runtime error:|SUMMARY|Test unit written to' "$log" | head -20 >&2 || true
		tail -40 "$log" >&2
		failed+=("$t")
	else
		echo "fuzz: $t ok, ${took}s: ${stats:-no stats}; corpus $(find "$CORPUS/$t" -type f | wc -l) files"
	fi
done

if [ ${#failed[@]} -gt 0 ]; then
	echo "fuzz: failed: ${failed[*]}" >&2
	exit 1
fi
