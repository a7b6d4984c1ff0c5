"""Acknowledged delivery: what a crashed consumer read but did not acknowledge comes back."""

import asyncio
import random

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError

from handoff.streams import StreamConsumer

pytestmark = pytest.mark.integration


async def test_unacknowledged_entry_is_read_again_by_the_restarted_consumer(redis):
    first = StreamConsumer(redis, "s", "g", "worker-1", block_ms=100)
    await first.ensure_group()
    await redis.xadd("s", {"n": "1"})
    entries = await first.read()
    assert [f["n"] for _, f in entries] == ["1"]
    # The consumer "crashes" here: no ack. The same consumer name, restarted, reads it again.
    restarted = StreamConsumer(redis, "s", "g", "worker-1", block_ms=100)
    again = await restarted.read()
    assert again == entries
    await restarted.ack(again[0][0])
    assert await StreamConsumer(redis, "s", "g", "worker-1", block_ms=100).read() == []


async def test_entry_of_a_dead_consumer_is_claimed_by_another(redis):
    dead = StreamConsumer(redis, "s", "g", "dead", block_ms=100)
    await dead.ensure_group()
    await redis.xadd("s", {"n": "1"})
    assert len(await dead.read()) == 1
    other = StreamConsumer(redis, "s", "g", "alive", block_ms=100, claim_idle_ms=0)
    claimed = await other.read()
    assert [f["n"] for _, f in claimed] == ["1"]
    await other.ack(claimed[0][0])
    pending = await redis.xpending("s", "g")
    assert pending["pending"] == 0


async def test_run_delivers_in_order_and_retries_a_failed_entry(redis):
    consumer = StreamConsumer(redis, "s", "g", "w", block_ms=50)
    for n in range(5):
        await redis.xadd("s", {"n": str(n)})
    seen, failed_once, stop = [], set(), asyncio.Event()

    async def handler(entry_id, fields):
        if fields["n"] == "2" and "2" not in failed_once:
            failed_once.add("2")
            raise RuntimeError("transient failure")
        seen.append(fields["n"])
        if len(seen) == 5:
            stop.set()

    await asyncio.wait_for(consumer.run(handler, stop, retry_delay=0.01), timeout=10)
    assert seen == ["0", "1", "2", "3", "4"]
    assert (await redis.xpending("s", "g"))["pending"] == 0


async def test_lanes_run_side_by_side_each_in_order_and_a_failure_holds_only_its_lane(redis):
    consumer = StreamConsumer(redis, "s", "g", "w", block_ms=50, lane=lambda f: f["lane"])
    for n in range(4):
        for lane in ("a", "b", "c"):
            await redis.xadd("s", {"lane": lane, "n": str(n)})
    seen = {"a": [], "b": [], "c": []}
    busy, most_busy, failed_once, stop = [0], [0], set(), asyncio.Event()

    async def handler(entry_id, fields):
        busy[0] += 1
        most_busy[0] = max(most_busy[0], busy[0])
        try:
            await asyncio.sleep(0.02)  # a Rasa call: other lanes go on meanwhile
            if fields["lane"] == "b" and fields["n"] == "1" and not failed_once:
                failed_once.add("b1")
                raise RuntimeError("transient failure")
            seen[fields["lane"]].append(fields["n"])
        finally:
            busy[0] -= 1
        if sum(map(len, seen.values())) == 12:
            stop.set()

    await asyncio.wait_for(consumer.run(handler, stop, retry_delay=0.01), timeout=10)
    assert seen == {lane: ["0", "1", "2", "3"] for lane in "abc"}
    assert most_busy[0] == 3
    assert (await redis.xpending("s", "g"))["pending"] == 0


async def test_a_batch_handler_gets_each_read_whole_and_a_transient_failure_retries_it(redis):
    consumer = StreamConsumer(redis, "s", "g", "w", block_ms=50, count=10)
    for n in range(5):
        await redis.xadd("s", {"n": str(n)})
    reads, stop = [], asyncio.Event()

    async def one(entry_id, fields):
        raise AssertionError("entry by entry only after a failure that is not transient")

    async def batch(entries, acknowledgement):
        reads.append([f["n"] for _, f in entries])
        if len(reads) == 1:
            raise RedisConnectionError("Redis is restarting")
        stop.set()

    await asyncio.wait_for(consumer.run(one, stop, retry_delay=0.01, batch=batch), timeout=10)
    assert reads == [["0", "1", "2", "3", "4"]] * 2
    assert (await redis.xpending("s", "g"))["pending"] == 0


