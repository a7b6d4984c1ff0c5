"""Order-status business actions: the order form's validation and the lookup.

Everything the customer reads comes from domain responses, which have an
English and a French variant selected by the ``language`` slot; the only text
made here is the localised date passed into those responses.
"""

from __future__ import annotations

import re
from abc import ABCMeta, abstractmethod
from datetime import date
from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import ActionExecutionRejected, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import deps, order_proof
from handoff.orders.desk import OrderDesk
from handoff.orders.store import Order, OrderStore, normalise_order_number

_MONTHS = {
    "en": (
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ),
    "fr": (
        "janvier",
        "février",
        "mars",
        "avril",
        "mai",
        "juin",
        "juillet",
        "août",
        "septembre",
        "octobre",
        "novembre",
        "décembre",
    ),
}
_WEEKDAYS = {
    "en": ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
    "fr": ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche"),
}

# Something the customer typed that looks like an attempt at an order number:
# a run of 3+ digits, possibly split by spaces, dots or dashes ("10 234").
_NUMBER_ATTEMPT = re.compile(r"#?\s*(\d[\d .-]{1,}\d)")


class UsesOrderStore:
    """For actions: the order store given (tests pass their own), else one made on first use.

    Changes go through the desk (``handoff/orders/desk.py``), the one implementation of the
    business actions, which the agents' console calls too.
    """

    def __init__(self, store: Optional[OrderStore] = None) -> None:
        self._store = store

    @property
    def store(self) -> OrderStore:
        """The order store."""
        if self._store is None:
            self._store = OrderStore()
        return self._store

    @property
    def desk(self) -> OrderDesk:
        """The business actions on this store."""
        return OrderDesk(self.store)


# Intents that always lead straight to a person (principle 1), from any state.
HUMAN_PATH_INTENTS = frozenset({"request_human", "complaint", "frustration", "sensitive_topic"})


def latest_intent(tracker: Tracker) -> Optional[str]:
    """Name of the intent of the customer's latest message."""
    return (tracker.latest_message.get("intent") or {}).get("name")


def wants_a_person(tracker: Tracker) -> bool:
    """Whether the latest message is on the human path.

    Either its intent is a human-path intent, or the message was not
    understood (``nlu_fallback``) and the best real guess is one: "I want a
    person about order 31007" must never be taken as a slot value.
    """
    intent = latest_intent(tracker)
    if intent in HUMAN_PATH_INTENTS:
        return True
    if intent != "nlu_fallback":
        return False
    ranking = tracker.latest_message.get("intent_ranking") or []
    guesses = [r.get("name") for r in ranking if r.get("name") != "nlu_fallback"]
    return bool(guesses) and guesses[0] in HUMAN_PATH_INTENTS


class HumanPathFirst(FormValidationAction, metaclass=ABCMeta):
    """A form validation that steps aside for the human path.

    A message such as "I want a person about order 10234" carries an order
    number, so without this the form would take the number and carry on. The
    form is rejected instead (``ActionExecutionRejected``), so the handoff
    rules in data/rules/handoff.yml apply. Slots already extracted stay set:
    the handoff ticket carries them.
    """

    @abstractmethod
    def name(self) -> Text:
        """Name of the action (abstract: the action server skips this base class)."""

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[Dict[Text, Any]]:
        """Rejects the form on a human-path intent, else validates as usual."""
        if wants_a_person(tracker):
            return [ActionExecutionRejected(self.form_name())]
        return await super().run(dispatcher, tracker, domain)


def customer_language(tracker: Tracker) -> str:
    """The customer's language from the ``language`` slot ("en" when unknown)."""
    lang = tracker.get_slot("language")
    return lang if lang in ("en", "fr") else "en"


def format_date(value: Optional[date], language: str) -> str:
    """``date(2025, 6, 12)`` -> "Thursday 12 June 2025" / "jeudi 12 juin 2025"."""
    if value is None:
        return "?"
    lang = language if language in _MONTHS else "en"
    day = "1er" if (lang == "fr" and value.day == 1) else str(value.day)
    return f"{_WEEKDAYS[lang][value.weekday()]} {day} {_MONTHS[lang][value.month - 1]} {value.year}"


def order_number_attempt(text: Optional[str]) -> Optional[str]:
    """What the customer seems to have typed as an order number, digits only.

    "10 234" -> "10234"; "it's 1234" -> "1234"; "no idea" -> None.
    """
    if not text:
        return None
    match = _NUMBER_ATTEMPT.search(text)
    if not match:
        return None
    return re.sub(r"\D", "", match.group(1))


