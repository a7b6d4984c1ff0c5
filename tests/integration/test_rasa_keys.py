"""Rasa's tracker and lock in their conversation's hash slot (issue 17), and what was stored
under Rasa's own names before: found by the stores and the write-behind, moved on their next
write, and all at once by `python -m handoff.rasa_keys`. On a real single Redis."""

from __future__ import annotations

import asyncio
import json
from typing import Dict, List

import pytest
from rasa.core.lock_store import RedisLockStore
from rasa.core.tracker_store import RedisTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, BotUttered, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.utils.endpoints import EndpointConfig
from redis.crc import key_slot

from bot import tracker_writes
from bot.lock_store import PromptRedisLockStore
from bot.tracker_store import UrlRedisTrackerStore
from handoff import rasa_keys
from handoff.keys import RASA_KEYS, Keys, RasaKeys
from handoff.rasa_keys import migrate
from handoff.relay.stored_tracker import BUSY, StoredTrackers
from handoff.relay.turns import agent_event, customer_event

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120),
              pytest.mark.filterwarnings("ignore:the load_module:DeprecationWarning")]

# Conversation ids as the channels make them, and ones a REST client may choose (not an empty
# one: an empty hash tag is no tag, for the conversation's own keys too).
IDS = ["3f2a9c0e1b7d4e55a0c1d2e3f4a5b6c7", "1234567890123456", "a b", "é-ü", "{odd}", "a}b",
       "x{y}z"]


def _conversation(cid: str, said: str = "where is my order?") -> DialogueStateTracker:
    return DialogueStateTracker.from_events(cid, [
        ActionExecuted("action_listen", timestamp=1000.0),
        UserUttered(said, intent={"name": "order_status", "confidence": 0.9},
                    timestamp=1001.0, message_id=f"u-{cid}"),
        BotUttered("Which order?", timestamp=1002.0)])


def _rasas_store(redis_server) -> RedisTrackerStore:
    """Rasa's own store: what wrote the trackers before the upgrade, under Rasa's names."""
    return RedisTrackerStore(Domain.empty(), host="127.0.0.1", port=redis_server.port,
                             key_prefix="hfv1")


def _ours(redis_server) -> UrlRedisTrackerStore:
    return UrlRedisTrackerStore(Domain.empty(), host=redis_server.url, key_prefix="hfv1")


def _texts(tracker: DialogueStateTracker) -> List[str]:
    return [e.text for e in tracker.events if isinstance(e, (UserUttered, BotUttered))]


def test_a_conversations_tracker_and_lock_share_the_slot_of_its_other_keys():
    keys = Keys()
    for cid in IDS:
        slot = key_slot(keys.conversation(cid).encode())
        names = [RASA_KEYS.tracker(cid), RASA_KEYS.lock(cid), keys.segment(cid),
                 keys.tracker_lease(cid)]
        assert {key_slot(name.encode()) for name in names} == {slot}, cid
        assert RASA_KEYS.conversation_of(RASA_KEYS.tracker(cid)) == cid
        assert RASA_KEYS.conversation_of(RASA_KEYS.lock(cid)) == cid
    assert RASA_KEYS.tracker("c1") == "hfv1:tracker:{c1}"
    assert RASA_KEYS.lock("c1") == "hfv1:lock:{c1}"
    # Rasa's own names: a slot of their own, apart from the conversation's.
    assert key_slot(b"hfv1:tracker:c1") != key_slot(keys.conversation("c1").encode())
    assert RASA_KEYS.legacy_tracker("c1") == "hfv1:tracker:c1"
    assert RasaKeys("").tracker("c1") == "tracker:{c1}"  # Rasa's default without a prefix


async def test_the_stores_write_the_new_names(redis, redis_server):
    store = _ours(redis_server)
    await store.save(_conversation("c1"))
    locks = PromptRedisLockStore(EndpointConfig(url=redis_server.url, key_prefix="hfv1"))
    ticket = locks.issue_ticket("c1", lock_lifetime=60)
    assert sorted(await redis.keys("*")) == ["hfv1:lock:{c1}", "hfv1:tracker:{c1}"]
    locks.cleanup("c1", ticket)
    assert await redis.keys("*") == ["hfv1:tracker:{c1}"]


