"""Rasa's Redis lock store on the product's Redis, looking again every few milliseconds.

Rasa serialises the work on one conversation with a ticket lock; a request that finds the
conversation busy sleeps `wait_time_in_seconds` (1 s by default, not configurable) before it
looks again. A customer message and an agent message arriving together would make one of them
wait a whole second, and every agent message queued behind it too (docs/benchmarks.md).

Rasa's store takes a host and a port only; this one opens its client from `REDIS_URL` through
`handoff.redis_client.connect_sync` (a single Redis, a Sentinel group or a Cluster). Its key
carries the conversation's hash tag, `hfv1:lock:{<id>}` (`handoff.keys.RasaKeys`), so that the
live path's write-behind reads it with the tracker in one slot on a Redis Cluster. A lock still
under Rasa's own name (`hfv1:lock:<id>`, taken before an upgrade) is found there and moved by
its next save.
"""

from __future__ import annotations

import json
import logging
from contextlib import asynccontextmanager
from typing import AsyncGenerator, Optional, Set, Text

from rasa.core.lock import TicketLock
from rasa.core.lock_store import (
    DEFAULT_REDIS_LOCK_STORE_KEY_PREFIX,
    DEFAULT_SOCKET_TIMEOUT_IN_SECONDS,
    LOCK_LIFETIME,
    RedisLockStore,
)
from rasa.utils.endpoints import EndpointConfig
from redis.exceptions import RedisError

from handoff.keys import RasaKeys
from handoff.redis_client import connect_sync, is_cluster

logger = logging.getLogger(__name__)

# Each look is one Redis read (well under a millisecond on the same host).
LOOK_AGAIN_AFTER = 0.01


class PromptRedisLockStore(RedisLockStore):
    """`RedisLockStore` on `url` (`REDIS_URL`, endpoints.yml), with a short wait."""

    def __init__(self, endpoint_config: EndpointConfig) -> None:
        if not endpoint_config.url:
            raise ValueError("bot.lock_store.PromptRedisLockStore needs `url` (REDIS_URL)")
        timeout = float(endpoint_config.kwargs.get("socket_timeout")
                        or DEFAULT_SOCKET_TIMEOUT_IN_SECONDS)
        super().__init__(key_prefix=endpoint_config.kwargs.get("key_prefix"),
                         socket_timeout=timeout)
        # Rasa's client (localhost, never used: redis-py connects lazily) is replaced. Bytes,
        # as Rasa's: its locks are read with `json.loads`.
        self.red.close()
        self.red = connect_sync(endpoint_config.url, decode_responses=False,
                                 socket_timeout=timeout)
        # Rasa's prefix rule applied (`hfv1:lock:`, or `lock:` for a refused prefix).
        self.rasa_keys = RasaKeys(
            self.key_prefix[:-len(DEFAULT_REDIS_LOCK_STORE_KEY_PREFIX)].rstrip(":"))
        self._legacy = not is_cluster(self.red)  # on a Cluster the old names were moved before
        self._found_legacy: Set[Text] = set()  # conversations whose lock was read there

    def get_lock(self, conversation_id: Text) -> Optional[TicketLock]:
        """Rasa's, finding the lock under its name in either layout (one read)."""
        if self._legacy:
            new, old = self.red.mget(self.rasa_keys.lock(conversation_id),
                                     self.rasa_keys.legacy_lock(conversation_id))
            if new is None and old is not None:
                self._found_legacy.add(conversation_id)
            serialised = new if new is not None else old
        else:
            serialised = self.red.get(self.rasa_keys.lock(conversation_id))
        return TicketLock.from_dict(json.loads(serialised)) if serialised else None

    def delete_lock(self, conversation_id: Text) -> None:
        """Rasa's, under both names."""
        names = [self.rasa_keys.lock(conversation_id)]
        if self._legacy:
            names.append(self.rasa_keys.legacy_lock(conversation_id))
            self._found_legacy.discard(conversation_id)
        self._log_deletion(conversation_id, self.red.delete(*names))

    def save_lock(self, lock: TicketLock) -> None:
        """Rasa's; a lock read under Rasa's own name moves to the new one (one round trip)."""
        if lock.conversation_id not in self._found_legacy:
            self.red.set(self.rasa_keys.lock(lock.conversation_id), lock.dumps())
            return
        with self.red.pipeline(transaction=True) as pipe:
            pipe.set(self.rasa_keys.lock(lock.conversation_id), lock.dumps())
            pipe.delete(self.rasa_keys.legacy_lock(lock.conversation_id))
            pipe.execute()
        self._found_legacy.discard(lock.conversation_id)

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
