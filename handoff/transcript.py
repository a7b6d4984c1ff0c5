"""Turns of the one transcript, read from Rasa tracker events.

The Rasa tracker is the conversation's one record: customer, bot and agent messages all live
there. Agent messages are `bot` events whose metadata names the agent (see `agent_metadata`).
"""

from __future__ import annotations

import hashlib
from typing import Any, Dict, Iterable, List, Optional

Turn = Dict[str, Any]

MARKER_STARTED = "handoff_started"
MARKER_ENDED = "handoff_ended"


def agent_metadata(
    username: str, name: str, message_id: str, client_id: Optional[str]
) -> Dict[str, Any]:
    """Metadata of a `bot` event that carries an agent's message."""
    meta = {"handoff_agent": username, "agent": name, "message_id": message_id}
    if client_id:
        meta["client_id"] = client_id
    return meta


def turn_from_event(event: Dict[str, Any]) -> Optional[Turn]:
    """One transcript turn for a tracker event, or None for events that are not turns."""
    kind = event.get("event")
    timestamp = event.get("timestamp")
    if kind == "user":
        return _customer_turn(event) if is_customer_message(event) else None
    if kind == "bot":
        return _bot_turn(event)
    if kind in ("pause", "resume"):
        marker = MARKER_STARTED if kind == "pause" else MARKER_ENDED
        return {"id": _stable_id(event), "kind": "marker", "marker": marker, "text": "",
                "timestamp": timestamp}
    return None


def turns_from_events(events: Iterable[Dict[str, Any]]) -> List[Turn]:
    """The transcript of a conversation, in order."""
    return [turn for turn in map(turn_from_event, events) if turn is not None]


def is_customer_message(event: Dict[str, Any]) -> bool:
    """A `user` event the customer wrote.

    An intent the handoff service triggered (a hand-back flow, a message answered late) is
    logged as a `user` event too, but the customer did not write it.
    """
    return event.get("event") == "user" and not (event.get("metadata") or {}).get("is_external")


def is_agent_message(event: Dict[str, Any]) -> bool:
    """A `bot` event that carries an agent's message (see `agent_metadata`)."""
    return event.get("event") == "bot" and bool((event.get("metadata") or {}).get("handoff_agent"))


def _customer_turn(event: Dict[str, Any]) -> Turn:
    text = event.get("text") or ""
    turn: Turn = {"id": event.get("message_id") or _stable_id(event), "kind": "customer",
                  "text": text, "timestamp": event.get("timestamp")}
    if text.startswith("/"):
        turn["payload"] = text
    attachment = (event.get("metadata") or {}).get("attachment")
    if attachment:
        turn["attachment"] = attachment
    return turn


def _bot_turn(event: Dict[str, Any]) -> Turn:
    meta = event.get("metadata") or {}
    turn: Turn = {"id": meta.get("message_id") or _stable_id(event),
                  "kind": "agent" if meta.get("handoff_agent") else "bot",
                  "text": event.get("text") or "", "timestamp": event.get("timestamp")}
    if meta.get("handoff_agent"):
        turn["agent"] = meta.get("agent") or meta["handoff_agent"]
        turn["agent_username"] = meta["handoff_agent"]
        if meta.get("client_id"):
            turn["client_id"] = meta["client_id"]
    if meta.get("handoff_notice"):
        turn["notice"] = meta["handoff_notice"]
    if isinstance(meta.get("order_action"), dict):
        # An action on an order (who, what, result), told to the customer by this notice.
        turn["order_action"] = meta["order_action"]
    if isinstance(meta.get("callback"), dict):
        # A call-back offered, scheduled or made (`handoff.callbacks`), told by this notice.
        turn["callback"] = meta["callback"]
    buttons = (event.get("data") or {}).get("buttons")
    if buttons:
        turn["buttons"] = [{"title": b.get("title"), "payload": b.get("payload")} for b in buttons]
    return turn


def _stable_id(event: Dict[str, Any]) -> str:
    # Events without an id of their own get one derived from what they are, so that the same
    # event read twice (tracker, then stream) gives the same id and consoles can drop duplicates.
    raw = f"{event.get('event')}|{event.get('timestamp')}|{event.get('text')}"
    return hashlib.sha1(raw.encode("utf-8")).hexdigest()[:16]
