"""`handoff.redis_client.Script`: a Lua step in a pipeline costs no round trip of its own."""

import pytest
from redis.asyncio import Redis

from handoff.journal import Journal
from handoff.keys import Keys
from handoff.redis_client import Script
from handoff.relay.inbound import TO_AGENT, Inbound

pytestmark = pytest.mark.integration

COUNT = "return redis.call('INCRBY', KEYS[1], ARGV[1])"


async def calls(redis: Redis, command: str) -> int:
    """How many times Redis ran `command` (e.g. `script|exists`) since its stats were reset."""
    stats = await redis.info("commandstats")
    return int(stats.get(f"cmdstat_{command}", {}).get("calls", 0))


async def test_a_pipeline_with_a_script_asks_redis_nothing_first(redis: Redis):
    await redis.config_resetstat()
    script = Script(redis, COUNT)
    async with redis.pipeline(transaction=False) as pipe:
        pipe.set("other", "x")
        await script(keys=["n"], args=[2], client=pipe)
        replies = await pipe.execute()
    assert replies == [True, 2]
    assert await calls(redis, "script|exists") == 0  # redis-py's registered scripts ask it
    assert await calls(redis, "eval") == 1


async def test_a_registered_script_would_have_asked(redis: Redis):
    """What `Script` saves: the same pipeline with redis-py's own script (the control)."""
    await redis.config_resetstat()
    registered = redis.register_script(COUNT)
    async with redis.pipeline(transaction=False) as pipe:
        await registered(keys=["n"], args=[2], client=pipe)
        await pipe.execute()
    assert await calls(redis, "script|exists") == 1


async def test_a_script_runs_after_redis_lost_its_cache(redis: Redis):
    """After a restart or a failover the cache is empty: both ways still run the script."""
    script = Script(redis, COUNT)
    assert await script(keys=["n"], args=[1]) == 1  # EVALSHA, loaded on NOSCRIPT
    await redis.script_flush()
    assert await script(keys=["n"], args=[1]) == 2
    await redis.script_flush()
    async with redis.pipeline(transaction=True) as pipe:
        await script(keys=["n"], args=[1], client=pipe)
        assert await pipe.execute() == [3]


async def test_the_web_chats_take_asks_redis_nothing_first(redis: Redis):
    """The channel's journal and take (bot/web.py `_journal_and_take`): the pipeline alone."""
    keys = Keys("hf:test")
    await redis.hset(keys.conversation("c1"), mapping={"state": "assigned", "agent": "marie"})
    journal, inbound = Journal(redis, keys), Inbound(redis, keys)
    await redis.config_resetstat()
    async with redis.pipeline(transaction=False) as pipe:
        await journal.record_on(pipe, "c1", "customer", {"text": "hi", "message_id": "m1"})
        await inbound.take_first_on(pipe, "c1", "hi", "m1", "webchat")
        replies = await pipe.execute()
    assert Inbound.way(replies[-1]) == TO_AGENT
    assert [await calls(redis, c) for c in ("script|exists", "script|load", "evalsha", "eval")] \
        == [0, 0, 0, 1]
