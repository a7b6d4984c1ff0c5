#!/usr/bin/env bash
# Runs the benchmarks (docs/benchmarks.md, docs/benchmarks.png). `./bench/run.sh --quick` checks
# the harness with small counts and writes its report to a temporary directory instead.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/bootstrap.sh
.venv/bin/python -m stack train
exec .venv/bin/python -m bench "$@"
