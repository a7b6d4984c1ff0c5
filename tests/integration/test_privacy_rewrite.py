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


def _aof_rewrites(cluster, port: int) -> int:  # type: ignore[no-untyped-def]
    """How many rewrites of its append-only file a node has made (none under way)."""
    with cluster.node_client(port) as node:
        info = node.info("persistence")
    busy = info["aof_rewrite_in_progress"] or info["aof_rewrite_scheduled"]
    return -1 if busy else int(info["aof_rewrites"])


async def test_an_erasure_rewrites_the_files_of_every_node_of_a_cluster(cluster, cluster_client):
    """BGREWRITEAOF names no key: the cluster client sent it nowhere (an erasure answered 500
    on a Cluster) until each node, replicas too (each has files of its own), was named."""
    before = {port: _aof_rewrites(cluster, port) for port in cluster.ports}
    assert -1 not in before.values()
    assert await rewrite_persistence(cluster_client) == ["aof"]
    for _ in range(300):
        after = {port: _aof_rewrites(cluster, port) for port in cluster.ports}
        if all(after[port] > before[port] for port in cluster.ports):
            break
        await asyncio.sleep(0.1)
    assert all(after[port] == before[port] + 1 for port in cluster.ports), (before, after)
