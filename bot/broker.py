"""A Rasa event broker that appends every tracker event to a Redis stream.

Configured in `endpoints.yml`:

    event_broker:
      type: bot.broker.RedisStreamEventBroker
      url: ${REDIS_URL}
      key_prefix: ${HANDOFF_KEY_PREFIX}

Rasa calls `publish` synchronously from its event loop; events go through an in-process queue to
one writer task, so they reach the stream in the order Rasa produced them without blocking Rasa.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any, Dict, List, Optional, Text

from rasa.core.brokers.broker import EventBroker
from rasa.utils.endpoints import EndpointConfig
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from handoff.keys import Keys
from handoff.redis_client import connect

logger = logging.getLogger(__name__)



class RedisStreamEventBroker(EventBroker):
    """Streams tracker events to `Keys.events_stream`."""

    def __init__(self, redis: Redis, keys: Keys, retry_delay: float = 0.5) -> None:
        self._redis = redis
        self._stream = keys.events_stream
        self._queue: "asyncio.Queue[Dict[Text, Any]]" = asyncio.Queue()
        self._retry_delay = retry_delay
        self._writer: Optional[asyncio.Task] = None

    @classmethod
    async def from_endpoint_config(
        cls, broker_config: EndpointConfig, event_loop: Optional[asyncio.AbstractEventLoop] = None
    ) -> "RedisStreamEventBroker":
        """Builds the broker from the `event_broker` section of `endpoints.yml`."""
        url = broker_config.url or "redis://127.0.0.1:6379/0"
        prefix = broker_config.kwargs.get("key_prefix") or Keys.prefix
        return cls(connect(url), Keys(prefix))

    def publish(self, event: Dict[Text, Any]) -> None:
        """Queues an event for the stream (never blocks Rasa's loop)."""
        self._queue.put_nowait(event)
        if self._writer is None or self._writer.done():
            self._writer = asyncio.get_running_loop().create_task(self._write_forever())

    def is_ready(self) -> bool:
        """The broker accepts events at once; Redis outages are retried by the writer."""
        return True

    async def close(self) -> None:
        """Writes what is queued (bounded wait), then closes the Redis client."""
        if self._writer is not None:
            try:
                await asyncio.wait_for(self._queue.join(), timeout=5)
            except asyncio.TimeoutError:
                logger.warning("broker.close.unsent count=%d", self._queue.qsize())
            self._writer.cancel()
            await asyncio.gather(self._writer, return_exceptions=True)
        await self._redis.close(close_connection_pool=True)

    async def _write_forever(self) -> None:
        while True:
            batch = [await self._queue.get()]
            while not self._queue.empty() and len(batch) < 100:
                batch.append(self._queue.get_nowait())
            await self._write(batch)
            for _ in batch:
                self._queue.task_done()

    async def _write(self, batch: List[Dict[Text, Any]]) -> None:
        while True:
            try:
                async with self._redis.pipeline(transaction=False) as pipe:
                    for event in batch:
                        pipe.xadd(self._stream, {"event": json.dumps(event, ensure_ascii=False)})
                    await pipe.execute()
                return
            except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
                logger.warning("broker.publish.failure events=%d error=%s", len(batch), exc)
                await asyncio.sleep(self._retry_delay)
