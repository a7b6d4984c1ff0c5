"""Agent API routes for working on conversations: notes, canned responses, transfer, presence.

See docs/agent-api.md. Conversation lifecycle routes (claim, messages, hand-back, close) are in
`handoff.service.api.routes`.
"""

from __future__ import annotations

import json
import time
from typing import Any, Dict, List, Optional

from aiohttp import web

from handoff import notes, push
from handoff.accounts import Agent
from handoff.announce import Announcer
from handoff.channels import (
    MESSENGER,
    channel_of,
    messenger_address,
    messenger_fields,
)
from handoff.conversation import Conversation, IllegalTransition, LimitReached, NotYours
from handoff.push import to_agents as publish
from handoff.push import to_customer
from handoff.service import appkeys as app_keys
from handoff.service.api import canned
from handoff.service.api.access import current_agent, json_body, known, owned, visible
from handoff.service.api.errors import ApiError, prefers_french
from handoff.service.api.routes import describe, tell_customer_agent_joined
from handoff.service.insights import suggestions as suggesting
from handoff.service.insights.knowledge import GoodAnswers, question_for
from handoff.ticket import Reason

MAX_NOTE_CHARS = 4000
PRESENCE = ("online", "away")


def add_routes(app: web.Application) -> None:
    """Registers the routes."""
    app.router.add_get("/api/canned", canned_responses)
    app.router.add_get("/api/agents", agents)
    app.router.add_post("/api/me/presence", set_presence)
    app.router.add_get("/api/conversations/{id}/notes", list_notes)
    app.router.add_post("/api/conversations/{id}/notes", add_note)
    app.router.add_post("/api/conversations/{id}/transfer", transfer)
    app.router.add_post("/api/conversations/{id}/typing", typing)
    app.router.add_post("/api/conversations/{id}/reassign", reassign)
    app.router.add_get("/api/teams", teams)
    app.router.add_get("/api/supervisor/conversations", all_conversations)
    app.router.add_post("/api/conversations/{id}/good-answers", mark_good_answer)
    app.router.add_get("/api/conversations/{id}/good-answers", list_good_answers)
    app.router.add_get("/api/conversations/{id}/suggestions", suggestions)
    app.router.add_get("/api/knowledge", knowledge)


async def canned_responses(request: web.Request) -> web.Response:
    """Canned responses, filtered by `?q=` (words in title or text, either language)."""
    await current_agent(request)
    found = canned.search(request.app[app_keys.CANNED], request.query.get("q", ""))
    return web.json_response({"canned": [c.public() for c in found]})


async def agents(request: web.Request) -> web.Response:
    """Every agent with presence, load and limit (to pick a transfer target; supervisors)."""
    await current_agent(request)
    return web.json_response({"agents": [await _agent_status(request, a)
                                         for a in await request.app[app_keys.ACCOUNTS].all()]})


async def set_presence(request: web.Request) -> web.Response:
    """Sets the signed-in agent's presence: `online` or `away`."""
    agent = await current_agent(request)
    status = (await json_body(request)).get("status")
    if status not in PRESENCE:
        raise ApiError("bad_request")
    await request.app[app_keys.REDIS].set(request.app[app_keys.KEYS].presence(agent.username),
                                          status)
    await publish(request.app[app_keys.REDIS], request.app[app_keys.KEYS],
                  {"type": "agent.presence", "agent": agent.username, "status": status,
                   "audience": push.everyone()})
    return web.json_response({"agent": await _agent_status(request, agent)})


async def list_notes(request: web.Request) -> web.Response:
    """The conversation's internal notes."""
    agent = await current_agent(request)
    record = await visible(request, agent)
    found = await notes.all_notes(request.app[app_keys.REDIS], request.app[app_keys.KEYS],
                                  record.id)
    return web.json_response({"notes": found})


async def add_note(request: web.Request) -> web.Response:
    """Adds an internal note; agents who can see the conversation get it, the customer never."""
    agent = await current_agent(request)
    record = await visible(request, agent)
    text = (await json_body(request)).get("text")
    if not isinstance(text, str):
        raise ApiError("bad_request")
    if not text.strip():
        raise ApiError("empty_message")
    if len(text) > MAX_NOTE_CHARS:
        raise ApiError("message_too_long")
    note = await notes.add(request.app[app_keys.REDIS], request.app[app_keys.KEYS], record.id,
                           agent.username, agent.name, text.strip())
    await _announce_note(request, record, note)
    return web.json_response({"note": note}, status=201)


async def mark_good_answer(request: web.Request) -> web.Response:
    """Marks an agent's reply (`turn_id`) as a good answer to the customer message before it.

    Marked pairs are candidate FAQ entries for bot designers (`python -m
    handoff.service.insights.miner`).
    """
    agent = await current_agent(request)
    record = await visible(request, agent)
    turn_id = (await json_body(request)).get("turn_id")
    if not isinstance(turn_id, str) or not turn_id:
        raise ApiError("bad_request")
    turns = (await describe(request, record))["transcript"]
    try:
        question, answer = question_for(turns, turn_id)
    except LookupError as exc:
        raise ApiError("not_an_answer") from exc
    pair = await GoodAnswers(request.app[app_keys.REDIS], request.app[app_keys.KEYS]).mark(
        record.id, question, answer, agent.username)
    return web.json_response({"good_answer": {"id": pair.id, "question": pair.question,
                                              "answer": pair.answer, "agent": pair.agent}},
                             status=201)


