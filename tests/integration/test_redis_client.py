"""Clients made by `handoff.redis_client.connect` carry on by themselves after Redis restarts."""

import asyncio
import pickle

import pytest
from redis.asyncio import Redis
from redis.asyncio.connection import Connection
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import DataError

from bot.web import LocalFirstRedisManager
from handoff.redis_client import HEALTH_CHECK_INTERVAL, _PackedByHiredis, connect
from tests.lost_connections import LOOPS, close_under, run_on
from tests.redis_server import RedisServer

pytestmark = pytest.mark.integration


async def test_the_first_call_after_a_restart_succeeds_and_nothing_is_lost(tmp_path):
    server = RedisServer(tmp_path / "redis").start()
    ours, plain = connect(server.url), Redis.from_url(server.url, decode_responses=True)
    try:
        await ours.set("before", "kept")
        await plain.ping()
        server.proc.kill()  # a crash: the pooled connections are now dead sockets
        server.proc.wait(timeout=10)
        server.start()
        # Without the retry, a pooled connection fails once although Redis is back.
        with pytest.raises(RedisConnectionError):
            await plain.ping()
        assert await ours.get("before") == "kept"  # appendfsync always: written before the crash
        assert await ours.incr("after") == 1       # a write is applied once
    finally:
        await ours.close(close_connection_pool=True)
        await plain.close(close_connection_pool=True)
        server.stop()


async def test_a_transaction_on_a_pooled_connection_after_a_restart_succeeds(tmp_path):
    """redis-py does not retry pipelines: the health check must replace the dead connection.

    (Whether a plain client fails here depends on redis-py's parser: with hiredis the pool
    notices the closed socket itself. The test above shows the dead connection with any.)
    """
    server = RedisServer(tmp_path / "redis").start()
    ours = connect(server.url)
    try:
        async with ours.pipeline(transaction=True) as pipe:  # one pooled connection, used once
            await pipe.incr("n").execute()
        server.proc.kill()
        server.proc.wait(timeout=10)
        server.start()
        await asyncio.sleep(HEALTH_CHECK_INTERVAL + 0.1)  # idle at least that long, as when
        # a restart takes over a second; a faster one costs a clear 503, then works
        async with ours.pipeline(transaction=True) as pipe:
            assert await pipe.incr("n").execute() == [2]
    finally:
        await ours.close(close_connection_pool=True)
        server.stop()


async def test_the_chats_socketio_manager_hears_again_after_a_restart_on_its_one_client(
        tmp_path):
    """python-socketio's manager reconnects after a Redis error by calling `_redis_connect`
    again: the emits of other processes reach it again, and no client is made (and left
    open) per error."""
    server = RedisServer(tmp_path / "redis").start()
    channel = "hf:test:socketio"
    sender = LocalFirstRedisManager(server.url, channel=channel)
    receiver = LocalFirstRedisManager(server.url, channel=channel)
    clients = (sender.redis, receiver.redis)
    messages = receiver._listen()

    async def heard(room: str) -> None:
        """Publishes until the receiver hears it (it subscribes again after a back-off)."""
        waiting = asyncio.ensure_future(messages.__anext__())
        try:
            for _ in range(100):
                await sender._publish({"method": "emit", "event": "bot_uttered", "room": room})
                done, _ = await asyncio.wait({waiting}, timeout=0.1)
                if done:
                    assert pickle.loads(waiting.result())["room"] == room
                    return
            raise AssertionError(f"{room} never heard")
        finally:
            waiting.cancel()

    try:
        await heard("before")
        server.proc.kill()
        server.proc.wait(timeout=10)
        server.start()
        await heard("after")
        assert all(now is before for now, before in zip((sender.redis, receiver.redis),
                                                        clients, strict=True))
    finally:
        await messages.aclose()
        for manager in (sender, receiver):
            await manager.pubsub.close()
            await manager.redis.close(close_connection_pool=True)
        server.stop()


@pytest.mark.parametrize("loop", sorted(LOOPS))
def test_a_command_on_a_connection_whose_socket_closed_fails_as_a_lost_connection(
        redis_server, loop):
    """On uvloop as on asyncio's loop: a redis `ConnectionError`, the connection disconnected
    (the pool never hands it out dead), and the client's command sent again on a new one.

    uvloop refuses a write on a closed transport with `RuntimeError`, which redis-py 4.6 passes
    on as it is: no retry, health check or door takes it for Redis away.
    """
    key = "hf:test:closed-under"

    async def scenario() -> None:
        client = connect(redis_server.url)
        try:
            await client.set(key, "kept")
            connection = await client.connection_pool.get_connection("GET")
            try:
                await close_under(connection)
                with pytest.raises(RedisConnectionError):
                    await connection.send_command("GET", key)
                assert not connection.is_connected
                await connection.send_command("GET", key)  # connects again
                assert await connection.read_response() == "kept"
                await close_under(connection)
            finally:
                await client.connection_pool.release(connection)
            # The pool's one connection lost its socket: the client's command is answered.
            assert await client.get(key) == "kept"
            assert await client.delete(key) == 1
        finally:
            await client.close(close_connection_pool=True)

    run_on(loop, scenario)


PACKED = [
    ("EVALSHA", "a" * 40, 2, "hf:v1:conv:{c1}", "hf:v1:conv:{c1}:journal", "où est ma commande ?",
     "socketio", 1733456789.125, 30, -0.0, 10 ** 20, b"\x00\xff raw"),
    ("CONFIG GET", "maxmemory"),  # a command name of two words: two arguments
    (b"CLIENT SETNAME", "bench"),
    ("XADD", "s", "*", "data", '{"text": "😀 \\u00e9"}', "n", 1e300),
    ("SET", "k", ""),
]


async def test_commands_are_packed_by_hiredis_as_redis_py_packs_them(redis_server):
    """The same bytes as redis-py's own packing, for every kind of argument the product sends;
    what hiredis refuses is refused as redis-py refuses it; and Redis reads what was sent."""
    client = connect(redis_server.url)
    try:
        connection = await client.connection_pool.get_connection("GET")
        try:
            assert isinstance(connection, _PackedByHiredis)
            plain = Connection(decode_responses=True)
            for args in PACKED:
                assert b"".join(connection.pack_command(*args)) == \
                    b"".join(plain.pack_command(*args)), args
            for bad in (True, None, object()):
                with pytest.raises(DataError):
                    connection.pack_command("SET", "k", bad)
            with pytest.raises(UnicodeEncodeError):  # a lone surrogate, as redis-py
                connection.pack_command("SET", "k", "\udc80")
        finally:
            await client.connection_pool.release(connection)
        text = "où est ma commande ? 😀"
        assert await client.set("hf:test:packed", text)
        assert await client.get("hf:test:packed") == text
        assert await client.eval("return ARGV[1] .. ARGV[2]", 0, 12, 0.5) == "120.5"
        async with client.pipeline(transaction=False) as pipe:
            pipe.set("hf:test:packed", 1.25).incrbyfloat("hf:test:packed", 1).delete(
                "hf:test:packed")
            assert await pipe.execute() == [True, 2.25, 1]
    finally:
        await client.close(close_connection_pool=True)
