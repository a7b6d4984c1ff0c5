"""The customer messages the bot did not settle, read from Rasa's tracker store in Redis.

Read straight from Redis rather than through Rasa's HTTP API: the API of Rasa 3.6 cannot list
conversations (it fetches one tracker by id), it needs the Rasa server up, and it would replay
each tracker through the domain. The tracker store keeps one STRING per conversation,
`<key_prefix>:tracker:{<sender id>}` (`hfv1:tracker:{<id>}` here, `handoff.keys.RasaKeys`; one
not yet moved from Rasa's own layout is `hfv1:tracker:<id>`), holding the JSON of
`tracker.as_dialogue().as_dict()`: `{"name": <sender id>, "events": [...]}`.
`messages_from_events` is pure, so the selection is tested without Redis.
"""

from __future__ import annotations

import json
from typing import Any, Dict, List, Optional

from redis.asyncio import Redis

from handoff.keys import RASA_KEY_PREFIX, RasaKeys
from handoff.redis_client import scan_keys
from handoff.service.insights.miner.grouping import MinedMessage
from handoff.transcript import is_agent_message, is_customer_message

FALLBACK_INTENT = "nlu_fallback"  # config.yml: FallbackClassifier
FALLBACK_ACTION = "action_default_fallback"  # config.yml: RulePolicy core_fallback_action_name
# Intents that say nothing about what the customer needs: greetings, yes/no, asking for a
# person, giving an order number or an address, venting, small talk. The bot handles them already.
NOT_QUESTIONS = {"greet", "goodbye", "thank", "affirm", "deny", "inform", "request_human",
                 "frustration", "chitchat"}


async def read_messages(redis: Redis, tracker_prefix: str = RASA_KEY_PREFIX,
                        since: Optional[float] = None) -> List[MinedMessage]:
    """Messages of every conversation in the tracker store, oldest conversation first."""
    rasa = RasaKeys(tracker_prefix)
    found: List[MinedMessage] = []
    async for name in scan_keys(redis, rasa.tracker_pattern, 500):
        raw = await redis.get(name)
        if raw is None:  # expired or deleted between SCAN and GET
            continue
        dialogue = json.loads(raw)
        found.extend(messages_from_events(dialogue.get("name") or rasa.conversation_of(name),
                                          dialogue.get("events") or [], since))
    found.sort(key=lambda m: (m.timestamp or 0.0, m.conversation_id))
    return found


def messages_from_events(conversation_id: str, events: List[Dict[str, Any]],
                         since: Optional[float] = None) -> List[MinedMessage]:
    """Customer messages of a conversation that was handed off or where the bot fell back.

    In a handed-off conversation: the customer's messages during the handoff and their last
    question before it; anywhere: messages classified `nlu_fallback` or answered by the
    fallback action.
    Greetings, yes/no and the like (`NOT_QUESTIONS`) are left out.
    """
    handling = handling_time(events)
    language = "en"
    picked: List[Dict[str, Any]] = []
    last_user: Optional[Dict[str, Any]] = None
    paused = False
    for event in events:
        kind = event.get("event")
        if kind == "slot" and event.get("name") == "language" and event.get("value"):
            language = str(event["value"])
        elif is_customer_message(event):
            last_user = {"event": event, "language": _language(event, language),
                         "why": "handoff" if paused else None, "reply": None, "agent": None}
            if _intent(event) == FALLBACK_INTENT:
                last_user["why"] = "fallback"
            picked.append(last_user)
        elif kind == "action" and event.get("name") == FALLBACK_ACTION and last_user:
            last_user["why"] = last_user["why"] or "fallback"
        elif kind == "pause":
            paused = True
            _mark_question_before_handoff(picked)
        elif kind == "resume":
            paused = False
        elif is_agent_message(event):
            if last_user and last_user["reply"] is None:
                meta = event.get("metadata") or {}
                last_user["reply"] = event.get("text") or ""
                last_user["agent"] = meta.get("agent") or meta.get("handoff_agent")
    messages = []
    for item in picked:
        event = item["event"]
        text = (event.get("text") or "").strip()
        if (not item["why"] or not text or text.startswith("/")
                or (_intent(event) in NOT_QUESTIONS and item["why"] != "fallback"
                    and not _asks(text))):
            continue
        if since is not None and (event.get("timestamp") or 0.0) < since:
            continue
        messages.append(MinedMessage(
            conversation_id=conversation_id, text=text, language=item["language"],
            handling_time=handling if item["why"] == "handoff" else None,
            timestamp=event.get("timestamp"), source=item["why"],
            agent_reply=item["reply"], agent=item["agent"]))
    return messages


def handling_time(events: List[Dict[str, Any]]) -> Optional[float]:
    """Seconds the conversation spent handed off (pause to resume, or to its last event)."""
    total = 0.0
    started: Optional[float] = None
    last = None
    for event in events:
        stamp = event.get("timestamp")
        if stamp is None:
            continue
        last = float(stamp)
        if event.get("event") == "pause" and started is None:
            started = last
        elif event.get("event") == "resume" and started is not None:
            total += last - started
            started = None
    if started is not None and last is not None:
        total += last - started
    return total if any(e.get("event") == "pause" for e in events) else None


def _mark_question_before_handoff(picked: List[Dict[str, Any]]) -> None:
    # The customer's last question before the handoff: "agent please" or "hello" right before
    # the pause say nothing, the message before them does.
    for item in reversed(picked):
        if item["why"]:
            return
        if _intent(item["event"]) not in NOT_QUESTIONS:
            item["why"] = "handoff"
            return


def _asks(text: str) -> bool:
    # A question of three words or more, whatever its intent: during a handoff the NLU, trained
    # for the bot's intents, often calls a real question "frustration" or "inform".
    return "?" in text and len(text.split()) >= 3


def _intent(event: Dict[str, Any]) -> Optional[str]:
    return ((event.get("parse_data") or {}).get("intent") or {}).get("name")


def _language(event: Dict[str, Any], current: str) -> str:
    # The language detector adds a `language` entity to the message when it is sure; the slot
    # it fills is set by an event that comes after the user event.
    for entity in (event.get("parse_data") or {}).get("entities") or []:
        if entity.get("entity") == "language" and entity.get("value") in ("fr", "en"):
            return str(entity["value"])
    return current
