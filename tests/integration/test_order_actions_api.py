"""Agents acting on orders from the console (`/api/conversations/{id}/orders…`, `/api/approvals`).

Real Redis, a real SQLite order store of the test's own, the service's app; no Rasa (the
conversation is with an agent, so the customer is told through the outbox, read here).
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from pathlib import Path

import pytest
import yaml
from rasa_sdk.executor import CollectingDispatcher

from actions.order_changes import ActionCancelOrder, ActionChangeAddress
from handoff.accounts import AccountStore
from handoff.orders.approvals import Approvals
from handoff.orders.store import OrderStore
from handoff.ticket import Reason, build_ticket
from tests import events as ev
from tests.conftest import PASSWORD
from tests.integration.service import agents, claimed_by_marie, running_service, settings_for
from tests.redis_server import RedisServer
from tests.trackers import action_tracker

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]

ROOT = Path(__file__).resolve().parents[2]
TOM_PROCESSING, TOM_DELIVERED = "10235", "10238"  # tom.baker@example.com's two orders
CLAIRES = "10234"  # another customer's


def ticket_for(cid: str, verified=(TOM_PROCESSING,), language: str = "en"):
    events = ev.order_conversation()
    return build_ticket(cid, events, {"order_number": TOM_PROCESSING, "language": language,
                                      "verified_orders": list(verified)},
                        events[-1]["parse_data"], Reason.ASKED, now=100.0)


@pytest.fixture
async def claimed(store, redis, keys):
    """`c1`: Tom's conversation, with the orders team, claimed by Marie."""
    return await claimed_by_marie(store, redis, keys, ticket_for("c1"), "orders",
                                  paul={"teams": ("orders",)}, sam={"role": "supervisor"})


@pytest.fixture
def orders_db(tmp_path):
    return tmp_path / "orders.db"


def journal(db: Path):
    OrderStore(db_path=db).get(TOM_PROCESSING)  # built from the SQL when the test made none
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT kind, order_number, amount_cents, actor, done, reason"
                            " FROM order_actions ORDER BY rowid").fetchall()


async def notices(redis, keys):
    """What the customer was told (the outbox), with the record each notice carries."""
    found = []
    for _, fields in await redis.xrange(keys.outbox_stream):
        extra = json.loads(fields["extra"]) if fields.get("extra") else {}
        found.append((fields["notice"], fields["text"],
                      extra.get("metadata", {}).get("order_action")))
    return found


def act_path(number: str) -> str:
    return f"/api/conversations/c1/orders/{number}/actions"


async def test_the_customers_orders_and_what_may_be_done(redis_server, claimed, orders_db):
    async with running_service(settings_for(redis_server, orders_db_path=str(orders_db))) \
            as server, agents(server, 2) as (marie, paul):
        await marie.login("marie", PASSWORD)
        status, body = await marie.get("/api/conversations/c1/orders")
        assert status == 200, body
        found = {o["order_number"]: o for o in body["orders"]}
        # The proven order and the customer's other one (same e-mail); nobody else's.
        assert set(found) == {TOM_PROCESSING, TOM_DELIVERED}
        assert found[TOM_PROCESSING]["actions"] == ["cancel", "change_address", "refund",
                                                    "voucher"]
        assert found[TOM_DELIVERED]["actions"] == ["refund", "voucher"]
        assert body["limits"] == {"refund": 5000, "voucher": 2000} and body["can_act"]
        # Another agent does not see a conversation that is not theirs.
        await paul.login("paul", PASSWORD)
        assert (await paul.get("/api/conversations/c1/orders"))[0] == 404


