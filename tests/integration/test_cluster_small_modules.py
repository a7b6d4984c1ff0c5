"""The atomic steps of the smaller modules on the tests' real Redis Cluster (issue 17), and the
same tests on a single Redis: each through the module's public API, checking what it wrote.

On a Cluster a Lua step, MULTI or WATCH may touch one slot only, and redis-py's cluster
pipelines are not transactions (`pipeline(transaction=True)` raises): each module's steps are
on one slot there, the writes in other slots following (see docs/architecture.md).
"""

from __future__ import annotations

import asyncio
import hashlib

import pytest
from redis.crc import key_slot

from handoff import notes
from handoff.channels import messenger_address
from handoff.journal import TAKEN_FOR
from handoff.keys import Keys
from handoff.metrics import Recorder, Records
from handoff.profiles import ProfileStore
from handoff.ratelimit import Limit, RateLimiter
from handoff.service.api.login_guard import Attempt, LoginGuard, LoginPolicy
from handoff.service.insights.enps import AlreadyAsked, EnpsStore
from handoff.survey import SurveyStore
from tests import events as ev

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

KEYS = Keys()


@pytest.fixture(params=["single", "cluster"])
def client(request):  # type: ignore[no-untyped-def]
    """Each test on a single Redis and on the Cluster."""
    return request.getfixturevalue("redis" if request.param == "single" else "cluster_client")


class Clock:
    """A clock the test moves."""

    def __init__(self) -> None:
        self.now = 30 * 33_334.0  # the start of a 30 s window

    def __call__(self) -> float:
        return self.now


def _slots(*keys: str) -> int:
    """How many hash slots `keys` fall in (for tests that need keys on several)."""
    return len({key_slot(key.encode()) for key in keys})


async def test_notes_are_added_and_trimmed(client, monkeypatch):
    monkeypatch.setattr(notes, "MAX_NOTES", 3)
    for n in range(5):
        await notes.add(client, KEYS, "c1", "alice", "Alice", f"note {n}")
    kept = await notes.all_notes(client, KEYS, "c1")
    assert [note["text"] for note in kept] == ["note 2", "note 3", "note 4"]
    assert {note["agent"] for note in kept} == {"alice"}


LIMIT = Limit("test", 3, 30)


