"""Rasa's tracker and lock stores as endpoints.yml configures them: from `REDIS_URL`, on a single
Redis, on a Sentinel group and on a Cluster, with Rasa's tracker format, under keys that carry the
conversation's hash tag (`handoff.keys.RasaKeys`)."""

from __future__ import annotations

import asyncio
import json
from typing import Iterator

import pytest
from rasa.core.brokers.broker import EventBroker
from rasa.core.lock_store import LockStore
from rasa.core.tracker_store import RedisTrackerStore, TrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, BotUttered, SessionStarted, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.utils.endpoints import read_endpoint_config
from redis.exceptions import ConnectionError as RedisConnectionError

from bot.lock_store import PromptRedisLockStore
from bot.tracker_store import UrlRedisTrackerStore
from handoff.keys import RASA_KEYS
from handoff.redis_client import connect_sync, is_cluster
from stack.model import ROOT
from tests.redis_cluster import PRIMARIES
from tests.redis_sentinel import SentinelGroup

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120),
              # pykwalify (Rasa's YAML validation) loads its extensions the old way.
              pytest.mark.filterwarnings("ignore:the load_module:DeprecationWarning")]


@pytest.fixture(scope="module")
def group(tmp_path_factory) -> Iterator[SentinelGroup]:
    started = SentinelGroup(tmp_path_factory.mktemp("sentinel")).start()
    try:
        yield started
    finally:
        started.stop()


def _configured(monkeypatch, url: str, section: str):
    monkeypatch.setenv("REDIS_URL", url)
    for name, value in {"ACTION_SERVER_URL": "http://127.0.0.1:1/webhook",
                        "ACTION_SERVER_TOKEN": "unused-in-this-test",
                        "HANDOFF_KEY_PREFIX": "hf:v1"}.items():
        monkeypatch.setenv(name, value)
    return read_endpoint_config(str(ROOT / "endpoints.yml"), section)


def _tracker_store(monkeypatch, url: str) -> UrlRedisTrackerStore:
    store = TrackerStore.create(_configured(monkeypatch, url, "tracker_store"), Domain.empty())
    inner = getattr(store, "_tracker_store", store)  # Rasa may wrap it
    assert isinstance(inner, UrlRedisTrackerStore)
    return inner


def _conversation(cid: str) -> DialogueStateTracker:
    return DialogueStateTracker.from_events(cid, [
        ActionExecuted("action_listen", timestamp=1000.0),
        UserUttered("where is my order?", intent={"name": "order_status", "confidence": 0.9},
                    timestamp=1001.0, message_id="u0"),
        BotUttered("Which order?", timestamp=1002.0)])


async def test_the_tracker_is_stored_as_rasas_own_store_stores_it(monkeypatch, redis_server,
                                                                   redis):
    ours = _tracker_store(monkeypatch, redis_server.url)
    rasas = RedisTrackerStore(Domain.empty(), host="127.0.0.1", port=redis_server.port,
                              key_prefix="hfv1")
    await ours.save(_conversation("ours"))
    await rasas.save(_conversation("rasas"))
    stored = {"ours": json.loads(await redis.get("hfv1:tracker:{ours}")),
              "rasas": json.loads(await redis.get("hfv1:tracker:rasas"))}  # Rasa's own layout
    assert stored["ours"] == {**stored["rasas"], "name": "ours"}
    assert RASA_KEYS.tracker("ours") == "hfv1:tracker:{ours}"
    assert await redis.exists("hfv1:tracker:ours") == 0
    # Ours reads what Rasa's store wrote, under Rasa's name (a tracker from before the layout).
    tracker = await ours.retrieve("rasas")
    assert [e.text for e in tracker.events if isinstance(e, BotUttered)] == ["Which order?"]


async def test_both_stores_work_on_a_sentinel_group_and_after_its_failover(monkeypatch, group):
    trackers = _tracker_store(monkeypatch, group.url)
    locks = LockStore.create(_configured(monkeypatch, group.url, "lock_store"))
    assert isinstance(locks, PromptRedisLockStore)
    await trackers.save(_conversation("c1"))
    async with locks.lock("c1"):
        assert locks.get_lock("c1") is not None
    with group.data_client(group.primary_port()) as primary:
        assert primary.exists("hfv1:tracker:{c1}") == 1  # on the primary, hash-tagged
        primary.wait(2, 5000)

    old = group.kill_primary()
    await asyncio.to_thread(group.wait_for_failover, old)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 30
    while True:  # the first calls may still meet the dead primary's address: Redis is away
        try:
            tracker = await trackers.retrieve("c1")
            break
        except RedisConnectionError:
            assert loop.time() < deadline, group.roles()
            await asyncio.sleep(0.2)
    assert tracker is not None and tracker.latest_message.text == "where is my order?"
    tracker.update(BotUttered("Found it", timestamp=1003.0))
    await trackers.save(tracker)
    async with locks.lock("c1"):
        pass
    check = connect_sync(group.url)
    try:
        events = json.loads(check.get("hfv1:tracker:{c1}"))["events"]
        assert [e.get("text") for e in events if e["event"] == "bot"] == ["Which order?",
                                                                          "Found it"]
    finally:
        check.close()


