"""Reads over many conversations (issue 17, item 3) on the tests' real Redis Cluster and on a
single Redis: the privacy finder and store, the miners and the resolved replies find trackers
living on every primary (`handoff.redis_client.get_many`, `scan_keys`)."""

from __future__ import annotations

import json
from typing import List

import pytest
from rasa.shared.core.events import (
    ActionExecuted,
    BotUttered,
    ConversationPaused,
    ConversationResumed,
    UserUttered,
)
from rasa.shared.core.trackers import DialogueStateTracker
from redis.asyncio.cluster import RedisCluster as AsyncRedisCluster
from redis.exceptions import RedisClusterException

from handoff.keys import RASA_KEYS, Keys
from handoff.privacy import store
from handoff.privacy.finder import Query, find
from handoff.redis_client import get_many, is_cluster, scan_keys
from handoff.service.insights.miner.jobs import MinerJobs, Question
from handoff.service.insights.miner.source import read_messages
from handoff.service.insights.resolved import ResolvedReplies
from tests.redis_cluster import PRIMARIES

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

KEYS = Keys()
CIDS = [f"reader-{n}" for n in range(12)]
AGENT = {"handoff_agent": "alice", "agent": "Alice"}


@pytest.fixture(params=["single", "cluster"])
def client(request):  # type: ignore[no-untyped-def]
    """Each test on a single Redis and on the Cluster."""
    return request.getfixturevalue("redis" if request.param == "single" else "cluster_client")


def _handed_off(cid: str) -> DialogueStateTracker:
    return DialogueStateTracker.from_events(cid, [
        ActionExecuted("action_listen", timestamp=1000.0),
        UserUttered(f"my parcel {cid} never came, write to {cid}@example.com",
                    intent={"name": "out_of_scope", "confidence": 0.9}, timestamp=1001.0),
        UserUttered("agent please", intent={"name": "request_human", "confidence": 0.9},
                    timestamp=1002.0),
        ConversationPaused(timestamp=1003.0),
        UserUttered(f"where is parcel {cid}?", intent={"name": "out_of_scope",
                                                       "confidence": 0.9}, timestamp=1010.0),
        BotUttered(f"Parcel {cid} is on its way", metadata=AGENT, timestamp=1020.0),
        ConversationResumed(timestamp=1100.0)])


async def _saved(client) -> List[str]:  # type: ignore[no-untyped-def]
    """The trackers of `CIDS` under their names; the names."""
    names = [RASA_KEYS.tracker(cid) for cid in CIDS]
    for cid, name in zip(CIDS, names, strict=True):
        await client.set(name, json.dumps(_handed_off(cid).as_dialogue().as_dict()))
    return names


async def test_the_trackers_of_the_readers_live_on_every_primary(cluster, cluster_client):
    """What the other tests rely on, and why the readers' old calls fail on a Cluster."""
    names = await _saved(cluster_client)
    by_primary = {}
    for name in names:
        by_primary.setdefault(cluster.primary_of(name), []).append(name)
    assert len(by_primary) == PRIMARIES
    with pytest.raises(RedisClusterException, match="same key slot"):  # the readers' old MGET
        await cluster_client.mget(names)
    for port, held in by_primary.items():  # a SCAN of one node sees that node's keys only
        with cluster.node_client(port) as node:
            assert sorted(node.scan_iter(match=RASA_KEYS.tracker_pattern)) == sorted(held)


async def test_get_many_and_scan_keys_read_every_tracker(client):
    names = await _saved(client)
    assert is_cluster(client) == isinstance(client, AsyncRedisCluster)
    values = await get_many(client, [names[0], "hfv1:tracker:{absent}", *names[1:]])
    assert [json.loads(v)["name"] if v else None for v in values] == \
        [CIDS[0], None, *CIDS[1:]]
    assert await get_many(client, []) == []
    assert sorted([key async for key in scan_keys(client, RASA_KEYS.tracker_pattern, 2)]) == \
        sorted(names)


async def test_the_privacy_store_and_finder_read_every_tracker(client):
    await _saved(client)
    assert sorted([key async for key in store.scan(client, RASA_KEYS.tracker_pattern)]) == \
        sorted(RASA_KEYS.tracker(cid) for cid in CIDS)
    for cid in CIDS:  # both names, two slots on a Cluster
        assert (await store.tracker(client, cid))["name"] == cid
    for cid in (CIDS[0], CIDS[-1]):  # mentioned in one tracker each, wherever it lives
        customer = await find(client, KEYS, Query.of("email", f"{cid}@example.com"))
        assert customer.conversations == {cid}


async def test_the_miners_read_every_tracker(client):
    messages = await read_messages(client)
    assert messages == []
    await _saved(client)
    messages = await read_messages(client)
    assert {m.conversation_id for m in messages} == set(CIDS)
    jobs = MinerJobs(client, KEYS)
    try:
        job = await jobs.job(Question(), wait=60)
        assert (job.stage, job.conversations) == ("done", len(CIDS))
        assert job.messages == len(messages)
    finally:
        await jobs.close()


async def test_the_resolved_replies_read_every_tracker(client):
    await _saved(client)
    for n, cid in enumerate(CIDS):
        ticket = f"t-{cid}"
        await client.zadd(KEYS.metrics_handoffs, {ticket: n})
        await client.hset(KEYS.metrics_handoff(ticket), mapping={
            "conversation_id": cid, "outcome": "closed", "resolution": "resolved",
            "ended_at": 1100 + n})
    pairs = await ResolvedReplies(client, KEYS).pairs()
    assert sorted((p.conversation_id, p.answer) for p in pairs) == \
        sorted((cid, f"Parcel {cid} is on its way") for cid in CIDS)
