"""Runs the handoff service: `python -m handoff`."""

from __future__ import annotations

import logging
import sys

import uvloop
from aiohttp import web

from handoff import log_privacy
from handoff.service.app import create_app
from handoff.settings import Settings, SettingsError


def main() -> int:
    """Configures logging, reads settings and serves until SIGTERM/SIGINT."""
    log_privacy.install()  # no customer address, number or id in the log
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        print(f"handoff: {exc}", file=sys.stderr)
        return 2
    if not settings.rasa_token:
        print("handoff: RASA_TOKEN is not set (the token of Rasa's HTTP API)", file=sys.stderr)
        return 2
    # The loop Rasa's Sanic runs on too: less of the live path's time goes to the loop itself.
    uvloop.install()
    web.run_app(create_app(settings), host=settings.host, port=settings.port, print=None,
                shutdown_timeout=10, access_log=logging.getLogger("aiohttp.access")
                if settings.access_log else None)
    return 0


if __name__ == "__main__":
    sys.exit(main())
