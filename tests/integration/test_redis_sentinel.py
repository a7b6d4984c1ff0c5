"""Clients made from a `redis+sentinel://` URL on a real Sentinel group (1 primary, 2 replicas,
3 sentinels): they find the primary, and find the new one after kill -9 of the old."""

from __future__ import annotations

import asyncio
import pickle
from typing import Iterator

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError

from bot.web import LocalFirstRedisManager
from handoff import outbox
from handoff.keys import Keys
from handoff.redis_client import (
    REPLICATION_WAIT_MS,
    NotReplicated,
    connect,
    connect_sync,
    replicated_on,
)
from tests.lost_connections import LOOPS, close_under, run_on
from tests.redis_sentinel import SentinelGroup

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]


@pytest.fixture
def group(tmp_path) -> Iterator[SentinelGroup]:
    started = SentinelGroup(tmp_path / "sentinel").start()
    try:
        yield started
    finally:
        started.stop()


async def _until_written(client, key: str, timeout: float = 30) -> int:
    """INCRs `key` until it works (refused while the group has no primary); the value."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        try:
            return await client.incr(key)
        except RedisConnectionError:
            assert loop.time() < deadline, "no primary took the write"
            await asyncio.sleep(0.2)


async def test_the_async_client_writes_to_the_primary_and_follows_a_failover(group):
    client = connect(group.url)
    try:
        first = group.primary_port()
        await client.set("before", "kept")
        async with client.pipeline(transaction=True) as pipe:
            assert await pipe.incr("n").incr("n").execute() == [1, 2]
        with group.data_client(first) as node:
            assert node.get("before") == "kept"  # it spoke to the primary
            node.wait(2, 5000)  # both replicas have it: a failover cannot lose it

        old = group.kill_primary()
        new = await asyncio.to_thread(group.wait_for_failover, old)
        assert new != old, group.roles()
        assert await _until_written(client, "n") == 3  # the same client, on the new primary
        assert await client.get("before") == "kept"
        async with client.pipeline(transaction=True) as pipe:  # transactions too
            assert await pipe.incr("n").execute() == [4]
        with group.data_client(new) as node:
            assert node.get("n") == "4"
    finally:
        await client.close(close_connection_pool=True)


@pytest.mark.parametrize("loop", sorted(LOOPS))
def test_a_command_on_a_connection_whose_socket_closed_fails_as_a_lost_connection(group, loop):
    """On uvloop as on asyncio's loop (see tests/integration/test_redis_client.py): a redis
    `ConnectionError`, the connection disconnected, and it connects again to the primary the
    sentinels name."""

    async def scenario() -> None:
        client = connect(group.url)
        try:
            await client.set("before", "kept")
            connection = await client.connection_pool.get_connection("GET")
            try:
                await close_under(connection)
                with pytest.raises(RedisConnectionError):
                    await connection.send_command("GET", "before")
                assert not connection.is_connected
                await connection.send_command("GET", "before")
                assert await connection.read_response() == "kept"
            finally:
                await client.connection_pool.release(connection)
        finally:
            await client.close(close_connection_pool=True)

    run_on(loop, scenario)


async def test_pub_sub_goes_through_the_primary(group):
    publisher, listener = connect(group.url), connect(group.url)
    pubsub = listener.pubsub(ignore_subscribe_messages=True)
    try:
        await pubsub.subscribe("frames")
        assert await publisher.publish("frames", "hello") == 1
        message = None
        for _ in range(10):  # a subscription's own confirmation reads as None
            message = message or await pubsub.get_message(timeout=0.5)
        assert message is not None and message["data"] == "hello"
    finally:
        await pubsub.close()
        await publisher.close(close_connection_pool=True)
        await listener.close(close_connection_pool=True)


def test_the_blocking_client_follows_a_failover_too(group):
    client = connect_sync(group.url, socket_timeout=5)
    try:
        client.set("lock", "held")
        with group.data_client(group.primary_port()) as node:
            node.wait(2, 5000)
        old = group.kill_primary()
        group.wait_for_failover(old)
        deadline = 30
        while True:
            try:
                assert client.get("lock") == "held"
                break
            except RedisConnectionError:
                deadline -= 0.2
                assert deadline > 0, "the blocking client never found the new primary"
                asyncio.run(asyncio.sleep(0.2))
        assert client.incr("turns") == 1
    finally:
        client.close()


async def test_a_wrong_password_is_refused_not_retried_forever(group):
    url = group.url.replace(group.password, "not-the-password")
    client = connect(url)
    try:
        with pytest.raises(RedisError, match="(?i)auth|password"):
            await client.ping()
    finally:
        await client.close()


async def test_socketio_emits_cross_processes_through_the_group(group):
    """The web channel's python-socketio manager opens its client from the same URL."""
    channel = "hf:test:socketio"
    sender = LocalFirstRedisManager(group.url, channel=channel)
    receiver = LocalFirstRedisManager(group.url, channel=channel)
    messages = receiver._listen()
    first = asyncio.ensure_future(messages.__anext__())
    try:
        for _ in range(50):  # the receiver subscribes as it starts listening
            if (await sender.redis.pubsub_numsub(channel))[0][1] == 1:
                break
            await asyncio.sleep(0.1)
        await sender._publish({"method": "emit", "event": "bot_uttered", "room": "c1"})
        assert pickle.loads(await asyncio.wait_for(first, 10))["room"] == "c1"
    finally:
        first.cancel()
        await asyncio.gather(first, return_exceptions=True)
        await messages.aclose()
        for manager in (sender, receiver):
            await manager.pubsub.close()
            await manager.redis.close()


async def test_a_message_is_accepted_only_once_a_replica_has_it(group):
    """With no replica to copy it, the agent's message is refused (503 for the console), not
    acknowledged; the console's resend, same client id, is accepted once replicas are back."""
    client = connect(group.url)
    keys = Keys("hf:test")
    try:
        first = await outbox.accept(client, keys, "c1", "marie", "Marie", "hello", "client-1")
        replicas = group.replica_ports()
        for port in replicas:
            group.kill(port)
        loop = asyncio.get_running_loop()
        started = loop.time()
        with pytest.raises(NotReplicated):
            await outbox.accept(client, keys, "c1", "marie", "Marie", "again", "client-2")
        assert loop.time() - started >= REPLICATION_WAIT_MS / 1000 * 0.9
        for port in replicas:
            group.restart(port)
        await asyncio.to_thread(group.wait_replicated)
        resent = await outbox.accept(client, keys, "c1", "marie", "Marie", "again", "client-2")
        entries = await client.xrange(keys.outbox_stream)
        assert [e[1]["text"] for e in entries] == ["hello", "again"]  # each once
        assert resent.id == entries[1][1]["id"] != first.id
    finally:
        await client.close()


async def test_a_single_redis_waits_for_no_replica(redis_server):
    client = connect(redis_server.url)
    try:
        async with client.pipeline(transaction=False) as pipe:
            pipe.set("k", "v")
            assert replicated_on(pipe, client) == 0
            assert await pipe.execute() == [True]
    finally:
        await client.close(close_connection_pool=True)
