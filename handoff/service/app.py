"""The handoff service: agent console, agent API and the background workers.

`create_app(settings)` builds the aiohttp application; the process edge (`__main__`) runs it.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any, Awaitable, Callable, Optional

import aiohttp
import aiohttp_session
from aiohttp import web
from aiohttp_session.redis_storage import RedisStorage
from redis.asyncio import Redis
from redis.exceptions import RedisError

from handoff import teams
from handoff.accounts import AccountStore
from handoff.availability import load_hours
from handoff.conversation import ConversationStore
from handoff.keys import Keys
from handoff.messenger_api import SendApi
from handoff.orders.desk import OrderDesk
from handoff.orders.store import OrderStore
from handoff.presence import Presence
from handoff.rasa_api import RasaClient
from handoff.redis_client import connect, is_cluster
from handoff.service import security
from handoff.service.api import (
    callback_routes,
    canned,
    console_routes,
    dashboard_routes,
    miner_routes,
    move_routes,
    order_routes,
    privacy_routes,
    routes,
    ws,
)
from handoff.service.api.access import PREFETCHED, SIGNED_IN, read_caller
from handoff.service.api.errors import ApiError, error_response
from handoff.service.api.hub import Hub
from handoff.service.api.login_guard import LoginGuard
from handoff.service.appkeys import (
    ACCOUNTS,
    CANNED,
    FAQ,
    GIVEBACK,
    HOURS,
    HUB,
    KEYS,
    LOGIN_GUARD,
    MESSENGER,
    ORDERS,
    RASA,
    REDIS,
    RESOLVED,
    SESSION_REDIS,
    SETTINGS,
    STORE,
    TEAMS,
    WORKERS,
)
from handoff.service.insights import faq
from handoff.service.insights.resolved import ResolvedReplies
from handoff.service.jobs.workers import Workers
from handoff.settings import Settings

logger = logging.getLogger(__name__)

STATIC = Path(__file__).parent / "static"
MAX_BODY = 64 * 1024


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class _SessionStorage(RedisStorage):
    """aiohttp-session's Redis storage, on a Redis Cluster too.

    It refuses a client that is not a `redis.asyncio.Redis`, though it only gets, sets and
    deletes one key at a time, which a cluster client does: that one is given after the check.
    """

    def __init__(self, client: Any, **options: Any) -> None:
        super().__init__(client if not is_cluster(client) else Redis(), **options)
        self._redis = client


def create_app(settings: Settings, redis: Optional[Redis] = None) -> web.Application:
    """Builds the application; Redis, Rasa client, hub and workers live as long as it does."""
    app = web.Application(client_max_size=MAX_BODY,
                          middlewares=[security.host_filter(settings), _errors, _csrf])
    security.add_headers(app, settings)
    redis = redis or connect(settings.redis_url)
    keys = Keys(settings.key_prefix)
    app[SETTINGS], app[KEYS], app[REDIS] = settings, keys, redis
    app[STORE] = ConversationStore(redis, keys)
    app[ACCOUNTS] = AccountStore(redis, keys)
    app[LOGIN_GUARD] = LoginGuard(redis, keys)
    app[CANNED] = canned.load()
    app[TEAMS] = teams.load()
    app[ORDERS] = OrderDesk(OrderStore(settings.orders_db_path or None))
    app[FAQ] = faq.load()
    app[HOURS] = load_hours(always_open=settings.always_open)
    app[RESOLVED] = ResolvedReplies(redis, keys)
    # aiohttp-session reads bytes, so sessions get their own (non-decoding) client.
    app[SESSION_REDIS] = connect(settings.redis_url, decode_responses=False)
    aiohttp_session.setup(app, _SessionStorage(
        app[SESSION_REDIS], cookie_name=keys.session_cookie, max_age=settings.session_max_age,
        httponly=True, samesite="Strict", secure=settings.public_url.startswith("https://")))
    app.middlewares.append(_rate_limit)  # after the session middleware: it reads the session
    app.cleanup_ctx.append(_lifecycle)
    app.on_shutdown.append(_stop_background)
    routes.add_routes(app)
    console_routes.add_routes(app)
    move_routes.add_routes(app)
    order_routes.add_routes(app)
    callback_routes.add_routes(app)
    dashboard_routes.add_routes(app)
    privacy_routes.add_routes(app)
    miner_routes.setup(app)
    app.router.add_get("/api/ws", ws.handle)
    app.router.add_get("/", _page("console/index.html"))
    app.router.add_get("/dashboard", _page("console/dashboard.html"))
    app.router.add_get("/chat", _page("chat/index.html"))
    app.router.add_get("/chat/config.js", _chat_config)
    app.router.add_get("/widget.js", _page("widget/widget.js"))
    app.router.add_static("/static/", STATIC)
    return app


async def _lifecycle(app: web.Application):
    settings, redis, keys = app[SETTINGS], app[REDIS], app[KEYS]
    timeout = aiohttp.ClientTimeout(total=settings.rasa_timeout)
    session = aiohttp.ClientSession(timeout=timeout)
    app[RASA] = RasaClient(session, settings.rasa_url, settings.rasa_token)
    app[HUB] = Hub(redis, keys, Presence(redis, keys, settings.disconnect_grace))
    app[HUB].start()
    app[MESSENGER] = SendApi(settings.messenger_page_token, settings.messenger_graph_url,
                             backoff=settings.messenger_retry_backoff)
    app[WORKERS] = Workers(redis, keys, app[STORE], app[RASA], app[MESSENGER], app[ACCOUNTS],
                           app[TEAMS], settings)
    app[GIVEBACK] = app[WORKERS].giveback
    app[WORKERS].start()
    yield
    await _stop_background(app)  # done already, unless the start failed part way
    await app[MESSENGER].close()
    await session.close()
    await redis.close(close_connection_pool=True)
    await app[SESSION_REDIS].close(close_connection_pool=True)


async def _stop_background(app: web.Application) -> None:
    """As the stop begins: the workers finish the entry in hand, the consoles' sockets close.

    Not later: aiohttp's `run_app` (3.9) then waits, up to `shutdown_timeout`, for every task
    started after the start to end. The workers' loops start one at each pass (`wait_for` on
    their stop event) and a console's socket lasts until closed, so that wait never ended
    early: every stop of the service took the whole 10 s, and with a console open, more than
    the 15 s after which `stack.services` kills it (measured: 11 s, 15 s; now about 1 s).
    """
    await app[WORKERS].stop()
    await app[HUB].stop()


def _page(relative: str) -> Handler:
    # Framing, CSP and the other security headers: `handoff.service.security`.
    async def page(request: web.Request) -> web.StreamResponse:
        return web.FileResponse(STATIC / relative, headers={"Cache-Control": "no-cache"})
    return page


async def _chat_config(request: web.Request) -> web.Response:
    settings = request.app[SETTINGS]
    config = {"rasaUrl": settings.chat_rasa_url, "socketPath": "/socket.io"}
    return web.Response(text=f"window.HANDOFF_CONFIG = {json.dumps(config)};\n",
                        content_type="application/javascript")


@web.middleware
async def _errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except ApiError as exc:
        return error_response(request, exc.code, exc.retry_after)
    except web.HTTPRequestEntityTooLarge:
        return error_response(request, "too_large")
    except web.HTTPException:
        raise
    except RedisError as exc:
        # Redis is restarting or unreachable: a clear "try again", not an internal error.
        logger.warning("api.store_unavailable path=%s error=%r", request.path, exc)
        return error_response(request, "store_unavailable")
    except Exception:
        logger.exception("api.unhandled path=%s", request.path)
        return web.json_response(
            {"error": {"code": "internal", "message": "Internal error / Erreur interne"}},
            status=500)


@web.middleware
async def _rate_limit(request: web.Request, handler: Handler) -> web.StreamResponse:
    # Per signed-in agent. A request without a session is answered 401 at no cost, and sign-in
    # has its own throttling (`login_guard`): a per-address count here would let anyone behind
    # the same address (an office, a proxy) lock every agent out with cheap requests.
    if not request.path.startswith("/api/") or request.path == "/api/ws":
        return await handler(request)
    session = await aiohttp_session.get_session(request)
    username = session.get("agent")
    if not username:
        return await handler(request)
    conversation = request.match_info.get("id") \
        if request.path.startswith("/api/conversations/") else None
    # The account, and the route's conversation, are read in the same round trip, for
    # `access.current_agent` and `access.known`.
    caller = await read_caller(request.app, username, conversation)
    if caller.retry_after is not None:
        return error_response(request, "too_many_requests", caller.retry_after)
    request[SIGNED_IN] = (username, caller.agent)
    if conversation:
        request[PREFETCHED] = caller.record
    return await handler(request)


@web.middleware
async def _csrf(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.method in ("POST", "PUT", "PATCH", "DELETE"):
        origin = request.headers.get("Origin")
        own = request.app[SETTINGS].public_url
        if request.content_type != "application/json":
            raise ApiError("csrf")
        if origin is not None and origin.rstrip("/") not in (own, _request_origin(request)):
            raise ApiError("csrf")
    return await handler(request)


def _request_origin(request: web.Request) -> str:
    return f"{request.scheme}://{request.host}"
