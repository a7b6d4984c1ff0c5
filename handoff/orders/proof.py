"""The second fact that proves an order is the customer's: checking it, and counting misses.

An order number is 5 digits that anyone can guess or read over a shoulder. Before anything
about an order is said or changed, the customer gives a fact from the order that a stranger
does not have: its e-mail address or its delivery postcode (``matches``). The bot asks for it
(``actions/order_proof.py`` keeps what a conversation proved); an agent who looks an order up in
the console types what the customer told them, checked the same way. ``FailureCount`` counts
wrong facts per order over all conversations for a day, whoever checked them: a stranger who
opens conversation after conversation gets no more than ``FAILURES_PER_ORDER`` guesses.
"""

from __future__ import annotations

import hmac
import logging
import re
from typing import Any, Dict, Optional, Protocol

from redis.asyncio import Redis
from redis.exceptions import RedisError

from handoff.keys import Keys
from handoff.orders.store import Order
from handoff.redis_client import Script

logger = logging.getLogger(__name__)

# Wrong facts for one order over all conversations, until a day without one: past this, the
# fact is not checked at all (a guesser would otherwise try until it is); a person helps.
FAILURES_PER_ORDER = 10
FAILURE_WINDOW = 24 * 3600  # seconds

# KEYS: the order's count. ARGV: its lifetime (seconds). One more, and the lifetime set again,
# in one step (one key: one slot, on a Redis Cluster too).
_ADD = """
local count = redis.call('INCR', KEYS[1])
redis.call('EXPIRE', KEYS[1], ARGV[1])
return count
"""

_EMAIL = re.compile(r"[^\s@<>()\[\],;:\"']+@[^\s@<>()\[\],;:\"']+\.[^\s@<>()\[\],;:\"'.]+")
# UK ("BS8 1TH", "M2 4LQ") and French ("69003") postcodes, the shapes the shop delivers to.
_UK_POSTCODE = re.compile(r"\b([A-Z]{1,2}\d[A-Z\d]?)\s*(\d[A-Z]{2})\b")
_FR_POSTCODE = re.compile(r"\b(\d{2})\s?(\d{3})\b")


def _compact(text: str) -> str:
    return re.sub(r"\s+", "", text).upper()


def postcode_in(text: Optional[str]) -> Optional[str]:
    """The first postcode in ``text``, upper-case without spaces; ``None`` when none.

    "8 rue des Lilas, 69003 Lyon" -> "69003"; "14 Park Road, Bristol BS8 1TH" -> "BS81TH".
    """
    if not text:
        return None
    upper = text.upper()
    for pattern in (_UK_POSTCODE, _FR_POSTCODE):
        match = pattern.search(upper)
        if match:
            return "".join(match.groups())
    return None


def fact_in(text: Any) -> Optional[str]:
    """The one fact a message gives, normalised, or ``None``.

    An e-mail address is lower-cased; otherwise a postcode is upper-cased without
    spaces. Only the first is taken, so a message listing many postcodes is one
    guess, not many.
    """
    if not isinstance(text, str):
        return None
    email = _EMAIL.search(text)
    if email:
        return email.group(0).casefold()
    return postcode_in(text) or (_compact(text) or None)


def matches(order: Order, fact: Any) -> bool:
    """Whether ``fact`` is the order's e-mail address or its delivery postcode."""
    given = fact_in(fact)
    if given is None:
        return False
    expected = [order.customer_email.casefold(), postcode_in(order.delivery_address)]
    # Constant-time comparisons: the answer's timing says nothing about near misses.
    return any(
        hmac.compare_digest(given.encode(), value.encode()) for value in expected if value
    )


class FailureCount(Protocol):
    """Wrong facts given for each order over all conversations, until a day without one."""

    async def count(self, number: str) -> int:
        """Wrong facts for order ``number`` still counted."""

    async def add(self, number: str) -> None:
        """Counts one more wrong fact for order ``number``."""


class MemoryFailureCount:
    """``FailureCount`` in this process's memory (tests; never expires)."""

    def __init__(self) -> None:
        self.counts: Dict[str, int] = {}

    async def count(self, number: str) -> int:
        """Wrong facts for order ``number``."""
        return self.counts.get(number, 0)

    async def add(self, number: str) -> None:
        """Counts one more wrong fact for order ``number``."""
        self.counts[number] = self.counts.get(number, 0) + 1


class RedisFailureCount:
    """``FailureCount`` in Redis, shared by every action-server process.

    Each wrong fact sets the count's lifetime to ``FAILURE_WINDOW`` again: the count is
    forgotten a day after the last wrong fact, so steady guessing never gets a fresh start.
    When Redis does not answer, the count is taken as zero and said in the log: the
    per-conversation limit still holds, and customers can still prove their orders.
    """

    def __init__(self, redis: Redis, keys: Keys) -> None:
        self._redis = redis
        self._keys = keys
        self._add = Script(redis, _ADD)

    async def count(self, number: str) -> int:
        """Wrong facts for order ``number`` in the window (0 when Redis does not answer)."""
        try:
            value = await self._redis.get(self._keys.order_proof_failures(number))
        except RedisError as exc:
            logger.warning("orders.proof.count_unavailable error=%s", type(exc).__name__)
            return 0
        return int(value or 0)

    async def add(self, number: str) -> None:
        """Counts one more wrong fact for order ``number``."""
        key = self._keys.order_proof_failures(number)
        try:
            await self._add(keys=[key], args=[FAILURE_WINDOW])
        except RedisError as exc:
            logger.warning("orders.proof.add_unavailable error=%s", type(exc).__name__)
