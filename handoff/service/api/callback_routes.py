"""Call-back routes: agents offer calls and record their outcome; customers pick a time.

The call-back itself (its states, its keys, the slots, the phone number's check) is
`handoff.callbacks`'. Every step the customer must know of is told to them in their language
by a notice (`handoff.announce.Announcer`) whose metadata carries the call-back: that `bot` event
is the conversation's record of it, as for actions on orders (docs/agent-api.md).

Agents: `POST /api/conversations/{id}/callbacks` (offer), `GET …/callbacks` (the
conversation's), `GET /api/callbacks` (the list, by due time, `team` and `language` filters),
`POST /api/callbacks/{conversation}/{callback}/outcome`.
Customers (no account: the link's token is the secret): the page `/callback/{token}`,
`GET /api/callback/{token}` (slots), `POST /api/callback/{token}` (`slot`, `phone`).
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Dict, Optional
from zoneinfo import ZoneInfo

from aiohttp import web

from handoff import push
from handoff.announce import Announcer
from handoff.availability import OpeningHours
from handoff.callbacks import (
    MAX_NOTE,
    MAX_REQUEST_ID,
    OUTCOMES,
    Callback,
    CallbackError,
    Callbacks,
    choose_slot,
    clean_phone,
    offered_slots,
    slot_label,
)
from handoff.ratelimit import CALLBACK_PAGE, RateLimiter
from handoff.service import appkeys as app_keys
from handoff.service.api.access import current_agent, json_body, language_of, may_act, visible
from handoff.service.api.errors import ApiError

logger = logging.getLogger(__name__)

STATIC = Path(__file__).parents[1] / "static"


def add_routes(app: web.Application) -> None:
    """Registers the routes."""
    app.router.add_post("/api/conversations/{id}/callbacks", offer)
    app.router.add_get("/api/conversations/{id}/callbacks", of_conversation)
    app.router.add_get("/api/callbacks", callback_list)
    app.router.add_post("/api/callbacks/{conversation}/{callback}/outcome", outcome)
    app.router.add_get("/callback/{token}", page)
    app.router.add_get("/api/callback/{token}", customer_view)
    app.router.add_post("/api/callback/{token}", customer_schedule)


def callbacks_of(request: web.Request) -> Callbacks:
    """The call-backs on the service's Redis."""
    return Callbacks(request.app[app_keys.REDIS], request.app[app_keys.KEYS])


def link_of(request: web.Request, callback: Callback) -> str:
    """The customer's page for this call-back."""
    return f"{request.app[app_keys.SETTINGS].public_url}/callback/{callback.token}"


async def offer(request: web.Request) -> web.Response:
    """Offers the customer a call (the agent who has the conversation, or a supervisor).

    A conversation has one open call-back: offering again returns it and tells nothing again.
    """
    agent = await current_agent(request)
    record = await visible(request, agent)
    if not may_act(agent, record):
        raise ApiError("not_yours")
    language = await language_of(request, record)
    callback, created = await callbacks_of(request).offer(
        record.id, team=record.team, language=language, channel=record.channel or "",
        by=agent.username, by_name=agent.name)
    link = link_of(request, callback)
    if created:
        if not await _announcer(request).send(record.id, "callback_offered", agent.name,
                                              record_fields={"callback": callback.record()},
                                              link=link):
            raise ApiError("rasa_unavailable")
        await _push(request, callback)
    return web.json_response({"callback": callback.public(), "link": link, "created": created},
                             status=201 if created else 200)


async def of_conversation(request: web.Request) -> web.Response:
    """The conversation's call-backs, newest first, and whether this agent may offer one."""
    agent = await current_agent(request)
    record = await visible(request, agent)
    found = await callbacks_of(request).of_conversation(record.id)
    return web.json_response({"callbacks": [c.public() for c in found],
                              "can_offer": may_act(agent, record)})


async def callback_list(request: web.Request) -> web.Response:
    """Scheduled calls the agent's teams make, soonest first (`team`, `language` filters)."""
    agent = await current_agent(request)
    team, language = request.query.get("team") or None, request.query.get("language") or None
    if language not in (None, "en", "fr"):
        raise ApiError("bad_language")
    store = request.app[app_keys.STORE]
    shown = []
    for callback in await callbacks_of(request).due():
        if not agent.serves(callback.team or None) or (team and callback.team != team) or \
                (language and callback.language != language):
            continue
        record = await store.get(callback.conversation_id)
        ticket = await store.ticket(record.ticket_id)
        shown.append({**callback.public(),
                      "customer": (ticket.customer.get("name") if ticket else None),
                      "reason": ticket.reason if ticket else None,
                      "summary": ticket.summary if ticket else None,
                      "state": record.state.value})
    return web.json_response({"callbacks": shown, "now": time.time()})


