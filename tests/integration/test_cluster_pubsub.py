"""Pub/sub on the tests' real Redis Cluster (issue 17, item 2): the agents' push channel and the
customers' channel through `handoff.redis_client.pubsub_client`, a plain client of one node
(redis-py's asyncio cluster client has no pub/sub): a frame published on any node reaches a
subscriber on another, the hub's subscriber included, and a subscriber whose node was killed
subscribes again through another."""

from __future__ import annotations

import asyncio
import json
from contextlib import asynccontextmanager
from typing import Any, AsyncIterator, Dict, List, Tuple

import pytest
from redis.asyncio.cluster import RedisCluster as AsyncRedisCluster

from handoff.accounts import Agent
from handoff.keys import Keys
from handoff.presence import Presence
from handoff.push import everyone, to_agents, to_customer
from handoff.redis_client import pubsub_client
from handoff.service.api.hub import Hub
from tests.redis_cluster import ClusterGroup, async_client

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

KEYS = Keys()


@pytest.fixture
async def client(cluster) -> AsyncIterator[AsyncRedisCluster]:
    made = await async_client(cluster.url)
    try:
        yield made
    finally:
        await pubsub_client(made).close(close_connection_pool=True)
        await made.close()


class _Socket:
    """An agent's WebSocket as the hub uses it: what it was sent."""

    def __init__(self) -> None:
        self.sent: List[Dict[str, Any]] = []

    async def send_str(self, data: str) -> None:
        self.sent.append(json.loads(data))

    async def close(self, **_: Any) -> None:
        pass


def _subscribed_on(cluster: ClusterGroup, channel: str) -> List[int]:
    """The nodes where someone subscribes to `channel` (each node counts its own)."""
    found = []
    for port in cluster.live_ports():
        with cluster.node_client(port) as node:
            if dict(node.pubsub_numsub(channel)).get(channel):
                found.append(port)
    return found


async def _until(check, what: str, timeout: float = 10) -> None:  # type: ignore[no-untyped-def]
    deadline = asyncio.get_running_loop().time() + timeout
    while not check():
        assert asyncio.get_running_loop().time() < deadline, what
        await asyncio.sleep(0.05)


@asynccontextmanager
async def _hub(cluster: ClusterGroup, client: AsyncRedisCluster
               ) -> AsyncIterator[Tuple[Hub, _Socket, int]]:
    """The service's hub on `client`, with one agent's socket; the node it subscribed on."""
    hub = Hub(client, KEYS, Presence(client, KEYS))
    socket = _Socket()
    await hub.add(socket, Agent("alice", "Alice", "agent"))
    hub.start()
    try:
        await asyncio.wait_for(hub.subscribed.wait(), 10)
        await _until(lambda: _subscribed_on(cluster, KEYS.push_channel), "the hub subscribes")
        [node] = _subscribed_on(cluster, KEYS.push_channel)
        yield hub, socket, node
    finally:
        await hub.stop()


async def test_the_pubsub_client_off_a_cluster_is_the_client_itself(redis):
    assert pubsub_client(redis) is redis


async def test_a_frame_published_on_any_node_reaches_the_hub_on_another(cluster, client):
    plain = pubsub_client(client)
    assert pubsub_client(client) is plain  # one per cluster client
    assert not isinstance(plain, AsyncRedisCluster)
    async with _hub(cluster, client) as (_, socket, hub_node):
        others = [port for port in cluster.ports if port != hub_node]
        assert len(others) == 5  # the two other primaries and the three replicas
        for n, port in enumerate(others):
            with cluster.node_client(port) as node:
                node.publish(KEYS.push_channel, json.dumps(
                    {"type": "probe", "n": n, "audience": everyone()}))
        await to_agents(client, KEYS, {"type": "probe", "n": len(others),
                                       "audience": everyone()})
        await _until(lambda: len(socket.sent) == len(others) + 1, f"frames: {socket.sent}")
        assert [frame["n"] for frame in socket.sent] == list(range(len(others) + 1))


async def test_a_customer_event_published_through_the_cluster_client_reaches_every_node(
        cluster, client):
    subscribers = {}
    try:
        for port in cluster.ports:  # a subscriber on every node, primaries and replicas
            node = cluster.node_client(port)
            pubsub = node.pubsub()
            subscribers[port] = (node, pubsub)
            pubsub.subscribe(KEYS.customer_channel)
            confirmed = pubsub.get_message(timeout=5)  # registered before the publish
            assert confirmed is not None and confirmed["type"] == "subscribe"
        await to_customer(client, KEYS, "room-1", "queue_status", {"position": 2})
        for port, (_, pubsub) in subscribers.items():
            message = await asyncio.to_thread(pubsub.get_message, timeout=5)
            assert message is not None, f"nothing reached the subscriber on {port}"
            assert json.loads(message["data"]) == {"room": "room-1", "event": "queue_status",
                                                   "data": {"position": 2}}
    finally:
        for node, pubsub in subscribers.values():
            pubsub.close()
            node.close()


async def test_a_subscriber_whose_node_died_subscribes_again_through_another(tmp_path):
    with ClusterGroup(tmp_path / "cluster") as cluster:
        client = await async_client(cluster.url)
        try:
            async with _hub(cluster, client) as (_, socket, first):
                cluster.kill(first)  # kill -9
                await _until(lambda: _subscribed_on(cluster, KEYS.push_channel), "again", 30)
                [again] = _subscribed_on(cluster, KEYS.push_channel)
                assert again != first
                other = next(port for port in cluster.live_ports() if port != again)
                with cluster.node_client(other) as node:
                    node.publish(KEYS.push_channel, json.dumps({"type": "probe",
                                                                "audience": everyone()}))
                await _until(lambda: socket.sent, "the frame after the node died")
                assert socket.sent == [{"type": "probe"}]
        finally:
            await pubsub_client(client).close(close_connection_pool=True)
            await client.close()
