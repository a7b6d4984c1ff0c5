"""Unit tests: an order number alone reveals and changes nothing (actions/order_proof.py).

The forms ask for the e-mail address on the order or its delivery postcode after
the number, and every order action checks the proof again. Actions run on
hand-built rasa_sdk Trackers with a temporary store built from
handoff/orders/orders.sql; no Rasa server.
"""

import asyncio
from pathlib import Path

import pytest
import yaml
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions import order_proof
from actions.order_changes import (
    ActionCancelOrder,
    ActionChangeAddress,
    ValidateCancelOrderForm,
    ValidateChangeAddressForm,
)
from actions.order_proof import MemoryFailureCount
from actions.orders import HUMAN_PATH_INTENTS, ActionOrderStatus, ValidateOrderForm
from handoff.orders.store import OrderStore
from tests.trackers import action_tracker

ROOT = Path(__file__).resolve().parents[2]
SQL = ROOT / "handoff" / "orders" / "orders.sql"
DOMAIN = yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))

# 10234: shipped, claire.martin@example.com, "8 rue des Lilas, 69003 Lyon".
# 10235: processing, tom.baker@example.com, "14 Park Road, Bristol BS8 1TH".
SHIPPED, PROCESSING = "10234", "10235"
# What must never reach a customer who has not proven the order.
DETAILS = ("Colissimo", "Chronopost", "2025", "June", "juin")

FORMS = [
    (ValidateOrderForm, "order_form"),
    (ValidateCancelOrderForm, "cancel_order_form"),
    (ValidateChangeAddressForm, "change_address_form"),
]


@pytest.fixture
def store(tmp_path):
    return OrderStore(db_path=tmp_path / "orders.db", sql_path=SQL)


def run(action, tracker):
    dispatcher = CollectingDispatcher()
    result = action.run(dispatcher, tracker, DOMAIN)
    if asyncio.iscoroutine(result):
        result = asyncio.run(result)
    return dispatcher, result


def responses(dispatcher):
    return [m.get("response") for m in dispatcher.messages]


def slot(events, name):
    """The last value the events give ``name``; KeyError when they don't set it."""
    values = [e["value"] for e in events if e.get("event") == "slot" and e.get("name") == name]
    if not values:
        raise KeyError(name)
    return values[-1]


def answer_fact(action_cls, store, text, number=SHIPPED, form="order_form", language="en",
                misses=None, intent="inform", entities=(), failures=None):
    """The customer answers the form's question for the fact with ``text``."""
    tracker = action_tracker(
        text=text,
        intent=intent,
        entities=entities,
        slots={"order_number": number, "requested_slot": "order_fact", "order_fact": text,
               "language": language, "order_fact_misses": misses},
        active_loop=form,
        earlier_events=[{"event": "slot", "name": "order_number", "value": number}],
        trailing_slot_events=[("order_fact", text)],
    )
    return run(action_cls(store=store, failures=failures or MemoryFailureCount()), tracker)


def no_details(dispatcher):
    said = repr(dispatcher.messages)
    return not any(detail in said for detail in DETAILS)


# --- the fact itself ---------------------------------------------------------


@pytest.mark.parametrize("text, expected", [
    ("claire.martin@example.com", "claire.martin@example.com"),
    ("It's Claire.Martin@Example.COM.", "claire.martin@example.com"),
    ("69003", "69003"),
    ("69 003", "69003"),
    ("mon code postal est le 69003", "69003"),
    ("bs8 1th", "BS81TH"),
    ("BS81TH", "BS81TH"),
    ("no idea", "NOIDEA"),
    ("", None),
    (None, None),
])
def test_the_fact_in_a_message(text, expected):
    assert order_proof.fact_in(text) == expected


@pytest.mark.parametrize("address, postcode", [
    ("8 rue des Lilas, 69003 Lyon", "69003"),
    ("14 Park Road, Bristol BS8 1TH", "BS81TH"),
    ("41 King Street, Manchester M2 4LQ", "M24LQ"),
    ("17 boulevard Victor Hugo, 06000 Nice", "06000"),
    (None, None),
])
def test_the_postcode_of_an_address(address, postcode):
    assert order_proof.postcode_in(address) == postcode


