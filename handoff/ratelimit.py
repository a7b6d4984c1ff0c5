"""Rate limits against floods from one client, shared by every process through Redis.

A fixed window per client: at most `limit` requests in each `window` seconds; the answer says
when to try again. Windows are coarse (a burst of 2 × limit across a window boundary passes),
which is enough to stop a flood without slowing anyone who is not flooding.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Callable, List, Optional, Tuple

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline

from handoff.keys import Keys
from handoff.redis_client import Script


@dataclass(frozen=True)
class Limit:
    """`limit` requests per `window` seconds."""

    name: str
    limit: int
    window: int


AGENT_API = Limit("agent-api", 120, 10)      # a console makes a few calls per click
CHAT_MESSAGES = Limit("chat-messages", 15, 30)  # more than anyone types
MESSENGER_EVENTS = Limit("messenger-events", 15, 30)
# The call-back page, per link: a customer may change their mind, not flood the chat with notices.
CALLBACK_PAGE = Limit("callback-page", 10, 60)


# KEYS[1]: the window's counter. ARGV[1]: its lifetime. Replies the count: counted and dated
# in one step on one key (a Redis Cluster has no MULTI).
COUNT_LUA = """
local count = redis.call('INCR', KEYS[1])
redis.call('EXPIRE', KEYS[1], ARGV[1])
return count
"""

# KEYS: the window's counter, a once-key (on a Cluster, in the counter's slot: a client that
# is a conversation, `Keys.rate`, and a key of that conversation). ARGV: the counter's
# lifetime, the limit, the once-key's lifetime. Replies {count, 1 if the once-key was claimed
# now}: a request over the limit claims nothing, so that its resend is not taken for a
# duplicate.
ADMIT_ONCE_LUA = """
local count = redis.call('INCR', KEYS[1])
redis.call('EXPIRE', KEYS[1], ARGV[1])
if count > tonumber(ARGV[2]) then return {count, 0} end
if redis.call('SET', KEYS[2], '1', 'NX', 'EX', ARGV[3]) then return {count, 1} end
return {count, 0}
"""


class RateLimiter:
    """Counts requests per client in Redis."""

    def __init__(self, redis: Redis, keys: Keys, clock: Callable[[], float] = time.time) -> None:
        self._redis, self._keys, self._clock = redis, keys, clock
        self._admit_once = Script(redis, ADMIT_ONCE_LUA)
        self._count = Script(redis, COUNT_LUA)

    async def retry_after(self, limit: Limit, client: str) -> Optional[int]:
        """None if this request may go on, else the seconds to wait."""
        now = self._clock()
        key = self._keys.rate(limit.name, client, self._window_start(limit, now))
        count = await self._count(keys=[key], args=[limit.window + 1])
        return self.verdict((limit, now), count)

    def count_on(self, pipe: Pipeline, limit: Limit, client: str) -> Tuple[Limit, float]:
        """Counts this request on `pipe` (two replies); give them to `verdict`.

        For a caller that has other reads to make in the same round trip.
        """
        now = self._clock()
        key = self._keys.rate(limit.name, client, self._window_start(limit, now))
        pipe.incr(key)
        pipe.expire(key, limit.window + 1)
        return limit, now

    async def admit_once_on(self, pipe: Pipeline, limit: Limit, client: str, once_key: str,
                            lifetime: int) -> Tuple[Limit, float]:
        """Counts this request on `pipe` and, if it is within the limit, claims `once_key`.

        One reply, `[count, claimed]`: `verdict` takes the count; `claimed` says whether the
        request's id is new (SET NX, kept `lifetime` s), as `Journal.first_time` would.
        """
        keys, args, counted = self.admit_once_parts(limit, client, once_key, lifetime)
        await self._admit_once(keys=keys, args=args, client=pipe)
        return counted

    def admit_once_parts(self, limit: Limit, client: str, once_key: str, lifetime: int
                         ) -> Tuple[List[str], List[Any], Tuple[Limit, float]]:
        """`ADMIT_ONCE_LUA`'s keys and args, for a caller's own script; then as `admit_once_on`."""
        now = self._clock()
        key = self._keys.rate(limit.name, client, self._window_start(limit, now))
        return [key, once_key], [limit.window + 1, limit.limit, lifetime], (limit, now)

    def verdict(self, counted: Tuple[Limit, float], count: int) -> Optional[int]:
        """`retry_after`'s answer for a request `count_on` counted (`count`: the INCR's reply)."""
        limit, now = counted
        if int(count) <= limit.limit:
            return None
        return max(1, int(self._window_start(limit, now) + limit.window - now + 0.999))

    @staticmethod
    def _window_start(limit: Limit, now: float) -> int:
        return int(now // limit.window) * limit.window
