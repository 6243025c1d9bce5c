#!/usr/bin/env bash
# The benchmarks, with moto started for the ones that count AWS calls. Prints numbers only.
set -euo pipefail
cd "$(dirname "$0")/.."

. scripts/tools.sh
ensure_tools
ensure_wrk
. scripts/moto.sh
start_moto

if [ "$#" -eq 0 ]; then
  cargo bench -p oore-gitlab-tests
  # The local runner's durable store (no AWS): its own package, for the runner binary it starts.
  cargo bench -p oore-local --bench durable_store
else
  cargo bench -p oore-gitlab-tests "$@"
fi
