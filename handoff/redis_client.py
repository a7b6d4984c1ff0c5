"""Opening a Redis client: the one way every process of the product does it."""

from __future__ import annotations

from typing import Any

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError


def connect(url: str, decode_responses: bool = True, **options: Any) -> Redis:
    """A client for `url` that survives a restart of Redis.

    After a restart, every pooled connection fails once ("Connection closed by server") before
    the pool opens a new one: without a retry, each of those first calls would fail although
    Redis is back. A command is retried once, on a new connection, only when the connection
    failed: a command Redis answered is never sent twice.
    """
    return Redis.from_url(url, decode_responses=decode_responses,
                          retry=Retry(NoBackoff(), 1), retry_on_error=[RedisConnectionError],
                          **options)
