#!/usr/bin/env bash
# The quick loop: formatting, lints, and every test that needs neither moto nor SAM. Tests that
# need moto carry `moto` in their name (`<test>::moto` from on_backends!, or `…_on_moto`) and
# are skipped here; scripts/test.sh runs them all. Extra arguments go to the test filter, e.g.
# `scripts/check.sh webhooks::receipt`.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo fmt --all --check
cargo clippy --workspace --all-targets -- -D warnings
# Without an endpoint a moto test fails loudly instead of reaching for real AWS.
env -u AWS_ENDPOINT_URL cargo test --workspace --lib --bins --tests -- --skip moto "$@"
