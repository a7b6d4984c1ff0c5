"""Builders of Rasa tracker events, in the shape Rasa's HTTP API and event broker use."""

from __future__ import annotations

from typing import Any, Dict, List, Optional


def user(text: str, intent: str, entities: Optional[List[Dict[str, Any]]] = None,
         ts: float = 1.0, channel: str = "socketio", message_id: str = "") -> Dict[str, Any]:
    return {"event": "user", "timestamp": ts, "text": text, "input_channel": channel,
            "message_id": message_id or f"m{ts}",
            "parse_data": {"intent": {"name": intent, "confidence": 0.9},
                           "entities": entities or [],
                           "intent_ranking": [{"name": intent, "confidence": 0.9}]}}


def bot(text: str, ts: float = 1.5, metadata: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
    return {"event": "bot", "timestamp": ts, "text": text, "data": {}, "metadata": metadata or {}}


def order_conversation() -> List[Dict[str, Any]]:
    return [
        {"event": "action", "name": "action_listen", "timestamp": 0.5},
        user("hello", "greet", ts=1.0),
        bot("Hi! How can I help?", ts=1.1),
        user("where is my order 10234", "order_status",
             [{"entity": "order_number", "value": "10234", "start": 18, "end": 23}], ts=2.0),
        bot("Order 10234 was shipped.", ts=2.1),
        user("I want to talk to a human", "request_human", ts=3.0),
    ]
