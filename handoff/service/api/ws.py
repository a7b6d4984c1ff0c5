"""The agents' WebSocket: live queue, states and messages (see docs/agent-api.md)."""

from __future__ import annotations

import json
import logging

from aiohttp import WSMsgType, web
from aiohttp_session import get_session

from handoff.service import appkeys as app_keys
from handoff.service.api import sending
from handoff.service.api.access import current_agent
from handoff.service.api.errors import ApiError, error_response, prefers_french

logger = logging.getLogger(__name__)

# A `message.send` of the longest message an agent may write, every character JSON-escaped
# (up to 6 bytes each); anything bigger closes the socket (1009) and the console posts it.
MAX_FRAME = 32 * 1024


async def handle(request: web.Request) -> web.StreamResponse:
    """Upgrades a signed-in agent's request and keeps it registered in the hub."""
    origin = request.headers.get("Origin")
    own = {request.app[app_keys.SETTINGS].public_url, f"{request.scheme}://{request.host}"}
    if origin is not None and origin.rstrip("/") not in own:
        return error_response(request, "csrf")
    try:
        agent = await current_agent(request)
    except ApiError as exc:
        return error_response(request, exc.code)
    session = await get_session(request)
    # Where aiohttp-session's RedisStorage keeps this session (`<cookie name>_<identity>`): each
    # `message.send` reads it again, so that signing out stops the socket's sending too. Were
    # that layout to change, sends would be refused as signed out and the console would post.
    session_key = f"{request.app[app_keys.KEYS].session_cookie}_{session.identity}"
    french = prefers_french(request)
    ws = web.WebSocketResponse(heartbeat=30, max_msg_size=MAX_FRAME)
    await ws.prepare(request)
    hub = request.app[app_keys.HUB]
    try:
        await ws.send_json({"type": "hello", "agent": agent.public()})
        await hub.add(ws, agent)  # after the hello: it is always the first frame
        async for message in ws:
            if message.type != WSMsgType.TEXT:
                continue
            try:
                frame = json.loads(message.data)
            except (json.JSONDecodeError, RecursionError):  # as `access.json_body`
                await ws.send_json({"type": "error", "code": "bad_json"})
                continue
            kind = frame.get("type") if isinstance(frame, dict) else None
            if kind == "ping":
                await ws.send_json({"type": "pong"})
            elif kind == sending.SEND:
                # One at a time: a console's messages are accepted in the order it sent them.
                await ws.send_json(await sending.from_socket(
                    request.app, agent.username, session_key, frame, french))
    finally:
        hub.remove(ws, agent)
    return ws
