"""Unit tests: cancelling an order and changing its address (store, forms, actions).

No Rasa server: actions run on hand-built rasa_sdk Trackers with a
CollectingDispatcher and a temporary store built from handoff/orders/orders.sql.
"""

import asyncio
import sqlite3
import threading
from pathlib import Path

import pytest
import yaml
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.order_changes import (
    ActionCancelOrder,
    ActionChangeAddress,
    ValidateCancelOrderForm,
    ValidateChangeAddressForm,
    clean_address,
)
from actions.orders import HUMAN_PATH_INTENTS, ValidateOrderForm, slot_before_latest_message
from handoff.orders.desk import OrderDesk
from handoff.orders.store import OrderStore
from tests.trackers import action_tracker

ROOT = Path(__file__).resolve().parents[2]
SQL = ROOT / "handoff" / "orders" / "orders.sql"
DOMAIN = yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))

ACTOR = "agent:test"

# Sample orders by status (handoff/orders/orders.sql).
PROCESSING, PROCESSING_2 = "10235", "31008"
SHIPPED, DELIVERED, CANCELLED = "10234", "10236", "10237"


@pytest.fixture
def store(tmp_path):
    return OrderStore(db_path=tmp_path / "orders.db", sql_path=SQL)


def make_tracker(slots=None, **kwargs):
    """A tracker with the change forms' slots."""
    return action_tracker(slots={"cancel_confirmed": None, "new_address": None, **(slots or {})},
                          **kwargs)


def responses(dispatcher):
    return [m.get("response") for m in dispatcher.messages]


def run_action(action, tracker):
    dispatcher = CollectingDispatcher()
    result = action.run(dispatcher, tracker, DOMAIN)
    if asyncio.iscoroutine(result):
        result = asyncio.run(result)
    return dispatcher, result


def slot_events(events, name):
    return [e for e in events if e.get("event") == "slot" and e.get("name") == name]


# --- store writes ------------------------------------------------------------


def test_cancel_a_processing_order(store):
    result = OrderDesk(store).cancel(PROCESSING, ACTOR)
    assert result.done and result.order.status == "cancelled"
    assert store.get(PROCESSING).status == "cancelled"
    # Cancelling again changes nothing and says why.
    again = OrderDesk(store).cancel(PROCESSING, ACTOR)
    assert not again.done and again.order.status == "cancelled"


@pytest.mark.parametrize("number", [SHIPPED, DELIVERED, CANCELLED])
def test_cancel_refused_once_the_order_left(store, number):
    before = store.get(number)
    result = OrderDesk(store).cancel(number, ACTOR)
    assert not result.done
    assert result.order == before
    assert store.get(number) == before


@pytest.mark.parametrize("number", ["99999", "1234", None, "' OR 1=1 --"])
def test_cancel_unknown_or_malformed(store, number):
    result = OrderDesk(store).cancel(number, ACTOR)
    assert not result.done and result.order is None
    store.ensure_database()
    with sqlite3.connect(store.db_path) as conn:
        cancelled = conn.execute("SELECT count(*) FROM orders WHERE status='cancelled'")
        assert cancelled.fetchone() == (1,)


def test_change_address_of_a_processing_order(store):
    result = OrderDesk(store).change_address(PROCESSING_2, "  5 rue Neuve,\n 59000   Lille ",
                                             ACTOR)
    assert result.done
    assert result.order.delivery_address == "5 rue Neuve, 59000 Lille"
    assert store.get(PROCESSING_2).delivery_address == "5 rue Neuve, 59000 Lille"
    assert store.get(PROCESSING_2).status == "processing"


@pytest.mark.parametrize("number", [SHIPPED, DELIVERED, CANCELLED])
def test_change_address_refused_once_the_order_left(store, number):
    before = store.get(number)
    result = OrderDesk(store).change_address(number, "1 Main Street, Leeds LS1 1AA", ACTOR)
    assert not result.done and result.order == before
    assert store.get(number).delivery_address == before.delivery_address


def test_change_address_rejects_empty_or_huge_addresses(store):
    with pytest.raises(ValueError):
        OrderDesk(store).change_address(PROCESSING, "   ", ACTOR)
    with pytest.raises(ValueError):
        OrderDesk(store).change_address(PROCESSING, "x" * 301, ACTOR)
    assert OrderDesk(store).change_address("99999", "1 Main Street, Leeds", ACTOR).order is None