async def test_a_tracker_under_rasas_name_is_read_and_moved_whole_by_the_next_save(
        redis, redis_server):
    await _rasas_store(redis_server).save(_conversation("c1"))
    await redis.expire("hfv1:tracker:c1", 3600)
    before = json.loads(await redis.get("hfv1:tracker:c1"))
    store = _ours(redis_server)

    tracker = await store.retrieve("c1")
    assert _texts(tracker) == ["where is my order?", "Which order?"]
    assert await redis.keys("*") == ["hfv1:tracker:c1"]  # a read moves nothing

    tracker.update(UserUttered("order 20411", timestamp=1003.0, message_id="u2"))
    await store.save(tracker)
    assert await redis.keys("*") == ["hfv1:tracker:{c1}"]  # moved
    after = json.loads(await redis.get("hfv1:tracker:{c1}"))
    assert after["events"][:len(before["events"])] == before["events"]  # nothing lost
    assert [e.get("text") for e in after["events"][len(before["events"]):]] == ["order 20411"]
    assert _texts(await store.retrieve("c1")) == ["where is my order?", "Which order?",
                                                  "order 20411"]
    # `rasa export` lists conversation ids: in either layout, as ids, not key names.
    await _rasas_store(redis_server).save(_conversation("c2"))
    assert sorted(await store.keys()) == ["c1", "c2"]
    assert _texts(await store.retrieve_full_tracker("c2")) == ["where is my order?",
                                                               "Which order?"]


async def test_a_live_lock_under_rasas_name_holds_until_its_ticket_ends(redis, redis_server):
    """A turn an older Rasa process was in when the new one started: the new one waits."""
    rasas = RedisLockStore(host="127.0.0.1", port=redis_server.port, db=0, key_prefix="hfv1")
    rasas.issue_ticket("c1", lock_lifetime=1.0)
    ours = PromptRedisLockStore(EndpointConfig(url=redis_server.url, key_prefix="hfv1"))
    assert ours.get_lock("c1") is not None and ours.is_someone_waiting("c1")
    entered = asyncio.Event()

    async def turn() -> None:
        async with ours.lock("c1", lock_lifetime=30):
            entered.set()
    task = asyncio.create_task(turn())
    await asyncio.sleep(0.5)
    assert not entered.is_set()  # the old ticket still holds the conversation
    await asyncio.wait_for(entered.wait(), 5)
    await task
    assert await redis.exists("hfv1:lock:c1") == 0  # moved, then let go of


async def test_the_write_behind_respects_a_lock_and_moves_a_tracker_under_rasas_names(
        redis, redis_server):
    await _rasas_store(redis_server).save(_conversation("c1"))
    await redis.expire("hfv1:tracker:c1", 3600)
    before = json.loads(await redis.get("hfv1:tracker:c1"))
    rasas = RedisLockStore(host="127.0.0.1", port=redis_server.port, db=0, key_prefix="hfv1")
    ticket = rasas.issue_ticket("c1", lock_lifetime=60)
    turn = customer_event("still there?", "m1", "socketio", None, at=1003.0)
    stored = StoredTrackers(redis)
    assert await stored.append({"c1": [turn]}, now=1003.0) == {"c1": BUSY}
    assert await redis.keys("hfv1:tracker:*") == ["hfv1:tracker:c1"]  # untouched

    rasas.cleanup("c1", ticket)
    assert await stored.append({"c1": [turn]}, now=1003.0) == {"c1": 1}
    assert await redis.keys("hfv1:tracker:*") == ["hfv1:tracker:{c1}"]
    assert 0 < await redis.ttl("hfv1:tracker:{c1}") <= 3600  # the rename keeps the TTL
    after = json.loads(await redis.get("hfv1:tracker:{c1}"))
    assert after["events"][:len(before["events"])] == before["events"]
    assert after["events"][-1]["text"] == "still there?"
    assert _texts(await _ours(redis_server).retrieve("c1"))[-1] == "still there?"


async def test_rasas_door_for_the_live_path_moves_a_tracker_under_rasas_name(redis,
                                                                          redis_server):
    """`bot/tracker_writes.py` (a give-back's turns with their NLU) reads and writes the
    stored JSON itself, through the store's `stored` and `put`."""
    await _rasas_store(redis_server).save(_conversation("c1"))
    await redis.expire("hfv1:tracker:c1", 3600)
    before = json.loads(await redis.get("hfv1:tracker:c1"))
    turns = [customer_event("my parcel is late", "m1", "socketio", None, at=1003.0),
             agent_event("Let me look", "marie", "Marie", "a1", None, at=1004.0)]
    store = _ours(redis_server)
    assert await asyncio.to_thread(tracker_writes._append, store, "c1", turns, {}) == 2
    assert await redis.keys("*") == ["hfv1:tracker:{c1}"]
    assert 0 < await redis.ttl("hfv1:tracker:{c1}") <= 3600
    after = json.loads(await redis.get("hfv1:tracker:{c1}"))
    assert after["events"][:len(before["events"])] == before["events"]
    assert _texts(await store.retrieve("c1"))[-2:] == ["my parcel is late", "Let me look"]
    assert await asyncio.to_thread(tracker_writes._append, store, "c1", turns, {}) == 0


async def _seed_before_the_upgrade(redis, redis_server, count: int) -> Dict[str, str]:
    """Trackers and locks as Rasa's own stores left them; their stored values by old name."""
    rasas = _rasas_store(redis_server)
    for n in range(count):
        await rasas.save(_conversation(f"web-{n}", f"question {n}"))
    await rasas.save(_conversation("{odd}"))  # its old name looks like a new one
    await redis.expire("hfv1:tracker:web-0", 3600)
    locks = RedisLockStore(host="127.0.0.1", port=redis_server.port, db=0, key_prefix="hfv1")
    locks.issue_ticket("web-1", lock_lifetime=60)  # a turn in progress
    return {key: await redis.get(key) for key in await redis.keys("*")}


