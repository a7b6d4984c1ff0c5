"""Erased stream entries leave nothing in Redis's files, and readers keep their place."""

import asyncio

import pytest
from redis.asyncio import Redis

from handoff.keys import Keys
from handoff.privacy.erase import Eraser
from handoff.privacy.holdings import Holdings
from handoff.privacy.store import rewrite_persistence
from tests.privacy_scan import file_traces, rewritten
from tests.redis_server import RedisServer

pytestmark = pytest.mark.integration

SECRET = "zoe.secret@example.org"


async def _stream_of_many_customers(redis: Redis) -> list:
    """250 entries (several nodes of 100), Zoé's among others' in the same nodes."""
    ids = []
    for n in range(250):
        text = SECRET if n % 50 == 7 else f"another customer's message {n}"
        ids.append(await redis.xadd("relay", {"text": text, "n": str(n)}))
    return ids


def _readers(info: dict) -> list:
    """What readers rely on: each group's position, read count and pending entries."""
    def consumer(flat: list) -> tuple:  # redis-py leaves consumers as flat name/value lists
        fields = dict(zip(flat[::2], flat[1::2], strict=True))
        return fields["name"], fields["pel-count"], [tuple(p) for p in fields["pending"]]
    return [(g["name"], g["last-delivered-id"], g["entries-read"], g["pel-count"],
             [tuple(p) for p in g["pending"]], [consumer(c) for c in g["consumers"]])
            for g in info["groups"]]


async def _stream_info(redis: Redis) -> dict:
    """XINFO STREAM FULL with every entry and pending id (redis-py's asks for 10 of each)."""
    return await redis.execute_command("XINFO STREAM", "relay", "FULL", "COUNT", 0, full=True)


async def _files_with_secret(directory) -> list:
    for _ in range(100):  # the replaced files go in a background thread
        found = file_traces([p for p in directory.rglob("*") if p.is_file()], [SECRET])
        if not found:
            return found
        await asyncio.sleep(0.1)
    return found


@pytest.mark.parametrize("rebuild", [True, False], ids=["erased", "xdel-alone"])
async def test_erased_entries_are_not_in_the_rewritten_files(tmp_path, rebuild):
    server = RedisServer(tmp_path / "redis").start()
    redis = Redis.from_url(server.url, decode_responses=True)
    try:
        ids = await _stream_of_many_customers(redis)
        await redis.xgroup_create("relay", "consoles", id="0")
        await redis.xgroup_create("relay", "late", id="$")
        read = await redis.xreadgroup("consoles", "service-1", {"relay": ">"}, count=120)
        await redis.xack("relay", "consoles", *[eid for eid, _ in read[0][1][:100]])
        zoe = [ids[n] for n in range(250) if n % 50 == 7]
        if rebuild:
            removed = await Eraser(redis, Keys()).erase(Holdings(stream_entries={"relay": zoe}))
            assert removed["stream_entries"] == len(zoe)
        else:  # what the eraser did before: the test's control
            await redis.xack("relay", "consoles", *zoe)
            await redis.xdel("relay", *zoe)
        await rewrite_persistence(redis)
        await rewritten(redis)
        found = await _files_with_secret(tmp_path / "redis")
        if rebuild:
            assert found == []
        else:
            assert found, "XDEL alone should leave the bytes: the test would prove nothing"
    finally:
        await redis.close(close_connection_pool=True)
        server.stop()


async def test_readers_keep_their_place_and_pending_entries(tmp_path):
    server = RedisServer(tmp_path / "redis").start()
    redis = Redis.from_url(server.url, decode_responses=True)
    waiting = Redis.from_url(server.url, decode_responses=True)
    try:
        ids = await _stream_of_many_customers(redis)
        await redis.xgroup_create("relay", "consoles", id="0")
        await redis.xgroup_create("relay", "late", id="$")
        read = await redis.xreadgroup("consoles", "service-1", {"relay": ">"}, count=120)
        await redis.xack("relay", "consoles", *[eid for eid, _ in read[0][1][:90]])
        await redis.xreadgroup("consoles", "service-2", {"relay": ">"}, count=5)
        await redis.xclaim("relay", "consoles", "service-2", 0, [ids[95]])  # delivered twice
        zoe = [ids[n] for n in range(250) if n % 50 == 7]
        await redis.xack("relay", "consoles", *zoe)
        await redis.xdel("relay", *zoe)
        before = await _stream_info(redis)
        assert len(before["groups"][0]["pending"]) > 20
        # A consumer blocked on the stream meanwhile, as the service's readers are.
        blocked = asyncio.create_task(
            waiting.xreadgroup("late", "service-1", {"relay": ">"}, block=5000))
        await asyncio.sleep(0.2)

        await Eraser(redis, Keys()).erase(Holdings(stream_entries={"relay": zoe}))

        after = await _stream_info(redis)
        for figure in ("length", "last-generated-id", "max-deleted-entry-id", "entries-added",
                       "recorded-first-entry-id"):
            assert after[figure] == before[figure], figure
        assert _readers(after) == _readers(before)
        assert await redis.xrange("relay") == [
            (eid, fields) for eid, fields in await _every_entry_but(ids, zoe)]
        new = await redis.xadd("relay", {"text": "after the erasure"})
        assert await asyncio.wait_for(blocked, 5) == [
            ["relay", [(new, {"text": "after the erasure"})]]]
        next_read = await redis.xreadgroup("consoles", "service-1", {"relay": ">"}, count=1)
        assert next_read[0][1][0][0] == ids[125]  # where the group had stopped
    finally:
        await redis.close(close_connection_pool=True)
        await waiting.close(close_connection_pool=True)
        server.stop()


async def _every_entry_but(ids, gone):
    return [(eid, {"text": f"another customer's message {n}", "n": str(n)})
            for n, eid in enumerate(ids) if eid not in gone]
