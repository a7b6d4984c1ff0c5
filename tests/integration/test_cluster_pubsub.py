"""Pub/sub on the tests' real Redis Cluster (issue 17, item 2): the agents' push channel and the
customers' channel through `handoff.redis_client.pubsub_client`, a plain client of one node
(redis-py's asyncio cluster client has no pub/sub): a frame published on any node reaches a
subscriber on another, the hub's subscriber included, and a subscriber whose node was killed
subscribes again through another. Frames queued in a pipeline (`redis_client.publish_on`: the
relay's batches, a transition's frames) reach the hub from a cluster pipeline, which refuses
`PUBLISH`; python-socketio's manager in the web channel emits from one process to another."""

from __future__ import annotations

import asyncio
import json
from contextlib import asynccontextmanager
from typing import Any, AsyncIterator, Dict, List, Optional, Tuple

import pytest
from redis.asyncio.cluster import RedisCluster as AsyncRedisCluster
from redis.exceptions import RedisClusterException
from socketio import AsyncServer

from bot import web
from handoff.accounts import Agent
from handoff.conversation import ConversationStore
from handoff.keys import Keys
from handoff.presence import Presence
from handoff.push import agents, everyone, many_to_agents, to_agents, to_customer
from handoff.redis_client import publish_on, pubsub_client
from handoff.service.api.hub import Hub
from tests.redis_cluster import PRIMARIES, ClusterGroup, async_client, new_client

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
async def _hub(cluster: ClusterGroup, client: AsyncRedisCluster, socket: Optional[_Socket] = None
               ) -> AsyncIterator[Tuple[Hub, _Socket, int]]:
    """The service's hub on `client`, with one agent's socket; the node it subscribed on."""
    hub = Hub(client, KEYS, Presence(client, KEYS))
    socket = socket or _Socket()
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
        # Each reached it; in no set order: publishes on different nodes cross the cluster bus
        # each on its own way (seen: 5 before 4).
        assert sorted(frame["n"] for frame in socket.sent) == list(range(len(others) + 1))


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


async def test_a_cluster_pipeline_refuses_a_plain_publish(client):
    """Why `publish_on` exists: what the pipelines' `PUBLISH` did on a Cluster before it."""
    async with client.pipeline() as pipe:
        with pytest.raises(RedisClusterException, match="publish is blocked"):
            pipe.publish(KEYS.push_channel, "{}")
        pipe.set("written", "1")
        pipe.execute_command("PUBLISH", KEYS.push_channel, "{}")
        with pytest.raises(RedisClusterException, match="Missing key"):
            await pipe.execute()
    assert await client.get("written") is None  # nothing of the pipeline ran


async def test_a_batch_of_frames_reaches_the_hub_from_a_cluster_pipeline(cluster, client):
    """The relay's way (`handoff.relay.consoles`, `outbound`): writes over every primary and
    one push message carrying every frame, in one pipeline."""
    cids = [f"batch-{n}" for n in range(9)]
    assert len({cluster.primary_of(KEYS.conversation(cid)) for cid in cids}) == PRIMARIES
    async with _hub(cluster, client) as (_, socket, _node):
        async with client.pipeline() as pipe:
            for cid in cids:
                pipe.hset(KEYS.conversation(cid), "language", "fr")
            many_to_agents(pipe, KEYS, [
                {"type": "message", "conversation_id": cid, "audience": agents("alice")}
                for cid in cids])
            pipe.set("after-the-frames", "1")
            replies = await pipe.execute()
        assert len(replies) == len(cids) + 2
        await _until(lambda: len(socket.sent) == len(cids), f"frames: {socket.sent}")
        assert [frame["conversation_id"] for frame in socket.sent] == cids
        assert await client.get("after-the-frames") == "1"
        for cid in cids:
            assert await client.hget(KEYS.conversation(cid), "language") == "fr"


class _Reader(_Socket):
    """A console that reads, as each frame comes, the state of the conversation it names."""

    def __init__(self, client: AsyncRedisCluster) -> None:
        super().__init__()
        self.client = client
        self.states_read: List[Any] = []

    async def send_str(self, data: str) -> None:
        await super().send_str(data)
        self.states_read.append(await self.client.hget(
            KEYS.conversation(self.sent[-1]["conversation_id"]), "state"))


