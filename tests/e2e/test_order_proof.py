"""An order number alone reveals nothing and changes nothing, through the real web chat.

The customer is a socket.io client of the real Rasa server, with the trained model, the
action server and the handoff service as processes (tests/e2e/conftest.py). The orders are
the stack's own copy of handoff/orders/orders.sql (`ORDERS_DB_PATH` in its run directory).
"""

from __future__ import annotations

import pytest

from handoff.orders.store import OrderStore

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

# What the store holds about 10234 and 31007 (handoff/orders/orders.sql) and that a stranger
# who knows only the numbers must never read.
SECRETS = ("Colissimo", "Mondial Relay", "June", "juin", "2025", "Lyon", "Nice",
           "claire.martin", "lea.bernard")


def _texts(customer):
    return [m.get("text") or "" for m in customer.history]


def _asks_fact(message):
    text = message.get("text") or ""
    return "postcode" in text or "code postal" in text


async def test_an_order_number_alone_reveals_nothing_and_cancels_nothing(stack, agents,
                                                                       customer_factory):
    marie = agents["marie"]
    await marie.connect_ws()
    store = OrderStore(db_path=stack.run_dir / "orders.db")
    customer = await customer_factory()
    cid = customer.session_id

    await customer.say("where is my order 10234?")
    asked = await customer.reply(_asks_fact)
    assert "10234" in asked["text"] and "e-mail" in asked["text"]

    # A wrong postcode: told in plain words, without saying which part was wrong.
    await customer.say("69002")
    mismatch = await customer.reply(lambda m: "don't go together" in (m.get("text") or ""))
    assert "e-mail address or postcode" in mismatch["text"]
    await customer.reply(lambda m: "order number" in (m.get("text") or ""))  # asked again
    await customer.say("no")
    await customer.reply()

    # Cancelling with the number alone: the fact is asked first, "yes" is not one.
    await customer.say("I want to cancel order 31007")
    await customer.reply(lambda m: _asks_fact(m) and "31007" in m["text"])
    await customer.say("yes")
    await customer.reply(lambda m: "don't go together" in (m.get("text") or ""))
    await customer.reply(lambda m: "order number" in (m.get("text") or ""))
    assert store.get("31007").status == "processing"

    # The third wrong fact: the bot stops asking and offers a person.
    await customer.say("31007")
    await customer.reply(lambda m: _asks_fact(m) and "31007" in m["text"])
    await customer.say("75001")
    locked = await customer.reply(lambda m: "can't check this order" in (m.get("text") or ""))
    assert [b["payload"] for b in locked["quick_replies"]] == ["/request_human"]
    assert store.get("31007").status == "processing"

    said = " ".join(_texts(customer))
    assert not [s for s in SECRETS if s in said], said

    # The offered person is one click away, on the existing handoff path.
    await customer.say("/request_human")
    # Queued ("you are number N") or, with nobody online, told so and kept: a ticket either way.
    await customer.reply(lambda m: "Your request is saved" in (m.get("text") or "")
                         or "in the queue" in (m.get("text") or ""))
    frame = await marie.frame(lambda f: f["type"] == "ticket.queued"
                              and f["ticket"]["conversation_id"] == cid)
    ticket = frame["ticket"]
    assert ticket["reason"] == "asked"
    assert ticket["slots"]["order_number"] == "31007"  # the person starts from the order
    assert "order_fact" not in ticket["slots"]
    assert ticket["slots"]["order_fact_misses"] == 3
    assert "75001" not in ticket["summary"] and "69002" not in ticket["summary"]
    assert "verified_orders" not in ticket["slots"]

    # No fact in the action server's log.
    log = (stack.run_dir / "actions.log").read_text(errors="replace")
    assert "69002" not in log and "75001" not in log


async def test_the_right_fact_in_french_then_no_second_question(stack, customer_factory):
    store = OrderStore(db_path=stack.run_dir / "orders.db")
    customer = await customer_factory()

    await customer.say("où en est ma commande 10234 ?")
    asked = await customer.reply(_asks_fact)
    assert "adresse e-mail" in asked["text"] and "10234" in asked["text"]
    await customer.say("CLAIRE.Martin@example.com")
    status = await customer.reply(lambda m: "10234" in (m.get("text") or ""))
    assert "Colissimo" in status["text"] and "juin" in status["text"]

    # The same order again in this conversation: answered at once.
    await customer.say("et où en est ma commande 10234 maintenant ?")
    again = await customer.reply(lambda m: "10234" in (m.get("text") or ""))
    assert "Colissimo" in again["text"], again

    # Another order: its own proof, here the delivery postcode typed with a space.
    await customer.say("je veux annuler la commande 31008")
    await customer.reply(lambda m: _asks_fact(m) and "31008" in m["text"])
    await customer.say("59 000")
    confirm = await customer.reply(lambda m: "annuler la commande 31008" in (m.get("text")
                                                                            or ""))
    assert [b["payload"] for b in confirm["quick_replies"]] == ["/affirm", "/deny"]
    await customer.say("/affirm")
    await customer.reply(lambda m: "est annulée" in (m.get("text") or ""))
    assert store.get("31008").status == "cancelled"
    # The fact was asked twice in all: once for 10234, once for 31008.
    assert len([m for m in customer.history if _asks_fact(m)]) == 2, _texts(customer)
    log = (stack.run_dir / "actions.log").read_text(errors="replace")
    assert "claire.martin" not in log.lower() and "59 000" not in log
