"""The Rasa events that carry the turns of the human segment, with their message ids.

A turn's id travels with it everywhere (journal, console, tracker): the tracker writer appends
an event only if the tracker has no event with that id, so a retry never writes a turn twice.
"""

from __future__ import annotations

import time
from typing import Any, Dict, Optional

from handoff.transcript import agent_metadata

Event = Dict[str, Any]


def customer_event(text: str, message_id: str, channel: str,
                   metadata: Optional[Dict[str, Any]] = None,
                   at: Optional[float] = None) -> Event:
    """A customer's message as a Rasa `user` event, not parsed (no NLU on the live path).

    `parse_data` names no intent: the hand-back parses the last unanswered message when the bot
    needs it (`handoff.relay.giveback`).
    """
    return {"event": "user", "text": text, "timestamp": at or time.time(),
            "message_id": message_id, "input_channel": channel,
            "metadata": dict(metadata or {}),
            "parse_data": {"text": text, "intent": {"name": None, "confidence": 0.0},
                           "entities": [], "message_id": message_id}}


def agent_event(text: str, username: str, name: str, message_id: str,
                client_id: Optional[str], at: Optional[float] = None) -> Event:
    """An agent's message as a Rasa `bot` event whose metadata names the agent."""
    return {"event": "bot", "text": text, "timestamp": at or time.time(),
            "metadata": agent_metadata(username, name, message_id, client_id)}


def notice_turn(event: Event, message_id: str, at: Optional[float] = None) -> Event:
    """A notice (`handoff.notices.notice_event`) with an id of its own, for the segment."""
    return {**event, "timestamp": at or time.time(),
            "metadata": {**(event.get("metadata") or {}), "message_id": message_id}}


def event_id(event: Event) -> Optional[str]:
    """The message id a segment event carries (user: top level; bot: in its metadata)."""
    if event.get("event") == "user":
        return event.get("message_id")
    return (event.get("metadata") or {}).get("message_id")
