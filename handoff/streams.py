"""Redis Streams with consumer groups: at-least-once delivery with explicit acknowledgement.

A consumer first re-reads its own pending entries (id `0`), then takes new ones (`>`), and
periodically claims entries that another consumer read but never acknowledged (it crashed).
Handlers must therefore be idempotent.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Awaitable, Callable, Dict, List, Optional, Tuple

from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

logger = logging.getLogger(__name__)

Entry = Tuple[str, Dict[str, str]]
Handler = Callable[[str, Dict[str, str]], Awaitable[None]]


class StreamConsumer:
    """One consumer of one group on one stream."""

    def __init__(
        self,
        redis: Redis,
        stream: str,
        group: str,
        consumer: str,
        *,
        block_ms: int = 1000,
        count: int = 50,
        claim_idle_ms: int = 30_000,
    ) -> None:
        self._redis = redis
        self.stream = stream
        self.group = group
        self.consumer = consumer
        self._block_ms = block_ms
        self._count = count
        self._claim_idle_ms = claim_idle_ms
        self._pending_first = True

    async def ensure_group(self) -> None:
        """Creates the group (and the stream) if missing; new groups start at the beginning."""
        try:
            await self._redis.xgroup_create(self.stream, self.group, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    async def read(self) -> List[Entry]:
        """Own pending entries first, then entries claimed from dead consumers, then new ones."""
        if self._pending_first:
            entries = await self._xreadgroup("0", block=None)
            if entries:
                return entries
            self._pending_first = False
        claimed = await self.claim_stale()
        if claimed:
            return claimed
        return await self._xreadgroup(">", block=self._block_ms)

    async def claim_stale(self) -> List[Entry]:
        """Takes over entries idle for longer than `claim_idle_ms` in other consumers."""
        result = await self._redis.xautoclaim(
            self.stream, self.group, self.consumer, self._claim_idle_ms, "0-0",
            count=self._count,
        )
        return [(eid, fields) for eid, fields in result[1] if fields]

    async def ack(self, entry_id: str) -> None:
        """Marks an entry done; call only once its effect is durable."""
        await self._redis.xack(self.stream, self.group, entry_id)

    async def _xreadgroup(self, last_id: str, block: Optional[int]) -> List[Entry]:
        reply = await self._redis.xreadgroup(
            self.group, self.consumer, {self.stream: last_id}, count=self._count, block=block
        )
        entries: List[Entry] = []
        for _, stream_entries in reply or []:
            entries.extend((eid, fields) for eid, fields in stream_entries if fields)
        return entries

    async def run(self, handler: Handler, stop: asyncio.Event, retry_delay: float = 0.5) -> None:
        """Feeds entries to `handler` until `stop` is set.

        An entry whose handler fails stays pending and is retried, before any later entry, on
        the next pass over pending entries.
        """
        await self._ensure_group_retrying(stop, retry_delay)
        while not stop.is_set():
            try:
                entries = await self.read()
            except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
                logger.warning("stream.read.failure stream=%s error=%s", self.stream, exc)
                await _wait(stop, retry_delay)
                continue
            except ResponseError as exc:
                if "NOGROUP" not in str(exc):
                    raise
                await self._ensure_group_retrying(stop, retry_delay)
                continue
            failed = False
            for entry_id, fields in entries:
                if not await self._handle(handler, entry_id, fields):
                    failed = True
                    break
            if failed:
                self._pending_first = True
                await _wait(stop, retry_delay)

    async def _handle(self, handler: Handler, entry_id: str, fields: Dict[str, str]) -> bool:
        try:
            await handler(entry_id, fields)
            await self.ack(entry_id)
            return True
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001 - one bad entry must not stop the consumer
            logger.exception("stream.handler.failure stream=%s entry=%s", self.stream, entry_id)
            return False

    async def _ensure_group_retrying(self, stop: asyncio.Event, delay: float) -> None:
        while not stop.is_set():
            try:
                await self.ensure_group()
                return
            except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
                logger.warning("stream.group.failure stream=%s error=%s", self.stream, exc)
                await _wait(stop, delay)


async def _wait(stop: asyncio.Event, delay: float) -> None:
    try:
        await asyncio.wait_for(stop.wait(), timeout=delay)
    except asyncio.TimeoutError:
        pass
