"""Poison entries and trimming against a real Redis (issue 7)."""

import asyncio
import json

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError

from handoff.streams import StreamConsumer, StreamTrimmer

pytestmark = pytest.mark.integration


async def test_a_poison_entry_goes_to_the_dead_letters_and_blocks_nothing(redis):
    reported, seen, stop = [], [], asyncio.Event()

    async def on_dead(dead):
        reported.append(dead)

    consumer = StreamConsumer(redis, "s", "g", "w", block_ms=50, dead_letters="dead",
                              on_dead=on_dead)
    for n in range(5):
        await redis.xadd("s", {"n": str(n)})
    attempts = {"2": 0}

    async def handler(entry_id, fields):
        if fields["n"] == "2":
            attempts["2"] += 1
            raise KeyError("a field this handler cannot do without")  # every time
        seen.append(fields["n"])
        if len(seen) == 4:
            stop.set()

    await asyncio.wait_for(consumer.run(handler, stop, retry_delay=0.01), timeout=10)
    assert seen == ["0", "1", "3", "4"] and attempts["2"] == 3
    dead = await redis.xrange("dead")
    assert len(dead) == 1
    record = dead[0][1]
    assert (record["stream"], record["group"], json.loads(record["fields"])) == (
        "s", "g", {"n": "2"})
    assert "KeyError" in record["error"] and reported[0]["entry_id"] == record["entry_id"]
    assert (await redis.xpending("s", "g"))["pending"] == 0


async def test_transient_failures_are_retried_and_never_dead_lettered(redis):
    consumer = StreamConsumer(redis, "s", "g", "w", block_ms=50, dead_letters="dead")
    await redis.xadd("s", {"n": "0"})
    failures, stop = [], asyncio.Event()

    async def handler(entry_id, fields):
        if len(failures) < 6:
            failures.append(1)
            raise RedisConnectionError("Redis is restarting")
        stop.set()

    await asyncio.wait_for(consumer.run(handler, stop, retry_delay=0.01), timeout=10)
    assert len(failures) == 6 and await redis.xlen("dead") == 0


async def test_trimming_never_drops_an_entry_a_group_still_needs(redis):
    ids = [await redis.xadd("s", {"n": str(n)}) for n in range(10)]
    assert await StreamTrimmer(redis, ["s"]).tick() == {}  # nobody reads it yet: keep all
    fast = StreamConsumer(redis, "s", "fast", "w", block_ms=50)
    slow = StreamConsumer(redis, "s", "slow", "w", block_ms=50, count=6)
    await fast.ensure_group()
    await slow.ensure_group()
    for entry_id, _ in await fast.read():
        await fast.ack(entry_id)  # done with all ten
    read = await slow.read()      # six read...
    for entry_id, _ in read[:4]:
        await slow.ack(entry_id)  # ...four done, two pending, four not even delivered
    trimmed = await StreamTrimmer(redis, ["s"]).tick()
    assert trimmed == {"s": 4}
    assert [eid for eid, _ in await redis.xrange("s")] == ids[4:]
    for entry_id, _ in read[4:]:
        await slow.ack(entry_id)
    assert await StreamTrimmer(redis, ["s"]).tick() == {"s": 2}
    assert [eid for eid, _ in await redis.xrange("s")] == ids[6:]  # not yet delivered: kept
