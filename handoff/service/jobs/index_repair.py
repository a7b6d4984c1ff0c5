"""On a Redis Cluster, the queue's and agents' indexes written back from the records.

A process that dies between a transition's step and what follows it on a Cluster can leave a
queue entry or a holder's seat missing (`handoff.conversation_index`): a queued conversation no
agent would see. Every `every` seconds one handoff service (the one that takes the lease, SET
NX with a TTL of `every`) reads every record and writes back what it backs
(`ConversationStore.repair_indexes`). Off a Cluster every transition is one step: nothing can
be missing, and the job does nothing.
"""

from __future__ import annotations

import logging
import time
from typing import Optional

from redis.asyncio import Redis

from handoff.conversation import ConversationStore
from handoff.keys import Keys
from handoff.redis_client import is_cluster

logger = logging.getLogger(__name__)

DEFAULT_EVERY = 600.0  # seconds: every record is read, so not often; a crash there is rare


class IndexRepair:
    """One pass per `tick()`, on a Cluster, in whichever process holds the lease."""

    def __init__(self, redis: Redis, keys: Keys, store: ConversationStore,
                 every: float = DEFAULT_EVERY) -> None:
        self._redis, self._keys, self._store = redis, keys, store
        self._lease_ms = max(1000, int(every * 1000))

    async def tick(self) -> Optional[int]:
        """How many records the pass read; None: no pass here (not a Cluster, or not ours)."""
        if not is_cluster(self._redis):
            return None
        if not await self._redis.set(self._keys.index_repair_lease, "1", nx=True,
                                     px=self._lease_ms):
            return None
        started = time.monotonic()
        read = await self._store.repair_indexes()
        logger.info("index_repair.pass.done records=%d seconds=%.1f", read,
                    time.monotonic() - started)
        return read
