"""Trackers as the Rasa server sends them to the action server, for actions' unit tests."""

from __future__ import annotations

from typing import Any, Dict, Iterable, Optional, Tuple

from rasa_sdk import Tracker


def action_tracker(
    text: str = "",
    intent: str = "inform",
    entities: Iterable[Dict[str, Any]] = (),
    slots: Optional[Dict[str, Any]] = None,
    active_loop: Optional[str] = None,
    earlier_events: Iterable[Dict[str, Any]] = (),
    trailing_slot_events: Iterable[Tuple[str, Any]] = (),
) -> Tracker:
    """The customer's latest message (`text`, `intent`, `entities`) after `earlier_events`,
    then the slots set since; `slots` are the tracker's current values."""
    all_slots = {"language": "en", "order_number": None, "requested_slot": None}
    all_slots.update(slots or {})
    latest = {
        "text": text,
        "intent": {"name": intent, "confidence": 0.99},
        "entities": list(entities),
    }
    events = [
        *earlier_events,
        {"event": "action", "name": "action_listen"},
        {"event": "user", "text": text, "parse_data": latest},
        *({"event": "slot", "name": k, "value": v} for k, v in trailing_slot_events),
    ]
    return Tracker(
        sender_id="test-user",
        slots=all_slots,
        latest_message=latest,
        events=events,
        paused=False,
        followup_action=None,
        active_loop={"name": active_loop} if active_loop else {},
        latest_action_name="action_listen",
    )
