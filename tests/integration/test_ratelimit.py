"""Rate limits against a real Redis, and the web chat's one-step admission of a message."""

import pytest

from handoff.journal import TAKEN_FOR
from handoff.ratelimit import Limit, RateLimiter

pytestmark = pytest.mark.integration

LIMIT = Limit("test", 3, 30)


class Clock:
    def __init__(self) -> None:
        self.now = 30 * 33_334.0  # the start of a window

    def __call__(self) -> float:
        return self.now


async def _admit(limiter, redis, once_key):
    async with redis.pipeline(transaction=False) as pipe:
        counted = await limiter.admit_once_on(pipe, LIMIT, "client", once_key, TAKEN_FOR)
        (count, claimed), = await pipe.execute()
    return limiter.verdict(counted, count), bool(claimed)


async def test_requests_over_the_limit_wait_until_the_next_window(redis, keys):
    clock = Clock()
    limiter = RateLimiter(redis, keys, clock)
    assert [await limiter.retry_after(LIMIT, "a") for _ in range(3)] == [None] * 3
    clock.now += 10
    assert await limiter.retry_after(LIMIT, "a") == 20  # the window's 20 s left
    assert await limiter.retry_after(LIMIT, "b") is None  # per client
    clock.now += 20
    assert await limiter.retry_after(LIMIT, "a") is None


async def test_an_admitted_message_claims_its_id_once(redis, keys):
    limiter = RateLimiter(redis, keys, Clock())
    assert await _admit(limiter, redis, "once:m1") == (None, True)
    assert await _admit(limiter, redis, "once:m1") == (None, False)  # a resend
    assert await redis.ttl("once:m1") > TAKEN_FOR - 5


async def test_a_message_over_the_limit_claims_nothing_so_its_resend_is_taken(redis, keys):
    clock = Clock()
    limiter = RateLimiter(redis, keys, clock)
    for n in range(LIMIT.limit):
        assert await _admit(limiter, redis, f"once:m{n}") == (None, True)
    wait, claimed = await _admit(limiter, redis, "once:late")
    assert wait == 30 and not claimed
    assert not await redis.exists("once:late")
    clock.now += wait
    assert await _admit(limiter, redis, "once:late") == (None, True)