class ValidateOrderForm(UsesOrderStore, HumanPathFirst):
    """Validates ``order_form``: the number (exactly 5 digits), then the fact that proves it.

    The second fact (``order_fact``: the order's e-mail address or delivery
    postcode) is checked against the store before anything about the order is
    said. A wrong one is answered without saying whether the number or the fact
    was wrong, and both are asked again; after ``order_proof.MAX_MISSES`` the
    form stops and the final action offers a person.
    """

    # Intents whose message may carry the number when they open the form.
    opening_intents = ("order_status", "inform")
    # Slots asked after the number, whose answers may hold five digits (a postcode).
    _after_number = ("order_fact", "new_address")

    def __init__(self, store: Optional[OrderStore] = None,
                 failures: Optional[order_proof.FailureCount] = None) -> None:
        UsesOrderStore.__init__(self, store)
        self._failures = failures

    @property
    def failures(self) -> order_proof.FailureCount:
        """Wrong facts per order over all conversations (Redis unless a test gave its own)."""
        if self._failures is None:
            self._failures = deps.proof_failures()
        return self._failures

    def name(self) -> Text:
        """Name of the action, as in the domain."""
        return "validate_order_form"

    async def required_slots(
        self,
        domain_slots: List[Text],
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> List[Text]:
        """No fact for an order already proven; nothing more once too many facts were wrong."""
        number = normalise_order_number(tracker.get_slot("order_number"))
        if order_proof.verified(tracker, number):
            return [slot for slot in domain_slots if slot != "order_fact"]
        if order_proof.exhausted(tracker):
            return []
        return domain_slots

    async def extract_order_number(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        """Catch malformed attempts ("1234", "10 234") that the entity regex misses.

        Only while the form is asking for the number (or being opened by an
        order-status message), and only when no well-formed number was found,
        so that ``validate_order_number`` can explain the expected format.
        """
        if list(tracker.get_latest_entity_values("order_number")):
            return {}
        requested = tracker.get_slot("requested_slot")
        if requested in self._after_number:
            return {}
        if requested != "order_number" and latest_intent(tracker) not in self.opening_intents:
            return {}
        attempt = order_number_attempt(tracker.latest_message.get("text"))
        if attempt is None:
            return {}
        return {"order_number": attempt}

    def validate_order_number(
        self,
        slot_value: Any,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> Dict[Text, Any]:
        """Accepts 5-digit numbers; otherwise explains the format and asks again.

        While a later question is asked, five digits in the answer are a postcode
        ("69003", "12 rue de la Paix, 75002 Paris"), not a new order number: the
        number keeps the value it had.
        """
        requested = tracker.get_slot("requested_slot")
        if requested == "order_fact" and "order_fact" in tracker.slots_to_validate():
            return {}  # validate_order_fact decides the number, whichever runs first
        if requested in self._after_number:
            return {"order_number": slot_before_latest_message(tracker, "order_number")}
        number = normalise_order_number(slot_value)
        if number is None:
            dispatcher.utter_message(response="utter_invalid_order_number")
            return {"order_number": None}
        return {"order_number": number}

    async def validate_order_fact(
        self,
        slot_value: Any,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> Dict[Text, Any]:
        """Checks the fact against the order; the fact itself is never kept.

        The number is the one asked about, as it was before this message: five
        digits in a postcode are not a new order number.
        """
        number = normalise_order_number(slot_before_latest_message(tracker, "order_number"))
        if number is None:  # the form asks for the number first; nothing to check against
            return {"order_fact": None, "order_number": None}
        if await self.failures.count(number) >= order_proof.FAILURES_PER_ORDER:
            # Guessed at too often today: not checked, the final action offers a person.
            return {"order_fact": None, "order_number": number,
                    "order_fact_misses": float(order_proof.MAX_MISSES)}
        order = self.store.get(number)
        if order is not None and order_proof.matches(order, slot_value):
            return {"order_fact": None, "order_number": number,
                    "verified_orders": order_proof.with_verified(tracker, number)}
        await self.failures.add(number)
        misses = order_proof.misses(tracker) + 1
        if misses >= order_proof.MAX_MISSES:
            # The number stays for the person who takes over; the final action offers them.
            return {"order_fact": None, "order_number": number,
                    "order_fact_misses": float(misses)}
        dispatcher.utter_message(response="utter_order_fact_mismatch")
        return {"order_fact": None, "order_number": None, "order_fact_misses": float(misses)}


def slot_before_latest_message(tracker: Tracker, name: str) -> Any:
    """The value ``name`` had before the customer's latest message."""
    value = None
    latest_user = max(
        (i for i, e in enumerate(tracker.events) if e.get("event") == "user"), default=-1
    )
    for event in tracker.events[: max(latest_user, 0)]:
        if event.get("event") == "slot" and event.get("name") == name:
            value = event.get("value")
    return value


def proven_order(
    store: OrderStore, dispatcher: CollectingDispatcher, tracker: Tracker
) -> Optional[Order]:
    """The order in ``order_number`` if the customer proved it is theirs; else says what next.

    Every action that reads or changes an order starts here, whatever led to it:
    the forms ask for the proof, this makes sure it was given.
    """
    number = normalise_order_number(tracker.get_slot("order_number"))
    if not order_proof.verified(tracker, number):
        if order_proof.exhausted(tracker):
            dispatcher.utter_message(response="utter_order_fact_locked")
        elif number is None:
            dispatcher.utter_message(response="utter_ask_order_number")
        else:
            dispatcher.utter_message(response="utter_order_fact_mismatch")
        return None
    order = store.get(number)
    if order is None:
        dispatcher.utter_message(response="utter_order_not_found", order_number=number)
    return order


class ActionOrderStatus(UsesOrderStore, Action):
    """Looks the order up and tells the customer its status, in their language."""

    def name(self) -> Text:
        """Name of the action, as in the domain."""
        return "action_order_status"

    def run(
        self,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> List[Dict[Text, Any]]:
        """Answers with the status of the order in ``order_number``, once proven."""
        order = proven_order(self.store, dispatcher, tracker)
        if order is None:
            if order_proof.exhausted(tracker):
                return []  # the number stays for the person who may take over
            # Forget the number so the next request asks again.
            return [SlotSet("order_number", None)]
        dispatcher.utter_message(**self.status_message(order, customer_language(tracker)))
        return []

    @staticmethod
    def status_message(order: Order, language: str) -> Dict[str, Any]:
        """Arguments for ``dispatcher.utter_message`` describing ``order``."""
        return {
            "response": f"utter_order_{order.status}",
            "order_number": order.order_number,
            "carrier": order.carrier or "",
            "delivery_date": format_date(order.expected_delivery, language),
        }
