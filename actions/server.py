"""The action server: rasa-sdk's, on loopback, answering only the Rasa server.

`rasa run actions` (rasa-sdk 3.6) listens on every interface (`0.0.0.0`) and runs any action
for anyone: a forged call read any order, cancelled orders and queued fake tickets. Here:
- it listens on `ACTION_SERVER_HOST` (127.0.0.1 unless the operator says otherwise);
- every call but `/health` must carry the shared secret `ACTION_SERVER_TOKEN` in the
  `X-Action-Token` header (endpoints.yml sends it; compared in constant time); without one the
  server does not start;
- bodies over `ACTION_SERVER_MAX_BODY` bytes (a tracker is sent with each call) get 413;
- no CORS: browsers have no business here.

`python -m actions.server [--port 5055]` (the stack starts it so, with the secret in the
environment, never on the command line).
"""

from __future__ import annotations

import argparse
import hmac
import logging
import os
import sys
from typing import Any, Mapping, Optional

from rasa_sdk import utils
from rasa_sdk.endpoint import create_app
from sanic import Sanic, response
from sanic.exceptions import SanicException
from sanic.request import Request

from handoff import log_privacy

logger = logging.getLogger(__name__)

HEADER = "X-Action-Token"
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 5055
# A tracker travels with every call: a long conversation's is some megabytes at most.
DEFAULT_MAX_BODY = 16 * 1024 * 1024
OPEN_PATHS = frozenset({"/health"})
MIN_TOKEN = 16


class ActionServerError(RuntimeError):
    """The action server cannot start as configured."""


def build(token: str, max_body: int = DEFAULT_MAX_BODY, package: str = "actions") -> Sanic:
    """rasa-sdk's app for `package`, behind the shared secret and the body limit."""
    if len(token) < MIN_TOKEN:
        raise ActionServerError(f"ACTION_SERVER_TOKEN must be set (at least {MIN_TOKEN} "
                                "characters): the action server answers only who knows it")
    app = create_app(package, cors_origins=None)
    app.config.REQUEST_MAX_SIZE = max_body
    expected = token.encode()

    @app.exception(SanicException)
    async def http_error(_: Request, exc: SanicException) -> Any:
        # rasa-sdk's own handler makes every error a 500: a body too large is the client's.
        return response.json({"error": str(exc)}, status=exc.status_code)

    @app.middleware("request")
    async def require_token(request: Request) -> Optional[Any]:
        if request.path in OPEN_PATHS:
            return None
        given = (request.headers.get(HEADER) or "").encode("utf-8", "surrogateescape")
        if not hmac.compare_digest(given, expected):
            logger.warning("actions.call.unauthorized path=%s", request.path)
            return response.json({"error": "unauthorized"}, status=401)
        return None

    return app


def _settings(env: Mapping[str, str]) -> tuple:
    host = env.get("ACTION_SERVER_HOST") or DEFAULT_HOST
    raw = env.get("ACTION_SERVER_MAX_BODY") or str(DEFAULT_MAX_BODY)
    try:
        max_body = int(raw)
    except ValueError as exc:
        raise ActionServerError(f"ACTION_SERVER_MAX_BODY must be a number of bytes, got "
                                f"{raw!r}") from exc
    return env.get("ACTION_SERVER_TOKEN") or "", host, max_body


def main(argv: list) -> int:
    """Runs the server until it is stopped."""
    parser = argparse.ArgumentParser(prog="python -m actions.server")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    args = parser.parse_args(argv)
    log_privacy.install()  # no customer address, number or id in the log
    utils.configure_colored_logging("INFO")
    utils.update_sanic_log_level()
    try:
        token, host, max_body = _settings(os.environ)
        app = build(token, max_body)
    except ActionServerError as exc:
        print(f"Cannot start the action server: {exc}", file=sys.stderr)
        return 2
    logger.info("actions.server.start host=%s port=%d", host, args.port)
    app.run(host, args.port, workers=utils.number_of_sanic_workers(), access_log=False)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
