"""`REDIS_URL` names a single Redis, a Sentinel group or a Cluster (handoff/redis_client.py)."""

import pytest
from redis.exceptions import RedisClusterException

from handoff.redis_client import (
    CLUSTER,
    SENTINEL,
    SINGLE,
    BadRedisUrl,
    ClusterClient,
    RedisAddress,
    connect,
    connect_sync,
)


def test_a_single_redis_keeps_its_url_for_redis_py():
    for url in ("redis://:secret@127.0.0.1:6380/0", "rediss://host/2", "unix:///run/r.sock"):
        address = RedisAddress.parse(url)
        assert (address.kind, address.url) == (SINGLE, url)
    assert RedisAddress.parse("rediss://host/2").tls


def test_a_sentinel_group_names_its_sentinels_service_db_and_passwords():
    address = RedisAddress.parse(
        "redis+sentinel://app:p%40ss@10.0.0.1:26380,10.0.0.2,[::1]:26381/mymaster/3"
        "?sentinel_password=s3")
    assert address.kind == SENTINEL
    assert address.nodes == (("10.0.0.1", 26380), ("10.0.0.2", 26379), ("::1", 26381))
    assert (address.service, address.db) == ("mymaster", 3)
    assert (address.username, address.password) == ("app", "p@ss")
    assert address.sentinel_password == "s3" and not address.tls
    plain = RedisAddress.parse("rediss+sentinel://h:1/mymaster")
    assert (plain.db, plain.password, plain.sentinel_password, plain.tls) == (0, None, None, True)


def test_messages_wait_for_one_replica_under_sentinel_unless_told_otherwise():
    assert RedisAddress.parse("redis+sentinel://h:1/m").wait_replicas == 1
    assert RedisAddress.parse("redis+sentinel://h:1/m?wait_replicas=2").wait_replicas == 2
    assert RedisAddress.parse("redis+sentinel://h:1/m?wait_replicas=0").wait_replicas == 0
    assert RedisAddress.parse("redis://h:1/0").wait_replicas == 0
    with pytest.raises(BadRedisUrl, match="must be a number"):
        RedisAddress.parse("redis+sentinel://h:1/m?wait_replicas=all")


def test_a_cluster_names_its_seed_nodes():
    address = RedisAddress.parse("redis+cluster://:pw@h1:7000,h2:7001,h3")
    assert address.kind == CLUSTER
    assert address.nodes == (("h1", 7000), ("h2", 7001), ("h3", 6379))
    assert address.password == "pw"


@pytest.mark.parametrize("url, why", [
    ("http://host:6379", "must start with"),
    ("host:6379", "must start with"),
    ("redis+sentinel://h:26379", "service name"),
    ("redis+sentinel://h:26379/a/b/c", "service name"),
    ("redis+sentinel://h:26379/mymaster/zero", "must be a number"),
    ("redis+sentinel://h:port/mymaster", "bad port"),
    ("redis+sentinel://h:70000/mymaster", "bad port"),
    ("redis+sentinel://h:1,,h:2/mymaster", "without a host"),
    ("redis+sentinel://h:1/mymaster?sentinel_pasword=x", "does not take: sentinel_pasword"),
    ("redis+cluster://h:7000/0", "nodes only"),
])
def test_a_url_that_names_nothing_usable_is_refused_with_the_reason(url, why):
    with pytest.raises(BadRedisUrl, match=why):
        RedisAddress.parse(url)


def test_the_reason_never_shows_the_password():
    with pytest.raises(BadRedisUrl) as refused:
        RedisAddress.parse("redis+sentinel://:hunter2-secret@h:1/mymaster/x")
    assert "hunter2" not in str(refused.value)


def test_both_clients_speak_to_a_cluster_made_without_a_round_trip():
    # Nothing listens on these ports: the asyncio client meets its nodes at its first command,
    # and the blocking one is refused only because it looks for them at once.
    assert isinstance(connect("redis+cluster://127.0.0.1:1,127.0.0.1:2"), ClusterClient)
    with pytest.raises(RedisClusterException):
        connect_sync("redis+cluster://127.0.0.1:1")