async def list_good_answers(request: web.Request) -> web.Response:
    """The conversation's replies marked as good answers (the console shows them marked)."""
    agent = await current_agent(request)
    record = await visible(request, agent)
    pairs = await GoodAnswers(request.app[app_keys.REDIS], request.app[app_keys.KEYS]).list()
    return web.json_response({"good_answers": [
        {"id": p.id, "answer_id": p.answer_id, "question_id": p.question_id,
         "agent": p.agent, "marked_by": p.marked_by, "marked_at": p.marked_at}
        for p in pairs if p.conversation_id == record.id]})


async def suggestions(request: web.Request) -> web.Response:
    """Up to three replies to the customer's latest message, from the team's knowledge.

    The assistant's FAQ answers, canned responses and good answers in the customer's language,
    ranked by `handoff.service.insights.suggestions`; `{"question": null}` before any customer
    message.
    """
    agent = await current_agent(request)
    record = await visible(request, agent)
    question = await _latest_question(request, record)
    language = await request.app[app_keys.STORE].language(record) or "en"
    found = []
    if question:
        answers = await GoodAnswers(request.app[app_keys.REDIS],
                                    request.app[app_keys.KEYS]).list()
        found = suggesting.rank(question, await _knowledge(request, answers, language, agent))
    return web.json_response({"question": question, "language": language,
                              "suggestions": [s.public() for s in found]})


MAX_QUERY = 200
KNOWLEDGE_SHOWN = 8


async def knowledge(request: web.Request) -> web.Response:
    """The team's knowledge searched by words: `?q=…&language=fr|en` (the console's search box).

    The same sources and ranking as the suggestions, more results; good answers masked.
    """
    agent = await current_agent(request)
    query, language = request.query.get("q", ""), request.query.get("language", "en")
    if len(query) > MAX_QUERY or language not in ("en", "fr"):
        raise ApiError("bad_request")
    answers = await GoodAnswers(request.app[app_keys.REDIS], request.app[app_keys.KEYS]).list()
    found = suggesting.rank(query, await _knowledge(request, answers, language, agent),
                            shown=KNOWLEDGE_SHOWN)
    return web.json_response({"results": [s.public() for s in found]})


async def _knowledge(request: web.Request, answers: List[Any], language: str,
                     agent: Agent) -> List[suggesting.Candidate]:
    """Everything suggestions and the search draw on, in the customer's language."""
    return suggesting.candidates(request.app[app_keys.CANNED], answers, language, agent.name,
                                 request.app[app_keys.FAQ],
                                 await request.app[app_keys.RESOLVED].pairs())


async def _latest_question(request: web.Request, record: Conversation) -> Optional[str]:
    """The live path's last customer message (`Keys.last_customer_turn`), else the ticket's.

    Not the ticket's when the customer asked for a person: that message is the request itself
    ("I want to talk to someone"), not a question to answer.
    """
    raw = await request.app[app_keys.REDIS].hget(
        request.app[app_keys.KEYS].last_customer_turn(record.id), "event")
    if raw:
        text = (json.loads(raw) or {}).get("text") or ""
        if text and not text.startswith("/"):
            return text
    ticket = await request.app[app_keys.STORE].ticket(record.ticket_id)
    if ticket is None or ticket.reason == Reason.ASKED.value:
        return None
    return suggesting.latest_question(ticket.transcript)


async def transfer(request: web.Request) -> web.Response:
    """Hands the conversation to an agent (`to`) or a team's queue (`team`), with a note."""
    agent = await current_agent(request)
    cid = request.match_info["id"]
    body = await json_body(request)
    note_text = _note_of(body)
    if body.get("team") is not None:
        return await _transfer_to_team(request, agent, cid, body["team"], note_text)
    target = await _target_agent(request, body)
    if target.username == agent.username:
        raise ApiError("unknown_agent")
    await owned(request, cid, agent)
    store = request.app[app_keys.STORE]
    try:
        record = await store.transfer(cid, agent.username, target.username, target.name)
    except (IllegalTransition, NotYours) as exc:
        raise ApiError("bad_state") from exc
    await _handover_note(request, agent, record, target.name, note_text)
    await tell_customer_agent_joined(request, record, target.name)
    return web.json_response({"conversation": record.public()})


async def _transfer_to_team(request: web.Request, agent: Agent, cid: str, team_id: Any,
                            note_text: str) -> web.Response:
    team = request.app[app_keys.TEAMS].get(team_id) if isinstance(team_id, str) else None
    if team is None:
        raise ApiError("unknown_team")
    await owned(request, cid, agent)
    try:
        record = await request.app[app_keys.STORE].to_team(cid, agent.username, team.id)
    except (IllegalTransition, NotYours) as exc:
        raise ApiError("bad_state") from exc
    console_language = "fr" if prefers_french(request) else "en"
    await _handover_note(request, agent, record, team.label[console_language], note_text)
    # The conversation is in the team's queue either way; a failed notice is only logged.
    await Announcer(request.app[app_keys.REDIS], request.app[app_keys.KEYS],
                    request.app[app_keys.STORE], request.app[app_keys.RASA]).send(
        cid, "transferred_to_team", agent.name, team=team.label)
    return web.json_response({"conversation": record.public()})


