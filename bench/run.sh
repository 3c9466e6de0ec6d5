#!/usr/bin/env bash
# `make bench`: every benchmark, then docs/benchmarks.md is regenerated from
# the results. Benchmarks are measurements, never tests: nothing here fails
# on a slow number.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
mkdir -p var/bench
BENCH_OUT=$ROOT/var/bench/monolith.results bench/monolith.sh
BENCH_OUT=$ROOT/var/bench/gateway.results bench/gateway.sh
bench/report.sh