async def test_the_command_moves_every_old_name_once_and_loses_nothing(
        redis, redis_server, monkeypatch, capsys):
    old = await _seed_before_the_upgrade(redis, redis_server, 25)
    assert len(old) == 25 + 1 + 1
    # Already in the new layout: a conversation the new stores wrote, left as it is.
    await _ours(redis_server).save(_conversation("new-1"))
    new_value = await redis.get("hfv1:tracker:{new-1}")

    # A check moves nothing and says what is left (exit status 1).
    monkeypatch.setenv("REDIS_URL", redis_server.url)
    monkeypatch.setattr(rasa_keys, "PROGRESS_EVERY", 10)
    monkeypatch.setattr(rasa_keys, "BATCH", 7)  # several round trips
    assert await asyncio.to_thread(rasa_keys.main, ["--check"]) == 1
    assert "27 to move" in capsys.readouterr().out
    assert sorted(await redis.keys("*")) == sorted([*old, "hfv1:tracker:{new-1}"])

    assert await asyncio.to_thread(rasa_keys.main, []) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("looked at 10 keys: ") and len(out) >= 3  # progress, then total
    assert out[-1].endswith("27 moved, 0 stale locks dropped, 0 under both names.")

    moved = {RASA_KEYS.tracker(f"web-{n}") for n in range(25)} | {
        "hfv1:tracker:{{odd}}", "hfv1:lock:{web-1}", "hfv1:tracker:{new-1}"}
    assert set(await redis.keys("*")) == moved
    for key, value in old.items():  # byte for byte, under the new name of the same id
        kind = "tracker" if RASA_KEYS.is_tracker(key) else "lock"
        cid = key[len(f"hfv1:{kind}:"):]
        assert await redis.get(getattr(RASA_KEYS, kind)(cid)) == value, key
    assert await redis.get("hfv1:tracker:{new-1}") == new_value
    assert 0 < await redis.ttl(RASA_KEYS.tracker("web-0")) <= 3600
    store = _ours(redis_server)
    assert _texts(await store.retrieve("web-7"))[0] == "question 7"
    assert _texts(await store.retrieve("{odd}"))[0] == "where is my order?"
    locks = PromptRedisLockStore(EndpointConfig(url=redis_server.url, key_prefix="hfv1"))
    assert locks.is_someone_waiting("web-1")  # the live lock, still held

    # Again: nothing left to move, nothing changed.
    outcome = await migrate(redis)
    assert (outcome.looked_at, outcome.moved, outcome.dropped, outcome.both) == (28, 0, 0, [])
    assert set(await redis.keys("*")) == moved
    assert await asyncio.to_thread(rasa_keys.main, ["--check"]) == 0


async def test_a_key_under_both_names_is_reported_and_left_a_stale_lock_dropped(
        redis, redis_server):
    """What an older Rasa process running beside a new one leaves: the command cannot know
    which copy is right, and says so."""
    rasas = _rasas_store(redis_server)
    await rasas.save(_conversation("c1", "before the upgrade"))
    await _ours(redis_server).save(_conversation("c1", "new process"))  # moves it
    assert await redis.keys("*") == ["hfv1:tracker:{c1}"]
    await rasas.save(_conversation("c1", "old process, after the move"))
    old_locks = RedisLockStore(host="127.0.0.1", port=redis_server.port, db=0, key_prefix="hfv1")
    old_locks.issue_ticket("stale", lock_lifetime=0.01)
    old_locks.issue_ticket("held", lock_lifetime=60)
    for cid in ("stale", "held"):
        await redis.copy(f"hfv1:lock:{cid}", RASA_KEYS.lock(cid))
    await asyncio.sleep(0.05)

    outcome = await migrate(redis)
    assert (outcome.moved, outcome.dropped) == (0, 1)
    assert sorted(outcome.both) == ["hfv1:lock:held", "hfv1:tracker:c1"]
    assert not outcome.done
    assert await redis.exists("hfv1:lock:stale") == 0
    assert await redis.exists("hfv1:tracker:c1", "hfv1:tracker:{c1}", "hfv1:lock:held") == 3


def test_the_command_refuses_a_cluster_with_the_reason_in_both_languages(monkeypatch, capsys):
    # A Cluster cannot rename into another slot: the command says where to run it instead of
    # failing key by key (no Cluster is started: it is refused before connecting).
    monkeypatch.setenv("REDIS_URL", "redis+cluster://127.0.0.1:1")
    assert rasa_keys.main([]) == 2
    err = capsys.readouterr().err
    assert "Redis Cluster" in err and "Sentinel" in err and "avant de les passer" in err
