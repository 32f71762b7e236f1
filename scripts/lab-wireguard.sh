#!/usr/bin/env bash
# Node-to-node encryption as a CNI sets it up (Cilium's or Calico's WireGuard
# mode), in the lab: two "nodes" (network namespaces wc-wgA, wc-wgB) joined by a
# veth pair, a WireGuard tunnel between them (wireguard-go: this kernel has no
# WireGuard module; the packets on the wire are the same), and a "pod" request
# in clear HTTP from node A to a server on node B's tunnel address. Captured on
# node A with -i any, as on a node: the request in clear on the tunnel's inner
# interface (that hop is plaintext), a UDP syslog line likewise, and on the
# veth only WireGuard packets.
#
#   scripts/lab-wireguard.sh [OUT.pcap]    (root; default Captures/lab-wireguard.pcap)
#   scripts/lab-wireguard.sh --live WIRECHECK OUT.jsonl
#                                          the same traffic, with WIRECHECK -i any --json
#                                          capturing live on node A instead of tcpdump
#   scripts/lab-wireguard.sh check         exits 0 when a WireGuard tunnel can be
#                                          brought up here, else says why
#
# Writes OUT's expected verdicts beside it (OUT.expected.json): the flow's
# endpoints and the WireGuard and syslog packet counts as tshark reads them (its
# own dissectors), not as wirecheck does. Sends nothing outside the two
# namespaces. Needs wireguard-go and wireguard-tools (scripts/setup.sh --lab).
set -euo pipefail
umask 077
cd "$(dirname "$0")/.."
live= check=
case "${1:-}" in
  --live) live=$2; out=$3 ;;
  check) check=1 ;;
  *) out=${1:-Captures/lab-wireguard.pcap} ;;
esac
if ! command -v wireguard-go >/dev/null || ! command -v wg >/dev/null; then
  [[ -z $check$live ]] || { echo "wireguard-go or wg missing (scripts/setup.sh --lab installs them)" >&2; exit 1; }
  apt-get install -y wireguard-go wireguard-tools >/dev/null
fi
[[ -n $check$live ]] || command -v tshark >/dev/null || scripts/setup.sh --compare

pids=()
work=
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  ip netns del wc-wgA 2>/dev/null || true
  ip netns del wc-wgB 2>/dev/null || true
  rm -f /var/run/wireguard/wg-wcA.sock /var/run/wireguard/wg-wcB.sock
  [[ -z $work ]] || rm -rf "$work"
}
trap cleanup EXIT
cleanup
work=$(mktemp -d)

ip netns add wc-wgA
ip netns add wc-wgB
ip link add wgvethA netns wc-wgA type veth peer name wgvethB netns wc-wgB
ip -n wc-wgA addr add 10.202.0.1/24 dev wgvethA
ip -n wc-wgB addr add 10.202.0.2/24 dev wgvethB
for ns in wc-wgA wc-wgB; do ip -n $ns link set lo up; done
ip -n wc-wgA link set wgvethA up
ip -n wc-wgB link set wgvethB up

ip netns exec wc-wgA wireguard-go -f wg-wcA >/dev/null 2>&1 & pids+=($!)
ip netns exec wc-wgB wireguard-go -f wg-wcB >/dev/null 2>&1 & pids+=($!)
for _ in $(seq 100); do
  [[ -S /var/run/wireguard/wg-wcA.sock && -S /var/run/wireguard/wg-wcB.sock ]] && break
  sleep 0.1
done
wg genkey >"$work/a.key"
wg genkey >"$work/b.key"
wg pubkey <"$work/a.key" >"$work/a.pub"
wg pubkey <"$work/b.key" >"$work/b.pub"
ip netns exec wc-wgA wg set wg-wcA private-key "$work/a.key" listen-port 51820 \
  peer "$(cat "$work/b.pub")" endpoint 10.202.0.2:51820 allowed-ips 10.203.0.2/32
ip netns exec wc-wgB wg set wg-wcB private-key "$work/b.key" listen-port 51820 \
  peer "$(cat "$work/a.pub")" endpoint 10.202.0.1:51820 allowed-ips 10.203.0.1/32
