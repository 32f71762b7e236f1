#!/usr/bin/env bash
# Micro-benchmarks of the hot paths (Benchmarks/MicroBenchmarks), with
#   time       ns per operation and MB/s (wall clock: varies with the machine)
#   mallocs    heap allocations per operation (LD_PRELOAD counter, difference of
#              two runs of N and 2N operations, so setup does not count)
#   instr      instructions per operation (valgrind callgrind, same difference:
#              repeatable whatever else the machine does)
# and checks mallocs and instructions against scripts/bench/micro-thresholds.txt;
# exits non-zero when a threshold is exceeded.
#   scripts/bench/micro.sh
# The same workloads (Benchmarks/Workloads) run under ordo-one/benchmark too:
# scripts/bench/package-benchmark.sh (throughput and malloc counts; without
# hardware counters it cannot count instructions, which this script does).
set -euo pipefail
cd "$(dirname "$0")/../.."
scripts/setup.sh --bench
out=scripts/bench/out
mkdir -p "$out"
swift build -c release --product wirecheck-micro >&2
gcc -O2 -shared -fPIC -o "$out/malloc-count.so" scripts/bench/malloc-count.c -ldl
bin=.build/release/wirecheck-micro

"$bin"
echo
mallocs() {  # mallocs NAME N
  LD_PRELOAD=$PWD/$out/malloc-count.so "$bin" "$1" "$2" 2>&1 >/dev/null | sed -n 's/^malloc-count: \([0-9]*\) allocations$/\1/p'
}
instructions() {  # instructions NAME N
  valgrind --tool=callgrind --callgrind-out-file=/dev/null "$bin" "$1" "$2" 2>&1 | sed -n 's/.*Collected : \([0-9]*\).*/\1/p'
}
status=0
printf '%-26s %14s %14s   %s\n' benchmark mallocs/op instructions/op "thresholds (mallocs, instructions)"
while read -r name max_mallocs max_instructions; do
  [[ -z $name || $name == \#* ]] && continue
  a=$(mallocs "$name" 20000); b=$(mallocs "$name" 40000)
  c=$(instructions "$name" 2000); d=$(instructions "$name" 4000)
  per_malloc=$(awk -v a="$a" -v b="$b" 'BEGIN { printf "%.3f", (b - a) / 20000 }')
  per_instr=$(awk -v c="$c" -v d="$d" 'BEGIN { printf "%.0f", (d - c) / 2000 }')
  verdict=ok
  awk -v x="$per_malloc" -v m="$max_mallocs" 'BEGIN { exit !(x > m) }' && verdict=OVER && status=1
  awk -v x="$per_instr" -v m="$max_instructions" 'BEGIN { exit !(x > m) }' && verdict=OVER && status=1
  printf '%-26s %14s %14s   %s, %s  %s\n' "$name" "$per_malloc" "$per_instr" "$max_mallocs" "$max_instructions" "$verdict"
done < scripts/bench/micro-thresholds.txt
exit $status
