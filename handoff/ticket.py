"""The handoff ticket: everything the agent needs so the customer never repeats themselves."""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import asdict, dataclass, field
from enum import Enum
from typing import Any, Dict, List, Optional, Tuple

from handoff.frustration import Frustration
from handoff.frustration import detect as detect_frustration
from handoff.transcript import Turn, turns_from_events


class Reason(str, Enum):
    """Why the conversation left the bot."""

    ASKED = "asked"
    COMPLAINT = "complaint"
    FRUSTRATION = "frustration"
    NOT_UNDERSTOOD = "not_understood"
    SENSITIVE = "sensitive"
    # A request for a person that asks to be called (`handoff.callbacks.asks_for_a_call`).
    CALLBACK = "callback"


_REASON_BY_INTENT = {
    "request_human": Reason.ASKED,
    "complaint": Reason.COMPLAINT,
    "frustration": Reason.FRUSTRATION,
    "nlu_fallback": Reason.NOT_UNDERSTOOD,
    "sensitive_topic": Reason.SENSITIVE,
}
MAX_PRIORITY = 3
REPEAT_WINDOW = 48 * 3600  # a customer back within 48 hours was not helped enough the first time

# Slots that describe the handoff itself rather than facts the customer gave.
_INTERNAL_SLOTS = {"handoff_reason", "handoff_ticket_id", "handoff_agent", "requested_slot",
                  "session_started_metadata"}

_NOT_TOPICS = {"request_human", "greet", "nlu_fallback", "goodbye", "thank", "affirm", "deny",
               "inform", "complaint", "frustration", "sensitive_topic", "out_of_scope",
               "chitchat"}

# What the customer asked about, in the words an agent reads (English, French): the summary
# says "Topics: Order status.", never an intent's name. The console's labels (`intent.*` in
# handoff/service/static/i18n.js) say the same; tests/unit/test_i18n.py keeps them in step.
TOPIC_LABELS: Dict[str, Tuple[str, str]] = {
    "order_status": ("Order status", "Suivi de commande"),
    "delivery_times": ("Delivery times", "Délais de livraison"),
    "returns": ("Returns and refunds", "Retours et remboursements"),
    "cancel_order": ("Cancel an order", "Annuler une commande"),
    "change_address": ("Change the delivery address", "Changer l’adresse de livraison"),
    "payment_methods": ("Payment methods", "Moyens de paiement"),
    "opening_hours": ("Opening hours", "Horaires d’ouverture"),
    "contact": ("How to contact us", "Comment nous contacter"),
    "account_reset": ("Password reset", "Mot de passe oublié"),
    "capabilities": ("What the bot can do", "Ce que fait le bot"),
    "request_transcript": ("Asks for the transcript", "Demande la transcription"),
}

_REASON_TEXT = {
    Reason.ASKED: ("Asked for a person.", "A demandé à parler à une personne."),
    Reason.COMPLAINT: ("Complaint.", "Réclamation."),
    Reason.FRUSTRATION: ("Customer seems frustrated.", "Le client semble agacé."),
    Reason.NOT_UNDERSTOOD: ("The bot did not understand twice.",
                            "Le bot n'a pas compris deux fois."),
    Reason.SENSITIVE: ("Sensitive topic.", "Sujet sensible."),
    Reason.CALLBACK: ("Asked to be called back.", "A demandé à être rappelé."),
}


@dataclass(frozen=True)
class Ticket:
    """A request for a human, with the full context of the conversation so far."""

    ticket_id: str
    conversation_id: str
    created_at: float
    reason: str
    language: str
    channel: str
    priority: int
    summary: str
    summary_fr: str
    customer: Dict[str, Any]
    slots: Dict[str, Any]
    entities: List[Dict[str, Any]]
    intent_ranking: List[Dict[str, Any]]
    transcript: List[Turn]
    earlier_conversations: List[Dict[str, Any]] = field(default_factory=list)
    frustration: Dict[str, Any] = field(default_factory=dict)
    topics: List[str] = field(default_factory=list)
    priority_reasons: List[str] = field(default_factory=list)
    # Why nobody could answer at once (`handoff.availability`), if so: `closed`, `nobody`,
    # `long_wait`. Such a ticket is a follow-up: the customer may leave contact details.
    follow_up: Optional[str] = None

    def public(self) -> Dict[str, Any]:
        """The ticket as consoles get it."""
        return asdict(self)

    def to_json(self) -> str:
        """The ticket as stored in Redis."""
        return json.dumps(self.public(), ensure_ascii=False)

    @classmethod
    def from_json(cls, raw: str) -> "Ticket":
        """Reads a ticket written by `to_json`."""
        return cls(**json.loads(raw))

    def brief(self) -> Dict[str, Any]:
        """What a customer's later ticket shows of this one."""
        return {"ticket_id": self.ticket_id, "conversation_id": self.conversation_id,
                "created_at": self.created_at, "reason": self.reason, "channel": self.channel,
                "summary": self.summary, "summary_fr": self.summary_fr}