@pytest.mark.parametrize("fact, expected", [
    ("claire.martin@example.com", True),
    ("CLAIRE.MARTIN@EXAMPLE.COM", True),
    ("69003", True),
    ("69 003", True),
    ("claire@example.com", False),
    ("69002", False),
    ("69001 69002 69003", False),  # one guess per message, not three
    ("Colissimo", False),
    ("", False),
])
def test_matches_the_order_email_or_postcode(store, fact, expected):
    assert order_proof.matches(store.get(SHIPPED), fact) is expected


def test_a_uk_postcode_matches_whatever_its_spaces_and_case(store):
    order = store.get(PROCESSING)
    assert order_proof.matches(order, "bs8 1th")
    assert order_proof.matches(order, "BS81TH")
    assert not order_proof.matches(order, "BS8 1TA")


# --- the forms ---------------------------------------------------------------


@pytest.mark.parametrize("action_cls, form", FORMS)
def test_after_the_number_every_form_asks_for_the_fact(store, action_cls, form):
    tracker = action_tracker(
        text=SHIPPED, intent="inform",
        entities=[{"entity": "order_number", "value": SHIPPED}],
        slots={"order_number": SHIPPED, "requested_slot": "order_number"},
        active_loop=form, trailing_slot_events=[("order_number", SHIPPED)],
    )
    dispatcher, events = run(action_cls(store=store, failures=MemoryFailureCount()), tracker)
    assert slot(events, "order_number") == SHIPPED
    # The domain's order goes on to order_fact; no early stop on a shipped order.
    assert not [e for e in events if e.get("name") == "requested_slot"]
    assert dispatcher.messages == []


@pytest.mark.parametrize("language", ["en", "fr"])
@pytest.mark.parametrize("fact", ["claire.martin@example.com", "Claire.Martin@example.com",
                                  "69003", "69 003"])
def test_the_right_email_or_postcode_proves_the_order(store, fact, language):
    dispatcher, events = answer_fact(ValidateOrderForm, store, fact, language=language)
    assert slot(events, "verified_orders") == [SHIPPED]
    assert slot(events, "order_fact") is None  # the fact is not kept
    assert slot(events, "requested_slot") is None  # order_form is done: the status follows
    assert dispatcher.messages == []


def test_a_proven_order_goes_on_to_the_cancellation_question(store):
    dispatcher, events = answer_fact(ValidateCancelOrderForm, store, "tom.baker@example.com",
                                     number=PROCESSING, form="cancel_order_form")
    assert slot(events, "verified_orders") == [PROCESSING]
    assert slot(events, "requested_slot") == "cancel_confirmed"


@pytest.mark.parametrize("fact, proven", [("69003", True), ("69002", False)])
@pytest.mark.parametrize("number_first", [True, False])
def test_a_postcode_given_as_the_fact_never_becomes_the_order_number(store, fact, proven,
                                                                    number_first):
    # The order-number regex also reads a postcode as an order number; whichever
    # slot is validated first, the number is the one asked about (or asked again).
    slot_events = [("order_number", fact), ("order_fact", fact)]
    tracker = action_tracker(
        text=fact, intent="inform",
        entities=[{"entity": "order_number", "value": fact}],
        slots={"order_number": fact, "requested_slot": "order_fact", "order_fact": fact},
        active_loop="order_form",
        earlier_events=[{"event": "slot", "name": "order_number", "value": SHIPPED}],
        trailing_slot_events=slot_events if number_first else slot_events[::-1],
    )
    dispatcher, events = run(ValidateOrderForm(store=store, failures=MemoryFailureCount()), tracker)
    assert slot(events, "order_number") == (SHIPPED if proven else None)
    assert (slot(events, "verified_orders") == [SHIPPED]) if proven else \
        responses(dispatcher) == ["utter_order_fact_mismatch"]


def test_a_postcode_given_as_the_fact_does_not_replace_the_order_number(store):
    # The order-number regex also reads the postcode "69003" as an order number.
    tracker = action_tracker(
        text="69003", intent="inform",
        entities=[{"entity": "order_number", "value": "69003"}],
        slots={"order_number": "69003", "requested_slot": "order_fact", "order_fact": "69003"},
        active_loop="order_form",
        earlier_events=[{"event": "slot", "name": "order_number", "value": SHIPPED}],
        trailing_slot_events=[("order_number", "69003"), ("order_fact", "69003")],
    )
    dispatcher, events = run(ValidateOrderForm(store=store, failures=MemoryFailureCount()), tracker)
    assert slot(events, "order_number") == SHIPPED
    assert slot(events, "verified_orders") == [SHIPPED]


