#!/usr/bin/env bash
# Prepares this checkout: finds Python 3.10, creates .venv, installs the pinned dependencies
# (again only when requirements.lock changes). Sourced by run.sh and test.sh.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"

find_python310() {
  local candidate
  for candidate in "${PYTHON310:-}" python3.10 \
      "$HOME/.pyenv/versions"/3.10*/bin/python3.10 /root/.pyenv/versions/3.10*/bin/python3.10 \
      /usr/local/bin/python3.10 /usr/bin/python3.10; do
    [ -n "$candidate" ] || continue
    if command -v "$candidate" >/dev/null 2>&1 && \
       "$candidate" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 10))' 2>/dev/null; then
      command -v "$candidate"; return 0
    fi
  done
  if command -v pyenv >/dev/null 2>&1; then
    local version
    version="$(pyenv versions --bare 2>/dev/null | grep -E '^3\.10\.' | tail -1 || true)"
    if [ -n "$version" ]; then
      PYENV_VERSION="$version" pyenv which python3.10; return 0
    fi
  fi
  return 1
}

if [ ! -x "$VENV/bin/python" ]; then
  if ! PY="$(find_python310)"; then
    echo "Python 3.10 is required (Rasa 3.6 supports 3.8-3.10) and none was found." >&2
    echo "Install it (e.g. 'pyenv install 3.10.13', or your distribution's python3.10 with" >&2
    echo "venv), or point PYTHON310 at its interpreter, then run this again." >&2
    exit 1
  fi
  echo "Creating .venv with $PY"
  "$PY" -m venv "$VENV"
fi

STAMP="$VENV/.requirements.sha256"
WANT="$(sha256sum "$ROOT/requirements.lock" | cut -d' ' -f1)"
if [ "$(cat "$STAMP" 2>/dev/null || true)" != "$WANT" ]; then
  echo "Installing pinned dependencies (requirements.lock) into .venv ..."
  "$VENV/bin/python" -m pip install --quiet --upgrade "pip==24.0"
  "$VENV/bin/python" -m pip install --quiet -r "$ROOT/requirements.lock"
  "$VENV/bin/python" -m pip check
  echo "$WANT" > "$STAMP"
fi

if ! command -v redis-server >/dev/null 2>&1 && [ -z "${REDIS_URL:-}" ]; then
  echo "redis-server was not found. Install it ('apt-get install redis-server') or set" >&2
  echo "REDIS_URL to a Redis server you run yourself." >&2
  exit 1
fi

# Several Rasa or handoff processes (`./run.sh --rasa N --handoff M`) run behind HAProxy, from
# the distribution's packages: installed here when missing and allowed (root with apt-get).
wants_balancer() {
  local previous=""
  for arg in "$@"; do
    case "$previous" in --rasa|--handoff) [ "$arg" -gt 1 ] 2>/dev/null && return 0 ;; esac
    case "$arg" in --rasa=*|--handoff=*) [ "${arg#*=}" -gt 1 ] 2>/dev/null && return 0 ;; esac
    previous="$arg"
  done
  return 1
}
if wants_balancer "$@" && ! command -v haproxy >/dev/null 2>&1 && [ ! -x /usr/sbin/haproxy ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "Installing HAProxy (apt-get install haproxy) for several processes ..."
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends haproxy >/dev/null
  else
    echo "Several processes run behind HAProxy: install it ('apt-get install haproxy')." >&2
    exit 1
  fi
fi
