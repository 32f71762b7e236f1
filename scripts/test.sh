#!/usr/bin/env bash
# Runs wirecheck's whole test suite on a fresh Debian machine: installs what
# the build and the live lab need (when root), then `swift test`.
# Extra arguments go to `swift test` (e.g. --filter GoldenTests).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh
# The lab (live end-to-end tests) needs root; without it those tests skip and say why.
scripts/setup.sh --lab || echo "test: lab packages not installed; live tests will be skipped" >&2
scripts/setup.sh --kubectl || echo "test: kubectl not installed; the README's --names commands will not be run" >&2

swift build --build-tests
swift test --skip-build "$@"