async def test_cancel_and_voucher_within_the_limit_done_once_told_and_recorded(
        redis_server, redis, keys, claimed, orders_db):
    async with running_service(settings_for(redis_server, orders_db_path=str(orders_db))) \
            as server, agents(server, 1) as (marie,):
        await marie.login("marie", PASSWORD)
        for _ in range(2):  # a double click: the same request twice
            status, body = await marie.post(act_path(TOM_PROCESSING),
                                            {"kind": "cancel", "request_id": "click-1"})
            assert status == 200, body
        assert body["outcome"]["done"] and body["outcome"]["replayed"]
        status, body = await marie.post(act_path(TOM_DELIVERED), {
            "kind": "voucher", "amount_cents": 1500, "request_id": "click-2"})
        assert status == 200, body
        code = body["outcome"]["detail"]
        assert code.startswith("V-")

    assert OrderStore(db_path=orders_db).get(TOM_PROCESSING).status == "cancelled"
    assert journal(orders_db) == [("cancel", TOM_PROCESSING, None, "agent:marie", 1, None),
                                  ("voucher", TOM_DELIVERED, 1500, "agent:marie", 1, None)]
    told = await notices(redis, keys)
    assert [(kind, text) for kind, text, _ in told] == [
        ("order_cancelled", "Marie has cancelled your order 10235."),
        ("order_voucher", f"Marie has given you a voucher of €15.00 (order 10238). "
                          f"Your code: {code}.")]
    record = told[1][2]
    assert (record["kind"], record["by"], record["by_name"], record["result"],
            record["amount_cents"]) == ("voucher", "marie", "Marie", "done", 1500)


async def test_the_customer_is_told_in_their_language(redis_server, redis, keys, store,
                                                       orders_db):
    await AccountStore(redis, keys).create("marie", "Marie", PASSWORD, teams=("orders",))
    await store.enqueue(ticket_for("c1", language="fr"), "orders")
    await store.claim("c1", "marie", "Marie")
    async with running_service(settings_for(redis_server, orders_db_path=str(orders_db))) \
            as server, agents(server, 1) as (marie,):
        await marie.login("marie", PASSWORD)
        status, body = await marie.post(act_path(TOM_PROCESSING), {
            "kind": "change_address", "address": "5 rue Neuve, 59000 Lille",
            "request_id": "r1"})
        assert status == 200, body
    assert [text for _, text, _ in await notices(redis, keys)] == [
        "Marie a changé l'adresse de livraison de votre commande 10235 : 5 rue Neuve, "
        "59000 Lille."]


async def test_above_the_limit_a_supervisor_approves_then_it_runs_once(
        redis_server, redis, keys, claimed, orders_db):
    async with running_service(settings_for(redis_server, orders_db_path=str(orders_db))) \
            as server, agents(server, 2) as (marie, sam):
        await marie.login("marie", PASSWORD)
        await sam.login("sam", PASSWORD)
        asked = {"kind": "refund", "amount_cents": 8000, "request_id": "click-9"}
        for _ in range(2):  # a double click asks once
            status, body = await marie.post(act_path(TOM_PROCESSING), asked)
            assert status == 202, body
        approval = body["approval"]
        assert (approval["status"], approval["amount_cents"]) == ("pending", 8000)
        assert journal(orders_db) == []  # nothing changed yet
        assert (await marie.get("/api/approvals"))[0] == 403  # agents do not approve
        status, body = await sam.get("/api/approvals")
        assert [a["id"] for a in body["approvals"]] == [approval["id"]]

        decision = f"/api/conversations/c1/approvals/{approval['id']}"
        assert (await marie.post(decision, {"decision": "approve"}))[0] == 403
        status, body = await sam.post(decision, {"decision": "approve"})
        assert status == 200, body
        assert body["approval"]["status"] == "approved" and body["outcome"]["done"]
        # A second click (or another supervisor) finds it decided.
        status, body = await sam.post(decision, {"decision": "approve"})
        assert (status, body["error"]["code"]) == (409, "already_decided")
        assert (await sam.get("/api/approvals"))[1]["approvals"] == []

    assert OrderStore(db_path=orders_db).get(TOM_PROCESSING).refunded_cents == 8000
    assert journal(orders_db) == [("refund", TOM_PROCESSING, 8000,
                                   "agent:marie approved by sam", 1, None)]
    told = await notices(redis, keys)
    assert [kind for kind, _, _ in told] == ["order_approval_requested", "order_refunded"]
    assert told[0][1] == ("Marie has asked a manager to approve a refund of €80.00 on your "
                          "order 10235. We will tell you here as soon as it is decided.")
    assert (told[1][2]["by"], told[1][2]["approved_by"]) == ("marie", "sam")


