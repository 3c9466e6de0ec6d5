#!/usr/bin/env bash
# `make bench`: every benchmark, then docs/benchmarks.md is regenerated from
# the results. Benchmarks are measurements, never tests: nothing here fails
# on a slow number. BENCH_ONLY="services gateway" runs only those (monolith,
# services, gateway, saga, history, reporting); the report keeps the last results of the others.
# monolith.sh seeds var/bench once; services.sh reuses that seed.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
mkdir -p var/bench
only=" ${BENCH_ONLY:-monolith services gateway saga history reporting} "
only=${only//,/ }
for b in monolith services gateway saga history reporting; do
	[[ $only == *" $b "* ]] || continue
	BENCH_OUT=$ROOT/var/bench/$b.results "bench/$b.sh"
done
bench/report.sh
