#!/usr/bin/env bash
# Runs the whole product: Redis (unless REDIS_URL is set), Rasa server, action server and
# handoff service, training the model first if none matches the data. `./run.sh --help`.
set -euo pipefail
cd "$(dirname "$0")"
source scripts/bootstrap.sh
exec .venv/bin/python -m stack "$@"