async def test_a_refused_request_changes_nothing_and_the_customer_is_told(
        redis_server, redis, keys, claimed, orders_db):
    async with running_service(settings_for(redis_server, orders_db_path=str(orders_db))) \
            as server, agents(server, 2) as (marie, sam):
        await marie.login("marie", PASSWORD)
        await sam.login("sam", PASSWORD)
        status, body = await marie.post(act_path(TOM_DELIVERED), {
            "kind": "voucher", "amount_cents": 2500, "request_id": "v"})
        assert status == 202, body
        status, body = await sam.post(
            f"/api/conversations/c1/approvals/{body['approval']['id']}", {"decision": "refuse"})
        assert status == 200 and body["approval"]["status"] == "refused"
        status, body = await marie.get("/api/conversations/c1/orders")
        assert [a["status"] for a in body["approvals"]] == ["refused"]
    assert journal(orders_db) == []
    told = await notices(redis, keys)
    assert told[-1][:2] == ("order_approval_refused",
                            "We could not grant a voucher of €25.00 on your order 10238. "
                            "Marie can tell you more.")
    assert told[-1][2]["result"] == "refused" and told[-1][2]["decided_by"] == "sam"


@pytest.mark.parametrize("number, body, status, code", [
    ("99999", {"kind": "cancel"}, 404, "order_unknown"),
    (CLAIRES, {"kind": "cancel"}, 403, "order_not_customers"),
    (TOM_DELIVERED, {"kind": "cancel"}, 409, "order_not_changeable"),
    (TOM_DELIVERED, {"kind": "refund", "amount_cents": 0}, 400, "bad_amount"),
    (TOM_DELIVERED, {"kind": "refund", "amount_cents": "12"}, 400, "bad_amount"),
    (TOM_PROCESSING, {"kind": "change_address", "address": "nowhere"}, 400, "bad_address"),
    (TOM_PROCESSING, {"kind": "delete"}, 400, "unknown_action"),
])
@pytest.mark.parametrize("language", ["en", "fr"])
async def test_bad_requests_change_nothing(redis_server, redis, keys, claimed, orders_db,
                                           number, body, status, code, language):
    async with running_service(settings_for(redis_server, orders_db_path=str(orders_db))) \
            as server, agents(server, 1) as (marie,):
        await marie.login("marie", PASSWORD)
        got, answer = await marie.post(act_path(number), {**body, "request_id": "r"},
                                       headers={"Accept-Language": language})
        assert (got, answer["error"]["code"]) == (status, code), answer
        if code != "unknown_action":
            said = {"en": "Nothing was changed", "fr": "Rien n'a été modifié"}[language]
            assert said in answer["error"]["message"]
    assert [row for row in journal(orders_db) if row[4] == 1] == []
    assert await notices(redis, keys) == []


async def test_more_than_what_is_left_to_refund_is_refused(redis_server, redis, keys, claimed,
                                                            orders_db):
    async with running_service(settings_for(redis_server, orders_db_path=str(orders_db))) \
            as server, agents(server, 2) as (sam, marie):
        await sam.login("sam", PASSWORD)  # a supervisor: no limit, only the order's total
        status, body = await sam.post(act_path(TOM_DELIVERED), {
            "kind": "refund", "amount_cents": 4201, "request_id": "r"})
        assert (status, body["error"]["code"]) == (409, "over_refundable")
        # The same click again gets the same answer, still changing nothing.
        status, body = await sam.post(act_path(TOM_DELIVERED), {
            "kind": "refund", "amount_cents": 4201, "request_id": "r"})
        assert (status, body["error"]["code"]) == (409, "over_refundable")
        # Above an agent's limit too: refused at once, no supervisor is asked for it.
        await marie.login("marie", PASSWORD)
        status, body = await marie.post(act_path(TOM_DELIVERED), {
            "kind": "refund", "amount_cents": 9000, "request_id": "r2"})
        assert (status, body["error"]["code"]) == (409, "over_refundable")
    assert OrderStore(db_path=orders_db).get(TOM_DELIVERED).refunded_cents == 0
    assert await notices(redis, keys) == []
    assert await Approvals(redis, keys).pending() == []


