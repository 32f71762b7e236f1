#!/usr/bin/env bash
# Resource limits under attack (release build, generated captures kept out of git):
#   SYN flood     N distinct SYNs with the default table (1 000 000 flows); N/4, N/2 and N
#                 through --max-flows 100000 (time should grow linearly, memory stay flat)
#   reassembly    storm of tiny out-of-order segments, overlapping segments with different
#                 bytes, huge sequence jumps and zero-window probes over 1000 connections,
#                 at 1, 2 and 4 million packets (time should grow linearly), and with
#                 --max-buffer 8 and 32 MiB (memory should follow the limit)
#   held, then idle  1000 and 3000 connections that each held 1000 tiny segments out of
#                 order and then went idle, one still held (memory should not grow by
#                 what each once held)
#   scripts/bench/attack.sh [SYNS]      default SYNS: 10000000 (a 700 MB capture)
set -euo pipefail
cd "$(dirname "$0")/../.."
out=scripts/bench/out
mkdir -p "$out"
swift build -c release --product wirecheck >&2
bin=.build/release/wirecheck
syns=${1:-10000000}

cc -O2 -o "$out/pin-file" scripts/bench/pin-file.c
source scripts/bench/pin.sh
trap unpin EXIT
measure() {  # measure LABEL -r CAPTURE ARGS...: wall time and peak RSS of one wirecheck run
  local label=$1; shift
  pin "$2"  # read from memory, not partly from disk (see pin-file.c)
  /usr/bin/time -f "%e %M" -o "$out/time.txt" "$bin" "$@" >/dev/null 2>&1 || true
  unpin
  read -r seconds kib < <(tail -1 "$out/time.txt")
  printf '| %s | %s s | %d MiB |\n' "$label" "$seconds" $((kib / 1024))
}

for n in $((syns / 4)) $((syns / 2)) "$syns"; do
  [[ -f $out/syn-$n.pcap ]] || python3 scripts/bench/gen-capture.py syn-flood "$out/syn-$n.pcap" "$n"
done
for n in 1000000 2000000 4000000; do
  [[ -f $out/storm-$n.pcap ]] || python3 scripts/bench/gen-capture.py storm "$out/storm-$n.pcap" "$n"
done
for n in 1000 3000; do
  [[ -f $out/held-idle-$n.pcap ]] || python3 scripts/bench/gen-capture.py held-idle "$out/held-idle-$n.pcap" "$n"
done
echo "| attack | time | peak RSS |"
echo "| --- | ---: | ---: |"
measure "$syns SYNs, default --max-flows 1000000" -r "$out/syn-$syns.pcap"
for n in $((syns / 4)) $((syns / 2)) "$syns"; do
  measure "$n SYNs, --max-flows 100000" -r "$out/syn-$n.pcap" --max-flows 100000
done
for n in 1000000 2000000 4000000; do
  measure "reassembly storm, $n packets, default limits (256 MiB total)" -r "$out/storm-$n.pcap"
done
for mb in 8 32; do
  measure "reassembly storm, 4000000 packets, --max-buffer $mb" -r "$out/storm-4000000.pcap" --max-buffer "$mb"
done
for n in 1000 3000; do
  measure "$n connections each held 1000 segments, then idle (one held)" -r "$out/held-idle-$n.pcap"
done
