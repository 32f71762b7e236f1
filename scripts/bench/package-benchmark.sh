#!/usr/bin/env bash
# The hot paths' micro-benchmarks under ordo-one/benchmark (Benchmarks/
# PackageBenchmark, a package of its own): throughput and malloc counts per
# operation of the same workloads scripts/bench/micro.sh measures with
# callgrind (decoding, reassembly in and out of order, TLS record walk, HTTP
# probe, one in-order packet through the pipeline).
#   scripts/bench/package-benchmark.sh          run, print, and check the
#                                               allocation counts against
#                                               Benchmarks/PackageBenchmark/Thresholds
#   scripts/bench/package-benchmark.sh update   rewrite the thresholds from a run
# Only allocation counts are checked (exact, whatever the machine); the
# thresholds keep nothing else, so that no machine's speed passes for a limit.
set -euo pipefail
cd "$(dirname "$0")/../../Benchmarks/PackageBenchmark"
benchmark=(swift package --disable-sandbox)
if [[ ${1:-} == update ]]; then
  "${benchmark[@]}" --allow-writing-to-package-directory benchmark thresholds update --no-progress
  python3 - <<'PY'
import json, pathlib
for path in sorted(pathlib.Path("Thresholds").glob("*.json")):
    kept = {k: v for k, v in json.loads(path.read_text()).items() if k == "mallocCountTotal"}
    path.write_text(json.dumps(kept, indent=2, sort_keys=True) + "\n")
    print(path, kept)
PY
  exit 0
fi
"${benchmark[@]}" benchmark --no-progress
# The plugin exits 1 for better and for worse alike: read its verdict.
log=$(mktemp)
trap 'rm -f "$log"' EXIT
"${benchmark[@]}" benchmark thresholds check --no-progress 2>&1 | tee "$log" || true
if grep -q "is WORSE than the defined thresholds" "$log"; then
  echo "package-benchmark: allocations above the thresholds" >&2
  exit 1
fi
if ! grep -Eq "is (EQUAL to|BETTER than) the defined thresholds" "$log"; then
  echo "package-benchmark: the threshold check did not run" >&2
  exit 1
fi
echo "package-benchmark: allocation counts within the thresholds"