def test_concurrent_cancels_succeed_exactly_once(store):
    store.ensure_database()
    results = []
    barrier = threading.Barrier(8)

    def worker():
        other = OrderStore(db_path=store.db_path, sql_path=SQL)
        barrier.wait()
        results.append(OrderDesk(other).cancel(PROCESSING, ACTOR).done)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [False] * 7 + [True]


def test_old_database_without_address_column_is_migrated(tmp_path):
    db = tmp_path / "old.db"
    with sqlite3.connect(db) as conn:
        conn.execute(
            "CREATE TABLE orders (order_number TEXT PRIMARY KEY, status TEXT NOT NULL,"
            " carrier TEXT, expected_delivery TEXT, customer_email TEXT NOT NULL,"
            " placed_on TEXT NOT NULL)"
        )
        conn.execute(
            "INSERT INTO orders VALUES ('10235','processing','DPD','2025-06-14',"
            "'a@example.com','2025-06-09')"
        )
    store = OrderStore(db_path=db, sql_path=SQL)
    assert store.get("10235").delivery_address is None
    assert OrderDesk(store).change_address("10235", "8 rue des Lilas, 69003 Lyon", ACTOR).done
    assert OrderDesk(store).cancel("10235", ACTOR).done


# --- helpers -----------------------------------------------------------------


@pytest.mark.parametrize(
    "text, expected",
    [
        ("12 rue de la Paix, 75002 Paris", "12 rue de la Paix, 75002 Paris"),
        ("  41 King Street,   Manchester M2 4LQ. ", "41 King Street, Manchester M2 4LQ"),
        ("flat 3, 22 Mill Lane, York YO1 7HB", "flat 3, 22 Mill Lane, York YO1 7HB"),
        ("Paris", None),
        ("rue de la Paix Paris", None),  # no number at all
        ("10235", None),
        ("asdf 12", None),
        ("", None),
        (None, None),
        ("1 " + "a" * 400, None),
    ],
)
def test_clean_address(text, expected):
    assert clean_address(text) == expected


def test_slot_before_latest_message():
    tracker = make_tracker(
        text="12 rue de la Paix, 75002 Paris",
        earlier_events=[{"event": "slot", "name": "order_number", "value": "31008"}],
        trailing_slot_events=[("order_number", "75002")],
    )
    assert slot_before_latest_message(tracker, "order_number") == "31008"
    assert slot_before_latest_message(make_tracker(), "order_number") is None


# --- the human path comes first in every form --------------------------------


@pytest.mark.parametrize("intent", sorted(HUMAN_PATH_INTENTS))
@pytest.mark.parametrize(
    "action, form",
    [
        (ValidateOrderForm(), "order_form"),
        (ValidateCancelOrderForm(), "cancel_order_form"),
        (ValidateChangeAddressForm(), "change_address_form"),
    ],
)
def test_human_path_message_rejects_the_form_even_with_a_number(store, intent, action, form):
    if hasattr(action, "_store"):
        action._store = store
    tracker = make_tracker(
        text="I want a person about order 10235",
        intent=intent,
        entities=[{"entity": "order_number", "value": "10235", "start": 28, "end": 33}],
        slots={"order_number": "10235", "requested_slot": "order_number"},
        active_loop=form,
        trailing_slot_events=[("order_number", "10235")],
    )
    dispatcher, events = run_action(action, tracker)
    assert events == [
        {
            "event": "action_execution_rejected",
            "name": form,
            "policy": None,
            "confidence": None,
            "timestamp": None,
        }
    ]
    assert dispatcher.messages == []


# --- validate_cancel_order_form ----------------------------------------------


def validate(action_cls, store, **kwargs):
    return run_action(action_cls(store=store), make_tracker(**kwargs))


def test_cancel_form_takes_a_processing_order_then_asks_for_its_proof(store):
    dispatcher, events = validate(
        ValidateCancelOrderForm,
        store,
        text=f"it's {PROCESSING}",
        slots={"order_number": PROCESSING, "requested_slot": "order_number"},
        active_loop="cancel_order_form",
        trailing_slot_events=[("order_number", PROCESSING)],
    )
    assert SlotSet("order_number", PROCESSING) in events
    # The form goes on as the domain says (next: order_fact), not stopped early.
    assert not slot_events(events, "requested_slot")
    assert dispatcher.messages == []


@pytest.mark.parametrize("number", [SHIPPED, DELIVERED, CANCELLED])
def test_cancel_form_does_not_ask_to_confirm_what_cannot_be_cancelled(store, number):
    dispatcher, events = validate(
        ValidateCancelOrderForm,
        store,
        text=number,
        slots={"order_number": number, "requested_slot": "order_number",
               "verified_orders": [number]},
        active_loop="cancel_order_form",
        trailing_slot_events=[("order_number", number)],
    )
    assert SlotSet("order_number", number) in events
    assert SlotSet("requested_slot", None) in events  # straight to the action's refusal


