"""HTTP routes of the agent API (see docs/agent-api.md)."""

from __future__ import annotations

import logging
import time
from typing import Any, Dict, List, Optional, Tuple

from aiohttp import web
from aiohttp_session import get_session, new_session

from handoff import channels, notes
from handoff.account_rules import canonical_username
from handoff.accounts import Agent
from handoff.announce import Announcer
from handoff.conversation import (
    Conversation,
    IllegalTransition,
    LimitReached,
    NotYours,
    State,
)
from handoff.notices import notice_event
from handoff.profiles import ProfileStore
from handoff.rasa_api import RasaUnavailable
from handoff.relay.tracker import segment_events
from handoff.service import appkeys as app_keys
from handoff.service.api import sending
from handoff.service.api.access import (
    client_address,
    current_agent,
    json_body,
    known,
    language_of,
    owned,
    visible,
)
from handoff.service.api.errors import ApiError
from handoff.service.api.login_guard import Attempt
from handoff.service.jobs.sla import DEFAULT_FIRST_REPLY_SLA, sla_status
from handoff.survey import SurveyStore, question_event, survey_context
from handoff.ticket import Ticket
from handoff.transcript import turns_from_events

logger = logging.getLogger(__name__)

# Hand-back flows: the id the console sends -> the intent triggered in Rasa.
FLOWS = {
    "anything_else": ("EXTERNAL_handback_anything_else",
                      {"en": "Anything else?", "fr": "Autre chose ?"}),
    "satisfaction": ("EXTERNAL_handback_satisfaction",
                     {"en": "Satisfaction question", "fr": "Question de satisfaction"}),
}

EARLIER_SHOWN = 10
MAX_LOGIN_FIELD = 1024
DEVICE_COOKIE = "hf_device"  # a browser an account signed in from (`login_guard`)


def add_routes(app: web.Application) -> None:
    """Registers the API routes."""
    app.router.add_post("/api/login", login)
    app.router.add_post("/api/logout", logout)
    app.router.add_get("/api/me", me)
    app.router.add_get("/api/flows", flows)
    app.router.add_get("/api/queue", queue)
    app.router.add_get("/api/conversations", my_conversations)
    app.router.add_get("/api/conversations/{id}", conversation)
    app.router.add_post("/api/conversations/{id}/claim", claim)
    app.router.add_post("/api/conversations/{id}/messages", send_message)
    app.router.add_post("/api/conversations/{id}/handback", handback)
    app.router.add_post("/api/conversations/{id}/close", close)


async def login(request: web.Request) -> web.Response:
    """Signs an agent in with a username and password, throttled (`login_guard`)."""
    body = await json_body(request)
    username, password = body.get("username"), body.get("password")
    if not isinstance(username, str) or not isinstance(password, str) or \
            len(username) > MAX_LOGIN_FIELD or len(password) > MAX_LOGIN_FIELD:
        raise ApiError("bad_request")
    guard = request.app[app_keys.LOGIN_GUARD]
    attempt = Attempt(canonical_username(username), client_address(request),
                      request.cookies.get(DEVICE_COOKIE))
    wait = await guard.retry_after(attempt)
    if wait is not None:
        raise ApiError("login_throttled", retry_after=wait)
    agent = await request.app[app_keys.ACCOUNTS].verify(username, password)
    if agent is None:
        await guard.failed(attempt)
        raise ApiError("bad_credentials")
    device = await guard.succeeded(attempt)
    session = await new_session(request)
    session["agent"] = agent.username
    response = web.json_response({"agent": agent.public()})
    response.set_cookie(DEVICE_COOKIE, device, max_age=guard.policy.trust_for, path="/api/login",
                        httponly=True, samesite="Strict",
                        secure=request.app[app_keys.SETTINGS].public_url.startswith("https://"))
    return response


async def logout(request: web.Request) -> web.Response:
    """Ends the session."""
    session = await get_session(request)
    session.invalidate()
    return web.json_response({})


async def me(request: web.Request) -> web.Response:
    """The signed-in agent."""
    return web.json_response({"agent": (await current_agent(request)).public()})


async def flows(request: web.Request) -> web.Response:
    """Flows an agent can hand a conversation back into."""
    await current_agent(request)
    return web.json_response(
        {"flows": [{"id": fid, "label": label} for fid, (_, label) in FLOWS.items()]})


async def queue(request: web.Request) -> web.Response:
    """Tickets waiting for this agent (no team, or one of theirs), first in line first."""
    agent = await current_agent(request)
    store = request.app[app_keys.STORE]
    # Three round trips however many wait: the ids, their records, their tickets.
    records = [r for r in await store.queued() if agent.serves(r.team)]
    tickets = []
    for record, ticket in zip(records, await store.tickets([r.ticket_id for r in records]),
                              strict=True):
        if ticket is not None:
            tickets.append({**ticket.public(), "team": record.team,
                            "sla": sla_of(request, record)})
    return web.json_response({"tickets": tickets})


