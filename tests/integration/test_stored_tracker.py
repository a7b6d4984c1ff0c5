"""Turns appended to Rasa's stored trackers without Rasa, read back by the tracker store Rasa is
configured with (endpoints.yml: Rasa's store, with the conversation's hash tag in its keys)."""

from __future__ import annotations

import aiohttp
import pytest
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, BotUttered, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.utils.endpoints import EndpointConfig

from bot.lock_store import PromptRedisLockStore
from bot.tracker_store import UrlRedisTrackerStore
from handoff.keys import RASA_KEYS
from handoff.rasa_api import RasaClient
from handoff.relay.inbound import Inbound
from handoff.relay.stored_tracker import BUSY, UNKNOWN_LAYOUT, StoredTrackers
from handoff.relay.tracker import TrackerWriter
from handoff.relay.turns import agent_event, customer_event
from stack.services import free_port
from tests.integration.test_relay import _queued

pytestmark = pytest.mark.integration


def _rasa_store(redis_server) -> UrlRedisTrackerStore:
    return UrlRedisTrackerStore(Domain.empty(), host=redis_server.url, key_prefix="hfv1")


def _rasa_locks(redis_server) -> PromptRedisLockStore:
    return PromptRedisLockStore(EndpointConfig(url=redis_server.url, key_prefix="hfv1"))


async def _bot_phase(redis_server, cid: str) -> UrlRedisTrackerStore:
    store = _rasa_store(redis_server)
    await store.save(DialogueStateTracker.from_events(cid, [
        ActionExecuted("action_listen", timestamp=1000.0),
        UserUttered("a person please", intent={"name": "request_human", "confidence": 0.9},
                    timestamp=1001.0, message_id="u0"),
        BotUttered("Let me find someone", timestamp=1002.0)]))
    return store


def _texts(tracker: DialogueStateTracker) -> list:
    return [(e.type_name, getattr(e, "text", None)) for e in tracker.events
            if isinstance(e, (UserUttered, BotUttered))]


async def test_turns_are_appended_once_in_order_and_rasa_reads_them(redis, redis_server):
    store = await _bot_phase(redis_server, "c1")
    turns = [customer_event("é and ü, \"quoted\"", "m1", "socketio", {"page": "/x"}, at=1003.0),
             agent_event("Hello, I am Marie", "marie", "Marie", "a1", "k1", at=1004.0),
             {"event": "slot", "name": "handoff_note", "value": "vip", "timestamp": 1004.5}]
    stored = StoredTrackers(redis)
    assert await stored.append({"c1": turns}, now=2000.0) == {"c1": 3}
    # A retry, or a second writer: nothing twice.
    assert await stored.append({"c1": turns[:2]}, now=2000.0) == {"c1": 0}

    tracker = await store.retrieve("c1")
    assert _texts(tracker) == [("user", "a person please"), ("bot", "Let me find someone"),
                               ("user", "é and ü, \"quoted\""), ("bot", "Hello, I am Marie")]
    assert tracker.get_slot("handoff_note") is None  # not in the empty domain: kept as event
    assert [e.timestamp for e in tracker.events][-3:] == [1003.0, 1004.0, 1004.5]
    customer = [e for e in tracker.events if isinstance(e, UserUttered)][-1]
    assert customer.message_id == "m1" and customer.input_channel == "socketio"
    # Rasa's next save keeps every event (it merges with the stored tracker by time).
    tracker.update(BotUttered("Back to the bot", timestamp=1010.0))
    await store.save(tracker)
    assert _texts(await store.retrieve("c1"))[-2:] == [("bot", "Hello, I am Marie"),
                                                       ("bot", "Back to the bot")]


