#!/usr/bin/env bash
# Runs the whole test suite (unit, integration, end-to-end, browser). Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")"
source scripts/bootstrap.sh
if [ ! -x /usr/bin/chromium ]; then
  echo "Installing Debian's chromium for the browser tests ..."
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq && $SUDO apt-get install -y -qq chromium >/dev/null
fi
if ! command -v haproxy >/dev/null 2>&1 && [ ! -x /usr/sbin/haproxy ]; then
  echo "Installing Debian's haproxy for the tests of several processes behind it ..."
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq && $SUDO apt-get install -y -qq --no-install-recommends haproxy >/dev/null
fi
# The end-to-end tests share one model, trained here (once per data hash) so that its progress
# shows and no test's time limit includes training.
.venv/bin/python -m stack train
# The browser tests' packages from the npm registry (rasa-webchat, axe-core), pinned and checked.
.venv/bin/python -m tests.npm_packages
# The whole suite: the designer report's test needs a second model (its data differs). It is
# trained now, in the background at the lowest priority, while the other tests run; that test
# comes last and waits for it if need be (tests/assistant/designer_revisions.py).
if [ "$#" = 0 ]; then
  mkdir -p models
  # A process group of its own, so that stopping it stops its `rasa train` too.
  setsid nice -n 19 .venv/bin/python -m tests.assistant.designer_revisions \
    > models/designer-after.log 2>&1 < /dev/null &
  ahead=$!
  trap 'kill -- "-$ahead" 2>/dev/null || true' EXIT
fi
set +e
.venv/bin/python -m pytest "$@"
code=$?
set -e
if [ "$code" = 5 ]; then
  echo "pytest collected no tests: failing on purpose." >&2
  exit 1
fi
exit "$code"
