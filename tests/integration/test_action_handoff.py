"""`action_handoff` called directly on a hand-built tracker, with a real Redis behind it."""

import datetime as dt
import time

import pytest
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions import deps
from actions.handoff import ActionHandoff
from handoff.accounts import AccountStore
from handoff.availability import OpeningHours
from handoff.conversation import State
from handoff.presence import Presence
from handoff.profiles import ProfileStore
from tests import events as ev
from tests.conftest import PASSWORD

pytestmark = pytest.mark.integration


def _tracker(sender: str = "c1", language: str = "en", proven: bool = True) -> Tracker:
    events = ev.order_conversation()
    slots = {"order_number": "10234", "language": language,
             "verified_orders": ["10234"] if proven else None}
    return Tracker(sender_id=sender, slots=slots,
                   latest_message=events[-1]["parse_data"] | {"text": events[-1]["text"]},
                   events=events, paused=False, followup_action=None, active_loop={},
                   latest_action_name="action_listen")


ALWAYS_OPEN = OpeningHours("Europe/Paris", {}, always_open=True)


@pytest.fixture(autouse=True)
async def _use_test_redis(redis, keys):
    """The action on the test Redis, open hours, and Marie (orders, en/fr) at her console."""
    deps.use_redis(redis, keys)
    deps.use_hours(ALWAYS_OPEN)
    await AccountStore(redis, keys).create("marie", "Marie", PASSWORD, teams=["orders"])
    await redis.set(keys.presence("marie"), "online")
    await Presence(redis, keys).beat(["marie"], time.time())
    yield
    deps.use_redis(None)
    deps.use_hours(None)


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

    from handoff.keys import Keys
    from stack.services import free_port

    dead = Redis.from_url(f"redis://127.0.0.1:{free_port()}/0", decode_responses=True,
                          socket_connect_timeout=0.5)
    deps.use_redis(dead, Keys("hf:test"))
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
    # Her order number typed by someone who did not prove it (actions/order_proof.py): no VIP.
    await ActionHandoff().run(CollectingDispatcher(), _tracker("stranger", proven=False), {})
    stranger = await store.ticket((await store.get("stranger")).ticket_id)
    assert stranger.priority == 0 and stranger.priority_reasons == []
    assert await store.queued_ids() == ["vip", "plain", "stranger"]


async def test_nobody_available_is_said_at_once_and_the_request_kept_first(store, redis, keys):
    await ActionHandoff().run(CollectingDispatcher(), _tracker("earlier"), {})
    await Presence(redis, keys).beat(["marie"], time.time() - 3600)  # her console is long gone
    dispatcher = CollectingDispatcher()
    events = await ActionHandoff().run(dispatcher, _tracker("nobody"), {})
    assert dispatcher.messages[0]["response"] == "utter_handoff_nobody"
    assert "pause" in [e["event"] for e in events]  # what they write next goes to the ticket
    ticket = await store.ticket((await store.get("nobody")).ticket_id)
    assert ticket.follow_up == "nobody"
    assert await store.queued_ids() == ["nobody", "earlier"]  # seen first when agents are back


async def test_closed_hours_give_the_next_opening(store):
    today = dt.datetime.now(dt.timezone.utc).astimezone().weekday()
    only_another_day = OpeningHours("Europe/Paris", {(today + 2) % 7: [
        (dt.time(9), dt.time(19))]})
    deps.use_hours(only_another_day)
    dispatcher = CollectingDispatcher()
    await ActionHandoff().run(dispatcher, _tracker("closed", language="fr"), {})
    message = dispatcher.messages[0]
    assert message["response"] == "utter_handoff_closed"
    assert message["opening"].endswith("à 09:00")
    assert (await store.ticket((await store.get("closed")).ticket_id)).follow_up == "closed"


async def test_a_long_wait_is_said_honestly(store, redis, keys):
    now = time.time()
    # Lately a conversation was taken only every 1,000 s: two in line means over 20 min.
    await redis.zadd(keys.recent_claims, {f"x{i}": now - 1000 * i for i in (1, 2, 3)})
    await ActionHandoff().run(CollectingDispatcher(), _tracker("first"), {})
    dispatcher = CollectingDispatcher()
    await ActionHandoff().run(dispatcher, _tracker("second"), {})
    assert dispatcher.messages[0]["response"] == "utter_handoff_long_wait"
    assert dispatcher.messages[0]["position"] == 2
    assert await store.queued_ids() == ["first", "second"]  # its normal place


async def test_call_me_back_is_a_handoff_reason_and_the_customer_gets_the_link(store, redis,
                                                                                keys):
    """"Rappelez-moi": queued as any person asked (reason `callback`), and a link to pick a time."""
    from handoff.callbacks import Callbacks

    message = ev.user("rappelez-moi svp", "request_human")
    tracker = Tracker(sender_id="c9", slots={"language": "fr"},
                      latest_message=message["parse_data"] | {"text": message["text"]},
                      events=[message], paused=False, followup_action=None, active_loop={},
                      latest_action_name="action_listen")
    for _ in range(2):  # a retried run offers no second call-back
        dispatcher = CollectingDispatcher()
        events = await ActionHandoff().run(dispatcher, tracker, {})
    assert {"event": "slot", "name": "handoff_reason", "value": "callback"} in [
        {k: e.get(k) for k in ("event", "name", "value")} for e in events]
    record = await store.get("c9")
    assert record.state is State.QUEUED
    assert (await store.ticket(record.ticket_id)).reason == "callback"
    callbacks = await Callbacks(redis, keys).of_conversation("c9")
    assert len(callbacks) == 1 and callbacks[0].language == "fr"
    assert callbacks[0].offered_by == "bot" and callbacks[0].status == "offered"
    assert dispatcher.messages[-1]["text"].startswith("Vous souhaitez être appelé")
    assert f"/callback/{callbacks[0].token} " in dispatcher.messages[-1]["text"]


async def test_a_request_for_a_person_without_a_call_offers_none(store, redis, keys):
    from handoff.callbacks import Callbacks

    events = await ActionHandoff().run(CollectingDispatcher(), _tracker(sender="c8"), {})
    assert {"event": "slot", "name": "handoff_reason", "value": "asked"} in [
        {k: e.get(k) for k in ("event", "name", "value")} for e in events]
    assert await Callbacks(redis, keys).of_conversation("c8") == []
