"""The retention job with an injected clock, against a real Redis: what is old goes, what is
recent or live stays, the figures of old periods stay until the records' own age, and one pass
runs at a time across processes."""

from __future__ import annotations

import asyncio
import json
import logging
import time

import pytest

from handoff.conversation import ConversationStore
from handoff.keys import RASA_KEYS, Keys
from handoff.privacy import audit
from handoff.privacy.retention import DAY, Retention, RetentionJob
from handoff.profiles import ProfileStore
from handoff.survey import SurveyStore
from handoff.ticket import Reason, build_ticket
from tests import events as ev
from tests.integration.test_privacy import Person, _figures, build_customer
from tests.privacy_scan import traces

pytestmark = pytest.mark.integration

RETENTION = Retention(conversations_days=90, records_days=730, audit_days=1095)


class Clock:
    """The job's idea of now, moved by the test."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def job(redis, keys: Keys, clock: Clock, every: float = 3600.0) -> RetentionJob:
    return RetentionJob(redis, keys, RETENTION, clock, every)


async def _keys_with_a_ttl_expire(redis) -> None:
    """What Redis's own clock does in 100 days: link codes (30 min), taken messages (24 h)..."""
    async for key in redis.scan_iter(count=1000):
        if await redis.ttl(key) > 0:
            await redis.delete(key)


async def test_old_conversations_go_recent_and_live_ones_stay(redis, keys, caplog):
    today = time.time()
    old, recent, live = Person(), Person(), Person()
    await build_customer(redis, keys, old, today - 3600)
    # Written today, but the clock says 100 days have passed (journal ids are today's too).
    clock = Clock(today + 100 * DAY)
    # This customer wrote again on the web chat 20 days before the clock's today.
    await build_customer(redis, keys, recent, today - 3600)
    raw = json.loads(await redis.get(RASA_KEYS.tracker(recent.web)))
    raw["events"].append(ev.user("still there?", "greet", ts=clock.now - 20 * DAY))
    await redis.set(RASA_KEYS.tracker(recent.web), json.dumps(raw))
    # This one waits for a person, untouched for 100 days: never erased while a person owns it.
    await build_customer(redis, keys, live, today - 3600)
    await ConversationStore(redis, keys).enqueue(build_ticket(live.web, [], {}, {},
                                                              Reason.ASKED))
    before = await _figures(redis, keys, today - 3600)
    await _keys_with_a_ttl_expire(redis)

    with caplog.at_level(logging.INFO, logger="handoff.privacy.retention"):
        counts = await job(redis, keys, clock).tick()

    assert counts is not None
    # Only the old customer's two conversations. The recent and live customers' Messenger
    # conversations are as old, but their messages go to the web one (moved): they live as
    # long as it does.
    assert counts["conversations_erased"] == 2, counts
    # The VIP list is the operator's (python -m handoff.profiles vip): kept until they remove
    # the address or the customer asks for an erasure.
    assert await traces(redis, old.needles()) == [(keys.vip_customers, old.email)]
    for person in (recent, live):
        assert await redis.exists(RASA_KEYS.tracker(person.web),
                                  RASA_KEYS.tracker(person.psid)) == 2
        assert await ProfileStore(redis, keys).messenger_conversation(person.psid) == \
            person.web
    # Aggregated records are younger than 730 days: the period's figures are the same.
    assert await _figures(redis, keys, today - 3600) == before
    logged = [r.getMessage() for r in caplog.records]
    assert logged[0].startswith("retention.pass.start conversations_days=90")
    assert "conversations_erased=2" in logged[-1]
    assert not any(old.web in line or old.email in line for line in logged)
    entry = (await audit.entries(redis, keys))[0]
    assert entry["action"] == "retention" and entry["counts"]["conversations_erased"] == 2

    # The next pass, an hour later on the clock, in another process: nothing left to erase.
    clock.now += 3601
    await redis.delete(keys.retention_lease)  # (its TTL is real time, not the clock's)
    again = await job(redis, keys, clock).tick()
    assert again is not None and again["conversations_erased"] == 0

    # 200 days on, the recent web conversation has been idle 180 days: it goes, and its
    # Messenger conversation with it.
    clock.now += 100 * DAY
    await _keys_with_a_ttl_expire(redis)
    later = await job(redis, keys, clock).tick()
    assert later is not None and later["conversations_erased"] == 2
    assert await traces(redis, recent.needles()) == [(keys.vip_customers, recent.email)]


async def test_records_and_the_audit_log_go_at_their_own_age(redis, keys):
    today = time.time()
    zoe = Person()
    await build_customer(redis, keys, zoe, today)
    await audit.record(redis, keys, "export", "sam", {"keys": 3}, at=today)
    clock = Clock(today + 731 * DAY)
    counts = await job(redis, keys, clock).tick()
    assert counts is not None
    assert (counts["sessions"], counts["handoffs"], counts["surveys"]) == (2, 1, 1)
    assert await SurveyStore(redis, keys).between(0, clock.now) == []
    assert await redis.zcard(keys.metrics_conversations) == 0
    assert [e["action"] for e in await audit.entries(redis, keys)] == ["retention", "export"]
    clock.now = today + 1096 * DAY + 3601
    await redis.delete(keys.retention_lease)  # (its TTL is real time, not the clock's)
    counts = await job(redis, keys, clock).tick()
    assert counts is not None and counts["audit_entries"] == 2
    assert [e["action"] for e in await audit.entries(redis, keys)] == ["retention"]


async def test_one_pass_at_a_time_and_once_per_interval_across_processes(redis, keys):
    clock = Clock(time.time())
    processes = [job(redis, keys, clock, every=600) for _ in range(4)]
    results = await asyncio.gather(*(p.tick() for p in processes))
    assert sum(r is not None for r in results) == 1
    assert await processes[0].tick() is None  # within the interval: nobody runs again
    await redis.delete(keys.retention_lease)  # the interval has passed (the lease's TTL)
    assert await processes[1].tick() is not None


async def test_zero_keeps_a_kind_for_ever(redis, keys):
    zoe = Person()
    await build_customer(redis, keys, zoe, time.time())
    forever = RetentionJob(redis, keys, Retention(0, 0, 0), Clock(time.time() + 5000 * DAY),
                           3600)
    assert await forever.tick() == {}
    assert {k for k, _ in await traces(redis, [zoe.web])} >= {RASA_KEYS.tracker(zoe.web)}
