#!/usr/bin/env bash
# The benchmarks, with moto started for the ones that count AWS calls. Prints numbers only.
set -euo pipefail
cd "$(dirname "$0")/.."

. scripts/tools.sh
ensure_tools
. scripts/moto.sh
start_moto

cargo bench -p oore-gitlab-tests "$@"
