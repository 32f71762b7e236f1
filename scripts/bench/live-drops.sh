#!/usr/bin/env bash
# Kernel drops under the fastest traffic this machine can make on a veth pair:
# tcpreplay --topspeed replays a benchmark capture (real TLS and HTTP flows)
# from one network namespace into another, while wirecheck, then (on the same
# replay) tcpdump -w /dev/null, captures on the receiving veth. Each tool runs
# alone so that they do not compete for the CPU. Prints packets sent, packets
# seen and drops reported by libpcap for each.
#   scripts/bench/live-drops.sh [FLOWS] [-B KiB]   default 60000 flows, wirecheck's default buffer
# Needs root (network namespaces); installs tcpreplay.
set -euo pipefail
cd "$(dirname "$0")/../.."
[[ $(id -u) -eq 0 ]] || { echo "live-drops: needs root" >&2; exit 1; }
scripts/setup.sh --lab
command -v tcpreplay >/dev/null || { apt-get update -qq >/dev/null; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq tcpreplay >/dev/null; }
flows=${1:-60000}
shift || true
out=scripts/bench/out
mkdir -p "$out"
swift build -c release --product wirecheck >&2
capture=$out/mix-$flows-ethernet.pcap
[[ -f $capture ]] || python3 scripts/bench/gen-capture.py mix "$capture" "$flows" Captures/permissive.pcap --bulk

cleanup() { ip netns del wc-bench-a 2>/dev/null || true; ip netns del wc-bench-b 2>/dev/null || true; }
trap cleanup EXIT
cleanup
ip netns add wc-bench-a
ip netns add wc-bench-b
ip -n wc-bench-a link add veth-a type veth peer name veth-b netns wc-bench-b
ip -n wc-bench-a link set veth-a up
ip -n wc-bench-b link set veth-b up
ip -n wc-bench-a link set lo up
ip -n wc-bench-b link set lo up

sent=$(tcpdump -r "$capture" -nn 2>/dev/null | wc -l)
run() {  # run NAME COMMAND...: capture in wc-bench-b while the replay runs
  local name=$1; shift
  ip netns exec wc-bench-b "$@" >"$out/live-$name.out" 2>"$out/live-$name.err" &
  local pid=$!
  sleep 2
  ip netns exec wc-bench-a tcpreplay --topspeed -i veth-a "$capture" >"$out/live-replay-$name.txt" 2>&1
  sleep 2
  kill -INT "$pid"; wait "$pid" || true
  local rate
  rate=$(grep -o "Rated: [0-9.]* Bps, [0-9.]* Mbps, [0-9.]* pps" "$out/live-replay-$name.txt" | head -1)
  echo "$name: replayed $sent packets ($rate)"
}
run wirecheck .build/release/wirecheck -i veth-b -Z root --json "$@"
python3 - "$out/live-wirecheck.out" <<'PY'
import json, sys
s = json.loads(open(sys.argv[1]).read().strip().splitlines()[-1])
print(f"  wirecheck: {s['packets']} packets seen, {s['droppedByKernel']} dropped by the kernel, "
      f"{s['droppedByInterface']} by the interface; {s['flows']} flows: {s['encrypted']} encrypted, {s['plaintext']} plaintext")
PY
run tcpdump tcpdump -i veth-b -nn -w /dev/null
echo "  tcpdump: $(grep -E 'captured|received|dropped' "$out/live-tcpdump.err" | tr '\n' ';')"
