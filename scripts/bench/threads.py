#!/usr/bin/env python3
"""Where a replay's time goes, thread by thread, measured in alternation.

    scripts/bench/threads.py ROUNDS CAPTURE [WIRECHECK ...]

Each round runs the floor (scripts/bench/out/pcap-floor, built by run.sh) and
then each wirecheck binary given (default .build/release/wirecheck) on
CAPTURE. For every wirecheck run it records the wall time, that time divided
by the floor run just before it (drift on a shared machine cannot skew that
ratio much), and the CPU time of each of its threads, read from the kernel's
/proc/PID/task/TID/schedstat every 2 ms while it runs; threads are named by
wirecheck (wirecheck: decoding, reassembly and classification; wc-read:
reading ahead; wc-report: judging and reporting). Prints medians.

It also says how far apart the first two processors are (core-distance.c),
before and after the rounds and before each round: on a virtual machine the
host may move them, within minutes, and the threads' times depend on it. A
round that found them far apart (a cache line's round trip of 200 ns or
more) is counted apart from the close ones as well, where the rounds had both.

With two processors the replay cannot finish before the larger of the
analysing thread's CPU time and half the three threads' total: which one
binds says what to make faster.

Given two or more binaries, each round runs them in turn, in the opposite
order every other round (the first of a pair ran slower on this machine),
and each later binary is compared with the first round by round: the
median of its CPU total and wall time over the first's in the same round,
with the middle half of those ratios and the rounds it was faster. Drift
on a shared machine moves both runs of a round alike; a change of a few
per cent that the medians above cannot show may show there.
"""
import os
import re
import statistics
import subprocess
import sys
import time


# A cache line's round trip between the first two processors from which
# they count as far apart (close: 60 to 140 ns on this project's virtual
# machines, far: 280 to 740 ns).
FAR_NANOSECONDS = 200


def run(command):
    """Wall time of `command`, and CPU seconds by thread name."""
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    last = {}
    while process.poll() is None:
        try:
            tids = os.listdir(f"/proc/{process.pid}/task")
        except OSError:
            tids = []
        for tid in tids:
            try:
                with open(f"/proc/{process.pid}/task/{tid}/comm") as f:
                    name = f.read().strip()
                with open(f"/proc/{process.pid}/task/{tid}/schedstat") as f:
                    last[tid] = (name, int(f.read().split()[0]) / 1e9)
            except (OSError, ValueError, IndexError):
                pass
        time.sleep(0.002)
    wall = time.perf_counter() - start
    by_name = {}
    for name, seconds in last.values():
        by_name[name] = by_name.get(name, 0.0) + seconds
    return wall, by_name


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    rounds, capture = int(sys.argv[1]), sys.argv[2]
    binaries = sys.argv[3:] or [".build/release/wirecheck"]
    floor = "scripts/bench/out/pcap-floor"
    if not os.access(floor, os.X_OK):
        sys.exit(f"{floor} missing: run scripts/bench/run.sh once, or cc -O2 -o {floor} scripts/bench/pcap-floor.c -lpcap")
    # The capture's pages locked in memory for the rounds (see pin-file.c):
    # otherwise the host takes some back between runs and a run reads them
    # from disk, whichever program it is.
    pin_source = "scripts/bench/pin-file.c"
    pin_binary = "scripts/bench/out/pin-file"
    subprocess.run(["cc", "-O2", "-o", pin_binary, pin_source], check=True)
    pin = subprocess.Popen([pin_binary, capture], stderr=subprocess.PIPE, text=True)
    said = pin.stderr.readline()
    if "locked in memory" not in said:
        # Without CAP_IPC_LOCK or a large memlock limit: measured all the same.
        print(f"warning: {said.strip()}: {capture} not locked in memory, runs may read it from disk", file=sys.stderr)
    # How far apart the processors are (see core-distance.c): the host may
    # move them while the rounds run, so it is said before and after.
    distance_source = "scripts/bench/core-distance.c"
    distance_binary = "scripts/bench/out/core-distance"
    subprocess.run(["cc", "-O2", "-pthread", "-o", distance_binary, distance_source], check=True)

    def distance():
        said = subprocess.run([distance_binary], capture_output=True, text=True)
        return (said.stdout or said.stderr).strip()

    def nanoseconds(said):
        match = re.search(r"round trip (\d+) ns", said)
        return int(match.group(1)) if match else None

    distance_before = distance()
    floors, results, far = [], {b: [] for b in binaries}, []
    try:
        for round_number in range(rounds):
            trip = nanoseconds(distance())
            far.append(trip is not None and trip >= FAR_NANOSECONDS)
            floors.append(run([floor, capture])[0])
            for binary in (binaries if round_number % 2 == 0 else list(reversed(binaries))):
                wall, threads = run([binary, "-r", capture])
                results[binary].append((wall, wall / floors[-1], threads))
    finally:
        pin.kill()
    print(f"{rounds} rounds on {capture}: floor median {statistics.median(floors):.3f} s (min {min(floors):.3f})")
    print(f"before the rounds, {distance_before}; after them, {distance()}")
    # All rounds, then, where the rounds found the processors both ways,
    # the close ones and the far ones apart.
    classes = [("", [True] * rounds)]
    if any(far) and not all(far):
        classes += [(f" [close: {far.count(False)} rounds]", [not f for f in far]),
                    (f" [far: {far.count(True)} rounds]", far)]
    print(f"rounds that found the processors far apart (>= {FAR_NANOSECONDS} ns): {far.count(True)} of {rounds}")
    for label, chosen in classes:
        for binary, runs in results.items():
            runs = [r for r, keep in zip(runs, chosen) if keep]
            walls = [r[0] for r in runs]
            ratios = [r[1] for r in runs]
            names = sorted({name for r in runs for name in r[2]})
            cpu = {n: statistics.median([r[2].get(n, 0.0) for r in runs]) for n in names}
            threads = ", ".join(f"{n} {cpu[n]:.3f}" for n in names)
            print(f"{binary}{label}: wall median {statistics.median(walls):.3f} s (min {min(walls):.3f}); "
                  f"wall / floor median {statistics.median(ratios):.2f} ({min(ratios):.2f} to {max(ratios):.2f}); "
                  f"CPU s by thread (medians): {threads}; total {sum(cpu.values()):.3f}")
        first = binaries[0]
        for binary in binaries[1:]:
            pairs = [pair for pair, keep in zip(zip(results[first], results[binary]), chosen) if keep]
            cpu_ratios = [sum(b[2].values()) / sum(a[2].values()) for a, b in pairs if sum(a[2].values()) > 0]
            wall_ratios = [b[0] / a[0] for a, b in pairs]
            for what, ratios in (("CPU total", cpu_ratios), ("wall", wall_ratios)):
                if len(ratios) < 2:
                    continue
                quartiles = statistics.quantiles(ratios, n=4)
                faster = sum(1 for r in ratios if r < 1)
                print(f"{binary} / {first}{label}, {what}, round by round: median {statistics.median(ratios):.3f} "
                      f"(middle half {quartiles[0]:.3f} to {quartiles[2]:.3f}); faster in {faster} of {len(ratios)} rounds")


if __name__ == "__main__":
    main()
