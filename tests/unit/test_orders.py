"""Unit tests for the order actions and the order store (no Rasa server)."""

import asyncio
import sqlite3
from datetime import date
from pathlib import Path

import pytest
import yaml
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.orders import (
    ActionOrderStatus,
    ValidateOrderForm,
    format_date,
    order_number_attempt,
)
from handoff.orders.store import STATUSES, OrderStore, normalise_order_number
from tests.trackers import action_tracker

ROOT = Path(__file__).resolve().parents[2]
SQL = ROOT / "handoff" / "orders" / "orders.sql"
DOMAIN_DICT = {
    "forms": {"order_form": {"required_slots": ["order_number"]}},
    "slots": {
        "order_number": {
            "type": "text",
            "mappings": [{"type": "from_entity", "entity": "order_number"}],
        },
        "language": {
            "type": "text",
            "mappings": [{"type": "from_entity", "entity": "language"}],
        },
    },
}


@pytest.fixture
def store(tmp_path):
    return OrderStore(db_path=tmp_path / "orders.db", sql_path=SQL)


def make_tracker(active_loop="order_form", **kwargs):
    """A tracker with the order form active unless told otherwise."""
    return action_tracker(active_loop=active_loop, **kwargs)


def run_validation(tracker):
    dispatcher = CollectingDispatcher()
    events = asyncio.run(ValidateOrderForm().run(dispatcher, tracker, DOMAIN_DICT))
    return dispatcher, events


def responses(dispatcher):
    return [m.get("response") for m in dispatcher.messages]


# --- order store -------------------------------------------------------------


def test_store_builds_database_from_sql_on_first_use(store):
    assert not store.db_path.exists()
    order = store.get("10234")
    assert store.db_path.exists()
    assert order.status == "shipped"
    assert order.carrier == "Colissimo"
    assert order.expected_delivery == date(2025, 6, 12)


def test_store_ships_sample_orders_of_every_status(store):
    store.ensure_database()
    with sqlite3.connect(store.db_path) as conn:
        rows = conn.execute("SELECT order_number, status FROM orders").fetchall()
    assert len(rows) >= 8
    assert {status for _, status in rows} == set(STATUSES)
    assert all(len(number) == 5 and number.isdigit() for number, _ in rows)


def test_store_reuses_an_existing_database(store):
    store.ensure_database()
    mtime = store.db_path.stat().st_mtime_ns
    other = OrderStore(db_path=store.db_path, sql_path=SQL)
    assert other.get("45678").carrier == "DHL Express"
    assert store.db_path.stat().st_mtime_ns == mtime
    # No temporary file left next to it.
    assert [p.name for p in store.db_path.parent.iterdir()] == ["orders.db"]


def test_store_unknown_and_malformed_numbers(store):
    assert store.get("99999") is None
    assert store.get("1234") is None
    assert store.get("abcde") is None
    assert store.get(None) is None
    assert store.get("' OR 1=1 --") is None


def test_store_path_from_environment(tmp_path, monkeypatch):
    target = tmp_path / "elsewhere" / "o.db"
    monkeypatch.setenv("ORDERS_DB_PATH", str(target))
    assert OrderStore(sql_path=SQL).get("10236").status == "delivered"
    assert target.exists()


def test_cancelled_order_has_no_date(store):
    order = store.get("10237")
    assert order.status == "cancelled"
    assert order.expected_delivery is None


@pytest.mark.parametrize(
    "value, expected",
    [
        ("10234", "10234"),
        (" 10234 ", "10234"),
        ("#10234", "10234"),
        (10234, "10234"),
        ("1234", None),
        ("123456", None),
        ("10a34", None),
        ("", None),
        (None, None),
        (True, None),
    ],
)
def test_normalise_order_number(value, expected):
    assert normalise_order_number(value) == expected


# --- helpers -----------------------------------------------------------------


def test_format_date_in_both_languages():
    assert format_date(date(2025, 6, 12), "en") == "Thursday 12 June 2025"
    assert format_date(date(2025, 6, 12), "fr") == "jeudi 12 juin 2025"
    assert format_date(date(2025, 8, 1), "fr") == "vendredi 1er août 2025"
    assert format_date(date(2025, 8, 1), "de") == "Friday 1 August 2025"
    assert format_date(None, "en") == "?"


@pytest.mark.parametrize(
    "text, expected",
    [
        ("1234", "1234"),
        ("it's 10 234", "10234"),
        ("n° 10-234 merci", "10234"),
        ("#123456", "123456"),
        ("how long does delivery take", None),
        ("I have 2 orders", None),
        ("", None),
        (None, None),
    ],
)
def test_order_number_attempt(text, expected):
    assert order_number_attempt(text) == expected


# --- validate_order_form -----------------------------------------------------


def test_validation_accepts_a_well_formed_number():
    tracker = make_tracker(
        text="it's 10234",
        entities=[{"entity": "order_number", "value": "10234", "start": 5, "end": 10}],
        slots={"order_number": "10234", "requested_slot": "order_number"},
        trailing_slot_events=[("order_number", "10234")],
    )
    dispatcher, events = run_validation(tracker)
    assert SlotSet("order_number", "10234") in events
    assert dispatcher.messages == []


