"""The benchmarks' raw Redis round trip (bench.baselines) on a single Redis and on a Cluster.

On a Cluster it is measured on the primary that serves the stream's slot, straight: the
product's `REDIS_URL` (`redis+cluster://`) is read by `handoff.redis_client.connect`, which
redis-py's `Redis.from_url` cannot.
"""

from __future__ import annotations

import pytest

from bench.baselines import redis_round_trips, round_trip_clients
from tests.redis_cluster import ClusterGroup
from tests.redis_server import RedisServer

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]


async def test_round_trip_on_a_cluster_is_on_the_primary_of_the_streams_slot(
        cluster: ClusterGroup) -> None:
    for key in ("bench:rtt:a", "bench:rtt:b", "bench:rtt:c", "bench:rtt:d"):
        clients = await round_trip_clients(cluster.url, key)
        try:
            ports = {c.connection_pool.connection_kwargs["port"] for c in clients}
            assert ports == {cluster.primary_of(key)}, (key, ports)
            # Straight to the node: a command on the key is served there, not redirected.
            await clients[0].xadd(key, {"t": "x"})
            assert await clients[1].xlen(key) == 1
            await clients[0].delete(key)
        finally:
            for client in clients:
                await client.close(close_connection_pool=True)
                await client.connection_pool.disconnect()

    latencies = await redis_round_trips(cluster.url, 20)
    assert len(latencies) == 20 and all(0 < t < 5 for t in latencies), latencies


async def test_round_trip_on_a_single_redis(redis_server: RedisServer) -> None:
    latencies = await redis_round_trips(redis_server.url, 20)
    assert len(latencies) == 20 and all(0 < t < 5 for t in latencies), latencies
