"""Defences of every answer of the handoff service: the Host allowlist and security headers.

- **Host allowlist** (DNS rebinding): a page on `evil.example`, whose name an attacker points at
  127.0.0.1, would otherwise reach the service from the victim's browser as same-origin. Only
  the host of `HANDOFF_PUBLIC_URL`, loopback names (the stack's own checks) and
  `HANDOFF_ALLOWED_HOSTS` are answered, on HTTP and the WebSocket alike; others get
  `421 bad_host`.
- **Content-Security-Policy** on every answer: scripts and styles from the service only, no
  inline script; `frame-ancestors 'none'` and `X-Frame-Options: DENY` (clickjacking) everywhere
  but the chat page, which the sites in `CHAT_ALLOWED_ORIGINS` may frame (the widget), and which
  talks to the Rasa server (`CHAT_RASA_URL`).
- **`Cache-Control: no-store`** on every API answer: they carry transcripts and customers'
  details, which no shared or browser cache may keep.
"""

from __future__ import annotations

import re
from typing import Awaitable, Callable, FrozenSet, Iterable
from urllib.parse import urlparse

from aiohttp import web

from handoff.service.api.errors import error_response
from handoff.settings import Settings

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})
CHAT_PAGE = "/chat"
_ORIGIN = re.compile(r"https?://[A-Za-z0-9.-]+(:\d{1,5})?\Z")


def allowed_hosts(settings: Settings) -> FrozenSet[str]:
    """Host names the service answers to."""
    public = urlparse(settings.public_url).hostname or ""
    return frozenset(h.lower().rstrip(".") for h in (public, *LOOPBACK, *settings.allowed_hosts)
                     if h)


def host_filter(settings: Settings) -> Callable[[web.Request, Handler],
                                                Awaitable[web.StreamResponse]]:
    """A middleware that refuses requests naming another host (`421 bad_host`)."""
    hosts = allowed_hosts(settings)

    @web.middleware
    async def check_host(request: web.Request, handler: Handler) -> web.StreamResponse:
        if _host_name(request.headers.get("Host", "")) not in hosts:
            return error_response(request, "bad_host")
        return await handler(request)
    return check_host


def _host_name(header: str) -> str:
    header = header.strip().lower()
    if header.startswith("["):  # [::1]:8080
        return header[1:header.find("]")] if "]" in header else ""
    return header.rsplit(":", 1)[0].rstrip(".") if header.count(":") <= 1 else ""


def add_headers(app: web.Application, settings: Settings) -> None:
    """Adds the security headers to every answer, static files and errors included."""
    rasa = urlparse(settings.chat_rasa_url)
    rasa_origins = [f"{rasa.scheme}://{rasa.netloc}",
                    f"{'wss' if rasa.scheme == 'https' else 'ws'}://{rasa.netloc}"]
    chat_frames = " ".join(["'self'", *_origins(settings.chat_origins)])
    hosts = allowed_hosts(settings)

    async def on_prepare(request: web.Request, response: web.StreamResponse) -> None:
        headers = response.headers
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("Referrer-Policy", "no-referrer")
        if request.path.startswith("/api/"):
            headers["Cache-Control"] = "no-store"
        # The console's WebSocket (CSP 2 browsers do not take 'self' to cover ws:).
        own_ws = [f"{'wss' if request.scheme == 'https' else 'ws'}://{request.host}"] \
            if _host_name(request.headers.get("Host", "")) in hosts else []
        if request.path == CHAT_PAGE:
            headers["Content-Security-Policy"] = _policy(
                connect=["'self'", *rasa_origins], images="'self' data: https:",
                frames=chat_frames)
        else:
            headers["Content-Security-Policy"] = _policy(
                connect=["'self'", *own_ws], images="'self' data:", frames="'none'")
            headers["X-Frame-Options"] = "DENY"

    app.on_response_prepare.append(on_prepare)


def _policy(connect: Iterable[str], images: str, frames: str) -> str:
    return "; ".join([
        "default-src 'self'", "script-src 'self'", "style-src 'self'", f"img-src {images}",
        f"connect-src {' '.join(connect)}", "font-src 'self'", "object-src 'none'",
        "base-uri 'none'", "form-action 'self'", f"frame-ancestors {frames}"])


def _origins(configured: Iterable[str]) -> Iterable[str]:
    """The configured chat origins that are plain origins (nothing else reaches a header)."""
    return [o for o in configured if _ORIGIN.match(o)]