async def test_an_order_proven_to_the_agent_can_be_acted_on(redis_server, redis, keys, claimed,
                                                            orders_db):
    async with running_service(settings_for(redis_server, orders_db_path=str(orders_db))) \
            as server, agents(server, 1) as (marie,):
        await marie.login("marie", PASSWORD)
        lookup = "/api/conversations/c1/orders/lookup"
        status, body = await marie.post(lookup, {"order_number": "20412",
                                                 "fact": "someone@example.com"})
        assert (status, body["error"]["code"]) == (400, "order_proof_failed")
        assert await redis.get(keys.order_proof_failures("20412")) == "1"  # counted as the bot's
        status, body = await marie.post(lookup, {"order_number": "20412",
                                                 "fact": "Emma.Jones@example.com"})
        assert status == 200, body
        assert "20412" in {o["order_number"] for o in body["orders"]}
        status, body = await marie.post(act_path("20412"), {
            "kind": "voucher", "amount_cents": 500, "request_id": "r"})
        assert status == 200, body


async def test_the_order_store_away_is_a_clear_error(redis_server, redis, keys, claimed,
                                                     tmp_path):
    broken = tmp_path / "orders.db"
    broken.mkdir()  # SQLite cannot open a directory
    async with running_service(settings_for(redis_server, orders_db_path=str(broken))) \
            as server, agents(server, 1) as (marie,):
        await marie.login("marie", PASSWORD)
        for language, words in (("en", "nothing was changed"), ("fr", "rien n'a été modifié")):
            status, body = await marie.post(act_path(TOM_PROCESSING),
                                            {"kind": "cancel", "request_id": "r"},
                                            headers={"Accept-Language": language})
            assert (status, body["error"]["code"]) == (503, "orders_unavailable")
            assert words in body["error"]["message"]
        assert (await marie.get("/api/conversations/c1/orders"))[0] == 503
    assert await notices(redis, keys) == []


async def test_redis_away_is_a_clear_error_and_changes_nothing(tmp_path, orders_db):
    own = RedisServer(tmp_path / "redis").start()
    try:
        from redis.asyncio import Redis

        from handoff.conversation import ConversationStore
        from handoff.keys import Keys
        client = Redis.from_url(own.url, decode_responses=True)
        keys = Keys("hf:test")
        store = ConversationStore(client, keys)
        await AccountStore(client, keys).create("marie", "Marie", PASSWORD, teams=("orders",))
        await store.enqueue(ticket_for("c1"), "orders")
        await store.claim("c1", "marie", "Marie")
        async with running_service(settings_for(own, orders_db_path=str(orders_db))) \
                as server, agents(server, 1) as (marie,):
            await marie.login("marie", PASSWORD)
            own.stop()
            status, body = await marie.post(act_path(TOM_PROCESSING),
                                            {"kind": "cancel", "request_id": "r"},
                                            headers={"Accept-Language": "fr"})
            assert (status, body["error"]["code"]) == (503, "store_unavailable")
            assert "Réessayez" in body["error"]["message"]
        await client.close(close_connection_pool=True)
    finally:
        own.stop()
    assert OrderStore(db_path=orders_db).get(TOM_PROCESSING).status == "processing"
    assert journal(orders_db) == []


async def test_the_bot_and_the_console_change_the_store_the_same_way(
        redis_server, redis, keys, claimed, tmp_path):
    """One implementation: the bot's change of address then cancellation, and an agent's, leave
    the same order and the same journal entries (but for who asked)."""
    by_bot, by_console = tmp_path / "bot.db", tmp_path / "console.db"
    domain = yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))
    address = "5 rue Neuve, 59000 Lille"
    proven = {"order_number": TOM_PROCESSING, "verified_orders": [TOM_PROCESSING]}
    for action, slots, said in (
            (ActionChangeAddress, {"new_address": address}, "utter_address_changed"),
            (ActionCancelOrder, {"cancel_confirmed": True}, "utter_cancel_done")):
        dispatcher = CollectingDispatcher()
        tracker = action_tracker(slots={**proven, **slots})
        await asyncio.to_thread(action(store=OrderStore(db_path=by_bot)).run, dispatcher,
                                tracker, domain)
        assert [m.get("response") for m in dispatcher.messages] == [said]

    async with running_service(settings_for(redis_server, orders_db_path=str(by_console))) \
            as server, agents(server, 1) as (marie,):
        await marie.login("marie", PASSWORD)
        for number, asked in enumerate(({"kind": "change_address", "address": address},
                                        {"kind": "cancel"})):
            status, body = await marie.post(act_path(TOM_PROCESSING),
                                            {**asked, "request_id": f"r{number}"})
            assert status == 200, body

    def state(db):
        with sqlite3.connect(db) as conn:
            return (conn.execute("SELECT * FROM orders ORDER BY order_number").fetchall(),
                    conn.execute("SELECT order_number, kind, amount_cents, detail, done, reason"
                                 " FROM order_actions").fetchall())
    assert state(by_bot) == state(by_console)
    assert state(by_bot)[1] == [(TOM_PROCESSING, "change_address", None, address, 1, None),
                                (TOM_PROCESSING, "cancel", None, None, 1, None)]
    assert journal(by_bot)[0][3] == "bot:test-user" and journal(by_console)[0][3] == \
        "agent:marie"


