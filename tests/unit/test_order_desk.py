"""Unit tests: the business actions on orders (`handoff/orders/desk.py`), on a real SQLite file.

The bot's actions and the console both call the desk; what it may change and what it refuses
is tested here once. The two paths are compared in tests/integration/test_order_actions_api.py.
"""

import sqlite3
import threading
from pathlib import Path

import pytest

from handoff.orders.desk import MAX_AMOUNT_CENTS, OrderDesk, agent_actor, bot_actor
from handoff.orders.store import OrderStore, OrderStoreUnavailable, RequestReused

ROOT = Path(__file__).resolve().parents[2]
SQL = ROOT / "handoff" / "orders" / "orders.sql"
MARIE = agent_actor("marie")
PROCESSING, SHIPPED, DELIVERED = "10235", "10234", "10236"


@pytest.fixture
def desk(tmp_path):
    return OrderDesk(OrderStore(db_path=tmp_path / "orders.db", sql_path=SQL))


def journal(desk):
    desk.store.get(PROCESSING)  # built and brought up to date, never an empty file
    with sqlite3.connect(desk.store.db_path) as conn:
        return conn.execute("SELECT request_id, order_number, kind, amount_cents, actor, done,"
                            " reason FROM order_actions ORDER BY rowid").fetchall()


def test_every_sample_order_has_a_total(desk):
    for number in (PROCESSING, SHIPPED, DELIVERED, "10237", "10238", "31007"):
        order = desk.store.get(number)
        assert order.total_cents > 0 and order.currency == "EUR" and order.refunded_cents == 0


def test_the_orders_of_a_customer_by_email_any_case(desk):
    found = desk.store.orders_of("Tom.Baker@Example.com")
    assert [o.order_number for o in found] == ["10235", "10238"]  # newest first
    assert desk.store.orders_of("nobody@example.com") == []


def test_cancel_is_journaled_with_who_asked(desk):
    outcome = desk.cancel(PROCESSING, bot_actor("conv-1"), request_id="r1")
    assert outcome.done and outcome.order.status == "cancelled"
    assert journal(desk) == [("r1", PROCESSING, "cancel", None, "bot:conv-1", 1, None)]


def test_a_request_seen_before_changes_nothing_and_says_what_it_did(desk):
    first = desk.refund(DELIVERED, 1000, MARIE, request_id="click-1")
    again = desk.refund(DELIVERED, 1000, MARIE, request_id="click-1")
    assert first.done and again.done and again.replayed and not first.replayed
    assert desk.store.get(DELIVERED).refunded_cents == 1000
    assert len(journal(desk)) == 1
    # The voucher's code is the first one's, not a new one.
    v1 = desk.voucher(DELIVERED, 500, MARIE, request_id="click-2")
    v2 = desk.voucher(DELIVERED, 500, MARIE, request_id="click-2")
    assert v1.detail == v2.detail and v1.detail.startswith("V-")


def test_a_request_id_cannot_be_reused_for_another_change(desk):
    desk.refund(DELIVERED, 1000, MARIE, request_id="same")
    with pytest.raises(RequestReused):
        desk.cancel(PROCESSING, MARIE, request_id="same")
    assert desk.store.get(PROCESSING).status == "processing"


def test_refunds_never_pass_what_was_paid(desk):
    total = desk.store.get(DELIVERED).total_cents
    assert desk.refund(DELIVERED, total - 100, MARIE).done
    refused = desk.refund(DELIVERED, 101, MARIE)
    assert (refused.done, refused.reason) == (False, "over_refundable")
    assert desk.refund(DELIVERED, 100, MARIE).done
    assert desk.store.get(DELIVERED).refundable_cents == 0


@pytest.mark.parametrize("amount", [0, -5, 1.5, "10", True, None, MAX_AMOUNT_CENTS + 1])
def test_amounts_must_be_whole_positive_cents(desk, amount):
    with pytest.raises(ValueError):
        desk.refund(DELIVERED, amount, MARIE)
    with pytest.raises(ValueError):
        desk.voucher(DELIVERED, amount, MARIE)
    assert journal(desk) == []


@pytest.mark.parametrize("number", ["99999", "1234", None, "' OR 1=1 --"])
def test_unknown_orders_change_nothing(desk, number):
    for outcome in (desk.cancel(number, MARIE), desk.refund(number, 100, MARIE),
                    desk.voucher(number, 100, MARIE)):
        assert (outcome.done, outcome.reason, outcome.order) == (False, "unknown_order", None)


def test_cancel_and_readdress_only_while_processing(desk):
    assert desk.cancel(SHIPPED, MARIE).reason == "not_changeable"
    assert desk.change_address(SHIPPED, "1 Main Street, Leeds LS1 1AA", MARIE).reason == \
        "not_changeable"
    assert desk.store.get(SHIPPED).status == "shipped"
    with pytest.raises(ValueError):
        desk.change_address(PROCESSING, "nowhere", MARIE)


def test_concurrent_refunds_never_pass_the_total(desk):
    total = desk.store.get(DELIVERED).total_cents
    barrier = threading.Barrier(6)
    done = []

    def worker():
        other = OrderDesk(OrderStore(db_path=desk.store.db_path, sql_path=SQL))
        barrier.wait()
        done.append(other.refund(DELIVERED, total // 2, MARIE).done)

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(done) == [False] * 4 + [True] * 2
    assert desk.store.get(DELIVERED).refunded_cents == 2 * (total // 2)


def test_a_store_that_cannot_be_opened_is_unavailable(tmp_path):
    broken = tmp_path / "orders.db"
    broken.mkdir()  # a directory where the file should be: SQLite cannot open it
    desk = OrderDesk(OrderStore(db_path=broken, sql_path=SQL))
    with pytest.raises(OrderStoreUnavailable):
        desk.cancel(PROCESSING, MARIE)
    with pytest.raises(OrderStoreUnavailable):
        desk.store.get(PROCESSING)
