"""A web chat message in one Redis step, when nothing has to be looked at in between.

The chat admits each customer message (the rate limit and whether its id is new:
`handoff.ratelimit`; whether a survey waits for a comment: `handoff.survey`), then journals it
and gives it to the live path's decision (`handoff.journal`, `handoff.relay.inbound`): two round
trips. For a message that is neither a command (a button's payload, checked against what the bot
offered) nor a survey's answer, nothing in Python lies between the two, so one Lua step runs
both, each owner's Lua run as a function of it. The step stops after the admission, having
written nothing more, when the message is over the limit, was seen before, or may be a survey's
comment: the channel then goes its longer way from there, as for any message.

Its keys are the conversation's and the rate limit's counter, as those of the two steps it
replaces (a single Redis or a Sentinel group; a Cluster needs them in one slot: issue 17).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, Optional

from redis.asyncio import Redis

from handoff.journal import RECORD_LUA, TAKEN_FOR, Journal
from handoff.keys import Keys
from handoff.ratelimit import ADMIT_ONCE_LUA, CHAT_MESSAGES, RateLimiter
from handoff.redis_client import Script, check_replicated, replicated_on
from handoff.relay.inbound import TAKE_LUA, Inbound

# KEYS: the admission's 2 (rate counter, the message id's mark), the survey comment's, the
# journal's 1, the take's 5 (its mark is the admission's). ARGV: the admission's 3, the
# journal's 3, the take's 7.
# Reply: {count, claimed, way or -1 when stopped after the admission, pending survey or false}.
_STEP = f"""
local function admit(KEYS, ARGV)
{ADMIT_ONCE_LUA}
end
local function record(KEYS, ARGV)
{RECORD_LUA}
end
local function take(KEYS, ARGV)
{TAKE_LUA}
end
local admitted = admit({{KEYS[1], KEYS[2]}}, {{ARGV[1], ARGV[2], ARGV[3]}})
if admitted[2] == 0 then return {{admitted[1], 0, -1, false}} end
local pending = redis.call('GET', KEYS[3])
if pending then return {{admitted[1], 1, -1, pending}} end
record({{KEYS[4]}}, {{ARGV[4], ARGV[5], ARGV[6]}})
local way = take({{KEYS[5], KEYS[6], KEYS[7], KEYS[8], KEYS[9], KEYS[2]}},
                 {{ARGV[7], ARGV[8], ARGV[9], ARGV[10], ARGV[11], ARGV[12], ARGV[13]}})
return {{admitted[1], 1, way, false}}
"""


@dataclass(frozen=True)
class Admitted:
    """What the step found: as `WebChatInput._admit`'s answer, and the way if it took it."""

    wait: Optional[int]  # seconds before the page may send it again; None: admitted
    first: bool  # this message id was new
    comment_pending: Optional[str]  # a survey waits for a comment (the step then took nothing)
    way: Optional[str]  # `handoff.relay.inbound`'s way, when the step journaled and took it


class WebAdmission:
    """Admits, journals and takes a web chat message in one round trip."""

    def __init__(self, redis: Redis, keys: Keys, limiter: RateLimiter, journal: Journal,
                 inbound: Inbound) -> None:
        self._redis, self._keys = redis, keys
        self._limiter, self._journal, self._inbound = limiter, journal, inbound
        self._step = Script(redis, _STEP)

    async def admit_and_take(self, conversation_id: str, message_id: str, text: str,
                             channel: str, metadata: Optional[Dict[str, Any]]) -> Admitted:
        """Runs the step (and, under Sentinel, waits for the replicas in the same trip)."""
        mark = self._keys.web_message(conversation_id, message_id)
        admit_keys, admit_args, counted = self._limiter.admit_once_parts(
            CHAT_MESSAGES, conversation_id, mark, TAKEN_FOR)
        journal_keys, journal_args = self._journal.record_lua_parts(
            conversation_id, "customer", {"text": text, "message_id": message_id})
        take_keys, take_args = self._inbound.take_parts(conversation_id, text, message_id,
                                                        channel, metadata, "first")
        keys = [*admit_keys, self._keys.survey_comment(conversation_id), *journal_keys,
                *take_keys[:5]]
        args = [*admit_args, *journal_args, *take_args]
        async with self._redis.pipeline(transaction=False) as pipe:
            await self._step(keys=keys, args=args, client=pipe)
            waits = replicated_on(pipe, self._redis,
                                  near=self._keys.conversation(conversation_id))
            replies = await pipe.execute(raise_on_error=False)
        if waits:  # not on enough replicas: not acknowledged, the page sends it again
            check_replicated(replies.pop(), waits)
        if isinstance(replies[0], Exception):
            raise replies[0]
        count, claimed, way, pending = replies[0]
        if int(way) >= 0:
            await self._inbound.follow(take_args, way)
        return Admitted(wait=self._limiter.verdict(counted, count), first=bool(claimed),
                        comment_pending=pending or None,
                        way=None if int(way) < 0 else self._inbound.way(way))