@pytest.mark.parametrize("language", ["en", "fr"])
@pytest.mark.parametrize("number, fact", [
    (SHIPPED, "69002"),  # the wrong postcode
    (SHIPPED, "tom.baker@example.com"),  # another customer's e-mail
    ("99999", "claire.martin@example.com"),  # no such order
])
def test_a_wrong_fact_says_neither_which_part_nor_anything_of_the_order(store, number, fact,
                                                                        language):
    dispatcher, events = answer_fact(ValidateOrderForm, store, fact, number=number,
                                     language=language)
    assert responses(dispatcher) == ["utter_order_fact_mismatch"]
    assert no_details(dispatcher)
    # Both asked again, the fact not kept, the miss counted; nothing proven.
    assert slot(events, "order_number") is None
    assert slot(events, "order_fact") is None
    assert slot(events, "order_fact_misses") == 1
    with pytest.raises(KeyError):
        slot(events, "verified_orders")


@pytest.mark.parametrize("action_cls, form", FORMS)
def test_after_three_wrong_facts_the_form_stops_asking(store, action_cls, form):
    dispatcher, events = answer_fact(action_cls, store, "69002", form=form,
                                     misses=order_proof.MAX_MISSES - 1)
    assert slot(events, "order_fact_misses") == order_proof.MAX_MISSES
    assert slot(events, "requested_slot") is None  # no fourth question: the action offers a person
    assert slot(events, "order_number") == SHIPPED  # kept for the person who takes over
    assert dispatcher.messages == []


def test_wrong_facts_count_per_order_across_conversations(store):
    failures = MemoryFailureCount()
    for _ in range(2):  # two conversations, one wrong fact each
        answer_fact(ValidateOrderForm, store, "69002", failures=failures)
    answer_fact(ValidateOrderForm, store, "69003", failures=failures)  # right: not counted
    answer_fact(ValidateOrderForm, store, "10.2.3.4", number=PROCESSING, failures=failures)
    assert failures.counts == {SHIPPED: 2, PROCESSING: 1}


@pytest.mark.parametrize("action_cls, form", FORMS)
def test_an_order_guessed_at_too_often_is_not_checked_even_with_the_right_fact(
        store, action_cls, form):
    failures = MemoryFailureCount()
    failures.counts[SHIPPED] = order_proof.FAILURES_PER_ORDER
    dispatcher, events = answer_fact(action_cls, store, "claire.martin@example.com",
                                     form=form, failures=failures)
    with pytest.raises(KeyError):
        slot(events, "verified_orders")
    # As after three wrong facts in this conversation: no more questions, a person offered.
    assert slot(events, "order_fact_misses") == order_proof.MAX_MISSES
    assert slot(events, "requested_slot") is None
    assert dispatcher.messages == []
    assert failures.counts[SHIPPED] == order_proof.FAILURES_PER_ORDER  # not counted again


@pytest.mark.parametrize("action_cls, form", FORMS)
def test_once_stopped_a_form_asks_nothing_more(store, action_cls, form):
    tracker = action_tracker(
        text="where is order 10235", intent="order_status",
        entities=[{"entity": "order_number", "value": PROCESSING}],
        slots={"order_number": PROCESSING, "order_fact_misses": 3.0},
        active_loop=form, trailing_slot_events=[("order_number", PROCESSING)],
    )
    dispatcher, events = run(action_cls(store=store, failures=MemoryFailureCount()), tracker)
    assert slot(events, "requested_slot") is None
    assert no_details(dispatcher)


@pytest.mark.parametrize("action_cls, form", FORMS)
def test_a_proven_order_is_not_asked_for_again(store, action_cls, form):
    tracker = action_tracker(
        text=f"and order {PROCESSING}?", intent="order_status",
        entities=[{"entity": "order_number", "value": PROCESSING}],
        slots={"order_number": PROCESSING, "verified_orders": [SHIPPED, PROCESSING],
               "order_fact_misses": 3.0},
        active_loop=form, trailing_slot_events=[("order_number", PROCESSING)],
    )
    dispatcher, events = run(action_cls(store=store, failures=MemoryFailureCount()), tracker)
    expected_next = {"order_form": None, "cancel_order_form": "cancel_confirmed",
                     "change_address_form": "new_address"}[form]
    assert slot(events, "requested_slot") == expected_next


