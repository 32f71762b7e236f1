#!/usr/bin/env bash
# Proves a tarball from scripts/package.sh runs where nothing but glibc is
# installed: unpacks it into a root that holds only the C library and its
# loader, and there, with chroot (so as root),
#   - reads Captures/permissive.pcap and Captures/strict.pcap: the JSON must
#     equal what this checkout's own build prints, and the exit codes too;
#   - captures live on a loopback interface (a network namespace of its own)
#     while a client and a server exchange HTTP: the flow must be plaintext.
#   scripts/check-package.sh dist/wirecheck-linux-ARCH.tar.gz
set -euo pipefail
cd "$(dirname "$0")/.."
tarball=$(realpath "${1:?usage: check-package.sh TARBALL}")
[[ $(id -u) == 0 ]] || { echo "check-package: needs root (chroot)" >&2; exit 2; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
root=$work/root
mkdir -p "$root/opt" "$root/Captures" "$root/tmp" "$root/proc"
tar -C "$root/opt" -xzf "$tarball"
name=$(basename "$tarball" .tar.gz)
binary=/opt/$name/bin/wirecheck

# Only the C library: its loader, libc and libm, where the loader looks.
loader=$(readelf -l "$root$binary" | sed -n 's/.*Requesting program interpreter: \(.*\)]/\1/p')
[[ -n $loader ]] || { echo "check-package: no program interpreter in $binary" >&2; exit 1; }
mkdir -p "$root$(dirname "$loader")"
cp -L "$loader" "$root$loader"
multiarch=$(dirname "$(realpath "$(ldconfig -p | awk '$1 == "libc.so.6" { print $NF; exit }')")")
mkdir -p "$root$multiarch"
for lib in libc.so.6 libm.so.6; do cp -L "$multiarch/$lib" "$root$multiarch/$lib"; done
mkdir -p "$root/etc"
echo "$multiarch" >"$root/etc/ld.so.conf"
ldconfig -r "$root"
# Every container has /proc; the loader needs /proc/self/exe to know where
# the binary is ($ORIGIN, which finds lib/ beside it).
mount -t proc proc "$root/proc"
trap 'umount "$root/proc" 2>/dev/null || true; rm -rf "$work"' EXIT
echo "check-package: root holds $(cd "$root" && find . -path ./proc -prune -o -path ./opt -prune -o -name '*.so*' -print | sort | tr '\n' ' ')"

# Nothing else may be missing.
if ! chroot "$root" "$loader" --list "$binary" >"$work/list" 2>&1 || grep -q 'not found' "$work/list"; then
  echo "check-package: FAIL: the binary cannot load in a root with only glibc:" >&2
  cat "$work/list" >&2
  exit 1
fi

failures=0
# The allocator the replay's speed was measured with (Package.swift): the
# bundled jemalloc must serve malloc there, not the root's glibc (which it
# would, silently, were the C library ahead of it in the binary's list).
cp Captures/permissive.pcap "$root/Captures/"
MALLOC_CONF=stats_print:true chroot "$root" "$binary" -r Captures/permissive.pcap >/dev/null 2>"$work/malloc" || true
if grep -q 'Begin jemalloc statistics' "$work/malloc"; then
  echo "check-package: ok: malloc is the bundled jemalloc"
else
  echo "check-package: FAIL: malloc is not jemalloc in the packaged binary" >&2
  failures=$((failures + 1))
fi
scripts/setup.sh --lab >/dev/null   # python3, iproute2
swift build -c release --product wirecheck >/dev/null
for capture in permissive strict; do
  # The same relative name in both (chroot starts in the root's /): the
  # summary names the files it read.
  cp "Captures/$capture.pcap" "$root/Captures/"
  set +e
  expected=$(.build/release/wirecheck -r "Captures/$capture.pcap" --json)
  expected_status=$?
  got=$(chroot "$root" "$binary" -r "Captures/$capture.pcap" --json)
  status=$?
  set -e
  if [[ $got != "$expected" || $status != "$expected_status" ]]; then
    echo "check-package: FAIL $capture.pcap: exit $status (want $expected_status)" >&2
    diff <(echo "$expected") <(echo "$got") >&2 || true
    failures=$((failures + 1))
  else
    echo "check-package: ok $capture.pcap: $(echo "$got" | grep -c '"type":"flow"') flows, exit $status, as the local build"
  fi
done

# Live: in a network namespace of its own, one HTTP exchange on its loopback
# (python3 outside the root plays both ends) while the packaged binary
# captures; it must report that flow as plaintext.
cat >"$work/exchange.py" <<'PY'
import socket, threading
server = socket.socket(); server.bind(("127.0.0.1", 8080)); server.listen(1)
def answer():
    connection, _ = server.accept(); connection.recv(1024)
    connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"); connection.close()
thread = threading.Thread(target=answer); thread.start()
client = socket.create_connection(("127.0.0.1", 8080))
client.sendall(b"GET /package-check HTTP/1.1\r\nHost: localhost\r\n\r\n"); client.recv(1024); client.close()
thread.join()
PY
set +e
live=$(unshare --net bash -c "ip link set lo up
  chroot '$root' '$binary' -i lo --json --duration 3 port 8080 2>'$work/live.err' &
  for _ in \$(seq 50); do grep -q 'listening on' '$work/live.err' && break; sleep 0.1; done
  python3 '$work/exchange.py' >&2
  wait \$!")
status=$?
set -e
if [[ $status == 1 ]] && echo "$live" | grep -q '"verdict":"plaintext".*GET /package-check HTTP/1.1'; then
  echo "check-package: ok live capture on lo: the HTTP exchange reported plaintext, exit 1"
else
  echo "check-package: FAIL live capture: exit $status; $live $(cat "$work/live.err")" >&2
  failures=$((failures + 1))
fi

[[ $failures == 0 ]] || exit 1
echo "check-package: $name runs with only glibc installed"