async def test_rate_limit_counts_each_client_and_window(client):
    clock = Clock()
    limiter = RateLimiter(client, KEYS, clock)
    assert [await limiter.retry_after(LIMIT, "a") for _ in range(3)] == [None] * 3
    clock.now += 10
    assert await limiter.retry_after(LIMIT, "a") == 20
    assert await limiter.retry_after(LIMIT, "b") is None
    counter = KEYS.rate(LIMIT.name, "a", int(clock.now // 30) * 30)
    assert await client.get(counter) == "4"
    assert 0 < await client.ttl(counter) <= LIMIT.window + 1
    clock.now += 20
    assert await limiter.retry_after(LIMIT, "a") is None


async def test_rate_limit_admits_a_conversations_message_once(client):
    # The chat's admission: the conversation is the client, the once-key the message's mark.
    limiter = RateLimiter(client, KEYS, Clock())

    async def admit(message_id: str):  # type: ignore[no-untyped-def]
        async with client.pipeline(transaction=False) as pipe:
            counted = await limiter.admit_once_on(pipe, LIMIT, "c1",
                                                  KEYS.web_message("c1", message_id), TAKEN_FOR)
            (count, claimed), = await pipe.execute()
        return limiter.verdict(counted, count), bool(claimed)

    assert await admit("m1") == (None, True)
    assert await admit("m1") == (None, False)  # a resend
    assert await admit("m2") == (None, True)
    assert await admit("m3") == (30, False)  # over the limit: claims nothing
    assert not await client.exists(KEYS.web_message("c1", "m3"))
    assert await client.ttl(KEYS.web_message("c1", "m1")) > TAKEN_FOR - 5


async def test_login_guard_counts_failures_on_every_counter_and_trusts_a_success(client):
    clock = Clock()
    guard = LoginGuard(client, KEYS, LoginPolicy(per_client=2, per_account=3, per_address=4),
                       clock=clock)
    attempt = Attempt("alice", "10.0.0.7")
    counters = [KEYS.login_failures(scope) for scope in (
        "client:alice:address:10.0.0.7", "address:10.0.0.7", "account:alice")]
    assert _slots(*counters) > 1  # a MULTI over them is refused on the Cluster
    for _ in range(3):
        await guard.failed(attempt)
    for key in counters:
        assert await client.hget(key, "count") == "3"
        assert await client.hget(key, "last") == repr(clock.now)
        assert 0 < await client.ttl(key) <= LoginPolicy().forget_after
    assert await guard.retry_after(attempt) == 2  # per client: 2 free, then 1 s, 2 s
    device = await guard.succeeded(attempt)
    assert await client.exists(counters[0]) == 0  # this client's own counter is cleared
    assert await client.hget(counters[2], "count") == "3"  # the account's is not
    trusted = KEYS.login_trusted("alice")
    assert await client.zrange(trusted, 0, -1) == sorted(
        ["address:10.0.0.7", f"device:{_sha256(device)}"])
    assert 0 < await client.ttl(trusted) <= LoginPolicy().trust_for
    # A trusted client is held by its own counter only: the address's 3 failures don't count.
    assert await guard.retry_after(Attempt("alice", "10.0.0.7", device)) is None


def _sha256(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


SURVEY = {"conversation_id": "c1", "channel": "web", "language": "fr", "agent": "marie",
          "agent_name": "Marie", "team": "orders", "reason": "complaint", "intent": "complaint",
          "ticket_id": "t1"}


async def test_surveys_are_started_answered_discarded_and_listed(client):
    surveys = SurveyStore(client, KEYS)
    ids = [await surveys.start(closed_by="agent", asked_at=100.0 + n, **SURVEY)
           for n in range(4)]
    assert _slots(KEYS.surveys(), *map(KEYS.survey, ids)) > 1
    assert await surveys.answer(ids[0], "csat", 5) is True
    assert await surveys.answer(ids[0], "csat", 1) is False  # a repeated tap
    assert await surveys.decline(ids[1]) is True
    await surveys.discard(ids[2])
    assert await surveys.get(ids[2]) is None
    assert await client.zscore(KEYS.surveys(), ids[2]) is None
    rows = await surveys.between(100.0, 200.0)
    assert [row["survey_id"] for row in rows] == [ids[0], ids[1], ids[3]]
    assert [(row["csat"], row["declined"]) for row in rows] == [("5", "0"), ("", "1"), ("", "0")]
    assert rows[0]["team"] == "orders" and rows[0]["language"] == "fr"


async def test_a_survey_index_entry_without_its_record_is_skipped(client):
    # What a process that died between a survey's index entry and its record leaves.
    surveys = SurveyStore(client, KEYS)
    await client.zadd(KEYS.surveys(), {"lost": 150.0})
    kept = await surveys.start(closed_by="bot", asked_at=160.0, **SURVEY)
    assert [row["survey_id"] for row in await surveys.between(100.0, 200.0)] == [kept]


def _said(cid: str, at: float, intent: str = "order_status", channel: str = "socketio"):  # type: ignore[no-untyped-def]
    return {**ev.user("hi", intent, ts=at, channel=channel), "sender_id": cid}


async def test_conversation_sessions_are_started_and_ended(client):
    recorder, records = Recorder(client, KEYS), Records(client, KEYS)
    for event in [
        _said("web1", 100.0), _said("web1", 110.0, "delivery"),
        _said("web1", 110.0, "delivery"),  # a retried entry counts once
        _said("fb1", 200.0, channel="messenger"), {"event": "pause", "sender_id": "fb1"},
        {"event": "session_started", "timestamp": 300.0, "sender_id": "web1"},
        _said("web1", 301.0), _said("web1", 302.0),
    ]:
        await recorder.observe(event)
    await client.hset(KEYS.metrics_current("fb1"), "ended_at", "250.0")  # closed, as a close
    await recorder.observe(_said("fb1", 260.0, channel="messenger"))  # writes it: a new one
    sessions = await records.sessions(0.0, 1000.0)
    assert [(s.id, s.channel, s.handed_off, s.intents) for s in sessions] == [
        ("web1:100.0", "socketio", False, ("delivery", "order_status")),
        ("fb1:200.0", "messenger", True, ("order_status",)),
        ("fb1:260.0", "messenger", False, ("order_status",)),
        ("web1:301.0", "socketio", False, ("order_status",)),
    ]
    assert _slots(KEYS.metrics_current("web1"), KEYS.metrics_conversations,
                  *(KEYS.metrics_conversation(s.id) for s in sessions)) > 1
    assert await client.hget(KEYS.metrics_current("web1"), "session") == "web1:301.0"


async def test_a_sessions_record_written_before_a_crash_is_taken_up_by_the_retry(client):
    # What a process that died after writing a new session's record and index entry, before
    # making it current (on a Cluster), leaves; the relay worker then reads the event again.
    await client.hset(KEYS.metrics_conversation("web1:100.0"), mapping={
        "conversation_id": "web1", "channel": "socketio", "started_at": "100.0"})
    await client.zadd(KEYS.metrics_conversations, {"web1:100.0": 100.0})
    await Recorder(client, KEYS).observe(_said("web1", 100.0))
    [session] = await Records(client, KEYS).sessions(0.0, 1000.0)
    assert (session.id, session.intents) == ("web1:100.0", ("order_status",))
    assert await client.hget(KEYS.metrics_current("web1"), "session") == "web1:100.0"


async def test_of_two_messages_at_once_that_start_a_session_one_starts_it(client):
    recorder = Recorder(client, KEYS)
    await asyncio.gather(*(recorder.observe(_said("web1", 100.0 + n)) for n in range(4)))
    sessions = await Records(client, KEYS).sessions(0.0, 1000.0)
    assert len(sessions) == 1
    assert await client.hget(KEYS.metrics_current("web1"), "session") == sessions[0].id
    leftovers = [key async for key in client.scan_iter(match=KEYS.metrics_conversation("*"))]
    assert leftovers == [KEYS.metrics_conversation(sessions[0].id)]


NOVEMBER, DECEMBER = 1_762_000_000.0, 1_765_000_000.0  # 2025-11-01, 2025-12-06 (UTC)


async def test_enps_answers_are_counted_once_per_agent_and_month(client):
    enps = EnpsStore(client, KEYS)
    for username, score in (("ann", 10), ("bob", 9), ("cid", 3)):
        await enps.answer(username, score, NOVEMBER)
    await enps.answer("dan", None, NOVEMBER)  # dismissed: asked, nothing counted
    with pytest.raises(AlreadyAsked):
        await enps.answer("ann", 0, NOVEMBER + 60)
    assert not await enps.should_ask("dan", NOVEMBER)
    assert await enps.should_ask("ann", DECEMBER)
    assert _slots(KEYS.enps_asked("2025-11"), KEYS.enps_scores("2025-11"),
                  KEYS.enps_periods) > 1
    await enps.answer("ann", 8, DECEMBER)
    assert [p.public() for p in await enps.scores("2025-01", "2025-12")] == [
        {"period": "2025-11", "answers": 3, "score": 33.3, "shown": True},
        {"period": "2025-12", "answers": 1, "score": None, "shown": False}]
    assert await client.hgetall(KEYS.enps_scores("2025-11")) == {"10": "1", "9": "1", "3": "1"}


async def test_enps_of_one_agent_answering_at_once_one_answer_counts(client):
    enps = EnpsStore(client, KEYS)
    results = await asyncio.gather(*(enps.answer("ann", n, NOVEMBER) for n in range(5)),
                                   return_exceptions=True)
    assert sum(r is None for r in results) == 1
    assert all(isinstance(r, AlreadyAsked) for r in results if r is not None), results
    [period] = await enps.scores("2025-11", "2025-11")
    assert period.answers == 1


async def test_enps_a_month_written_ahead_of_an_answer_that_did_not_come_is_skipped(client):
    # What a Cluster's answer leaves when it was refused, or its process died, after the month.
    enps = EnpsStore(client, KEYS)
    await client.sadd(KEYS.enps_periods, "2025-10")
    await enps.answer("ann", 7, NOVEMBER)
    assert [p.period for p in await enps.scores("2025-01", "2025-12")] == ["2025-11"]


async def test_profiles_are_linked_and_merged(client):
    profiles = ProfileStore(client, KEYS)
    first = await profiles.link("socketio:a", "messenger:1")
    second = await profiles.link("socketio:b", "messenger:2")
    assert await profiles.identities("socketio:a") == ["messenger:1", "socketio:a"]
    assert _slots(KEYS.profile(first), KEYS.profile(second),
                  *map(KEYS.profile_of, ["socketio:a", "messenger:1", "socketio:b"])) > 1
    merged = await profiles.link("messenger:1", "socketio:b")  # the same person, it turns out
    everyone = ["messenger:1", "messenger:2", "socketio:a", "socketio:b"]
    for member in everyone:
        assert await profiles.identities(member) == everyone
        assert await profiles.profile_id(member) == merged
    gone = {first, second} - {merged}
    assert [await client.exists(KEYS.profile(other)) for other in gone] == [0]


async def test_a_conversation_moves_to_messenger_and_back(client):
    profiles = ProfileStore(client, KEYS)
    await profiles.link("socketio:web-1", "messenger:psid-9")
    await profiles.move_to_messenger("web-1", "psid-9")
    assert await profiles.messenger_conversation("psid-9") == "web-1"
    assert await messenger_address(client, KEYS, "web-1") == "psid-9"
    assert await client.hget(KEYS.conversation("web-1"), "channel") == "messenger"
    assert await profiles.linked_conversations("web-1") == ["psid-9", "web-1"]
    await profiles.move_to_web("web-1")
    assert await client.hget(KEYS.conversation("web-1"), "channel") == "socketio"
