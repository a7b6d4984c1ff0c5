"""The Rasa event broker: every tracker event reaches the stream, in order."""

import json

import pytest
from redis.asyncio import Redis

from bot.broker import RedisStreamEventBroker

pytestmark = pytest.mark.integration


async def test_events_reach_the_stream_in_order(redis_server, redis, keys):
    broker = RedisStreamEventBroker(Redis.from_url(redis_server.url, decode_responses=True),
                                    keys)
    for n in range(250):
        broker.publish({"sender_id": "c1", "event": "user", "text": f"message {n}"})
    await broker.close()  # waits until the queued events are written
    entries = await redis.xrange(keys.events_stream)
    texts = [json.loads(fields["event"])["text"] for _, fields in entries]
    assert texts == [f"message {n}" for n in range(250)]


async def test_events_wait_for_redis_instead_of_being_dropped(redis_server, tmp_path, keys):
    from tests.redis_server import RedisServer

    own = RedisServer(tmp_path / "own")
    broker = RedisStreamEventBroker(Redis.from_url(own.url, decode_responses=True), keys,
                                    retry_delay=0.05)
    try:
        broker.publish({"sender_id": "c1", "event": "user", "text": "while redis is down"})
        own.start()  # Redis comes up after the event was published
        await broker.close()
        client = Redis.from_url(own.url, decode_responses=True)
        entries = await client.xrange(keys.events_stream)
        await client.close(close_connection_pool=True)
        assert [json.loads(f["event"])["text"] for _, f in entries] == ["while redis is down"]
    finally:
        own.stop()
