"""The second fact that proves an order is the customer's.

An order number is 5 digits that anyone can guess or read over a shoulder. Before
the bot gives an order's carrier and date, or starts a cancellation or an address
change, the customer gives a fact from the order that a stranger does not have:
its e-mail address or its delivery postcode. The action server checks it against
the order store (``matches``, in ``handoff/orders/proof.py``); the forms ask for it after the number
(``order_fact``) and the final actions check again (``verified``) before they read
or write anything.

What this keeps in the conversation: ``verified_orders`` (the numbers proven, so
the same order is never asked twice) and ``order_fact_misses`` (wrong facts; at
``MAX_MISSES`` the bot stops asking and offers a person). Across conversations,
``FailureCount`` counts wrong facts per order for a day: a stranger who opens
conversation after conversation gets no more than ``FAILURES_PER_ORDER`` guesses
at one order. The fact itself is emptied from its slot by the validation that
reads it, and is never logged.
"""

from __future__ import annotations

from typing import List, Optional

from rasa_sdk import Tracker

# The fact's check and the count of misses over all conversations are shared with the console.
from handoff.orders.proof import (  # noqa: F401 (the bot's actions use them from here)
    FAILURE_WINDOW,
    FAILURES_PER_ORDER,
    FailureCount,
    MemoryFailureCount,
    RedisFailureCount,
    fact_in,
    matches,
    postcode_in,
)

# Three wrong facts in a conversation: a customer who misremembers is better
# served by a person, and a guesser gets no more than three tries per conversation.
MAX_MISSES = 3


def verified_orders(tracker: Tracker) -> List[str]:
    """The order numbers the customer proved in this conversation."""
    value = tracker.get_slot("verified_orders")
    return [str(n) for n in value] if isinstance(value, list) else []


def verified(tracker: Tracker, number: Optional[str]) -> bool:
    """Whether the customer proved order ``number`` in this conversation."""
    return number is not None and number in verified_orders(tracker)


def with_verified(tracker: Tracker, number: str) -> List[str]:
    """``verified_orders`` with ``number`` added."""
    known = verified_orders(tracker)
    return known if number in known else [*known, number]


def misses(tracker: Tracker) -> int:
    """Wrong facts given in this conversation."""
    value = tracker.get_slot("order_fact_misses")
    return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else 0


def exhausted(tracker: Tracker) -> bool:
    """Whether the bot has stopped asking for facts in this conversation."""
    return misses(tracker) >= MAX_MISSES


