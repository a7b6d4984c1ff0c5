"""`action_handoff`: hands the conversation to a person, with its full context."""

from __future__ import annotations

import logging
from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActiveLoop, ConversationPaused, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from redis.exceptions import RedisError

from actions import deps
from handoff import teams
from handoff.conversation import HUMAN_STATES, IllegalTransition
from handoff.routing import route
from handoff.ticket import build_ticket, reason_for

logger = logging.getLogger(__name__)


class ActionHandoff(Action):
    """Builds the ticket, enqueues it, pauses the bot and tells the customer where they stand."""

    def name(self) -> Text:
        """The action's name in the domain."""
        return "action_handoff"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: Dict[Text, Any]) -> List[Dict[Text, Any]]:
        """Runs the handoff; retried runs find the ticket already queued and make no other."""
        store = deps.conversation_store()
        cid = tracker.sender_id
        try:
            ticket_id = await self._enqueue(tracker)
            position = await store.position(cid)
        except RedisError as exc:
            logger.error("handoff.enqueue.failure conversation=%s error=%s", cid, exc)
            dispatcher.utter_message(response="utter_handoff_failed")
            return [ActiveLoop(None)]
        dispatcher.utter_message(response="utter_handoff_queued", position=position or 1)
        reason = reason_for((tracker.latest_message.get("intent") or {}).get("name"))
        return [SlotSet("handoff_reason", reason.value), SlotSet("handoff_ticket_id", ticket_id),
                ActiveLoop(None), ConversationPaused()]

    async def _enqueue(self, tracker: Tracker) -> Optional[str]:
        store = deps.conversation_store()
        cid = tracker.sender_id
        current = await store.get(cid)
        if current.state in HUMAN_STATES:
            return current.ticket_id
        intent = (tracker.latest_message.get("intent") or {}).get("name")
        ticket = build_ticket(cid, tracker.events, tracker.current_slot_values(),
                              tracker.latest_message, reason_for(intent),
                              earlier_conversations=await store.earlier_tickets(cid),
                              vip=await deps.profile_store().is_vip(_emails_of(tracker)))
        team = route(ticket, teams.load())
        try:
            await store.enqueue(ticket, team)
        except IllegalTransition:
            # A concurrent run of this action queued it first.
            return (await store.get(cid)).ticket_id
        logger.info("handoff.enqueued conversation=%s ticket=%s reason=%s team=%s priority=%d",
                    cid, ticket.ticket_id, ticket.reason, team, ticket.priority)
        return ticket.ticket_id


def _emails_of(tracker: Tracker) -> List[Optional[str]]:
    """The customer's e-mail addresses we know: the one they gave, their order's."""
    emails: List[Optional[str]] = [tracker.get_slot("email")]
    order = deps.order_store().get(tracker.get_slot("order_number"))
    if order is not None:
        emails.append(order.customer_email)
    return emails