async def my_conversations(request: web.Request) -> web.Response:
    """Conversations assigned to the signed-in agent."""
    agent = await current_agent(request)
    store = request.app[app_keys.STORE]
    found = [await describe(request, await store.get(cid), transcript=False)
             for cid in await store.agent_conversation_ids(agent.username)]
    return web.json_response({"conversations": found})


async def conversation(request: web.Request) -> web.Response:
    """One conversation with its ticket and its whole transcript."""
    agent = await current_agent(request)
    record = await visible(request, agent)
    return web.json_response({"conversation": await describe(request, record)})


async def claim(request: web.Request) -> web.Response:
    """Takes a queued conversation; exactly one of two racing agents wins."""
    agent = await current_agent(request)
    cid = request.match_info["id"]
    record = await known(request, cid)
    store = request.app[app_keys.STORE]
    if record.state == State.QUEUED and not agent.serves(record.team):
        raise ApiError("other_team")
    if record.state == State.TRANSFERRED and record.agent == agent.username:
        record = await store.accept(cid, agent.username)
        return web.json_response({"conversation": await describe(request, record,
                                                                  transcript=False)})
    if record.state == State.TRANSFERRED and not agent.is_supervisor:
        raise ApiError("transferred_to_other")
    try:
        record = await store.claim(
            cid, agent.username, agent.name, limit=agent.max_conversations,
            transferred_to=record.agent if record.state == State.TRANSFERRED else None)
    except IllegalTransition as exc:
        raise ApiError("already_claimed" if exc.current != State.BOT else "bad_state") from exc
    except NotYours as exc:
        raise ApiError("already_claimed") from exc  # transferred again meanwhile
    except LimitReached as exc:
        raise ApiError("limit_reached") from exc
    await tell_customer_agent_joined(request, record, agent.name)
    return web.json_response({"conversation": await describe(request, record, transcript=False)})


async def tell_customer_agent_joined(request: web.Request, record: Conversation,
                                     agent_name: str) -> None:
    """Tells the customer, in their language, who has joined; best effort."""
    await Announcer(request.app[app_keys.REDIS], request.app[app_keys.KEYS],
                    request.app[app_keys.STORE], request.app[app_keys.RASA]).agent_joined(
        record.id, agent_name)


async def send_message(request: web.Request) -> web.Response:
    """Accepts an agent message for delivery to the customer (the socket's door too)."""
    agent = await current_agent(request)
    text, client_id = sending.checked(await json_body(request), request.app)
    record = await known(request, request.match_info["id"])
    message = await sending.accept(request.app, agent, record, text, client_id)
    return web.json_response({"message": sending.accepted(message)}, status=202)


async def handback(request: web.Request) -> web.Response:
    """Gives the conversation back to the bot, optionally into a chosen flow."""
    agent = await current_agent(request)
    cid = request.match_info["id"]
    body = await json_body(request)
    flow = body.get("flow")
    if flow is not None and (not isinstance(flow, str) or flow not in FLOWS):
        raise ApiError("unknown_flow")
    record = await owned(request, cid, agent)
    after = [] if flow is not None else \
        [notice_event("handed_back", await language_of(request, record), agent.name)]
    record = await _give_back(request, cid, agent, State.BOT, after=after,
                              flow_intent=FLOWS[flow][0] if flow is not None else None)
    return web.json_response({"conversation": await describe(request, record, transcript=False)})


async def close(request: web.Request) -> web.Response:
    """Closes the conversation; the customer's next message starts again with the bot."""
    agent = await current_agent(request)
    cid = request.match_info["id"]
    body = await json_body(request)
    resolution = body.get("resolution", "resolved")
    if not isinstance(resolution, str) or len(resolution) > 64:
        raise ApiError("bad_request")
    record = await owned(request, cid, agent)
    language = await language_of(request, record)
    farewell = notice_event("closed", language, agent.name, resolution=resolution)
    survey_id, survey = await _survey(request, record, language)
    try:
        record = await _give_back(request, cid, agent, State.CLOSED, resolution=resolution,
                                  after=[farewell, *survey], answer_left=False)
    except ApiError:
        if survey_id:
            await _surveys(request).discard(survey_id)  # never asked
        raise
    return web.json_response({"conversation": await describe(request, record, transcript=False)})