def test_validation_rejects_a_short_number_politely():
    tracker = make_tracker(text="1234", slots={"requested_slot": "order_number"})
    dispatcher, events = run_validation(tracker)
    assert SlotSet("order_number", None) in events
    assert responses(dispatcher) == ["utter_invalid_order_number"]


def test_validation_rejects_a_long_number_in_french_too():
    # The response is chosen by the `language` slot on the Rasa side; the
    # action just names it.
    tracker = make_tracker(
        text="c'est le 1023456",
        slots={"requested_slot": "order_number", "language": "fr"},
    )
    dispatcher, events = run_validation(tracker)
    assert SlotSet("order_number", None) in events
    assert responses(dispatcher) == ["utter_invalid_order_number"]


def test_validation_joins_a_number_typed_with_spaces():
    tracker = make_tracker(text="10 234", slots={"requested_slot": "order_number"})
    dispatcher, events = run_validation(tracker)
    assert SlotSet("order_number", "10234") in events
    assert dispatcher.messages == []


def test_validation_leaves_unrelated_messages_alone():
    # No number: nothing extracted, so the form rejects and rules take over
    # (e.g. an FAQ asked in the middle of the form).
    tracker = make_tracker(
        text="how long does delivery take?",
        intent="delivery_times",
        slots={"requested_slot": "order_number"},
    )
    dispatcher, events = run_validation(tracker)
    assert [e for e in events if e.get("name") == "order_number"] == []
    assert dispatcher.messages == []


def test_validation_accepts_a_prefilled_number_when_the_form_opens():
    # After a hand-back the slot is already set; Rasa sends it as a slot
    # candidate when the form activates, and the form must complete at once.
    tracker = make_tracker(
        text="where is my order?",
        intent="order_status",
        slots={"order_number": "45678"},
        trailing_slot_events=[("order_number", "45678")],
    )
    dispatcher, events = run_validation(tracker)
    assert SlotSet("order_number", "45678") in events
    assert dispatcher.messages == []


def test_validation_checks_a_malformed_number_in_the_opening_question():
    tracker = make_tracker(text="where is my order 1234", intent="order_status")
    dispatcher, events = run_validation(tracker)
    assert SlotSet("order_number", None) in events
    assert responses(dispatcher) == ["utter_invalid_order_number"]


# --- action_order_status -----------------------------------------------------


def run_status(store, order_number, language="en"):
    dispatcher = CollectingDispatcher()
    tracker = make_tracker(
        slots={"order_number": order_number, "language": language,
               "verified_orders": [order_number] if order_number else None},
        active_loop=None,
    )
    events = ActionOrderStatus(store=store).run(dispatcher, tracker, {})
    return dispatcher, events


@pytest.mark.parametrize(
    "number, response, carrier, when",
    [
        ("10234", "utter_order_shipped", "Colissimo", "Thursday 12 June 2025"),
        ("10235", "utter_order_processing", "Chronopost", "Saturday 14 June 2025"),
        ("10236", "utter_order_delivered", "DPD", "Tuesday 3 June 2025"),
        ("10237", "utter_order_cancelled", "", "?"),
    ],
)
def test_status_of_each_kind_of_order(store, number, response, carrier, when):
    dispatcher, events = run_status(store, number)
    assert events == []  # the number stays known for later questions
    (message,) = dispatcher.messages
    assert message["response"] == response
    assert {k: message[k] for k in ("order_number", "carrier", "delivery_date")} == {
        "order_number": number,
        "carrier": carrier,
        "delivery_date": when,
    }


def test_status_date_in_french(store):
    dispatcher, _ = run_status(store, "20411", language="fr")
    (message,) = dispatcher.messages
    assert message["response"] == "utter_order_shipped"
    assert message["delivery_date"] == "vendredi 13 juin 2025"


def test_unknown_order_is_reported_and_forgotten(store):
    dispatcher, events = run_status(store, "99999")
    assert responses(dispatcher) == ["utter_order_not_found"]
    assert dispatcher.messages[0]["order_number"] == "99999"
    assert events == [SlotSet("order_number", None)]


def test_missing_number_asks_for_it(store):
    dispatcher, events = run_status(store, None)
    assert responses(dispatcher) == ["utter_ask_order_number"]
    assert events == [SlotSet("order_number", None)]


def test_action_names_match_the_domain():
    domain = yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))
    assert ValidateOrderForm().name() in domain["actions"]
    assert ActionOrderStatus().name() in domain["actions"]
    assert domain["forms"]["order_form"]["required_slots"] == ["order_number", "order_fact"]


def test_every_response_the_actions_use_exists_with_its_variables():
    domain = yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))
    responses_ = domain["responses"]
    for status in STATUSES:
        variants = responses_[f"utter_order_{status}"]
        for variant in variants:
            assert "{order_number}" in variant["text"]
    for name in ("utter_order_not_found", "utter_invalid_order_number", "utter_ask_order_number"):
        assert name in responses_
    for variant in responses_["utter_order_shipped"]:
        assert "{carrier}" in variant["text"] and "{delivery_date}" in variant["text"]