async def outcome(request: web.Request) -> web.Response:
    """Records how the call went, once; the customer is told and the record carries it."""
    agent = await current_agent(request)
    found = await callbacks_of(request).get(request.match_info["conversation"],
                                            request.match_info["callback"])
    if found is None:
        raise ApiError("callback_unknown")
    if not agent.serves(found.team or None):
        raise ApiError("callback_other_team")
    body = await json_body(request)
    result, note, request_id = body.get("outcome"), body.get("note", ""), body.get("request_id")
    if result not in OUTCOMES or not isinstance(note, str) or len(note) > MAX_NOTE:
        raise ApiError("bad_outcome")
    if not isinstance(request_id, str) or not 0 < len(request_id) <= MAX_REQUEST_ID:
        raise ApiError("bad_request")
    try:
        done, _ = await callbacks_of(request).record_outcome(
            found, result, note.strip(), agent.username, agent.name, request_id)
    except CallbackError as exc:
        raise ApiError(exc.code) from exc
    if not done.told:  # recorded now, or by a try whose notice did not get through
        if not await _announcer(request).send(done.conversation_id, f"callback_{result}",
                                              done.done_by_name,
                                              record_fields={"callback": done.record()},
                                              phone=done.phone):
            raise ApiError("rasa_unavailable")  # kept: the same request again tells it
        await callbacks_of(request).mark_told(done)
        await _push(request, done)
    return web.json_response({"callback": done.public()})


async def page(request: web.Request) -> web.StreamResponse:
    """The customer's page (its script reads the token from the address)."""
    return web.FileResponse(STATIC / "callback" / "index.html",
                            headers={"Cache-Control": "no-store"})


async def _customers(request: web.Request) -> Callback:
    found = await callbacks_of(request).by_token(request.match_info["token"])
    if found is None:
        raise ApiError("callback_unknown")
    return found


async def customer_view(request: web.Request) -> web.Response:
    """What the customer's page shows: the slots in their language, their number if known."""
    callback = await _customers(request)
    phone: Optional[str] = callback.phone or None
    if phone is None:  # a number they left while waiting (`handoff.relay.consoles`)
        phone = await request.app[app_keys.REDIS].hget(
            request.app[app_keys.KEYS].contact(callback.conversation_id), "phone")
    hours = request.app[app_keys.HOURS]
    return web.json_response({
        "language": callback.language, "status": callback.status, "slot": callback.slot or None,
        "phone": phone, "agent": callback.offered_by_name or None,
        "slots": offered_slots(hours, time.time(), callback.language)})


async def customer_schedule(request: web.Request) -> web.Response:
    """The customer picks a time and leaves a number; told in the chat, with the record."""
    # Each change of time is told in the chat and pushed to agents: a link is not a flood gate.
    wait = await RateLimiter(request.app[app_keys.REDIS], request.app[app_keys.KEYS]).retry_after(
        CALLBACK_PAGE, f"callback:{request.match_info['token']}")
    if wait is not None:
        raise ApiError("too_many_requests", retry_after=wait)
    callback = await _customers(request)
    body = await json_body(request)
    phone = clean_phone(body.get("phone"))
    hours = request.app[app_keys.HOURS]
    try:
        slot, due_at = choose_slot(hours, body.get("slot"), time.time())
        if phone is None:
            raise CallbackError("bad_phone")
        scheduled, changed = await callbacks_of(request).schedule(callback, slot, due_at, phone)
    except CallbackError as exc:
        raise ApiError(exc.code) from exc
    when = _when(hours, scheduled)
    if changed:
        if not await _announcer(request).send(scheduled.conversation_id, "callback_scheduled",
                                              scheduled.offered_by_name,
                                              record_fields={"callback": scheduled.record()},
                                              phone=phone, when=when):
            # Scheduled and in the list all the same: only the chat's confirmation is missing.
            logger.warning("callback.scheduled.untold conversation=%s callback=%s",
                           scheduled.conversation_id, scheduled.id)
        await _push(request, scheduled)
    return web.json_response({"status": scheduled.status, "slot": scheduled.slot,
                              "due_at": scheduled.due_at, "when": when[scheduled.language]})


def _when(hours: OpeningHours, callback: Callback) -> Dict[str, str]:
    """When the call is due, as each language says it in a sentence."""
    if callback.slot == "now":
        return {"en": "as soon as possible", "fr": "dès que possible"}
    zone = ZoneInfo(hours.timezone)
    return {lang: slot_label(callback.due_at, time.time(), zone, lang).lower()
            for lang in ("en", "fr")}


async def _push(request: web.Request, callback: Callback) -> None:
    await push.to_agents(request.app[app_keys.REDIS], request.app[app_keys.KEYS], {
        "type": "callback.changed", "conversation_id": callback.conversation_id,
        "callback": callback.public(), "audience": push.team(callback.team or None)})


def _announcer(request: web.Request) -> Announcer:
    return Announcer(request.app[app_keys.REDIS], request.app[app_keys.KEYS],
                     request.app[app_keys.STORE], request.app[app_keys.RASA])

