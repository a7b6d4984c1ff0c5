"""Shared fixtures: a real redis-server per session, a flushed client per test."""

from __future__ import annotations

from pathlib import Path
from typing import AsyncIterator, Iterator, List

import pytest
from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster as AsyncRedisCluster

from handoff.conversation import ConversationStore
from handoff.keys import Keys
from handoff.redis_client import pubsub_client
from tests.redis_cluster import ClusterGroup, async_client
from tests.redis_server import RedisServer

# Every test account's password: the account rules (handoff/account_rules.py) refuse short,
# common or name-based ones such as "marie-pass".
PASSWORD = "lantern-orchard-4821"
DESIGNER_REPORT = "tests/assistant/test_designer_report.py"


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path_factory.mktemp("redis")).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
async def redis(redis_server: RedisServer) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_server.url, decode_responses=True)
    await client.flushdb()
    try:
        yield client
    finally:
        await client.close(close_connection_pool=True)
        await client.connection_pool.disconnect()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ClusterGroup]:
    """A real Redis Cluster (3 primaries, 3 replicas) for a module's tests that leave it whole."""
    with ClusterGroup(tmp_path_factory.mktemp("cluster")) as started:
        yield started


@pytest.fixture
async def cluster_client(cluster: ClusterGroup) -> AsyncIterator[AsyncRedisCluster]:
    """A client of the module's Cluster, every primary flushed."""
    client = await async_client(cluster.url)
    await client.flushall()
    try:
        yield client
    finally:
        await pubsub_client(client).close(close_connection_pool=True)
        await client.close()


@pytest.fixture
def keys() -> Keys:
    return Keys("hf:test")


@pytest.fixture
def store(redis: Redis, keys: Keys) -> ConversationStore:
    return ConversationStore(redis, keys)


def pytest_collection_modifyitems(items: List[pytest.Item]) -> None:
    """The designer report's tests last: ./test.sh trains their second model meanwhile."""
    items.sort(key=lambda item: item.nodeid.startswith(DESIGNER_REPORT))


def repo_root() -> Path:
    return Path(__file__).resolve().parent.parent