async def test_an_approval_cut_short_by_the_order_store_is_run_once_when_approved_again(
        redis_server, redis, keys, claimed, orders_db, tmp_path):
    broken = tmp_path / "broken.db"
    broken.mkdir()
    async with running_service(settings_for(redis_server, orders_db_path=str(orders_db))) \
            as server, agents(server, 2) as (marie, sam):
        await marie.login("marie", PASSWORD)
        await sam.login("sam", PASSWORD)
        status, body = await marie.post(act_path(TOM_PROCESSING), {
            "kind": "refund", "amount_cents": 6000, "request_id": "r"})
        assert status == 202, body
        assert [kind for kind, _, _ in await notices(redis, keys)] == [
            "order_approval_requested"]
        decision = f"/api/conversations/c1/approvals/{body['approval']['id']}"
        # (A second service trims the outbox of what was delivered when it starts.)
        async with running_service(settings_for(redis_server, orders_db_path=str(broken))) \
                as away, agents(away, 1) as (sam_elsewhere,):
            await sam_elsewhere.login("sam", PASSWORD)
            status, body = await sam_elsewhere.post(decision, {"decision": "approve"})
            assert (status, body["error"]["code"]) == (503, "orders_unavailable")
        assert OrderStore(db_path=orders_db).get(TOM_PROCESSING).refunded_cents == 0
        # Still the supervisor's to finish: approving it again runs it, once.
        for _ in range(2):
            status, body = await sam.post(decision, {"decision": "approve"})
        assert (status, body["error"]["code"]) == (409, "already_decided")
    assert OrderStore(db_path=orders_db).get(TOM_PROCESSING).refunded_cents == 6000
    assert [kind for kind, _, _ in await notices(redis, keys)][-1:] == ["order_refunded"]
    assert [kind for kind, _, _ in await notices(redis, keys)].count("order_refunded") == 1


async def test_two_clicks_at_the_same_instant_change_and_tell_once(redis_server, redis, keys,
                                                                  claimed, orders_db):
    async with running_service(settings_for(redis_server, orders_db_path=str(orders_db))) \
            as server, agents(server, 1) as (marie,):
        await marie.login("marie", PASSWORD)
        asked = {"kind": "voucher", "amount_cents": 1000, "request_id": "same-click"}
        answers = await asyncio.gather(*(marie.post(act_path(TOM_DELIVERED), asked)
                                         for _ in range(6)))
        assert {status for status, _ in answers} == {200}, answers
        assert len({body["outcome"]["detail"] for _, body in answers}) == 1  # one voucher code
    assert journal(orders_db) == [("voucher", TOM_DELIVERED, 1000, "agent:marie", 1, None)]
    assert [kind for kind, _, _ in await notices(redis, keys)] == ["order_voucher"]


async def test_a_second_click_on_a_refund_that_emptied_the_order_is_a_replay(
        redis_server, redis, keys, claimed, orders_db):
    async with running_service(settings_for(redis_server, orders_db_path=str(orders_db))) \
            as server, agents(server, 1) as (sam,):
        await sam.login("sam", PASSWORD)
        asked = {"kind": "refund", "amount_cents": 4200, "request_id": "all-of-it"}
        first = await sam.post(act_path(TOM_DELIVERED), asked)
        again = await sam.post(act_path(TOM_DELIVERED), asked)
        assert (first[0], again[0]) == (200, 200), again
        assert again[1]["outcome"]["replayed"] and again[1]["outcome"]["done"]
    assert OrderStore(db_path=orders_db).get(TOM_DELIVERED).refunded_cents == 4200
    assert [kind for kind, _, _ in await notices(redis, keys)] == ["order_refunded"]