class _Recorded(EventBroker):
    """An event broker that keeps what it was given (for comparing two stores)."""

    def __init__(self) -> None:
        self.published: list = []

    def publish(self, event) -> None:
        self.published.append({k: v for k, v in event.items() if k != "sender_id"})


async def test_a_save_reads_the_stored_tracker_once_and_does_what_rasas_does(redis_server,
                                                                              redis):
    """Rasa's save reads the tracker twice; ours once, with the same broker events and result.

    Over a first save, a turn added, and a new session saved from its last session only (as
    Rasa's processor does: the merge keeps the earlier session).
    """
    ours_broker, rasas_broker = _Recorded(), _Recorded()
    ours = UrlRedisTrackerStore(Domain.empty(), host=redis_server.url, key_prefix="hfv1",
                                event_broker=ours_broker)
    rasas = RedisTrackerStore(Domain.empty(), host="127.0.0.1", port=redis_server.port,
                              key_prefix="hfv1", event_broker=rasas_broker)
    stores = {"ours": ours, "rasas": rasas}
    gets = {}
    for cid, store in stores.items():
        await redis.config_resetstat()
        await store.save(_conversation(cid))
        tracker = await store.retrieve(cid)
        tracker.update(UserUttered("thanks", timestamp=1003.0, message_id="u1"))
        await store.save(tracker)
        later = DialogueStateTracker.from_events(cid, [
            ActionExecuted("action_session_start", timestamp=5000.0),
            SessionStarted(timestamp=5000.1), ActionExecuted("action_listen", timestamp=5000.2),
            UserUttered("hello again", timestamp=5001.0, message_id="u2"),
            BotUttered("Hi!", timestamp=5002.0)])
        await store.save(later)
        stats = await redis.info("commandstats")
        # 3 saves and 1 retrieve; ours reads both names of the tracker in one MGET.
        gets[cid] = sum(int(stats.get(f"cmdstat_{command}", {}).get("calls", 0))
                        for command in ("get", "mget"))
    assert gets == {"ours": 3 + 1, "rasas": 2 * 3 + 1}
    stored = {"ours": json.loads(await redis.get(RASA_KEYS.tracker("ours"))),
              "rasas": json.loads(await redis.get("hfv1:tracker:rasas"))}
    assert stored["ours"] == {**stored["rasas"], "name": "ours"}
    assert [e["event"] for e in stored["ours"]["events"]].count("session_started") == 1
    assert ours_broker.published == rasas_broker.published
    # Rasa's offset quirk included: the new session's first events fall within the old
    # session's length, so only "Hi!" of it is streamed, by both.
    assert [e.get("text") for e in ours_broker.published if e["event"] in ("user", "bot")] == \
        ["where is my order?", "Which order?", "thanks", "Hi!"]


async def test_both_stores_work_on_a_cluster_with_trackers_on_every_primary(monkeypatch,
                                                                             cluster):
    """endpoints.yml's stores on `redis+cluster://` (`connect_sync`): each conversation's
    tracker and lock on the primary of its slot, read back, listed by `keys()` from every
    primary, and the lock held against a second holder."""
    assert is_cluster(connect_sync(cluster.url))  # one client for every blocking use
    trackers = _tracker_store(monkeypatch, cluster.url)
    locks = LockStore.create(_configured(monkeypatch, cluster.url, "lock_store"))
    assert isinstance(locks, PromptRedisLockStore)
    assert is_cluster(trackers.red) and is_cluster(locks.red)
    cids = [f"cluster-{n}" for n in range(12)]
    assert len({cluster.primary_of(RASA_KEYS.tracker(cid)) for cid in cids}) == PRIMARIES
    for cid in cids:
        await trackers.save(_conversation(cid))
    for cid in cids:  # each where its slot is served, under its hash-tagged name
        with cluster.node_client(cluster.primary_of(RASA_KEYS.tracker(cid))) as node:
            assert json.loads(node.get(RASA_KEYS.tracker(cid)))["name"] == cid
    tracker = await trackers.retrieve(cids[0])
    assert tracker is not None and tracker.latest_message.text == "where is my order?"
    tracker.update(BotUttered("Found it", timestamp=1003.0))
    await trackers.save(tracker)
    again = await trackers.retrieve(cids[0])
    assert [e.text for e in again.events if isinstance(e, BotUttered)] == ["Which order?",
                                                                          "Found it"]
    assert sorted(await trackers.keys()) == sorted(cids)

    async with locks.lock(cids[1]):
        held = locks.get_lock(cids[1])
        assert held is not None and held.tickets  # stored with the holder's ticket
        with cluster.node_client(cluster.primary_of(RASA_KEYS.lock(cids[1]))) as node:
            assert node.exists(RASA_KEYS.lock(cids[1])) == 1
        second = asyncio.ensure_future(_enter_and_leave(locks, cids[1]))
        await asyncio.sleep(0.2)
        assert not second.done()  # waits for the first holder
    await asyncio.wait_for(second, 5)
    assert locks.get_lock(cids[1]) is None  # both let go: the lock is gone
    trackers.red.close()
    locks.red.close()


async def _enter_and_leave(locks: PromptRedisLockStore, cid: str) -> None:
    async with locks.lock(cid):
        pass
