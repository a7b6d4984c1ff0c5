"""Opening a Redis client: the one way every process of the product does it."""

from __future__ import annotations

from typing import Any

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError

HEALTH_CHECK_INTERVAL = 1.0  # seconds a pooled connection may sit idle before it is PINGed


def connect(url: str, decode_responses: bool = True, **options: Any) -> Redis:
    """A client for `url` that survives a restart of Redis.

    After a restart, every pooled connection fails once ("Connection closed by server") before
    the pool opens a new one: without a retry, each of those first calls would fail although
    Redis is back. A command is retried once, on a new connection, only when the connection
    failed: a command Redis answered is never sent twice.

    redis-py does not retry pipelines (transactions) on a failed connection; the health check
    covers them: a connection idle for over a second is PINGed (with the retry) before use, so a
    pooled connection that died with Redis is replaced rather than failing its next request.
    """
    return Redis.from_url(url, decode_responses=decode_responses,
                          retry=Retry(NoBackoff(), 1), retry_on_error=[RedisConnectionError],
                          health_check_interval=HEALTH_CHECK_INTERVAL, **options)
