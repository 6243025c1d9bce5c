#!/usr/bin/env bash
# The one test command: installs the tools it needs, starts moto on a free loopback port, runs
# every test of the workspace against it, and stops moto again, whatever happens.
set -euo pipefail
cd "$(dirname "$0")/.."

. scripts/tools.sh
ensure_tools

. scripts/moto.sh
start_moto

# Every crate, the Lambda binaries and the bench included, must build; then every test runs.
cargo build --workspace --all-targets
set +e
cargo test --workspace --lib --bins --tests --no-fail-fast 2>&1 | tee .tmp/test.log
status=${PIPESTATUS[0]}
set -e
# One closing line for the whole run (cargo prints one per test binary).
awk '/^test result:/ { passed += $4; failed += $6 } END { printf "tests: %d passed, %d failed\n", passed, failed }' .tmp/test.log
exit "$status"
