"""Changing an order: cancelling it, or changing its delivery address.

Both are forms (``cancel_order_form``, ``change_address_form``) whose
validation takes the order number and its proof (``actions/order_proof.py``:
the order's e-mail address or delivery postcode), then an action that
makes the change in the store (atomically, only while the order is still
``processing``) or refuses politely: a shipped or delivered order can be
returned instead of cancelled, and a person can see with the carrier about an
address. Every text the customer reads is a domain response (EN/FR, chosen by
the ``language`` slot); the human-path intents reject the forms (see
``HumanPathFirst``).
"""

from __future__ import annotations

from abc import abstractmethod
from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import order_proof
from actions.orders import UsesOrderStore, ValidateOrderForm, proven_order
from handoff.orders.desk import bot_actor, clean_address
from handoff.orders.store import Order, normalise_order_number


class _ChangeFormValidation(ValidateOrderForm):
    """The number and its proof (``ValidateOrderForm``), then the change's own question.

    When the proven order can no longer be changed, the form stops there
    (``required_slots``) and the action explains why, without asking a useless
    question first. Nothing about the order, not even whether it exists, is said
    before the proof.
    """

    @abstractmethod
    def name(self) -> Text:
        """Name of the action (abstract: the action server skips this base class)."""

    async def required_slots(
        self,
        domain_slots: List[Text],
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> List[Text]:
        """Only the number when the proven order can't be changed any more."""
        number = normalise_order_number(tracker.get_slot("order_number"))
        if order_proof.verified(tracker, number):
            order = self.store.get(number)
            if order is not None and not order.changeable:
                return ["order_number"]
        return await super().required_slots(domain_slots, dispatcher, tracker, domain)


class ValidateCancelOrderForm(_ChangeFormValidation):
    """Validates ``cancel_order_form``: the order number, then the yes/no."""

    opening_intents = ("cancel_order",)

    def name(self) -> Text:
        """Name of the action, as in the domain."""
        return "validate_cancel_order_form"

    def validate_cancel_confirmed(
        self,
        slot_value: Any,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> Dict[Text, Any]:
        """The buttons' (or typed) yes/no, as a boolean."""
        if isinstance(slot_value, bool):
            return {"cancel_confirmed": slot_value}
        return {"cancel_confirmed": None}


class ValidateChangeAddressForm(_ChangeFormValidation):
    """Validates ``change_address_form``: the order number, then the new address."""

    opening_intents = ("change_address",)

    def name(self) -> Text:
        """Name of the action, as in the domain."""
        return "validate_change_address_form"

    def validate_new_address(
        self,
        slot_value: Any,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> Dict[Text, Any]:
        """Accepts something that looks like a full postal address."""
        address = clean_address(slot_value)
        if address is None:
            dispatcher.utter_message(response="utter_invalid_address")
            return {"new_address": None}
        return {"new_address": address}


class ActionCancelOrder(UsesOrderStore, Action):
    """Cancels the order if it is still processing and the customer said yes."""

    def name(self) -> Text:
        """Name of the action, as in the domain."""
        return "action_cancel_order"

    def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[Dict[Text, Any]]:
        """Cancels, keeps or refuses, and forgets the yes/no for next time."""
        events: List[Dict[Text, Any]] = [SlotSet("cancel_confirmed", None)]
        order = proven_order(self.store, dispatcher, tracker)
        if order is None:
            if tracker.get_slot("order_number") is not None and not order_proof.exhausted(tracker):
                events.append(SlotSet("order_number", None))
            return events
        if not order.changeable:
            self._refuse(dispatcher, order)
            return events
        if tracker.get_slot("cancel_confirmed") is not True:
            dispatcher.utter_message(response="utter_cancel_kept", order_number=order.order_number)
            return events
        result = self.desk.cancel(order.order_number, bot_actor(tracker.sender_id),
                                  request_id=_request_id(tracker, self.name()))
        if result.done:
            dispatcher.utter_message(response="utter_cancel_done", order_number=order.order_number)
        elif result.order is not None:  # it shipped in the meantime
            self._refuse(dispatcher, result.order)
        return events

    @staticmethod
    def _refuse(dispatcher: CollectingDispatcher, order: Order) -> None:
        dispatcher.utter_message(
            response=f"utter_cancel_refused_{order.status}", order_number=order.order_number
        )


class ActionChangeAddress(UsesOrderStore, Action):
    """Changes the delivery address if the order has not left the warehouse."""

    def name(self) -> Text:
        """Name of the action, as in the domain."""
        return "action_change_address"

    def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[Dict[Text, Any]]:
        """Changes or refuses (offering a person), and forgets the address for next time.

        The address stays in the transcript, which the handoff ticket carries.
        """
        events: List[Dict[Text, Any]] = [SlotSet("new_address", None)]
        order = proven_order(self.store, dispatcher, tracker)
        if order is None:
            if tracker.get_slot("order_number") is not None and not order_proof.exhausted(tracker):
                events.append(SlotSet("order_number", None))
            return events
        if not order.changeable:
            self._refuse(dispatcher, order)
            return events
        address = clean_address(tracker.get_slot("new_address"))
        if address is None:
            dispatcher.utter_message(response="utter_invalid_address")
            return events
        result = self.desk.change_address(order.order_number, address,
                                          bot_actor(tracker.sender_id),
                                          request_id=_request_id(tracker, self.name()))
        if result.done:
            dispatcher.utter_message(
                response="utter_address_changed",
                order_number=order.order_number,
                new_address=address,
            )
        elif result.order is not None:  # it shipped in the meantime
            self._refuse(dispatcher, result.order)
        return events

    @staticmethod
    def _refuse(dispatcher: CollectingDispatcher, order: Order) -> None:
        response = (
            "utter_address_refused_cancelled"
            if order.status == "cancelled"
            else "utter_address_refused"
        )
        dispatcher.utter_message(response=response, order_number=order.order_number)


def _request_id(tracker: Tracker, action: str) -> Optional[str]:
    """The change's id in the order store, or None when the message has no id.

    Rasa running the action again for the same message (a retry after a timeout) changes the
    order once.
    """
    message_id = tracker.latest_message.get("message_id")
    return f"bot:{action}:{tracker.sender_id}:{message_id}"[:100] if message_id else None