async def test_a_batch_handler_may_acknowledge_its_read_with_its_own_writes(redis):
    consumer = StreamConsumer(redis, "s", "g", "w", block_ms=50, count=10)
    for n in range(3):
        await redis.xadd("s", {"n": str(n)})
    stop, pending_at_write = asyncio.Event(), []

    async def batch(entries, acknowledgement):
        pending_at_write.append((await redis.xpending("s", "g"))["pending"])
        async with redis.pipeline(transaction=False) as pipe:
            pipe.rpush("done", *[f["n"] for _, f in entries])
            acknowledgement.on(pipe)
            written, acked = await pipe.execute()
        assert (written, acked) == (3, 3)
        stop.set()

    await asyncio.wait_for(consumer.run(None, stop, batch=batch), timeout=10)
    assert pending_at_write == [3]  # acknowledged with the write, not before it
    assert await redis.lrange("done", 0, -1) == ["0", "1", "2"]
    assert (await redis.xpending("s", "g"))["pending"] == 0


async def test_a_poison_entry_in_a_batch_is_found_entry_by_entry(redis):
    consumer = StreamConsumer(redis, "s", "g", "w", block_ms=50, count=10, dead_letters="dead")
    for n in range(4):
        await redis.xadd("s", {"n": str(n)})
    seen, stop = [], asyncio.Event()

    async def one(entry_id, fields):
        if fields["n"] == "2":
            raise KeyError("a field this handler cannot do without")
        seen.append(fields["n"])
        if len(seen) == 3:
            stop.set()

    async def batch(entries, acknowledgement):
        if any(fields["n"] == "2" for _, fields in entries):
            raise KeyError("a field this handler cannot do without")

    await asyncio.wait_for(consumer.run(one, stop, retry_delay=0.01, batch=batch), timeout=10)
    assert seen == ["0", "1", "3"] and await redis.xlen("dead") == 1
    assert (await redis.xpending("s", "g"))["pending"] == 0


async def test_an_entry_waits_while_another_consumer_has_an_older_one_of_its_lane(redis):
    def lane(fields):
        return fields["lane"]

    one = StreamConsumer(redis, "s", "g", "one", block_ms=50, lane=lane)
    other = StreamConsumer(redis, "s", "g", "other", block_ms=50, lane=lane)
    await one.ensure_group()
    first = await redis.xadd("s", {"lane": "a", "n": "1"})
    assert [e[0] for e in await one.in_turn(await one.read())] == [first]
    await redis.xadd("s", {"lane": "a", "n": "2"})
    await redis.xadd("s", {"lane": "b", "n": "1"})
    # Lane a's first entry is still being handled by `one`: only lane b's may go.
    ready = await other.in_turn(await other.read())
    assert [(f["lane"], f["n"]) for _, f in ready] == [("b", "1")]
    await other.ack(ready[0][0])
    assert await other.in_turn(await other.read()) == []  # still held, not read twice
    await one.ack(first)
    ready = await other.in_turn(await other.read())
    assert [(f["lane"], f["n"]) for _, f in ready] == [("a", "2")]


async def test_entries_held_for_a_dead_consumer_go_after_its_entry_is_claimed(redis):
    def lane(fields):
        return fields["lane"]

    dead = StreamConsumer(redis, "s", "g", "dead", block_ms=50, lane=lane)
    await dead.ensure_group()
    await redis.xadd("s", {"lane": "a", "n": "1"})
    assert len(await dead.read()) == 1  # and it dies before handling it
    await redis.xadd("s", {"lane": "a", "n": "2"})
    alive = StreamConsumer(redis, "s", "g", "alive", block_ms=50, lane=lane,
                           claim_idle_ms=300)
    seen, stop = [], asyncio.Event()

    async def handler(entry_id, fields):
        seen.append(fields["n"])
        if len(seen) == 2:
            stop.set()

    await asyncio.wait_for(alive.run(handler, stop, retry_delay=0.01), timeout=10)
    assert seen == ["1", "2"]
    assert (await redis.xpending("s", "g"))["pending"] == 0


@pytest.mark.parametrize("batched", [False, True], ids=["entry by entry", "batched"])
async def test_several_consumers_handle_each_lane_in_stream_order(redis, batched):
    """Three consumers of one group, handlers of uneven speed: every lane in stream order."""
    lanes, per_lane = 5, 40
    for n in range(per_lane):
        for lane in range(lanes):
            await redis.xadd("s", {"lane": str(lane), "n": str(n)})
    seen = {str(lane): [] for lane in range(lanes)}
    stop, rng = asyncio.Event(), random.Random(7)

    async def handler(entry_id, fields):
        await asyncio.sleep(rng.random() * 0.004)
        seen[fields["lane"]].append(int(fields["n"]))
        if sum(map(len, seen.values())) >= lanes * per_lane:
            stop.set()

    async def batch(entries, acknowledgement):
        for entry_id, fields in entries:
            await handler(entry_id, fields)

    consumers = [StreamConsumer(redis, "s", "g", f"w{i}", block_ms=20, count=3,
                                lane=lambda f: f["lane"]) for i in range(3)]
    await consumers[0].ensure_group()
    await asyncio.wait_for(asyncio.gather(*(
        c.run(handler, stop, retry_delay=0.01, batch=batch if batched else None)
        for c in consumers)), timeout=30)
    assert seen == {str(lane): list(range(per_lane)) for lane in range(lanes)}
    assert (await redis.xpending("s", "g"))["pending"] == 0
