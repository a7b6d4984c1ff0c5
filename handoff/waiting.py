"""Honest waiting: each queued customer's place in line and an estimate of the wait.

The estimate comes from how fast agents have been taking conversations lately (the times of the
last claims, kept by the state machine): with claims every `interval` seconds on average, the
n-th in line waits about n × interval. With fewer than `MIN_CLAIMS` recent claims there is no
honest estimate, and the customer is told their place only.

`QueueStatus` runs in the handoff service: at each pass (every 2 s) it sends each web customer
whose place or estimate changed a `queue_status` event (and everyone again every `refresh`
seconds, for browsers that reconnected). Messenger customers get their place from the bot's
message when they are queued, not a stream of updates (each would be a message).
"""

from __future__ import annotations

import logging
import time
from typing import Callable, Dict, List, Optional, Sequence, Tuple

from redis.asyncio import Redis

from handoff.channels import MESSENGER, channel_of
from handoff.conversation import ConversationStore
from handoff.keys import Keys
from handoff.push import to_customer

logger = logging.getLogger(__name__)

MIN_CLAIMS = 3
LAST_CLAIMS = 20
RECENT = 3600.0  # seconds: older claims say little about the wait now


def estimate_wait(position: int, claim_times: Sequence[float], now: float) -> Optional[float]:
    """Seconds the customer at `position` (1 = next) should wait, or None when unknown.

    Uses the last `LAST_CLAIMS` claims of the past hour, and the time since the latest one (a
    queue nobody has taken from for a while is slower than its history says).
    """
    recent = sorted(t for t in claim_times if now - RECENT <= t <= now)[-LAST_CLAIMS:]
    if len(recent) < MIN_CLAIMS:
        return None
    interval = (recent[-1] - recent[0]) / (len(recent) - 1)
    interval = max(interval, now - recent[-1], 1.0)
    return position * interval


class QueueStatus:
    """Tells waiting web customers their place and estimated wait when either changes."""

    def __init__(self, redis: Redis, keys: Keys, store: ConversationStore,
                 refresh: float = 30.0, clock: Callable[[], float] = time.time) -> None:
        self._redis, self._keys, self._store = redis, keys, store
        self._refresh, self._clock = refresh, clock
        self._sent: Dict[str, Tuple[int, Optional[int]]] = {}
        self._refreshed = 0.0

    async def tick(self) -> None:
        """One pass over the queue."""
        now = self._clock()
        if now - self._refreshed >= self._refresh:
            self._sent.clear()
            self._refreshed = now
        queued: List[str] = await self._store.queued_ids()
        claims = [score for _, score in await self._redis.zrange(
            self._keys.recent_claims, -LAST_CLAIMS, -1, withscores=True)]
        for position, cid in enumerate(queued, start=1):
            wait = estimate_wait(position, claims, now)
            minutes = None if wait is None else max(1, round(wait / 60))
            if self._sent.get(cid) == (position, minutes):
                continue
            self._sent[cid] = (position, minutes)
            if await channel_of(self._redis, self._keys, cid) == MESSENGER:
                continue
            await to_customer(self._redis, self._keys, cid, "queue_status",
                              {"position": position, "wait_minutes": minutes})
        for cid in set(self._sent) - set(queued):
            del self._sent[cid]