@pytest.mark.parametrize("number", ["99999", SHIPPED, PROCESSING])
def test_cancel_form_says_nothing_about_an_order_before_its_proof(store, number):
    # Unknown, shipped or cancellable: the same next question, the proof.
    dispatcher, events = validate(
        ValidateCancelOrderForm,
        store,
        text=number,
        slots={"order_number": number, "requested_slot": "order_number"},
        active_loop="cancel_order_form",
        trailing_slot_events=[("order_number", number)],
    )
    assert SlotSet("order_number", number) in events
    assert not slot_events(events, "requested_slot")  # next: order_fact, as the domain says
    assert dispatcher.messages == []


def test_cancel_form_explains_a_malformed_number(store):
    dispatcher, events = validate(
        ValidateCancelOrderForm,
        store,
        text="1234",
        slots={"requested_slot": "order_number"},
        active_loop="cancel_order_form",
    )
    assert SlotSet("order_number", None) in events
    assert responses(dispatcher) == ["utter_invalid_order_number"]


def test_cancel_form_takes_the_number_from_the_opening_message(store):
    dispatcher, events = validate(
        ValidateCancelOrderForm,
        store,
        text="cancel order 31 008 please",
        intent="cancel_order",
        active_loop="cancel_order_form",
    )
    assert SlotSet("order_number", PROCESSING_2) in events


@pytest.mark.parametrize("value", [True, False])
def test_cancel_form_confirmation(store, value):
    dispatcher, events = validate(
        ValidateCancelOrderForm,
        store,
        text="/affirm" if value else "/deny",
        intent="affirm" if value else "deny",
        slots={
            "order_number": PROCESSING,
            "requested_slot": "cancel_confirmed",
            "cancel_confirmed": value,
        },
        active_loop="cancel_order_form",
        trailing_slot_events=[("cancel_confirmed", value)],
    )
    assert SlotSet("cancel_confirmed", value) in events
    assert dispatcher.messages == []


# --- action_cancel_order -----------------------------------------------------


def cancel(store, number, confirmed, language="en"):
    tracker = make_tracker(
        slots={"order_number": number, "cancel_confirmed": confirmed, "language": language,
               "verified_orders": [number] if number else None}
    )
    return run_action(ActionCancelOrder(store=store), tracker)


def test_cancel_confirmed_processing_order(store):
    dispatcher, events = cancel(store, PROCESSING, True)
    assert responses(dispatcher) == ["utter_cancel_done"]
    assert dispatcher.messages[0]["order_number"] == PROCESSING
    assert store.get(PROCESSING).status == "cancelled"
    assert events == [SlotSet("cancel_confirmed", None)]  # the number stays known


def test_cancel_not_confirmed_keeps_the_order(store):
    dispatcher, events = cancel(store, PROCESSING, False)
    assert responses(dispatcher) == ["utter_cancel_kept"]
    assert store.get(PROCESSING).status == "processing"
    assert events == [SlotSet("cancel_confirmed", None)]


@pytest.mark.parametrize(
    "number, response",
    [
        (SHIPPED, "utter_cancel_refused_shipped"),
        (DELIVERED, "utter_cancel_refused_delivered"),
        (CANCELLED, "utter_cancel_refused_cancelled"),
    ],
)
@pytest.mark.parametrize("confirmed", [True, None])
def test_cancel_refused_politely(store, number, response, confirmed):
    before = store.get(number)
    dispatcher, events = cancel(store, number, confirmed, language="fr")
    assert responses(dispatcher) == [response]
    assert dispatcher.messages[0]["order_number"] == number
    assert store.get(number) == before


def test_cancel_unknown_order(store):
    dispatcher, events = cancel(store, "99999", True)
    assert responses(dispatcher) == ["utter_order_not_found"]
    assert SlotSet("order_number", None) in events


def test_cancel_without_a_number_asks_for_it(store):
    dispatcher, events = cancel(store, None, True)
    assert responses(dispatcher) == ["utter_ask_order_number"]
    assert events == [SlotSet("cancel_confirmed", None)]


