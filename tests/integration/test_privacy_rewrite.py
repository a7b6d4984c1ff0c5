"""An erasure's rewrite of Redis's files, when Redis is already rewriting them."""

import asyncio

import pytest
from redis.asyncio import Redis

from handoff.privacy.store import rewrite_persistence
from tests.privacy_scan import file_traces, rewritten
from tests.redis_server import RedisServer

pytestmark = pytest.mark.integration


async def test_a_rewrite_under_way_is_followed_by_one_after_the_erasure(tmp_path):
    server = RedisServer(tmp_path / "redis").start()
    redis = Redis.from_url(server.url, decode_responses=True)
    try:
        await redis.mset({f"k{n}": "x" for n in range(30)})
        await redis.set("customer", "zoe@example.org")
        # A rewrite that started before the erasure (e.g. Redis's own, as the AOF grows): its
        # snapshot still holds the customer. Slowed down so that it is still running.
        await redis.config_set("rdb-key-save-delay", 30_000)
        await redis.bgrewriteaof()
        before = (await redis.info("persistence"))["aof_rewrites"]
        await redis.delete("customer")
        asked = asyncio.create_task(rewrite_persistence(redis))
        await asyncio.sleep(0.3)
        assert (await redis.info("persistence"))["aof_rewrite_in_progress"]
        await redis.config_set("rdb-key-save-delay", 0)
        assert await asyncio.wait_for(asked, 30) == ["aof"]
        await rewritten(redis)
        # One rewrite more than the one under way (counted when it started): after the deletion.
        assert (await redis.info("persistence"))["aof_rewrites"] == before + 1
        for _ in range(100):  # the replaced files go in a background thread
            found = file_traces([p for p in (tmp_path / "redis").rglob("*") if p.is_file()],
                                ["zoe@example.org"])
            if not found:
                break
            await asyncio.sleep(0.1)
        assert found == []
    finally:
        await redis.close(close_connection_pool=True)
        server.stop()
