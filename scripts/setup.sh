#!/usr/bin/env bash
# Installs what wirecheck needs on a fresh Debian machine, and nothing more.
#   scripts/setup.sh          build dependencies (libpcap, zlib and jemalloc headers)
#   scripts/setup.sh --bench    also the micro-benchmarks: valgrind, gcc
#   scripts/setup.sh --compare  also the side-by-side benchmark: tcpdump, tshark,
#                               ndpiReader, hyperfine, valgrind, gcc
#   scripts/setup.sh --lab    also the lab: tcpdump, nginx with the stream module,
#                             OpenSSL, curl, iproute2, scapy (for crafted captures),
#                             PostgreSQL, mosquitto and slapd (the secrets test
#                             sends passwords to them), Alertmanager (memberlist gossip), Erlang
#                             (EPMD and distribution, as RabbitMQ clusters), grpcio
#                             and python-h2 (a real gRPC client refused in clear), Go
#                             and grpc-go (a gRPC health server, kubelet's gRPC probe),
#                             nftables (a Service's DNAT, as kube-proxy makes it)
#   scripts/setup.sh --kubectl  also kubectl (Debian's kubernetes-client) unless one is
#                             installed: the README's --names commands are tested with it
# Packages already present are skipped, so this is cheap to run every time.
set -euo pipefail

packages=(libpcap-dev zlib1g-dev libjemalloc-dev pkg-config)
if [[ "${1:-}" == "--bench" ]]; then
  packages+=(valgrind gcc)
fi
if [[ "${1:-}" == "--compare" ]]; then
  packages+=(valgrind gcc tcpdump tshark libndpi-bin hyperfine python3)
fi
if [[ "${1:-}" == "--lab" ]]; then
  packages+=(tcpdump nginx libnginx-mod-stream openssl curl iproute2 python3-scapy procps postgresql
    mosquitto mosquitto-clients slapd ldap-utils prometheus-alertmanager erlang-base python3-grpcio python3-h2
    golang-go golang-google-grpc-dev
    wireguard-go wireguard-tools openssh-server openssh-client nftables)
fi
if [[ "${1:-}" == "--kubectl" ]]; then
  # The README's --names commands, run against a stand-in API server; any
  # kubectl will do (another package's /usr/bin/kubectl would conflict).
  command -v kubectl >/dev/null && exit 0
  packages+=(kubernetes-client)
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

if [[ $(id -u) -ne 0 ]]; then
  echo "setup: missing packages: ${missing[*]} (run as root, or install them)" >&2
  exit 1
fi
echo "setup: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
