"""`action_handoff`: hands the conversation to a person, with its full context."""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActiveLoop, ConversationPaused, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from redis.exceptions import RedisError

from actions import deps, order_proof
from handoff import teams
from handoff.availability import opening_text, unavailable_reason
from handoff.callbacks import Callbacks, asks_for_a_call
from handoff.conversation import HUMAN_STATES, IllegalTransition
from handoff.notices import notice_event
from handoff.orders.store import OrderStore
from handoff.routing import route
from handoff.ticket import Reason, Ticket, build_ticket, reason_for
from handoff.waiting import LAST_CLAIMS, estimate_wait

logger = logging.getLogger(__name__)


class ActionHandoff(Action):
    """Builds the ticket, enqueues it, pauses the bot and tells the customer where they stand.

    Where they stand: their place in line, or, at once, that nobody can answer now and why.
    """

    def name(self) -> Text:
        """The action's name in the domain."""
        return "action_handoff"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: Dict[Text, Any]) -> List[Dict[Text, Any]]:
        """Runs the handoff; retried runs find the ticket already queued and make no other."""
        store = deps.conversation_store()
        cid = tracker.sender_id
        try:
            ticket = await self._enqueue(tracker)
            position = await store.position(cid)
        except RedisError as exc:
            logger.error("handoff.enqueue.failure conversation=%s error=%s", cid, exc)
            dispatcher.utter_message(response="utter_handoff_failed")
            return [ActiveLoop(None)]
        if ticket is not None and ticket.follow_up == "closed":
            opening = deps.opening_hours().next_opening(ticket.created_at)
            dispatcher.utter_message(response="utter_handoff_closed",
                                     opening=opening_text(opening, ticket.language))
        elif ticket is not None and ticket.follow_up == "nobody":
            dispatcher.utter_message(response="utter_handoff_nobody")
        elif ticket is not None and ticket.follow_up == "long_wait":
            dispatcher.utter_message(response="utter_handoff_long_wait", position=position or 1)
        else:
            dispatcher.utter_message(response="utter_handoff_queued", position=position or 1)
        reason = _reason(tracker)
        if ticket is not None and reason == Reason.CALLBACK:
            await _offer_call(dispatcher, ticket)
        return [SlotSet("handoff_reason", reason.value),
                SlotSet("handoff_ticket_id", ticket.ticket_id if ticket else None),
                ActiveLoop(None), ConversationPaused()]

    async def _enqueue(self, tracker: Tracker) -> Optional[Ticket]:
        store = deps.conversation_store()
        cid = tracker.sender_id
        current = await store.get(cid)
        if current.state in HUMAN_STATES:
            return await store.ticket(current.ticket_id)
        ticket = build_ticket(cid, tracker.events, tracker.current_slot_values(),
                              tracker.latest_message, _reason(tracker),
                              earlier_conversations=await store.earlier_tickets(cid),
                              vip=await deps.profile_store().is_vip(_emails_of(tracker)))
        team = route(ticket, teams.load())
        ticket = replace(ticket, follow_up=await _nobody_now(ticket, team))
        try:
            # Kept either way; when nobody can answer now, ahead of the queue for later.
            await store.enqueue(ticket, team, front=ticket.follow_up in ("closed", "nobody"))
        except IllegalTransition:
            # A concurrent run of this action queued it first.
            return await store.ticket((await store.get(cid)).ticket_id)
        logger.info("handoff.enqueued conversation=%s ticket=%s reason=%s team=%s priority=%d "
                    "follow_up=%s", cid, ticket.ticket_id, ticket.reason, team, ticket.priority,
                    ticket.follow_up)
        return ticket


async def _offer_call(dispatcher: CollectingDispatcher, ticket: Ticket) -> None:
    """The customer asked to be called: the link where they pick a time and leave a number.

    The conversation's open call-back if it has one (a retried run offers nothing new).
    Redis away: the handoff is queued already, and the agent can offer the call from the
    console.
    """
    redis, keys = deps.redis_and_keys()
    record = await deps.conversation_store().get(ticket.conversation_id)
    try:
        callback, _ = await Callbacks(redis, keys).offer(
            ticket.conversation_id, team=record.team, language=ticket.language,
            channel=ticket.channel, by="bot", by_name="")
    except RedisError as exc:
        logger.error("callback.offer.failure conversation=%s error=%s", ticket.conversation_id,
                     exc)
        return
    link = f"{deps.settings().public_url}/callback/{callback.token}"
    dispatcher.utter_message(text=notice_event("callback_asked", ticket.language, "",
                                               link=link)["text"])


def _reason(tracker: Tracker) -> Reason:
    """The handoff's reason, from the intent; `callback` for a request asking for a call.

    (`handoff.callbacks.asks_for_a_call`: "call me back", "rappelez-moi".)
    """
    reason = reason_for((tracker.latest_message.get("intent") or {}).get("name"))
    if reason == Reason.ASKED and asks_for_a_call(tracker.latest_message.get("text")):
        return Reason.CALLBACK
    return reason


async def _nobody_now(ticket: Ticket, team: Optional[str]) -> Optional[str]:
    """Why nobody can answer at once, if so (`handoff.availability`)."""
    redis, keys = deps.redis_and_keys()
    agents = await deps.account_store().all()
    available = await deps.presence().available(agents, ticket.created_at)
    queued = len(await deps.conversation_store().queued_ids())
    claims = [score for _, score in await redis.zrange(keys.recent_claims, -LAST_CLAIMS, -1,
                                                       withscores=True)]
    return unavailable_reason(deps.opening_hours(), ticket.created_at, agents, available, team,
                              ticket.language, estimate_wait(queued + 1, claims,
                                                             ticket.created_at),
                              deps.settings().max_wait)


def _emails_of(tracker: Tracker) -> List[Optional[str]]:
    """The customer's e-mail addresses we know: the one they gave, their proven order's.

    An order number alone is not the customer's: someone typing a VIP's order number
    must not get the VIP's priority (actions/order_proof.py).
    """
    emails: List[Optional[str]] = [tracker.get_slot("email")]
    order = OrderStore().get(tracker.get_slot("order_number"))
    if order is not None and order_proof.verified(tracker, order.order_number):
        emails.append(order.customer_email)
    return emails
