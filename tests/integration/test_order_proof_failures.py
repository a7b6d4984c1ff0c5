"""Wrong order proofs counted per order in a real Redis (actions/order_proof.py)."""


import pytest
from rasa_sdk.executor import CollectingDispatcher
from redis.asyncio import Redis

from actions.order_proof import (
    FAILURE_WINDOW,
    FAILURES_PER_ORDER,
    MAX_MISSES,
    RedisFailureCount,
)
from actions.orders import ValidateOrderForm
from handoff.orders.store import OrderStore
from stack.model import ROOT
from stack.services import free_port
from tests.trackers import action_tracker

pytestmark = pytest.mark.integration

SQL = ROOT / "handoff" / "orders" / "orders.sql"


async def test_wrong_facts_are_counted_per_order_for_a_day_after_the_last(redis, keys):
    failures = RedisFailureCount(redis, keys)
    assert await failures.count("10234") == 0
    await failures.add("10234")
    await failures.add("10234")
    assert await failures.count("10234") == 2 and await failures.count("10235") == 0
    key = keys.order_proof_failures("10234")
    assert key.startswith("hf:test:")
    assert 0 < await redis.ttl(key) <= FAILURE_WINDOW


async def test_two_conversations_share_the_count_and_the_limit_holds(redis, keys, tmp_path):
    store = OrderStore(db_path=tmp_path / "orders.db", sql_path=SQL)

    def answer(conversation: str, fact: str):
        tracker = action_tracker(
            text=fact, slots={"order_number": "10234", "requested_slot": "order_fact",
                              "order_fact": fact},
            active_loop="order_form",
            earlier_events=[{"event": "slot", "name": "order_number", "value": "10234"}],
            trailing_slot_events=[("order_fact", fact)])
        # Each conversation's action as the action server makes it: the count in Redis.
        action = ValidateOrderForm(store=store, failures=RedisFailureCount(redis, keys))
        return action.run(CollectingDispatcher(), tracker, {"forms": {"order_form": {
            "required_slots": ["order_number", "order_fact"]}}, "slots": {}})

    for n in range(FAILURES_PER_ORDER):
        await answer(f"guesser-{n}", f"{69100 + n}")
    assert await RedisFailureCount(redis, keys).count("10234") == FAILURES_PER_ORDER
    events = await answer("owner", "claire.martin@example.com")
    slots = {e["name"]: e["value"] for e in events if e.get("event") == "slot"}
    assert "verified_orders" not in slots
    assert slots["order_fact_misses"] == MAX_MISSES


async def test_without_redis_the_count_is_zero_and_said_in_the_log(keys, caplog):
    gone = Redis(host="127.0.0.1", port=free_port(), socket_connect_timeout=1)
    try:
        failures = RedisFailureCount(gone, keys)
        await failures.add("10234")
        assert await failures.count("10234") == 0
    finally:
        await gone.close(close_connection_pool=True)
    assert "orders.proof.count_unavailable" in caplog.text
    assert "orders.proof.add_unavailable" in caplog.text
