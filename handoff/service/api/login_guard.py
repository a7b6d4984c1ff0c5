"""Sign-in throttling: growing delays that slow password guessing without locking anyone out.

Three counters of failed sign-ins, each with its own free allowance, then a delay that doubles
with every further failure (1 s, 2 s, 4 s … up to 15 min) before the next attempt is even
checked (OWASP Authentication Cheat Sheet, "Account lockout"; what django-axes calls a
username-and-address lockout, with OWASP's "device cookies" for known clients):

- per (account, client): someone guessing one account's password from one place;
- per account, from clients it does not know: a guess spread over many addresses;
- per address, over every account: one address trying many accounts (password spraying).

A client the account knows, because it signed in successfully from that browser (a device
cookie, 30 days) or that address before, is held only by its own (account, client) counter: an
attacker's volume, from anywhere else, never keeps the real agent out. Counters are forgotten a
day after the last failure; a success clears that client's own counter. A refused attempt runs
no password hash and counts nothing.

Each counter and the trusted clients are a key of their own, each written in one Lua step. Off
a Redis Cluster a failure (or a success) writes all of them in one MULTI; on a Cluster, where
they are in different slots and a MULTI cannot span them, each key's step runs on its own: a
process that dies in between has counted the failure on some counters only (the others
under-count by one).
"""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass
from typing import Callable, List, Optional

from redis.asyncio import Redis

from handoff.keys import Keys
from handoff.redis_client import Script, is_cluster

# KEYS[1]: a failure counter. ARGV: now, its lifetime. Counted, dated and made to expire in one
# step on one key.
_FAILED = """
redis.call('HINCRBY', KEYS[1], 'count', 1)
redis.call('HSET', KEYS[1], 'last', ARGV[1])
redis.call('EXPIRE', KEYS[1], ARGV[2])
"""

# KEYS[1]: the account's trusted clients. ARGV: the device's member, the address's member, the
# end of their trust, now, the set's lifetime.
_TRUST = """
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1], ARGV[3], ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], 0, ARGV[4])
redis.call('EXPIRE', KEYS[1], ARGV[5])
"""


@dataclass(frozen=True)
class LoginPolicy:
    """Allowances and delays (failures before the first delay, per counter)."""

    per_client: int = 5
    per_account: int = 10
    per_address: int = 20
    first_delay: float = 1.0
    max_delay: float = 900.0
    forget_after: int = 24 * 3600
    trust_for: int = 30 * 24 * 3600


@dataclass(frozen=True)
class Attempt:
    """One sign-in: the account asked for (None if no account can have that name), where from."""

    account: Optional[str]
    address: str
    device: Optional[str] = None  # the device cookie's token, if the browser sent one


class LoginGuard:
    """Counts failed sign-ins in Redis (shared by every handoff-service process)."""

    def __init__(self, redis: Redis, keys: Keys, policy: LoginPolicy = LoginPolicy(),
                 clock: Callable[[], float] = time.time) -> None:
        self._redis, self._keys, self.policy, self._clock = redis, keys, policy, clock
        self._failed, self._trust = Script(redis, _FAILED), Script(redis, _TRUST)
        self._multi = not is_cluster(redis)  # off a Cluster, all the keys in one MULTI

    async def retry_after(self, attempt: Attempt) -> Optional[int]:
        """None if this attempt may be checked now, else the seconds to wait."""
        known = await self._known_client(attempt)
        scopes = [(self._client_scope(attempt, known), self.policy.per_client)]
        if known is None:
            scopes.append((f"address:{attempt.address}", self.policy.per_address))
            if attempt.account is not None:
                scopes.append((f"account:{attempt.account}", self.policy.per_account))
        async with self._redis.pipeline(transaction=False) as pipe:
            for scope, _ in scopes:
                pipe.hmget(self._keys.login_failures(scope), "count", "last")
            counters: List[List[Optional[str]]] = await pipe.execute()
        now = self._clock()
        wait = max(self._wait(counter, free, now)
                   for counter, (_, free) in zip(counters, scopes, strict=True))
        return None if wait <= 0 else max(1, int(wait + 0.999))

    async def failed(self, attempt: Attempt) -> None:
        """Counts a wrong password (or an unknown account) on every counter it belongs to."""
        known = await self._known_client(attempt)
        scopes = [self._client_scope(attempt, known), f"address:{attempt.address}"]
        if attempt.account is not None and known is None:
            scopes.append(f"account:{attempt.account}")
        now = self._clock()
        async with self._redis.pipeline(transaction=self._multi) as pipe:
            for scope in scopes:
                await self._failed(keys=[self._keys.login_failures(scope)],
                                   args=[repr(now), self.policy.forget_after], client=pipe)
            await pipe.execute()

    async def succeeded(self, attempt: Attempt) -> str:
        """Clears this client's counter and trusts it; the device token to set as a cookie."""
        assert attempt.account is not None
        device = attempt.device if _well_formed(attempt.device) else secrets.token_urlsafe(32)
        known = await self._known_client(attempt)
        trusted = self._keys.login_trusted(attempt.account)
        now = self._clock()
        async with self._redis.pipeline(transaction=self._multi) as pipe:
            # One key each: on a Cluster, no DEL of keys in two slots.
            pipe.delete(self._keys.login_failures(self._client_scope(attempt, known)))
            pipe.delete(self._keys.login_failures(
                f"client:{attempt.account}:address:{attempt.address}"))
            await self._trust(keys=[trusted], args=[
                f"device:{_digest(device)}", f"address:{attempt.address}",
                repr(now + self.policy.trust_for), repr(now), self.policy.trust_for],
                client=pipe)
            await pipe.execute()
        return device

    async def _known_client(self, attempt: Attempt) -> Optional[str]:
        """`device:<digest>` or `address:<ip>` if the account trusts this client, else None."""
        if attempt.account is None:
            return None
        candidates = [f"address:{attempt.address}"]
        if _well_formed(attempt.device):
            candidates.insert(0, f"device:{_digest(attempt.device or '')}")
        scores = await self._redis.zmscore(self._keys.login_trusted(attempt.account), candidates)
        now = self._clock()
        for member, until in zip(candidates, scores, strict=True):
            if until is not None and until > now:
                return member
        return None

    @staticmethod
    def _client_scope(attempt: Attempt, known: Optional[str]) -> str:
        client = known if known and known.startswith("device:") else \
            f"address:{attempt.address}"
        return f"client:{attempt.account or '?'}:{client}"

    def _wait(self, counter: List[Optional[str]], free: int, now: float) -> float:
        count, last = int(counter[0] or 0), float(counter[1] or 0)
        if count < free:
            return 0.0
        delay = min(self.policy.first_delay * 2 ** min(count - free, 30), self.policy.max_delay)
        return last + delay - now


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _well_formed(token: Optional[str]) -> bool:
    return isinstance(token, str) and 20 <= len(token) <= 64 and token.isascii() and \
        token.replace("-", "").replace("_", "").isalnum()
