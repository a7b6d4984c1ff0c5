"""Who may see and act on what, and reading request bodies: shared by the API routes."""

from __future__ import annotations

import json
from typing import Any, Dict

from aiohttp import web
from aiohttp_session import get_session

from handoff.accounts import Agent
from handoff.callbacks import Callbacks
from handoff.conversation import HUMAN_STATES, Conversation, State
from handoff.service import appkeys as app_keys
from handoff.service.api.errors import ApiError

# The request's signed-in account, when the rate limit's round trip already read it.
SIGNED_IN = "handoff.signed_in"
# The route's conversation record, read in that same round trip (used once: a handler that
# reads it again after a transition gets it fresh).
PREFETCHED = "handoff.prefetched_record"


async def current_agent(request: web.Request) -> Agent:
    """The signed-in agent, or 401."""
    session = await get_session(request)
    username = session.get("agent")
    read = request.get(SIGNED_IN)
    if read is not None and read[0] == username:
        agent = read[1]
    else:
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
    """The JSON object in the request body, or `bad_json` / `bad_request`.

    Text that cannot be stored is refused here, whatever the route: lone surrogates (a JSON
    escape of half a UTF-16 pair is valid JSON, but no UTF-8) and nesting too deep to parse.
    """
    try:
        body = await request.json()
        json.dumps(body, ensure_ascii=False).encode("utf-8")
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as exc:
        raise ApiError("bad_json") from exc
    except UnicodeEncodeError as exc:
        raise ApiError("bad_request") from exc
    if not isinstance(body, dict):
        raise ApiError("bad_request")
    return body


def client_address(request: web.Request) -> str:
    """The client's address: the peer's, or the one a trusted reverse proxy forwarded."""
    peer = request.remote or "?"
    proxies = request.app[app_keys.SETTINGS].trusted_proxies
    if peer not in proxies:
        return peer
    hops = [h.strip() for h in request.headers.get("X-Forwarded-For", "").split(",")
            if h.strip()]
    # The last hop our own proxies did not add is the client; earlier ones may be forged.
    for hop in reversed(hops):
        if hop not in proxies:
            return hop[:64]
    return peer


async def known(request: web.Request, cid: str) -> Conversation:
    """A conversation that was handed off at least once, or `not_found`."""
    prefetched = request.pop(PREFETCHED, None)
    record = prefetched if prefetched is not None and prefetched.id == cid else \
        await request.app[app_keys.STORE].get(cid)
    if record.ticket_id is None:
        raise ApiError("not_found")
    return record


async def visible(request: web.Request, agent: Agent) -> Conversation:
    """The route's conversation if queued for this agent, theirs, or any for a supervisor.

    Also one with a call-back for the agent to make, or that they made
    (`handoff.callbacks.Callback.lets_see`): whoever calls sees the whole conversation first.
    """
    record = await known(request, request.match_info["id"])
    if (record.state == State.QUEUED and agent.serves(record.team)) or \
            record.agent == agent.username or agent.is_supervisor:
        return record
    latest = await Callbacks(request.app[app_keys.REDIS], request.app[app_keys.KEYS]).latest(
        record.id)
    if latest is not None and latest.lets_see(agent.username, agent.serves(latest.team or None)):
        return record
    raise ApiError("not_found")


def may_act(agent: Agent, record: Conversation) -> bool:
    """The agent who has the conversation now, or a supervisor."""
    return agent.is_supervisor or (record.agent == agent.username
                                   and record.state in HUMAN_STATES)


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