async def teams(request: web.Request) -> web.Response:
    """The teams a conversation can be transferred to, with members online now."""
    await current_agent(request)
    accounts = await request.app[app_keys.ACCOUNTS].all()
    redis, keys = request.app[app_keys.REDIS], request.app[app_keys.KEYS]
    found = []
    for team in request.app[app_keys.TEAMS].values():
        members = [a for a in accounts if team.id in a.teams]
        online = [a for a in members if await redis.get(keys.presence(a.username)) == "online"]
        found.append({**team.public(), "members": len(members), "online": len(online)})
    return web.json_response({"teams": found})


async def reassign(request: web.Request) -> web.Response:
    """A supervisor gives a queued or held conversation to an agent, with a note."""
    supervisor = await _supervisor(request)
    cid = request.match_info["id"]
    body = await json_body(request)
    note_text = _note_of(body)
    target = await _target_agent(request, body)
    await known(request, cid)
    try:
        record = await request.app[app_keys.STORE].reassign(cid, target.username, target.name,
                                                            limit=target.max_conversations)
    except IllegalTransition as exc:
        raise ApiError("bad_state") from exc
    except LimitReached as exc:
        raise ApiError("limit_reached") from exc
    await _handover_note(request, supervisor, record, target.name, note_text)
    await tell_customer_agent_joined(request, record, target.name)
    return web.json_response({"conversation": record.public()})


def _note_of(body: Dict[str, Any]) -> str:
    note_text = body.get("note", "")
    if not isinstance(note_text, str) or len(note_text) > MAX_NOTE_CHARS:
        raise ApiError("bad_request")
    return note_text.strip()


async def _target_agent(request: web.Request, body: Dict[str, Any]) -> Agent:
    to = body.get("to")
    if not isinstance(to, str):
        raise ApiError("bad_request")
    target = await request.app[app_keys.ACCOUNTS].get(to)
    if target is None:
        raise ApiError("unknown_agent")
    return target


async def _handover_note(request: web.Request, actor: Agent, record: Conversation,
                         target: str, note_text: str) -> None:
    """The note "Actor → Target: note", which the new owner or team sees first."""
    text = f"{actor.name} → {target}" + (f": {note_text}" if note_text else "")
    note = await notes.add(request.app[app_keys.REDIS], request.app[app_keys.KEYS], record.id,
                           actor.username, actor.name, text)
    await _announce_note(request, record, note)


async def all_conversations(request: web.Request) -> web.Response:
    """Every conversation an agent holds now, with its ticket, for supervisors."""
    await _supervisor(request)
    store = request.app[app_keys.STORE]
    held = []
    for agent in await request.app[app_keys.ACCOUNTS].all():
        for cid in await store.agent_conversation_ids(agent.username):
            held.append(await describe(request, await store.get(cid), transcript=False))
    return web.json_response({"conversations": held})


async def _supervisor(request: web.Request) -> Agent:
    agent = await current_agent(request)
    if not agent.is_supervisor:
        raise ApiError("forbidden")
    return agent


async def typing(request: web.Request) -> web.Response:
    """Shows or hides "Marie is typing…" in the customer's chat."""
    agent = await current_agent(request)
    cid = request.match_info["id"]
    is_typing = (await json_body(request)).get("typing")
    if not isinstance(is_typing, bool):
        raise ApiError("bad_request")
    await owned(request, cid, agent)
    redis, keys = request.app[app_keys.REDIS], request.app[app_keys.KEYS]
    if await channel_of(redis, keys, cid) == MESSENGER:
        # Best effort, and only while the customer can still be written to.
        if await messenger_fields(redis, keys, cid, time.time()) is not None:
            await request.app[app_keys.MESSENGER].sender_action(
                await messenger_address(redis, keys, cid), "typing_on" if is_typing else
                "typing_off")
    else:
        await to_customer(redis, keys, cid, "agent_typing",
                          {"typing": is_typing, "agent": agent.name})
    return web.json_response({})


async def _announce_note(request: web.Request, record: Conversation,
                         note: Dict[str, Any]) -> None:
    audience = push.agents(record.agent) if record.agent else push.team(record.team)
    await publish(request.app[app_keys.REDIS], request.app[app_keys.KEYS],
                  {"type": "note", "conversation_id": record.id, "note": note,
                   "audience": audience})


async def _agent_status(request: web.Request, agent: Agent) -> Dict[str, Any]:
    redis, keys = request.app[app_keys.REDIS], request.app[app_keys.KEYS]
    presence = await redis.get(keys.presence(agent.username))
    load: List[str] = await request.app[app_keys.STORE].agent_conversation_ids(agent.username)
    return {**agent.public(), "presence": presence or "offline", "load": len(load)}

