#!/usr/bin/env bash
# Side by side on one warm capture: the bare libpcap loop (the floor; and the
# same loop reading through a 1 MiB stdio buffer, as wirecheck did until stop
# 50), the same loop over the file mapped in memory (as wirecheck reads a
# regular file since, see mapped-floor.c), cat (the ceiling), wirecheck,
# tcpdump, tshark and ndpiReader. Medians of several runs
# (hyperfine), CPU time, MB/s, packets/s, peak RSS, and each tool's time
# relative to the floor; then that ratio for wirecheck once more, measured with
# the two run in alternation. Checks wirecheck's verdict counts against the
# generator's ground truth first, so speed is never bought with wrong answers.
#
#   scripts/bench/run.sh [FLOWS] [RUNS] [LINK] [FORMAT]
#       FLOWS   default 60000 (about 300 MB); 200000 makes the 1 GB capture
#       RUNS    default 3; SLOW_RUNS (default RUNS) for tshark and ndpiReader,
#               which take minutes on the large capture; TURNS (default 15)
#               rounds of the floor and wirecheck taking turns
#       LINK    ethernet (default) or cooked2 (Linux cooked v2, every packet
#               twice, as `-i any` on a node)
#       FORMAT  pcap (default) or pcapng
# Every tenth connection carries 16 KiB more, so flow sizes vary.
# Needs: libpcap-dev, tcpdump, tshark, libndpi-bin, hyperfine, python3 (apt-get install …).
set -euo pipefail
cd "$(dirname "$0")/../.."
scripts/setup.sh --compare
flows=${1:-60000}
runs=${2:-3}
link=${3:-ethernet}
format=${4:-pcap}
slow_runs=${SLOW_RUNS:-$runs}
out=scripts/bench/out
mkdir -p "$out"
# The binary measured is built as scripts/package.sh builds the one copied to
# nodes, with the Swift runtime linked in: it starts in 6 ms instead of 8.6
# (no loader relocations of libswiftCore and Foundation) and calls the
# runtime directly rather than through the PLT; 2 % faster than the plain
# release build taking turns on this capture (stop 45). Its own build
# folder, so that the plain one is not rebuilt.
swift build -c release --static-swift-stdlib --build-path .build-static --product wirecheck >&2
wirecheck=.build-static/release/wirecheck
cc -O2 -o "$out/pcap-floor" scripts/bench/pcap-floor.c -lpcap
cc -O2 -o "$out/mapped-floor" scripts/bench/mapped-floor.c
# How far apart the two processors are, before and after the runs (see core-distance.c).
cc -O2 -pthread -o "$out/core-distance" scripts/bench/core-distance.c
distance_before=$("$out/core-distance" 2>&1 || true)
capture=$out/mix-$flows-$link.$format
[[ -f $capture ]] || python3 scripts/bench/gen-capture.py mix "$capture" "$flows" Captures/permissive.pcap \
  --link "$link" --format "$format" --bulk

# Ground truth: the generator replays the lab's TLS 1.3, TLS 1.2 and HTTP flows in turn.
# The summary line lists the failing servers (up to 10 000, about 1 MB here):
# kept in a file, too long for a command-line argument.
summary=$out/summary.json
("$wirecheck" -r "$capture" --json || true) | tail -1 >"$summary"
expected_plain=$(( flows / 3 ))
expected_tls=$(( flows - expected_plain ))
python3 - "$summary" "$flows" "$expected_tls" "$expected_plain" <<'PY'
import json, sys
s = json.load(open(sys.argv[1])); flows, tls, plain = map(int, sys.argv[2:])
got = (s["flows"], s["encrypted"], s["plaintext"])
assert got == (flows, tls, plain), f"verdict counts {got} != ground truth {(flows, tls, plain)}"
print(f"verdicts match ground truth: {tls} encrypted, {plain} plaintext of {flows} flows", file=sys.stderr)
PY

packets=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['packets'])" "$summary")
megabytes=$(python3 -c "import os,sys; print(os.path.getsize(sys.argv[1]) / 1e6)" "$capture")
# Every run reads the capture from memory: its pages are locked there while
# the tools run (the development machine's host takes page cache back within
# seconds; a capture read once was soon partly on disk again). See pin-file.c.
cc -O2 -o "$out/pin-file" scripts/bench/pin-file.c
source scripts/bench/pin.sh
pin "$capture"
trap unpin EXIT