def _surveys(request: web.Request) -> SurveyStore:
    return SurveyStore(request.app[app_keys.REDIS], request.app[app_keys.KEYS])


async def _survey(request: web.Request, record: Conversation,
                  language: str) -> Tuple[Optional[str], List[Dict[str, Any]]]:
    """The satisfaction survey's first question, sent after the goodbye (`handoff.survey`)."""
    ticket = await request.app[app_keys.STORE].ticket(record.ticket_id)
    context = survey_context(record.id, await channels.channel_of(
        request.app[app_keys.REDIS], request.app[app_keys.KEYS], record.id), language,
        {**record.public(), "ticket_id": record.ticket_id}, ticket.public() if ticket else None)
    if context is None:
        return None, []
    survey_id = await _surveys(request).start(closed_by="agent", **context)
    return survey_id, [question_event(survey_id, "csat", language)]


async def _give_back(request: web.Request, cid: str, agent: Agent, target: State,
                     resolution: str = "", **options: Any) -> Conversation:
    """Ends the handoff the one way (`handoff.relay.giveback`), by the agent who owns it."""
    fields = {"agent": "", "agent_name": ""}
    if target == State.CLOSED and resolution:
        fields["resolution"] = resolution
    try:
        return await request.app[app_keys.GIVEBACK].run(cid, target, owner=agent.username,
                                                        fields=fields, **options)
    except IllegalTransition as exc:
        raise ApiError("bad_state") from exc
    except NotYours as exc:
        raise ApiError("not_yours") from exc
    except RasaUnavailable as exc:
        raise ApiError("rasa_unavailable") from exc


async def describe(request: web.Request, record: Conversation,
                   transcript: bool = True) -> Dict[str, Any]:
    """A conversation as the console shows it; with `transcript`, its turns and notes too."""
    store = request.app[app_keys.STORE]
    ticket = await store.ticket(record.ticket_id)
    described: Dict[str, Any] = {
        **record.public(),
        "position": await store.position(record.id),
        "ticket": ticket.public() if ticket else None,
        "reach": await channels.reach(request.app[app_keys.REDIS], request.app[app_keys.KEYS],
                                      record.id, time.time()),
        "sla": sla_of(request, record),
    }
    if transcript:
        described["contact"] = await request.app[app_keys.REDIS].hgetall(
            request.app[app_keys.KEYS].contact(record.id))
        described["earlier"] = await _earlier(request, record, ticket)
        described.update(await _transcript(request, record.id, ticket))
        described["notes"] = await notes.all_notes(request.app[app_keys.REDIS],
                                                   request.app[app_keys.KEYS], record.id)
    return described


def sla_of(request: web.Request, record: Conversation) -> Optional[Dict[str, Any]]:
    """The conversation's first-reply SLA (`handoff.service.jobs.sla`), by its team's target."""
    team = request.app[app_keys.TEAMS].get(record.team or "")
    target = team.first_reply_sla if team else DEFAULT_FIRST_REPLY_SLA
    return sla_status(record.queued_at, record.first_reply_at, target, time.time())


async def _earlier(request: web.Request, record: Conversation,
                  ticket: Optional[Ticket]) -> List[Dict[str, Any]]:
    """The customer's earlier tickets on every linked channel, newest first."""
    profiles = ProfileStore(request.app[app_keys.REDIS], request.app[app_keys.KEYS])
    store = request.app[app_keys.STORE]
    found: Dict[str, Dict[str, Any]] = {}
    for cid in await profiles.linked_conversations(record.id):
        for brief in await store.earlier_tickets(cid):
            found[brief["ticket_id"]] = brief
    found.pop(ticket.ticket_id if ticket else "", None)
    return sorted(found.values(), key=lambda b: b["created_at"], reverse=True)[:EARLIER_SHOWN]


async def _transcript(request: web.Request, cid: str, ticket: Optional[Any]) -> Dict[str, Any]:
    # The tracker, then the live turns it does not have yet (`handoff.relay.tracker`).
    pending = await segment_events(request.app[app_keys.REDIS], request.app[app_keys.KEYS], cid)
    try:
        tracker = await request.app[app_keys.RASA].tracker(cid)
    except RasaUnavailable:
        # The ticket's copy keeps the agent working while Rasa restarts.
        turns = ticket.transcript if ticket else []
        return {"transcript": _with_live(turns, pending), "transcript_source": "ticket"}
    return {"transcript": _with_live(turns_from_events(tracker.get("events") or []), pending),
            "transcript_source": "rasa"}


def _with_live(turns: List[Dict[str, Any]], pending: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    shown = {turn.get("id") for turn in turns}
    return [*turns, *(t for t in turns_from_events(pending) if t.get("id") not in shown)]

