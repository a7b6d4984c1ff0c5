"""`action_handoff` called directly on a hand-built tracker, with a real Redis behind it."""

import pytest
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions import deps
from actions.handoff import ActionHandoff
from handoff.conversation import State
from handoff.profiles import ProfileStore
from tests import events as ev

pytestmark = pytest.mark.integration


def _tracker(sender: str = "c1", language: str = "en") -> Tracker:
    events = ev.order_conversation()
    return Tracker(sender_id=sender, slots={"order_number": "10234", "language": language},
                   latest_message=events[-1]["parse_data"] | {"text": events[-1]["text"]},
                   events=events, paused=False, followup_action=None, active_loop={},
                   latest_action_name="action_listen")


@pytest.fixture(autouse=True)
def _use_test_store(store, redis, keys):
    deps.use_store(store, ProfileStore(redis, keys))
    yield
    deps.use_store(None)


async def test_handoff_queues_a_ticket_pauses_and_tells_the_position(store):
    dispatcher = CollectingDispatcher()
    events = await ActionHandoff().run(dispatcher, _tracker(), {})
    names = [e["event"] for e in events]
    assert "pause" in names and {"event": "active_loop", "name": None} in [
        {k: e.get(k) for k in ("event", "name")} for e in events if e["event"] == "active_loop"]
    assert dispatcher.messages[0]["response"] == "utter_handoff_queued"
    assert dispatcher.messages[0]["position"] == 1
    record = await store.get("c1")
    assert record.state is State.QUEUED
    ticket = await store.ticket(record.ticket_id)
    assert ticket.slots["order_number"] == "10234" and ticket.reason == "asked"


async def test_a_retried_handoff_makes_no_second_ticket(store, redis, keys):
    first = await ActionHandoff().run(CollectingDispatcher(), _tracker(), {})
    second = await ActionHandoff().run(CollectingDispatcher(), _tracker(), {})
    ticket_ids = [e["value"] for e in first + second
                  if e["event"] == "slot" and e["name"] == "handoff_ticket_id"]
    assert ticket_ids[0] == ticket_ids[1]
    assert await redis.xlen(keys.tickets_stream) == 1


async def test_redis_down_tells_the_customer_and_does_not_pause(store, redis_server, tmp_path):
    from redis.asyncio import Redis

    from handoff.conversation import ConversationStore
    from handoff.keys import Keys
    from stack.services import free_port

    dead = Redis.from_url(f"redis://127.0.0.1:{free_port()}/0", decode_responses=True,
                          socket_connect_timeout=0.5)
    deps.use_store(ConversationStore(dead, Keys("hf:test")), ProfileStore(dead, Keys("hf:test")))
    dispatcher = CollectingDispatcher()
    events = await ActionHandoff().run(dispatcher, _tracker(), {})
    await dead.close(close_connection_pool=True)
    assert dispatcher.messages[0]["response"] == "utter_handoff_failed"
    assert "pause" not in [e["event"] for e in events]


async def test_the_ticket_goes_to_its_team_with_its_priority(store, redis, keys):
    await ActionHandoff().run(CollectingDispatcher(), _tracker("plain"), {})
    record = await store.get("plain")
    ticket = await store.ticket(record.ticket_id)
    assert record.team == "orders" and "order_status" in ticket.topics  # asked about an order
    assert ticket.priority == 0 and ticket.priority_reasons == []
    # Order 10234 belongs to claire.martin@example.com: made a VIP, she goes ahead.
    await ProfileStore(redis, keys).set_vip("Claire.Martin@example.com", True)
    await ActionHandoff().run(CollectingDispatcher(), _tracker("vip"), {})
    vip = await store.ticket((await store.get("vip")).ticket_id)
    assert vip.priority == 1 and vip.priority_reasons == ["vip"]
    assert await store.queued_ids() == ["vip", "plain"]
