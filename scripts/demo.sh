#!/usr/bin/env bash
# Installs what the build needs (libpcap-dev, zlib1g-dev, libjemalloc-dev), builds wirecheck in release mode
# and runs it on a bundled capture. Extra arguments go to wirecheck, e.g.
#   scripts/demo.sh                                  the PERMISSIVE lab capture
#   scripts/demo.sh -r Captures/strict.pcap --json   another capture, JSON Lines
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
swift build -c release --product wirecheck >&2
if [[ $# -eq 0 ]]; then set -- -r Captures/permissive.pcap; fi
exec .build/release/wirecheck "$@"