def test_cancel_race_with_shipping(store, monkeypatch):
    # The order ships between the check and the write: the write refuses.
    real_get = store.get
    monkeypatch.setattr(store, "get", lambda n: real_get(n))
    store.ensure_database()
    action = ActionCancelOrder(store=store)
    original_write = store.write

    def ship_then_write(change, rule):
        with sqlite3.connect(store.db_path) as conn:
            conn.execute("UPDATE orders SET status='shipped' WHERE order_number=?",
                         (change.order_number,))
        return original_write(change, rule)

    monkeypatch.setattr(store, "write", ship_then_write)
    tracker = make_tracker(slots={"order_number": PROCESSING, "cancel_confirmed": True,
                                  "verified_orders": [PROCESSING]})
    dispatcher, _ = run_action(action, tracker)
    assert responses(dispatcher) == ["utter_cancel_refused_shipped"]
    assert store.get(PROCESSING).status == "shipped"


# --- validate_change_address_form --------------------------------------------


def test_address_form_asks_the_address_of_a_processing_order(store):
    dispatcher, events = validate(
        ValidateChangeAddressForm,
        store,
        text=PROCESSING_2,
        slots={"order_number": PROCESSING_2, "requested_slot": "order_number"},
        active_loop="change_address_form",
        trailing_slot_events=[("order_number", PROCESSING_2)],
    )
    assert SlotSet("order_number", PROCESSING_2) in events
    assert not slot_events(events, "requested_slot")  # next: order_fact, then new_address


def test_address_form_stops_after_the_number_of_a_shipped_order(store):
    dispatcher, events = validate(
        ValidateChangeAddressForm,
        store,
        text=f"change the address of {SHIPPED}",
        intent="change_address",
        slots={"order_number": SHIPPED, "verified_orders": [SHIPPED]},
        active_loop="change_address_form",
        trailing_slot_events=[("order_number", SHIPPED)],
    )
    assert SlotSet("requested_slot", None) in events


def test_address_form_takes_a_full_address(store):
    text = "12 rue de la Paix, 75002 Paris"
    dispatcher, events = validate(
        ValidateChangeAddressForm,
        store,
        text=text,
        slots={
            "order_number": "75002",  # the postcode, picked up by the order-number regex
            "requested_slot": "new_address",
            "new_address": text,
        },
        active_loop="change_address_form",
        earlier_events=[{"event": "slot", "name": "order_number", "value": PROCESSING_2}],
        trailing_slot_events=[("order_number", "75002"), ("new_address", text)],
    )
    assert SlotSet("new_address", text) in events
    # The postcode did not replace the order number.
    assert slot_events(events, "order_number")[-1]["value"] == PROCESSING_2
    assert dispatcher.messages == []


def test_address_form_asks_again_for_something_that_is_not_an_address(store):
    dispatcher, events = validate(
        ValidateChangeAddressForm,
        store,
        text="at home",
        slots={
            "order_number": PROCESSING_2,
            "requested_slot": "new_address",
            "new_address": "at home",
        },
        active_loop="change_address_form",
        trailing_slot_events=[("new_address", "at home")],
    )
    assert SlotSet("new_address", None) in events
    assert responses(dispatcher) == ["utter_invalid_address"]


# --- action_change_address ---------------------------------------------------


def change(store, number, address):
    tracker = make_tracker(slots={"order_number": number, "new_address": address,
                                  "verified_orders": [number]})
    return run_action(ActionChangeAddress(store=store), tracker)


def test_change_address_done(store):
    dispatcher, events = change(store, PROCESSING_2, "12 rue de la Paix, 75002 Paris")
    assert responses(dispatcher) == ["utter_address_changed"]
    message = dispatcher.messages[0]
    assert message["order_number"] == PROCESSING_2
    assert message["new_address"] == "12 rue de la Paix, 75002 Paris"
    assert store.get(PROCESSING_2).delivery_address == "12 rue de la Paix, 75002 Paris"
    assert events == [SlotSet("new_address", None)]


@pytest.mark.parametrize(
    "number, response",
    [
        (SHIPPED, "utter_address_refused"),
        (DELIVERED, "utter_address_refused"),
        (CANCELLED, "utter_address_refused_cancelled"),
    ],
)
def test_change_address_refused_politely(store, number, response):
    before = store.get(number)
    dispatcher, events = change(store, number, "1 Main Street, Leeds LS1 1AA")
    assert responses(dispatcher) == [response]
    assert store.get(number) == before


def test_change_address_unknown_order(store):
    dispatcher, events = change(store, "99999", "1 Main Street, Leeds LS1 1AA")
    assert responses(dispatcher) == ["utter_order_not_found"]
    assert SlotSet("order_number", None) in events


