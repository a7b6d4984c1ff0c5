"""Rasa's Redis lock store, looking again every few milliseconds instead of every second.

Rasa serialises the work on one conversation with a ticket lock; a request that finds the
conversation busy sleeps `wait_time_in_seconds` (1 s by default, not configurable) before it
looks again. A customer message and an agent message arriving together would make one of them
wait a whole second, and every agent message queued behind it too (docs/benchmarks.md).
"""

from __future__ import annotations

import logging
from contextlib import asynccontextmanager
from typing import AsyncGenerator, Text

from rasa.core.lock import TicketLock
from rasa.core.lock_store import LOCK_LIFETIME, RedisLockStore
from rasa.utils.endpoints import EndpointConfig
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)

# Each look is one Redis GET (well under a millisecond on the same host).
LOOK_AGAIN_AFTER = 0.01


class PromptRedisLockStore(RedisLockStore):
    """`RedisLockStore` with the same settings (`endpoints.yml`), and a short wait."""

    def __init__(self, endpoint_config: EndpointConfig) -> None:
        super().__init__(host=endpoint_config.url, **endpoint_config.kwargs)

    @asynccontextmanager
    async def lock(self, conversation_id: Text, lock_lifetime: float = LOCK_LIFETIME,
                   wait_time_in_seconds: float = LOOK_AGAIN_AFTER,
                   ) -> AsyncGenerator[TicketLock, None]:
        """Rasa's ticket lock on `conversation_id`, waited for in short steps."""
        async with super().lock(conversation_id, lock_lifetime,
                                min(wait_time_in_seconds, LOOK_AGAIN_AFTER)) as lock:
            yield lock

    def cleanup(self, conversation_id: Text, ticket_number: int) -> None:
        """Lets go of the lock; with Redis gone, leaves it to expire (its lifetime).

        Rasa lets go at the very end of a turn, after the tracker was saved: if Redis died in
        between, the turn is done, and failing now would make the chat page send the message
        again and have it handled twice. The lock left behind expires after its lifetime.
        """
        try:
            super().cleanup(conversation_id, ticket_number)
        except RedisError as exc:
            logger.warning("lock.cleanup.failure conversation=%s error=%s", conversation_id, exc)
