"""The agents' WebSocket: live queue, states and messages (see docs/agent-api.md)."""

from __future__ import annotations

import json
import logging

from aiohttp import WSMsgType, web

from handoff.service import appkeys as app_keys
from handoff.service.api.access import current_agent
from handoff.service.api.errors import ApiError, error_response

logger = logging.getLogger(__name__)


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
    ws = web.WebSocketResponse(heartbeat=30, max_msg_size=4096)
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
            except json.JSONDecodeError:
                await ws.send_json({"type": "error", "code": "bad_json"})
                continue
            if isinstance(frame, dict) and frame.get("type") == "ping":
                await ws.send_json({"type": "pong"})
    finally:
        hub.remove(ws, agent)
    return ws