def test_change_address_without_a_usable_address(store):
    dispatcher, events = change(store, PROCESSING_2, None)
    assert responses(dispatcher) == ["utter_invalid_address"]
    assert store.get(PROCESSING_2).delivery_address == "2 rue Nationale, 59000 Lille"


# --- the domain --------------------------------------------------------------


def test_actions_forms_and_slots_are_in_the_domain():
    for action in (
        ActionCancelOrder(),
        ActionChangeAddress(),
        ValidateCancelOrderForm(),
        ValidateChangeAddressForm(),
    ):
        assert action.name() in DOMAIN["actions"]
    assert DOMAIN["forms"]["cancel_order_form"]["required_slots"] == [
        "order_number",
        "order_fact",
        "cancel_confirmed",
    ]
    assert DOMAIN["forms"]["change_address_form"]["required_slots"] == [
        "order_number",
        "order_fact",
        "new_address",
    ]
    for slot in ("email", "phone", "new_address", "cancel_confirmed", "order_number"):
        assert DOMAIN["slots"][slot]["influence_conversation"] is False
    mapping = DOMAIN["slots"]["new_address"]["mappings"][0]
    assert mapping["type"] == "from_text"
    assert HUMAN_PATH_INTENTS <= set(mapping["not_intent"])


def test_every_response_the_new_actions_use_exists_with_its_variables():
    responses_ = DOMAIN["responses"]
    for name in (
        "utter_cancel_done",
        "utter_cancel_kept",
        "utter_cancel_refused_shipped",
        "utter_cancel_refused_delivered",
        "utter_cancel_refused_cancelled",
        "utter_address_refused",
        "utter_address_refused_cancelled",
        "utter_ask_cancel_confirmed",
        "utter_ask_new_address",
    ):
        for variant in responses_[name]:
            assert "{order_number}" in variant["text"], name
    for variant in responses_["utter_address_changed"]:
        assert "{new_address}" in variant["text"]
    for variant in responses_["utter_ask_cancel_confirmed"]:
        assert [b["payload"] for b in variant["buttons"]] == ["/affirm", "/deny"]
    for name in ("utter_out_of_scope", "utter_address_refused"):
        for variant in responses_[name]:
            assert [b["payload"] for b in variant["buttons"]] == ["/request_human"]


def test_a_not_understood_message_whose_best_guess_is_a_person_rejects_the_form(store):
    tracker = make_tracker(
        text="I want a person about order 31007",
        intent="nlu_fallback",
        slots={"order_number": PROCESSING_2, "requested_slot": "new_address",
               "new_address": "I want a person about order 31007"},
        active_loop="change_address_form",
        trailing_slot_events=[("new_address", "I want a person about order 31007")],
    )
    tracker.latest_message["intent_ranking"] = [
        {"name": "nlu_fallback", "confidence": 0.4},
        {"name": "request_human", "confidence": 0.46},
        {"name": "inform", "confidence": 0.37},
    ]
    dispatcher, events = run_action(ValidateChangeAddressForm(store=store), tracker)
    assert [e["event"] for e in events] == ["action_execution_rejected"]
    assert store.get(PROCESSING_2).delivery_address == "2 rue Nationale, 59000 Lille"


def test_a_not_understood_address_is_still_validated(store):
    text = "3 impasse des Roses, 31000 Toulouse"
    tracker = make_tracker(
        text=text,
        intent="nlu_fallback",
        slots={"order_number": PROCESSING_2, "requested_slot": "new_address", "new_address": text},
        active_loop="change_address_form",
        earlier_events=[{"event": "slot", "name": "order_number", "value": PROCESSING_2}],
        trailing_slot_events=[("order_number", "31000"), ("new_address", text)],
    )
    tracker.latest_message["intent_ranking"] = [
        {"name": "nlu_fallback", "confidence": 0.4},
        {"name": "inform", "confidence": 0.34},
        {"name": "order_status", "confidence": 0.26},
    ]
    dispatcher, events = run_action(ValidateChangeAddressForm(store=store), tracker)
    assert SlotSet("new_address", text) in events
    assert slot_events(events, "order_number")[-1]["value"] == PROCESSING_2


def test_the_action_server_registers_only_concrete_actions():
    import inspect

    from actions import order_changes, orders

    assert inspect.isabstract(orders.HumanPathFirst)
    assert inspect.isabstract(order_changes._ChangeFormValidation)
    for cls in (ValidateOrderForm, ValidateCancelOrderForm, ValidateChangeAddressForm):
        assert not inspect.isabstract(cls)
