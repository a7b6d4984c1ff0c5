"""Who may see and act on what, and reading request bodies: shared by the API routes."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Dict, Optional

from aiohttp import web
from aiohttp_session import get_session

from handoff.accounts import Agent
from handoff.callbacks import Callbacks
from handoff.conversation import HUMAN_STATES, Conversation, State
from handoff.ratelimit import AGENT_API, RateLimiter
from handoff.service import appkeys as app_keys
from handoff.service.api.errors import ApiError

# The request's signed-in account, when the rate limit's round trip already read it.
SIGNED_IN = "handoff.signed_in"
# The route's conversation record, read in that same round trip (used once: a handler that
# reads it again after a transition gets it fresh).
PREFETCHED = "handoff.prefetched_record"


@dataclass(frozen=True)
class Caller:
    """What the agent API reads before it answers a signed-in agent, in one round trip."""

    retry_after: Optional[int]  # over the limit: seconds until the next request may come
    agent: Optional[Agent]  # None: the account is gone
    record: Optional[Conversation]  # the conversation asked about, when one was
    session_agent: Optional[str] = None  # whom the session names now, when it was asked


async def read_caller(app: web.Application, username: str, conversation: Optional[str] = None,
                      session_key: Optional[str] = None) -> Caller:
    """The agent's request counted, their account, the conversation, the session: one trip.

    The session is read for a socket opened earlier (`session_key`): whom it names now.
    """
    limiter = RateLimiter(app[app_keys.REDIS], app[app_keys.KEYS])
    accounts, store = app[app_keys.ACCOUNTS], app[app_keys.STORE]
    async with app[app_keys.REDIS].pipeline(transaction=False) as pipe:
        counted = limiter.count_on(pipe, AGENT_API, f"agent:{username}")
        canonical = accounts.get_on(pipe, username)
        if conversation:
            store.get_many_on(pipe, [conversation])
        if session_key:
            pipe.get(session_key)
        replies = await pipe.execute()
    agent = accounts.agent_from(canonical, replies[2]) if canonical is not None else None
    at = 3 if canonical is not None else 2
    record = store.records([conversation], replies[at:at + 1])[0] if conversation else None
    return Caller(limiter.verdict(counted, replies[0]), agent, record,
                  _session_agent(replies[-1]) if session_key else None)


def _session_agent(raw: Optional[str]) -> Optional[str]:
    # aiohttp-session's JSON: {"created": ..., "session": {"agent": ...}}; signing out empties it.
    try:
        name = json.loads(raw)["session"]["agent"] if raw else None
    except (ValueError, KeyError, TypeError):
        return None
    return name if isinstance(name, str) else None


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
    return handed_off(record)


def handed_off(record: Conversation) -> Conversation:
    """`record` if it was handed off at least once (the API knows no other), or `not_found`."""
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
