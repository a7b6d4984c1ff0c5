"""The queue's and agents' indexes mended from their records, by one process at a time.

- **Seats left by a crash** (every topology): a seat in an agent's set is taken before the
  transition that gives them the conversation (`handoff.conversation_index`). A process that
  dies between the two leaves a seat no record backs, which counts against the agent's limit
  for good. Readers already skip it; this job takes it out once it has been seen unbacked on
  two passes at least `SEAT_GRACE` apart (a claim under way holds its seat for milliseconds).
- **Entries missing** (on a Cluster only): a process that dies between a transition's step and
  what follows it can leave a queue entry or a holder's seat missing: a queued conversation no
  agent would see. The pass reads every record and writes back what it backs
  (`ConversationStore.repair_indexes`). Off a Cluster every transition is one step.

Every `every` seconds one handoff service (the one that takes the lease, SET NX with a TTL of
`every`) runs a pass.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Callable, Optional

from redis.asyncio import Redis

from handoff.conversation import ConversationStore
from handoff.keys import Keys
from handoff.redis_client import is_cluster

logger = logging.getLogger(__name__)

DEFAULT_EVERY = 600.0  # seconds: every record is read, so not often; a crash there is rare
SEAT_GRACE = 60.0  # seconds a seat may stay unbacked before it counts as left by a crash


@dataclass(frozen=True)
class Pass:
    """What one pass did."""

    seats_freed: int
    records_read: Optional[int]  # None off a Cluster: nothing to write back there


class IndexRepair:
    """One pass per `tick()`, in whichever process holds the lease."""

    def __init__(self, redis: Redis, keys: Keys, store: ConversationStore,
                 every: float = DEFAULT_EVERY,
                 clock: Callable[[], float] = time.time) -> None:
        self._redis, self._keys, self._store, self._clock = redis, keys, store, clock
        self._lease_ms = max(1000, int(every * 1000))

    async def tick(self) -> Optional[Pass]:
        """The pass's outcome; None: another process holds this interval's lease."""
        if not await self._redis.set(self._keys.index_repair_lease, "1", nx=True,
                                     px=self._lease_ms):
            return None
        started = time.monotonic()
        freed = await self._free_seats()
        read = await self._store.repair_indexes() if is_cluster(self._redis) else None
        logger.info("index_repair.pass.done seats_freed=%d records=%s seconds=%.1f", freed,
                    read, time.monotonic() - started)
        return Pass(freed, read)

    async def _free_seats(self) -> int:
        """Takes out the seats unbacked now and at an earlier pass `SEAT_GRACE` ago or more.

        The seats seen unbacked, and when first, are kept between passes (which may run in
        different processes) in `Keys.seat_suspects`. Off a Cluster a seat is taken out in one
        step that checks the record; on one, a seat a transition gave back to the agent in the
        meantime is written back by the repair that follows in the same pass.
        """
        now, key = self._clock(), self._keys.seat_suspects
        unbacked = await self._store.unbacked_seats()
        earlier = await self._redis.hgetall(key)
        freed, suspects = 0, {}
        for agent, conversation_id in unbacked:
            name = f"{agent}\n{conversation_id}"
            first_seen = float(earlier.get(name, now))
            if now - first_seen >= SEAT_GRACE:
                await self._store.give_back_seat(agent, conversation_id)
                logger.warning("index_repair.seat.freed agent=%s conversation=%s "
                               "unbacked_since=%.0f", agent, conversation_id, first_seen)
                freed += 1
            else:
                suspects[name] = repr(first_seen)
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.delete(key)
            if suspects:
                pipe.hset(key, mapping=suspects)
                pipe.pexpire(key, 3 * self._lease_ms)
            await pipe.execute()
        return freed
