"""The handoff service's door for the turns of the human segment into Rasa trackers.

Customer and agent messages of a conversation a person owns never go through Rasa (the live
path, `handoff.relay`); the handoff service writes them into the tracker afterwards, in batches
(`handoff.relay.tracker`), straight into the stored tracker (`handoff.relay.stored_tracker`).
They come through this door at a give-back, whose NLU results (`parse`) are kept with the
customer's turns, and for a stored layout that step does not know. The door appends them as
they are, under the conversation's lock, skipping every event whose message id the tracker
already has, so that a retry or a second writer never writes a turn twice. It appends to the
stored JSON directly: a batch costs Rasa a lock, one read and one write, not the replay of the
whole conversation (Rasa's own `tracker/events` route loads the tracker twice per save).

`POST /webhooks/tracker_writes/append?token=<Rasa auth token>` with
`{"conversations": [{"conversation_id", "events": [...], "parse": {message id: NLU result}}]}`;
answers `{"written": {conversation id: events appended}}`.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
from typing import Any, Awaitable, Callable, Dict, List, Optional, Text

from rasa.core.channels.channel import InputChannel, UserMessage
from rasa.shared.core.events import Event
from sanic import Blueprint, response
from sanic.request import Request

from bot.heap import freeze_once_started
from bot.tracker_store import UrlRedisTrackerStore

logger = logging.getLogger(__name__)

MAX_CONVERSATIONS = 200
MAX_EVENTS = 1000


class TrackerWritesInput(InputChannel):
    """Not a customer channel: the handoff service's door for turns written behind."""

    @classmethod
    def name(cls) -> Text:
        """The door's name, and its URL prefix (`/webhooks/tracker_writes`)."""
        return "tracker_writes"

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> "TrackerWritesInput":
        """`token`: the Rasa server's auth token (only the handoff service knows it)."""
        return cls(str((credentials or {}).get("token") or ""))

    def __init__(self, token: str) -> None:
        self.token = token

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        """The `append` route."""
        hook = Blueprint("tracker_writes_webhook", __name__)
        freeze_once_started(hook)  # no half-second stalls (bot.heap)

        @hook.route("/append", methods=["POST"])
        async def append(request: Request) -> Any:
            given = request.args.get("token") or ""
            if not self.token or not hmac.compare_digest(given.encode(), self.token.encode()):
                return response.json({"error": "unauthorized"}, status=401)
            batches = _batches(request.json)
            if batches is None:
                return response.json({"error": "bad_request"}, status=400)
            store = _redis_store(request.app.ctx.agent.tracker_store)
            if store is None:
                return response.json({"error": "no_redis_tracker_store"}, status=501)
            # Shielded: Sanic cancels a handler whose client went away; a batch is whole or not.
            written = await asyncio.shield(_write_all(request, store, batches))
            return response.json({"written": written})

        return hook


def _batches(body: Any) -> Optional[List[Dict[str, Any]]]:
    items = body.get("conversations") if isinstance(body, dict) else None
    if not isinstance(items, list) or len(items) > MAX_CONVERSATIONS:
        return None
    for item in items:
        if not isinstance(item, dict) or not isinstance(item.get("conversation_id"), str) \
                or not item["conversation_id"] or not isinstance(item.get("events"), list) \
                or len(item["events"]) > MAX_EVENTS \
                or not isinstance(item.get("parse") or {}, dict):
            return None
    return items


def _redis_store(store: Any) -> Optional[UrlRedisTrackerStore]:
    # Rasa wraps the configured store (`AwaitableTrackerStore`).
    inner = getattr(store, "_tracker_store", store)
    return inner if isinstance(inner, UrlRedisTrackerStore) else None


async def _write_all(request: Request, store: UrlRedisTrackerStore,
                     batches: List[Dict[str, Any]]) -> Dict[str, int]:
    agent = request.app.ctx.agent
    written = {}
    for batch in batches:
        cid = batch["conversation_id"]
        async with agent.lock_store.lock(cid):
            # Rasa's tracker store speaks synchronous redis-py: off the event loop, so that the
            # sockets this process serves never wait for a batch (seen in the benchmark).
            written[cid] = await asyncio.to_thread(_append, store, cid, batch["events"],
                                                   batch.get("parse") or {})
    return written


def _append(store: UrlRedisTrackerStore, cid: str, events: List[Any],
            parse: Dict[str, Any]) -> int:
    """Appends the events the stored tracker does not have; how many."""
    stored, legacy = store.stored(cid)  # under its name in either layout
    dialogue = json.loads(stored) if stored else {"name": cid, "events": []}
    present = dialogue["events"]
    by_id = {_message_id(e): e for e in present if _message_id(e)}
    # Rasa merges a saved tracker with the stored one by time: stored events stay in time order.
    last_time = max((e.get("timestamp") or 0 for e in present[-1:]), default=0)
    added = 0
    for raw in events:
        event = Event.from_parameters(raw) if isinstance(raw, dict) else None
        if event is None:
            continue
        as_dict = event.as_dict()
        message_id = _message_id(as_dict)
        if message_id and message_id in by_id:
            continue
        as_dict["timestamp"] = max(as_dict.get("timestamp") or 0, last_time)
        last_time = as_dict["timestamp"]
        present.append(as_dict)
        added += 1
        if message_id:
            by_id[message_id] = as_dict
    for message_id, parsed in parse.items():
        target = by_id.get(message_id)
        if target is not None and target.get("event") == "user" and isinstance(parsed, dict):
            target["parse_data"] = {**parsed, "message_id": message_id}
    if added or parse:
        store.put(cid, json.dumps(dialogue), legacy, keepttl=True)
    return added


def _message_id(event: Dict[str, Any]) -> Optional[str]:
    if event.get("event") == "user":
        return event.get("message_id")
    if event.get("event") == "bot":
        return (event.get("metadata") or {}).get("message_id")
    return None
