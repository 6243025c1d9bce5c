#!/usr/bin/env bash
# The one test command: installs the tools it needs, checks formatting and lints, starts moto on
# a free loopback port, runs every test of the workspace against it, stops moto again whatever
# happens, then lints the SAM template and builds every function for arm64 the way `sam build`
# does for a deploy.
set -euo pipefail
cd "$(dirname "$0")/.."

. scripts/tools.sh
ensure_tools

. scripts/moto.sh
start_moto

# Format, lints and the dependency policy first: they fail in seconds, before minutes of building.
cargo fmt --all --check
cargo clippy --workspace --all-targets -- -D warnings
cargo deny check licenses bans sources

# Every crate, the Lambda binaries and the bench included, must build; then every test runs.
cargo build --workspace --all-targets
set +e
cargo test --workspace --lib --bins --tests --no-fail-fast 2>&1 | tee .tmp/test.log
status=${PIPESTATUS[0]}
set -e
# One closing line for the whole run (cargo prints one per test binary).
awk '/^test result:/ { passed += $4; failed += $6 } END { printf "tests: %d passed, %d failed\n", passed, failed }' .tmp/test.log
if [ "$status" -ne 0 ]; then exit "$status"; fi

# The template: lint (no warning suppressed), then the deploy build and its arm64 bootstraps.
sam validate --lint -t infra/template.yaml
sam validate --lint -t infra/operations.yaml
sam build
python3 scripts/check_bootstraps.py infra/template.yaml .aws-sam/build
