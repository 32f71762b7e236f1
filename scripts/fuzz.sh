#!/usr/bin/env bash
# Builds the libFuzzer harnesses (address sanitizer on) and runs each for a
# given time, seeded from the committed captures and every past finding.
#   scripts/fuzz.sh [SECONDS_EACH] [decoder|pipeline|handshake ...]
# Defaults: 60 s each, all three (what CI runs as a smoke test). Run for an
# hour each outside CI:  scripts/fuzz.sh 3600
# A crash leaves its input in .build-fuzz/findings/HARNESS/ and exits non-zero;
# copy it to Tests/FuzzRegressions/HARNESS/ once fixed, where the test suite
# replays it forever.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
shift || true
harnesses=("$@")
[[ ${#harnesses[@]} -eq 0 ]] && harnesses=(decoder pipeline handshake)

scripts/setup.sh
scratch=.build-fuzz
# SwiftPM renames an executable's entry point and points `main` at it, so
# libFuzzer's own main (-sanitize=fuzzer links it whole) would collide: instrument
# like -sanitize=fuzzer does and link the runtime without its main; the
# harness's main starts the fuzzer through LLVMFuzzerRunDriver.
swift_bin=$(dirname "$(readlink -f "$(command -v swiftc)")")
runtime=$(ls "$swift_bin"/../lib/clang/*/lib/linux/libclang_rt.fuzzer_no_main-x86_64.a | head -1)
for h in "${harnesses[@]}"; do
  swift build -c release --scratch-path "$scratch" --product "fuzz-$h" \
    -Xswiftc -sanitize=address -Xswiftc -sanitize-coverage=edge,trace-cmp,inline-8bit-counters,pc-table \
    -Xswiftc -DFUZZING -Xlinker "$runtime" -Xlinker -lstdc++ >&2
done
bin=$(swift build -c release --scratch-path "$scratch" --show-bin-path)

python3 scripts/fuzz-seeds.py "$scratch/seeds" Captures/*.pcap
status=0
for h in "${harnesses[@]}"; do
  corpus="$scratch/corpus/$h"
  findings="$scratch/findings/$h"
  mkdir -p "$corpus" "$findings"
  seeds=("$scratch/seeds/$h")
  [[ -d Tests/FuzzRegressions/$h ]] && seeds+=("Tests/FuzzRegressions/$h")
  echo "fuzz: $h for ${seconds}s" >&2
  log="$scratch/fuzz-$h.log"
  # -rss_limit_mb: the harnesses run with small flow limits; growing past this is a finding.
  if ! "$bin/fuzz-$h" "$corpus" "${seeds[@]}" -max_total_time="$seconds" -timeout=10 \
      -rss_limit_mb=2048 -artifact_prefix="$findings/" -print_final_stats=1 >"$log" 2>&1; then
    status=1
    echo "fuzz: $h FOUND A PROBLEM; input in $findings/, log $log" >&2
    tail -40 "$log" >&2
  fi
  grep -E "^stat::number_of_executed_units|^stat::peak_rss_mb|^#[0-9]+.*DONE" "$log" | sed "s/^/fuzz: $h: /" >&2 || true
done
exit $status