async def test_a_claims_frames_reach_the_hub_from_the_cluster(cluster, client):
    """A claim on the Cluster (its record changed in one Lua step, then its indexes and frames
    in a cluster pipeline, `ConversationStore._follow_up`): the frames reach the hub, and a
    console that reads the conversation as a frame comes finds the state it announces."""
    store = ConversationStore(client, KEYS)
    cid = "claimed-on-a-cluster"
    await client.hset(KEYS.conversation(cid), mapping={"state": "queued", "ticket_id": "t-1"})
    await client.zadd(KEYS.queue, {cid: 1.0})
    socket = _Reader(client)
    async with _hub(cluster, client, socket):
        await store.claim(cid, "alice", "Alice")
        await _until(lambda: len(socket.sent) == 2, f"frames: {socket.sent}")
    assert [frame["type"] for frame in socket.sent] == ["ticket.removed", "conversation.state"]
    assert socket.sent[1]["agent"] == "alice" and socket.sent[1]["state"] == "assigned"
    assert socket.states_read == ["assigned", "assigned"]
    assert await client.zscore(KEYS.queue, cid) is None
    assert await store.agent_conversation_ids("alice") == [cid]


async def test_a_frame_sent_near_a_key_is_published_by_that_keys_primary(cluster, client):
    """After the key's write, on the same connection: a PUBLISH answers with the subscribers
    of the node that ran it, and only that primary has one here."""
    by_primary: Dict[int, str] = {}
    for n in range(40):
        key = KEYS.conversation(f"near-{n}")
        by_primary.setdefault(cluster.primary_of(key), key)
    assert len(by_primary) == PRIMARIES
    for port, key in by_primary.items():
        with cluster.node_client(port) as node:
            pubsub = node.pubsub()
            pubsub.subscribe("near-probe")
            assert pubsub.get_message(timeout=5)["type"] == "subscribe"
            async with client.pipeline() as pipe:
                pipe.hset(key, "state", "assigned")
                publish_on(pipe, "near-probe", f"about {key}", near=key)
                assert await pipe.execute() == [1, 1]
            message = await asyncio.to_thread(pubsub.get_message, timeout=5)
            assert message is not None and message["data"] == f"about {key}"
            pubsub.close()


async def test_socketio_emits_cross_processes_through_the_cluster(cluster, monkeypatch):
    """The web channel's python-socketio manager: an emit in one Rasa process reaches a socket
    of another through the Cluster. `connect` still refuses a Cluster (issue 17): here it
    gives the cluster client that it will give once it no longer does, made as it must be,
    without a round trip (its nodes found on its first command)."""
    monkeypatch.setattr(web, "connect", lambda url, decode_responses=True:
                        new_client(url, decode_responses=decode_responses))
    channel = "hf:test:socketio"
    sender = web.LocalFirstRedisManager(cluster.url, channel=channel)
    receiver = web.LocalFirstRedisManager(cluster.url, channel=channel)
    assert not isinstance(receiver.redis, AsyncRedisCluster)
    AsyncServer(async_mode="asgi", client_manager=sender)
    server = AsyncServer(async_mode="asgi", client_manager=receiver)
    emitted: List[Tuple[str, str, Any]] = []

    async def to_socket(eio_sid: str, event: str, data: Any, namespace: str,
                        id: Any = None) -> None:  # the engine.io side of one browser
        emitted.append((eio_sid, event, data))

    server._emit_internal = to_socket  # type: ignore[method-assign]
    sid = receiver.connect("browser-1", "/")
    receiver.enter_room(sid, "/", "room-1")
    receiver.initialize()  # listens, as on the server's first connection
    try:
        await _until(lambda: _subscribed_on(cluster, channel), "the receiver subscribes")
        await sender.emit("bot_uttered", {"text": "bonjour"}, room="room-1")
        await _until(lambda: emitted, "the emit in the other process")
        assert emitted == [("browser-1", "bot_uttered", {"text": "bonjour"})]
    finally:
        receiver.thread.cancel()
        await asyncio.gather(receiver.thread, return_exceptions=True)
        for manager in (sender, receiver):
            await manager.pubsub.close()
            await manager.redis.close(close_connection_pool=True)
