"""`bot.web_admission`: the web chat's admission, journal and take in one Lua step.

Each case runs the one step on one conversation and the two steps it replaces (admission with
the survey's look, then journal and take, as `WebChatInput._admit` and `_journal_and_take` do)
on a twin conversation, on the same Redis, and compares what each answered and wrote.
"""

from __future__ import annotations

import json
from typing import Any, Dict, List, Optional, Tuple

import pytest
from redis.asyncio import Redis

from bot.web_admission import WebAdmission
from handoff.journal import TAKEN_FOR, Journal
from handoff.keys import Keys
from handoff.ratelimit import CHAT_MESSAGES, RateLimiter
from handoff.relay.inbound import TO_AGENT, TO_BOT, Inbound
from tests.integration.test_redis_scripts import calls

pytestmark = pytest.mark.integration

NOW = 1_800_000_000.0  # one rate window for the whole test


def parts(redis: Redis, keys: Keys) -> Tuple[RateLimiter, Journal, Inbound, WebAdmission]:
    limiter = RateLimiter(redis, keys, clock=lambda: NOW)
    journal, inbound = Journal(redis, keys), Inbound(redis, keys)
    return limiter, journal, inbound, WebAdmission(redis, keys, limiter, journal, inbound)


async def two_steps(redis: Redis, keys: Keys, cid: str, message_id: str, text: str
                    ) -> Tuple[Optional[int], bool, Optional[str], Optional[str]]:
    """What the channel does without the one step, up to the take (no survey answered)."""
    limiter, journal, inbound, _ = parts(redis, keys)
    async with redis.pipeline(transaction=False) as pipe:
        counted = await limiter.admit_once_on(pipe, CHAT_MESSAGES, cid,
                                              keys.web_message(cid, message_id), TAKEN_FOR)
        pipe.get(keys.survey_comment(cid))
        (count, claimed), pending = await pipe.execute()
    wait = limiter.verdict(counted, count)
    if wait is not None or not claimed or pending is not None:
        return wait, bool(claimed), pending, None
    async with redis.pipeline(transaction=False) as pipe:
        await journal.record_on(pipe, cid, "customer", {"text": text, "message_id": message_id})
        await inbound.take_first_on(pipe, cid, text, message_id, "webchat")
        replies = await pipe.execute()
    return None, True, None, Inbound.way(replies[-1])


async def one_step(redis: Redis, keys: Keys, cid: str, message_id: str, text: str
                   ) -> Tuple[Optional[int], bool, Optional[str], Optional[str]]:
    admitted = await parts(redis, keys)[3].admit_and_take(cid, message_id, text, "webchat", None)
    return admitted.wait, admitted.first, admitted.comment_pending, admitted.way


async def written(redis: Redis, keys: Keys, cid: str) -> Dict[str, Any]:
    """What a message left in Redis for `cid`, its own id taken out."""
    def plain(value: str) -> str:
        return value.replace(cid, "<cid>")

    def event(fields: Dict[str, str]) -> Dict[str, Any]:
        found = json.loads(fields["event"])
        found.pop("timestamp", None)
        return found

    journal = [{k: plain(v) for k, v in fields.items()}
               for _, fields in await redis.xrange(keys.journal(cid))]
    relay = [event(fields) for _, fields in await redis.xrange(keys.relay_stream)
             if fields["conversation_id"] == cid]
    segment = [event(fields) for _, fields in await redis.xrange(keys.segment(cid))]
    marks = {plain(k): await redis.get(k) for k in await redis.keys(f"*{{{cid}}}:web-msg:*")}
    rate = await redis.get(keys.rate(CHAT_MESSAGES.name, cid,
                                     int(NOW // CHAT_MESSAGES.window) * CHAT_MESSAGES.window))
    pending = await redis.zscore(keys.tracker_pending, cid) is not None
    return {"journal": journal, "relay": relay, "segment": segment, "marks": marks,
            "rate": rate, "tracker_pending": pending}


async def twins(redis: Redis, keys: Keys, state: Dict[str, str], messages: List[str],
                comment: Optional[str] = None) -> List[Any]:
    """Sends the same messages (ids, texts) to two twin conversations, one way each."""
    answers: List[Any] = []
    for cid, way in (("one", one_step), ("two", two_steps)):
        await redis.hset(keys.conversation(cid), mapping=state)
        if comment is not None:
            await redis.set(keys.survey_comment(cid), comment)
        got = [await way(redis, keys, cid, message_id, f"text of {message_id}")
               for message_id in messages]
        answers.append((got, await written(redis, keys, cid)))
    assert answers[0] == answers[1]
    return answers[0]


async def test_a_live_conversations_message_goes_to_the_agent_in_one_eval(redis, keys):
    await redis.hset(keys.conversation("c1"), mapping={"state": "assigned", "agent": "marie"})
    await redis.config_resetstat()
    await one_step(redis, keys, "c1", "m1", "hello")
    assert [await calls(redis, c) for c in ("script|exists", "script|load", "evalsha", "eval")] \
        == [0, 0, 0, 1]
    (got, left) = await twins(redis, keys, {"state": "assigned", "agent": "marie"}, ["m1"])
    assert got == [(None, True, None, TO_AGENT)]
    assert [entry["kind"] for entry in left["journal"]] == ["customer"]
    assert [e["text"] for e in left["relay"]] == [e["text"] for e in left["segment"]] \
        == ["text of m1"]
    assert left["marks"] == {"hf:test:conv:{<cid>}:web-msg:m1": "agent"}
    assert left["tracker_pending"]


async def test_the_bots_message_is_journaled_and_left_to_rasa(redis, keys):
    got, left = await twins(redis, keys, {"state": "bot"}, ["m1"])
    assert got == [(None, True, None, TO_BOT)]
    assert len(left["journal"]) == 1 and left["relay"] == [] and left["segment"] == []
    assert left["marks"] == {"hf:test:conv:{<cid>}:web-msg:m1": "bot"}


async def test_a_resend_stops_after_the_admission(redis, keys):
    got, left = await twins(redis, keys, {"state": "assigned", "agent": "marie"}, ["m1", "m1"])
    assert got == [(None, True, None, TO_AGENT), (None, False, None, None)]
    assert len(left["journal"]) == len(left["relay"]) == 1
    assert left["rate"] == "2"


async def test_over_the_limit_nothing_is_written_and_the_id_is_not_claimed(redis, keys):
    ids = [f"m{n}" for n in range(CHAT_MESSAGES.limit + 1)]
    got, left = await twins(redis, keys, {"state": "assigned", "agent": "marie"}, ids)
    assert got[-1][0] is not None and got[-1][1:] == (False, None, None)
    assert len(left["journal"]) == len(left["relay"]) == CHAT_MESSAGES.limit
    assert f"hf:test:conv:{{<cid>}}:web-msg:{ids[-1]}" not in left["marks"]


async def test_a_pending_survey_comment_stops_it_before_the_journal(redis, keys):
    got, left = await twins(redis, keys, {"state": "closed"}, ["m1"], comment="survey-7")
    assert got == [(None, True, "survey-7", None)]
    assert left["journal"] == [] and left["marks"] == {"hf:test:conv:{<cid>}:web-msg:m1": "1"}