ip -n wc-wgA addr add 10.203.0.1/24 dev wg-wcA
ip -n wc-wgB addr add 10.203.0.2/24 dev wg-wcB
ip -n wc-wgA link set wg-wcA up
ip -n wc-wgB link set wg-wcB up
if [[ -n $check ]]; then
  # A datagram into the tunnel makes the peers shake hands; a handshake time says the tunnel works.
  ip netns exec wc-wgA python3 -c "import socket; socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b'x', ('10.203.0.2', 9))"
  for _ in $(seq 50); do
    [[ $(ip netns exec wc-wgA wg show wg-wcA latest-handshakes | awk '{print $2}') != 0 ]] && exit 0
    sleep 0.1
  done
  echo "no WireGuard handshake crossed the lab's tunnel here" >&2
  exit 1
fi

# A body of 4 KB, so that full-size tunnel packets (padded only up to the MTU) cross too.
mkdir -p "$work/site"
head -c 4000 /dev/zero | tr '\0' 'w' >"$work/site/index.html"
(cd "$work/site" && exec ip netns exec wc-wgB python3 -m http.server 8080 --bind 10.203.0.2) >/dev/null 2>&1 & pids+=($!)
for _ in $(seq 100); do
  ip netns exec wc-wgB ss -ltn | grep -q '10.203.0.2:8080' && break
  sleep 0.1
done
if [[ -n $live ]]; then
  ip netns exec wc-wgA "$live" -i any -Z root --json >"$out" 2>"$work/live.err" & dump=$!
  for _ in $(seq 150); do grep -q "listening on" "$work/live.err" && break; sleep 0.1; done
else
  ip netns exec wc-wgA tcpdump -i any -U -w "$work/capture.pcap" >/dev/null 2>&1 & dump=$!
  sleep 1.5
fi
ip netns exec wc-wgA python3 -c "
import urllib.request
assert urllib.request.urlopen('http://10.203.0.2:8080/', timeout=10).status == 200
"
# A log line by UDP syslog (util-linux logger, RFC 5424) to node B through the
# tunnel: text in clear on the inner interface, inside WireGuard on the veth.
# Nothing listens on 514; the datagram is what matters.
ip netns exec wc-wgA logger --udp --server 10.203.0.2 --port 514 --rfc5424 --tag lab "a log line through the tunnel"
# The flow's close linger (1 s), then stop as a user would: Ctrl-C.
sleep 1.5
kill -INT "$dump"
wait "$dump" 2>/dev/null || true
[[ -z $live ]] || exit 0
cp "$work/capture.pcap" "$out"

python3 - "$out" <<'PY'
import json, subprocess, sys
out = sys.argv[1]
fields = lambda *args: subprocess.run(["tshark", "-r", out, *args], capture_output=True, text=True, check=True).stdout.split()
syns = fields("-Y", "tcp.flags.syn == 1 && tcp.flags.ack == 0", "-T", "fields", "-e", "ip.src", "-e", "tcp.srcport", "-e", "ip.dst", "-e", "tcp.dstport")
assert len(syns) == 4, f"expected one connection, tshark read {syns}"
wireguard = len(fields("-Y", "wg", "-T", "fields", "-e", "frame.number"))
syslog = len(fields("-Y", "syslog && !icmp", "-T", "fields", "-e", "frame.number"))
assert syslog == 1, f"expected the one syslog datagram in clear, tshark read {syslog}"
expected = {
    "description": "Node-to-node WireGuard (wireguard-go) between two lab namespaces, captured with -i any on node A: "
                   "a pod's HTTP request in clear on the tunnel's inner interface (plaintext: true of that hop), "
                   "and a log line by UDP syslog (logger) in clear there too; on the veth only WireGuard packets, "
                   "counted apart as an encrypted tunnel (tshark's count).",
    "exitCode": 1,
    "notJudged": {"wireguard": wireguard, "udp-text": syslog},
    "flows": [{"client": f"{syns[0]}:{syns[1]}", "server": f"{syns[2]}:{syns[3]}", "verdict": "plaintext", "protocol": "http"}],
}
path = out.rsplit(".", 1)[0] + ".expected.json"
open(path, "w").write(json.dumps(expected, indent=2) + "\n")
print(out, path, f"{wireguard} WireGuard packets")
PY
