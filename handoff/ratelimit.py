"""Rate limits against floods from one client, shared by every process through Redis.

A fixed window per client: at most `limit` requests in each `window` seconds; the answer says
when to try again. Windows are coarse (a burst of 2 × limit across a window boundary passes),
which is enough to stop a flood without slowing anyone who is not flooding.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable, Optional

from redis.asyncio import Redis

from handoff.keys import Keys


@dataclass(frozen=True)
class Limit:
    """`limit` requests per `window` seconds."""

    name: str
    limit: int
    window: int


AGENT_API = Limit("agent-api", 120, 10)      # a console makes a few calls per click
CHAT_MESSAGES = Limit("chat-messages", 15, 30)  # more than anyone types
MESSENGER_EVENTS = Limit("messenger-events", 15, 30)


class RateLimiter:
    """Counts requests per client in Redis."""

    def __init__(self, redis: Redis, keys: Keys, clock: Callable[[], float] = time.time) -> None:
        self._redis, self._keys, self._clock = redis, keys, clock

    async def retry_after(self, limit: Limit, client: str) -> Optional[int]:
        """None if this request may go on, else the seconds to wait."""
        now = self._clock()
        window_start = int(now // limit.window) * limit.window
        key = self._keys.rate(limit.name, client, window_start)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.incr(key)
            pipe.expire(key, limit.window + 1)
            count, _ = await pipe.execute()
        if count <= limit.limit:
            return None
        return max(1, int(window_start + limit.window - now + 0.999))