async def test_an_id_is_found_only_as_a_message_id_not_in_the_text_or_as_a_longer_id(
        redis, redis_server):
    store = await _bot_phase(redis_server, "c1")
    stored = StoredTrackers(redis)
    # The text names ids of later turns; a later id is the prefix of the stored one.
    first = customer_event("my reference is m7 or m2", "m2x", "socketio", None, at=1003.0)
    assert await stored.append({"c1": [first]}, now=2000.0) == {"c1": 1}
    later = [customer_event("second", "m7", "socketio", None, at=1004.0),
             customer_event("third", "m2", "socketio", None, at=1005.0),
             customer_event("first again", "m2x", "socketio", None, at=1006.0)]
    assert await stored.append({"c1": later}, now=2000.0) == {"c1": 2}
    assert [t for _, t in _texts(await store.retrieve("c1"))][-3:] == [
        "my reference is m7 or m2", "second", "third"]


async def test_an_event_older_than_the_stored_last_one_takes_its_time(redis, redis_server):
    store = await _bot_phase(redis_server, "c1")
    late = customer_event("from a slow clock", "m1", "socketio", None, at=900.0)
    assert await StoredTrackers(redis).append({"c1": [late]}, now=2000.0) == {"c1": 1}
    assert [e.timestamp for e in (await store.retrieve("c1")).events][-1] == 1002.0


async def test_nothing_is_written_while_rasa_holds_the_conversation(redis, redis_server):
    await _bot_phase(redis_server, "c1")
    before = await redis.get(RASA_KEYS.tracker("c1"))
    locks = _rasa_locks(redis_server)
    ticket = locks.issue_ticket("c1", lock_lifetime=60)
    turn = customer_event("hello?", "m1", "socketio", None, at=1003.0)
    stored = StoredTrackers(redis)
    assert await stored.append({"c1": [turn]}, now=1003.0) == {"c1": BUSY}
    assert await redis.get(RASA_KEYS.tracker("c1")) == before
    locks.cleanup("c1", ticket)
    assert await stored.append({"c1": [turn]}, now=1003.0) == {"c1": 1}


async def test_a_layout_not_known_here_is_left_alone(redis):
    await redis.set(RASA_KEYS.tracker("c1"), '{"name": "c1", "events": []}')
    turn = customer_event("hello?", "m1", "socketio", None, at=1003.0)
    assert await StoredTrackers(redis).append({"c1": [turn]}, now=1003.0) == {
        "c1": UNKNOWN_LAYOUT}
    assert await redis.get(RASA_KEYS.tracker("c1")) == '{"name": "c1", "events": []}'


async def test_a_conversation_rasa_never_stored_gets_a_tracker_rasa_reads(redis, redis_server):
    turn = customer_event("hello?", "m1", "socketio", None, at=1003.0)
    assert await StoredTrackers(redis).append({"new": [turn]}, now=1003.0) == {"new": 1}
    assert _texts(await _rasa_store(redis_server).retrieve("new")) == [("user", "hello?")]


async def test_the_writer_flushes_many_and_leaves_a_busy_one_for_the_next_pass(
        redis, redis_server, keys, store):
    for cid in ("c1", "c2", "c3"):
        await _queued(store, cid)
        await Inbound(redis, keys).take(cid, f"hello from {cid}", f"m-{cid}", "socketio")
    locks = _rasa_locks(redis_server)
    ticket = locks.issue_ticket("c2", lock_lifetime=60)
    async with aiohttp.ClientSession() as http:  # no Rasa at this address: none is needed
        writer = TrackerWriter(redis, keys, RasaClient(http, f"http://127.0.0.1:{free_port()}",
                                                       "unused"), delay=0)
        assert await writer.tick() == 3
        assert await redis.xlen(keys.segment("c1")) == 0 == await redis.xlen(keys.segment("c3"))
        assert await redis.xlen(keys.segment("c2")) == 1  # Rasa's turn: left for later
        assert await redis.zrange(keys.tracker_pending, 0, -1) == ["c2"]
        locks.cleanup("c2", ticket)
        assert await writer.tick() == 1
    assert await redis.zcard(keys.tracker_pending) == 0
    for cid in ("c1", "c2", "c3"):
        assert _texts(await _rasa_store(redis_server).retrieve(cid)) == [
            ("user", f"hello from {cid}")]
