#!/usr/bin/env bash
# Heap allocations per in-order packet, and peak memory for many open flows,
# measured on the release binary with generated captures (kept out of git in
# scripts/bench/out/).
#
#   scripts/bench/allocations.sh            allocations: 10k vs 20k in-order packets of one TLS flow
#   scripts/bench/allocations.sh memory N   peak RSS with N concurrent flows (default 1000000)
set -euo pipefail
cd "$(dirname "$0")/../.."
out=scripts/bench/out
mkdir -p "$out"
swift build -c release --product wirecheck >&2
gcc -O2 -shared -fPIC -o "$out/malloc-count.so" scripts/bench/malloc-count.c -ldl

if [[ ${1:-} == memory ]]; then
  flows=${2:-1000000}
  capture=$out/flows-$flows.pcap
  [[ -f $capture ]] || python3 scripts/bench/gen-capture.py many-flows "$capture" "$flows"
  /usr/bin/time -f "%M KiB peak RSS, %e s" .build/release/wirecheck -r "$capture" >/dev/null 2>"$out/time.txt" || true
  echo "$flows concurrent flows: $(tail -1 "$out/time.txt")"
  exit 0
fi

count() {
  LD_PRELOAD=$PWD/$out/malloc-count.so .build/release/wirecheck -r "$1" 2>&1 >/dev/null |
    sed -n 's/^malloc-count: \([0-9]*\) allocations$/\1/p'
}
for n in 10000 20000; do
  [[ -f $out/long-$n.pcap ]] || python3 scripts/bench/gen-capture.py long-flow "$out/long-$n.pcap" "$n"
done
a=$(count "$out/long-10000.pcap")
b=$(count "$out/long-20000.pcap")
echo "allocations: $a with 10000 in-order packets, $b with 20000"
awk -v a="$a" -v b="$b" 'BEGIN { printf "allocations per extra in-order packet: %.4f\n", (b - a) / 10000 }'
