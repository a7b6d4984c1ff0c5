"""Who may see and act on what, and reading request bodies: shared by the API routes."""

from __future__ import annotations

import json
from typing import Any, Dict

from aiohttp import web
from aiohttp_session import get_session

from handoff.accounts import Agent
from handoff.conversation import Conversation, State
from handoff.service import appkeys as app_keys
from handoff.service.api.errors import ApiError


async def current_agent(request: web.Request) -> Agent:
    """The signed-in agent, or 401."""
    session = await get_session(request)
    username = session.get("agent")
    agent = await request.app[app_keys.ACCOUNTS].get(username) if username else None
    if agent is None:
        raise ApiError("unauthenticated")
    return agent


async def current_supervisor(request: web.Request) -> Agent:
    """The signed-in agent if a supervisor; 401 when signed out, `403 forbidden` otherwise."""
    agent = await current_agent(request)
    if not agent.is_supervisor:
        raise ApiError("forbidden")
    return agent


async def json_body(request: web.Request) -> Dict[str, Any]:
    """The JSON object in the request body, or `bad_json` / `bad_request`."""
    try:
        body = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ApiError("bad_json") from exc
    if not isinstance(body, dict):
        raise ApiError("bad_request")
    return body


async def known(request: web.Request, cid: str) -> Conversation:
    """A conversation that was handed off at least once, or `not_found`."""
    record = await request.app[app_keys.STORE].get(cid)
    if record.ticket_id is None:
        raise ApiError("not_found")
    return record


async def visible(request: web.Request, agent: Agent) -> Conversation:
    """The route's conversation if queued for this agent, theirs, or any for a supervisor."""
    record = await known(request, request.match_info["id"])
    if (record.state == State.QUEUED and agent.serves(record.team)) or \
            record.agent == agent.username or agent.is_supervisor:
        return record
    raise ApiError("not_found")


async def owned(request: web.Request, cid: str, agent: Agent) -> Conversation:
    """The conversation if the agent owns it and a human has it; else `bad_state`/`not_yours`."""
    record = await known(request, cid)
    if record.state not in (State.ASSIGNED, State.TRANSFERRED):
        raise ApiError("bad_state")
    if record.agent != agent.username:
        raise ApiError("not_yours")
    return record


async def language_of(request: web.Request, record: Conversation) -> str:
    """The customer's current language (the record's, else the ticket's; `en` without either)."""
    return await request.app[app_keys.STORE].language(record) or "en"