@pytest.mark.parametrize("intent", sorted(HUMAN_PATH_INTENTS))
@pytest.mark.parametrize("action_cls, form", FORMS)
def test_the_human_path_leaves_the_form_while_the_fact_is_asked(store, action_cls, form,
                                                                intent):
    dispatcher, events = answer_fact(action_cls, store, "I want a person", form=form,
                                     intent=intent)
    assert [e["event"] for e in events] == ["action_execution_rejected"]
    assert dispatcher.messages == []


# --- the actions -------------------------------------------------------------


def order_tracker(number, language="en", **slots):
    return action_tracker(slots={"order_number": number, "language": language,
                                 "cancel_confirmed": None, "new_address": None, **slots})


@pytest.mark.parametrize("language", ["en", "fr"])
def test_the_status_is_given_once_the_order_is_proven(store, language):
    dispatcher, _ = run(ActionOrderStatus(store=store),
                        order_tracker(SHIPPED, language, verified_orders=[SHIPPED]))
    assert responses(dispatcher) == ["utter_order_shipped"]
    assert dispatcher.messages[0]["carrier"] == "Colissimo"


@pytest.mark.parametrize("verified", [None, [PROCESSING]])
def test_the_status_of_an_unproven_order_is_never_given(store, verified):
    dispatcher, events = run(ActionOrderStatus(store=store),
                             order_tracker(SHIPPED, verified_orders=verified))
    assert responses(dispatcher) == ["utter_order_fact_mismatch"]
    assert no_details(dispatcher)
    assert events == [SlotSet("order_number", None)]


def test_after_three_wrong_facts_the_bot_offers_a_person(store):
    dispatcher, events = run(ActionOrderStatus(store=store),
                             order_tracker(SHIPPED, "fr", order_fact_misses=3.0))
    assert responses(dispatcher) == ["utter_order_fact_locked"]
    assert no_details(dispatcher)
    assert events == []  # the number stays for the person


@pytest.mark.parametrize("misses, response", [(None, "utter_order_fact_mismatch"),
                                              (3.0, "utter_order_fact_locked")])
def test_an_unproven_order_cannot_be_cancelled(store, misses, response):
    dispatcher, _ = run(ActionCancelOrder(store=store),
                        order_tracker(PROCESSING, cancel_confirmed=True,
                                      order_fact_misses=misses))
    assert responses(dispatcher) == [response]
    assert store.get(PROCESSING).status == "processing"


def test_a_proven_order_can_be_cancelled(store):
    dispatcher, _ = run(ActionCancelOrder(store=store),
                        order_tracker(PROCESSING, cancel_confirmed=True,
                                      verified_orders=[PROCESSING]))
    assert responses(dispatcher) == ["utter_cancel_done"]
    assert store.get(PROCESSING).status == "cancelled"


def test_an_unproven_order_cannot_be_re_addressed(store):
    before = store.get(PROCESSING).delivery_address
    dispatcher, _ = run(ActionChangeAddress(store=store),
                        order_tracker(PROCESSING, new_address="1 Main Street, Leeds LS1 1AA"))
    assert responses(dispatcher) == ["utter_order_fact_mismatch"]
    assert store.get(PROCESSING).delivery_address == before


# --- the domain --------------------------------------------------------------


def test_the_new_responses_exist_in_english_and_french():
    for name in ("utter_ask_order_fact", "utter_order_fact_mismatch", "utter_order_fact_locked"):
        variants = DOMAIN["responses"][name]
        languages = [v.get("condition", [{}])[0].get("value", "en") for v in variants]
        assert languages == ["en", "fr"], name
    for variant in DOMAIN["responses"]["utter_ask_order_fact"]:
        assert "{order_number}" in variant["text"]
    for variant in DOMAIN["responses"]["utter_order_fact_locked"]:
        assert [b["payload"] for b in variant["buttons"]] == ["/request_human"]


def test_the_fact_slot_is_filled_only_while_asked_and_never_from_the_human_path():
    (mapping,) = DOMAIN["slots"]["order_fact"]["mappings"]
    assert mapping["type"] == "from_text"
    assert HUMAN_PATH_INTENTS <= set(mapping["not_intent"])
    assert {c["active_loop"] for c in mapping["conditions"]} == {f for _, f in FORMS}
    assert {c["requested_slot"] for c in mapping["conditions"]} == {"order_fact"}
    for name in ("order_fact", "verified_orders", "order_fact_misses"):
        assert DOMAIN["slots"][name]["influence_conversation"] is False