def reason_for(latest_intent: Optional[str]) -> Reason:
    """The handoff reason implied by the customer's last intent."""
    return _REASON_BY_INTENT.get(latest_intent or "", Reason.ASKED)


def build_ticket(
    conversation_id: str,
    events: List[Dict[str, Any]],
    slots: Dict[str, Any],
    latest_message: Dict[str, Any],
    reason: Reason,
    earlier_conversations: Optional[List[Dict[str, Any]]] = None,
    now: Optional[float] = None,
    vip: bool = False,
) -> Ticket:
    """Builds the ticket from a tracker's events, slots and latest message."""
    facts = {k: v for k, v in slots.items() if v is not None and k not in _INTERNAL_SLOTS}
    channel = _latest_input_channel(events)
    language = str(slots.get("language") or "en")
    frustration = detect_frustration(events)
    created_at = time.time() if now is None else now
    repeated = any(created_at - float(e.get("created_at") or 0) <= REPEAT_WINDOW
                   for e in earlier_conversations or [])
    priority, why = priority_for(reason, frustration, repeated=repeated, vip=vip)
    return Ticket(
        ticket_id=uuid.uuid4().hex,
        conversation_id=conversation_id,
        created_at=created_at,
        reason=reason.value,
        language=language,
        channel=channel,
        priority=priority,
        summary=_summary(events, facts, reason, french=False),
        summary_fr=_summary(events, facts, reason, french=True),
        customer={"id": conversation_id, "channel": channel, "name": slots.get("name"),
                  "email": slots.get("email")},
        slots=facts,
        entities=_entities(events),
        intent_ranking=list(latest_message.get("intent_ranking") or [])[:5],
        transcript=turns_from_events(events),
        earlier_conversations=list(earlier_conversations or []),
        frustration=frustration.public(),
        topics=_topics(events),
        priority_reasons=why,
    )


def priority_for(reason: Reason, frustration: Frustration, repeated: bool = False,
                 vip: bool = False) -> Tuple[int, List[str]]:
    """The priority (0 normal … 3) and why.

    One step each for: a complaint, frustration or a sensitive topic; several signs of
    frustration; a repeated contact within 48 h; a VIP customer.
    """
    why = [reason.value] if reason in (Reason.COMPLAINT, Reason.FRUSTRATION,
                                       Reason.SENSITIVE) else []
    if frustration.score >= 2:
        why.append("frustration_signals")
    if repeated:
        why.append("repeat_48h")
    if vip:
        why.append("vip")
    return min(len(why), MAX_PRIORITY), why


def _latest_input_channel(events: List[Dict[str, Any]]) -> str:
    for event in reversed(events):
        if event.get("event") == "user" and event.get("input_channel"):
            return str(event["input_channel"])
    return "unknown"


def _entities(events: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    seen, found = set(), []
    for event in events:
        if event.get("event") != "user":
            continue
        for entity in (event.get("parse_data") or {}).get("entities") or []:
            key = (entity.get("entity"), str(entity.get("value")))
            if key not in seen:
                seen.add(key)
                found.append({"entity": entity.get("entity"), "value": entity.get("value")})
    return found


def _intents(events: List[Dict[str, Any]]) -> List[str]:
    names: List[str] = []
    for event in events:
        name = ((event.get("parse_data") or {}).get("intent") or {}).get("name")
        if event.get("event") == "user" and name and name not in names:
            names.append(name)
    return names


def is_topic(intent: str) -> bool:
    """Whether an intent is something the customer asks about, for the dashboard's rate by intent.

    That is: not a greeting, a request for a person, a yes/no, an intent triggered by the service.
    """
    return intent not in _NOT_TOPICS and not intent.startswith("EXTERNAL_")


def _topics(events: List[Dict[str, Any]]) -> List[str]:
    """What the customer asked about, oldest first (for routing to a team)."""
    return [i for i in _intents(events) if i not in _NOT_TOPICS]


def _summary(events: List[Dict[str, Any]], facts: Dict[str, Any], reason: Reason,
             french: bool) -> str:
    topics = _topics(events)
    parts = []
    if topics:
        # A topic the table does not know yet (new training data) shows as words, not as a name.
        names = [TOPIC_LABELS[t][1 if french else 0] if t in TOPIC_LABELS else t.replace("_", " ")
                 for t in topics]
        parts.append(("Sujets : " if french else "Topics: ") + ", ".join(names) + ".")
    order = facts.get("order_number")
    if order:
        parts.append(("Commande " if french else "Order ") + str(order) + ".")
    parts.append(_REASON_TEXT[reason][1 if french else 0])
    return " ".join(parts)