declare -A commands=(
  [floor]="$out/pcap-floor $capture"
  [floor-1MiB]="$out/pcap-floor $capture 1048576"
  [mapped-floor]="$out/mapped-floor $capture"
  [cat]="cat $capture"
  [wirecheck]="$wirecheck -r $capture"
  [tcpdump]="tcpdump -nn -r $capture -w /dev/null"
  [tshark]="tshark -n -r $capture -T fields -e tcp.stream -e tls.record.content_type -e http.request.method"
  [ndpiReader]="ndpiReader -q -i $capture"
)
order=(floor floor-1MiB mapped-floor cat wirecheck tcpdump tshark ndpiReader)
for tool in "${order[@]}"; do
  n=$runs
  [[ $tool == tshark || $tool == ndpiReader ]] && n=$slow_runs
  hyperfine --style none --ignore-failure --warmup 0 --runs "$n" --export-json "$out/$tool.json" \
    "${commands[$tool]} > /dev/null 2>&1" >/dev/null
  # The log is read for ndpiReader's complaint about link types; cat's output is the capture itself.
  log=$out/$tool.log
  [[ $tool == cat ]] && log=/dev/null
  /usr/bin/time -f "%M" -o "$out/$tool.rss" bash -c "${commands[$tool]} > $log 2>&1" || true
done

python3 - "$out" "$packets" "$megabytes" "$capture" "${order[@]}" <<'PY'
import json, os, sys
out, packets, mb, capture = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
tools = sys.argv[5:]
results = {t: json.load(open(f"{out}/{t}.json"))["results"][0] for t in tools}
median = {t: r["median"] for t, r in results.items()}
# CPU time (user + system, mean over the runs): wirecheck reads ahead and
# reports on other threads, so its wall time can be below its CPU time.
cpu = {t: r["user"] + r["system"] for t, r in results.items()}
print(f"capture: {capture}, {mb:.0f} MB, {packets} packets")
print("| tool | median s | CPU s | MB/s | packets/s | peak RSS MiB | time / floor | time / 1 MiB floor | time / mapped floor |")
print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
for t in tools:
    rss = int(open(f"{out}/{t}.rss").read().split()[-1]) / 1024
    m = median[t]
    log = open(f"{out}/{t}.log", errors="replace").read() if os.path.exists(f"{out}/{t}.log") else ""
    if "Unsupported datalink" in log:  # ndpiReader skips link types it does not know
        print(f"| {t} | n/a: link type not supported | | | | | | | |")
        continue
    print(f"| {t} | {m:.3f} | {cpu[t]:.3f} | {mb / m:.0f} | {packets / m:,.0f} | {rss:.0f} "
          f"| {m / median['floor']:.2f} | {m / median['floor-1MiB']:.2f} | {m / median['mapped-floor']:.2f} |")
# The floor must be a floor: a libpcap tool that beats it (tcpdump does no
# more than read and copy) means the loop does needless work and every
# ratio above flatters wirecheck.
if median["tcpdump"] < median["floor"]:
    print(f"WARNING: tcpdump ({median['tcpdump']:.3f} s) beat the floor ({median['floor']:.3f} s): "
          "the floor is not minimal, its ratios are not to be trusted")
PY

echo "before the runs, $distance_before; after them, $("$out/core-distance" 2>&1 || true)"

# The ratio that matters, measured so that drift on a shared machine cannot
# skew it: the floor, the 1 MiB floor, the mapped floor and wirecheck take
# turns, run after run, and each wirecheck time is divided by the floor
# times just before it. TURNS rounds (default 15, at least RUNS): on a
# shared host one round can differ from the next by half, and the median of
# a few rounds moved from 1.01 (5 rounds) to 1.30 (9 rounds) within half an
# hour (stop 57), so the middle half of the rounds and how many met the
# target are printed too.
turns=${TURNS:-15}
(( turns >= runs )) || turns=$runs
python3 - "$out/pcap-floor" "$out/mapped-floor" "$capture" "$turns" "$wirecheck" <<'PY'
import statistics, subprocess, sys, time
floor, mapped, capture, runs, wirecheck = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5]
def timed(command):
    start = time.perf_counter()
    subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start
ratios, buffered, in_place = [], [], []
for _ in range(runs):
    f = timed([floor, capture])
    b = timed([floor, capture, "1048576"])
    m = timed([mapped, capture])
    w = timed([wirecheck, "-r", capture])
    ratios.append(w / f)
    buffered.append(w / b)
    in_place.append(w / m)
def line(name, values):
    quartiles = statistics.quantiles(values, n=4) if len(values) >= 2 else [values[0]] * 3
    return (f"{name} median {statistics.median(values):.2f} (middle half {quartiles[0]:.2f} to {quartiles[2]:.2f}, "
            f"min {min(values):.2f}, max {max(values):.2f})")
met = sum(1 for r in ratios if r <= 1.25)
print(f"interleaved, {len(ratios)} rounds: wirecheck / " + line("floor", ratios) + "; wirecheck / "
      + line("1 MiB floor", buffered) + "; wirecheck / " + line("mapped floor", in_place)
      + f"; the target (throughput >= 0.8x the floor) needs <= 1.25 over the floor: {met} of {len(ratios)} rounds")
print("rounds, wirecheck / floor: " + " ".join(f"{r:.2f}" for r in ratios))
PY
echo "after the rounds taking turns, $("$out/core-distance" 2>&1 || true)"
