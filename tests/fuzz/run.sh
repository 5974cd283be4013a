#!/usr/bin/env bash
#   Builds the libFuzzer harnesses with clang and runs each one.
#   tests/fuzz/run.sh [SECONDS]      each fuzzer for SECONDS (default 30)
#   ZB_FUZZ_RUNS=N                   run N executions each instead
#   A crash leaves its input in build-fuzz/findings/ and fails the script.
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds=${1:-30}
CC=clang cmake -S . -B build-fuzz -DZB_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build-fuzz -j"$(nproc)" >/dev/null
mkdir -p build-fuzz/findings
for target in proto line config http datagram tls_record; do
    corpus=build-fuzz/corpus/$target
    mkdir -p "$corpus"
    limit=(-max_total_time="$seconds")
    [ -n "${ZB_FUZZ_RUNS:-}" ] && limit=(-runs="$ZB_FUZZ_RUNS")
    echo "fuzz_$target: ${limit[*]}"
    build-fuzz/bin/fuzz_$target "${limit[@]}" -max_len=65536 -print_final_stats=1 \
        -artifact_prefix=build-fuzz/findings/$target- "$corpus" tests/fuzz/corpus/$target \
        2>build-fuzz/fuzz_$target.log || { tail -50 build-fuzz/fuzz_$target.log; exit 1; }
    grep -E "stat::number_of_executed_units|stat::peak_rss_mb" build-fuzz/fuzz_$target.log
done
echo "fuzz: no findings"
