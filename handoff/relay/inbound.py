"""Customer → agent: the channel's one decision, and the message's way to the consoles.

`Inbound.take` runs in the Rasa process, in the channel, before anything reaches Rasa. In one
Redis step (a Lua script, so no state change can fall between the look and the write) it reads
the conversation's state and, if a person owns it or it is being given back to the bot
(`resume_pending`), appends the message to the conversation's segment, marks the segment for
the tracker writer and, for the consoles, appends it to the `relay` stream. Otherwise it writes
nothing and the channel gives the message to Rasa. A claim, a hand-back, a close or a cancel is
one transaction on the same hash, so each message is on one side of it: to the agent, or to the
bot, never both, never neither. On a Redis Cluster the step holds what lives in the
conversation's slot; the relay and tracker-writer entries follow it (`Inbound.follow`).
On the web chat, the way a message went is recorded under its id in that same step
(`take_once`), so that a resend of it is taken once, even when the process that had its first
attempt died before taking it.
"""

from __future__ import annotations

import json
import time
from typing import Any, Dict, List, Optional, Tuple

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline

from handoff.journal import TAKEN_FOR
from handoff.keys import Keys
from handoff.redis_client import Script, check_replicated, is_cluster, replicated_on
from handoff.relay.turns import customer_event

# KEYS: conversation hash, segment, relay stream, tracker-pending zset, last customer turn; and,
# for a message whose id a client may send again (the web chat), the id's mark (`web_message`).
# On a Cluster a step names one slot's keys: the relay stream's and the tracker-pending zset's
# places hold the conversation's relay-due hash (`relay_due`), and their writes follow the step
# (`Inbound.follow`). ARGV: conversation id, event JSON, now, `all` (off a Cluster) or `follow`,
# the message id, the mark's lifetime, and `first` (a first attempt: both ways are recorded),
# `again` (a resend: only a take is) or '' (no mark).
# Replies 0 (the bot's), 1 (the person's), 2 (taken before), 3 (held for the bot's resume).
TAKE_LUA = """
local mark = KEYS[6]
if mark then
  local before = redis.call('GET', mark)
  if before == 'agent' or (before == 'bot' and ARGV[7] == 'again') then return 2 end
end
local state = redis.call('HGET', KEYS[1], 'state')
local human = state == 'queued' or state == 'assigned' or state == 'transferred'
local held = redis.call('HGET', KEYS[1], 'resume_pending')
if not human and not (held and held ~= '') then
  if mark and ARGV[7] == 'first' then redis.call('SET', mark, 'bot', 'EX', ARGV[6]) end
  return 0
end
redis.call('XADD', KEYS[2], '*', 'event', ARGV[2])
redis.call('HSET', KEYS[5], 'event', ARGV[2], 'answered', '0', 'held', human and '0' or '1')
if ARGV[4] == 'all' then
  redis.call('ZADD', KEYS[4], 'NX', ARGV[3], ARGV[1])
  if human then
    redis.call('XADD', KEYS[3], '*', 'conversation_id', ARGV[1], 'event', ARGV[2])
  end
elseif human then
  redis.call('HSET', KEYS[3], ARGV[5], ARGV[2])
  redis.call('EXPIRE', KEYS[3], ARGV[6])
end
if mark then redis.call('SET', mark, 'agent', 'EX', ARGV[6]) end
if human then return 1 end
return 3
"""

# What `take_once` found: the message went to the person now, is the bot's to answer, or was
# taken before (an earlier attempt took it, or gave it to the bot).
TO_AGENT, TO_BOT, TAKEN_BEFORE = "agent", "bot", "taken_before"
_WAYS = {0: TO_BOT, 1: TO_AGENT, 2: TAKEN_BEFORE, 3: TO_AGENT}
_RELAYED, _HELD, _BEFORE = 1, 3, 2


class Inbound:
    """The channels' door to the live path."""

    def __init__(self, redis: Redis, keys: Keys) -> None:
        self._redis, self._keys = redis, keys
        self._script = Script(redis, TAKE_LUA)
        self._follows = is_cluster(redis)

    async def take(self, conversation_id: str, text: str, message_id: str, channel: str,
                   metadata: Optional[Dict[str, Any]] = None) -> bool:
        """Whether the message went to the person (True) or is the bot's to answer (False)."""
        return await self._take(conversation_id, text, message_id, channel, metadata) == TO_AGENT

    async def take_once(self, conversation_id: str, text: str, message_id: str, channel: str,
                        metadata: Optional[Dict[str, Any]] = None, *,
                        again: bool = False) -> str:
        """`take` for a message whose client sends it again, same id, until acknowledged.

        The way it went is recorded under its id in the same step as the take: a resend of a
        message taken is `TAKEN_BEFORE`, and one whose first attempt never got that far (the
        process handling it died) is taken now. A first attempt records the bot's way too, so
        that a resend after a claim does not reach the agent as well; a resend (`again`)
        records only a take, so that an attempt still under way elsewhere decides. A first
        attempt taken by a resend meanwhile is `TAKEN_BEFORE`.
        """
        return await self._take(conversation_id, text, message_id, channel, metadata,
                                "again" if again else "first")

    async def take_first_on(self, pipe: Pipeline, conversation_id: str, text: str,
                            message_id: str, channel: str,
                            metadata: Optional[Dict[str, Any]] = None) -> List[Any]:
        """`take_once` of a first attempt, queued on `pipe`; give its reply to `way`.

        For a channel that has other writes to make in the same round trip. Once the pipeline
        ran, give the args returned and the reply to `follow`.
        """
        keys, args = self.take_parts(conversation_id, text, message_id, channel, metadata,
                                     "first")
        await self._script(keys=keys, args=args, client=pipe)
        return args

    @staticmethod
    def way(reply: Any) -> str:
        """The way a message went (`TO_AGENT`, `TO_BOT`, `TAKEN_BEFORE`), from a take's reply."""
        return _WAYS[int(reply)]

    async def follow(self, args: List[Any], reply: Any) -> None:
        """On a Cluster, the take's writes in other slots, once its step has passed.

        The tracker writer's entry, and the person's relay entry. The step kept the relay
        entry's event in the conversation's slot (`relay_due`) until it is written: a resend of
        a message whose process died before that (the page and Messenger send again until
        answered) finds it there and makes it follow then. A resend while the first attempt is
        between the two relays it twice; the consoles show a message id once. Off a Cluster the
        step wrote all of it.
        """
        if not self._follows:
            return
        conversation_id, event, now, message_id = args[0], args[1], args[2], args[4]
        if int(reply) == _BEFORE:
            event = await self._redis.hget(self._keys.relay_due(conversation_id), message_id)
            if event is None:
                return  # relayed already, or the bot's
        elif int(reply) not in (_RELAYED, _HELD):
            return
        relayed = int(reply) != _HELD
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.zadd(self._keys.tracker_pending, {conversation_id: float(now)}, nx=True)
            if relayed:
                pipe.xadd(self._keys.relay_stream,
                          {"conversation_id": conversation_id, "event": event})
            # Acknowledged to the customer after this: on the replicas first, as the step.
            waits = replicated_on(pipe, self._redis, near=self._keys.relay_stream) \
                if relayed else 0
            replies = await pipe.execute()
        if waits:
            check_replicated(replies[-1], waits)
        if relayed:  # after: a cluster pipeline's nodes answer in any order
            await self._redis.hdel(self._keys.relay_due(conversation_id), message_id)

    async def _take(self, conversation_id: str, text: str, message_id: str, channel: str,
                    metadata: Optional[Dict[str, Any]], attempt: Optional[str] = None) -> str:
        keys, args = self.take_parts(conversation_id, text, message_id, channel, metadata,
                                     attempt)
        reply = await self._script(keys=keys, args=args, client=self._redis)
        await self.follow(args, reply)
        return self.way(reply)

    def take_parts(self, conversation_id: str, text: str, message_id: str, channel: str,
                   metadata: Optional[Dict[str, Any]], attempt: Optional[str] = None
                   ) -> Tuple[List[str], List[Any]]:
        """`TAKE_LUA`'s keys and args, for a caller's own script; its reply goes to `way`."""
        now = time.time()
        event = customer_event(text, message_id, channel, metadata, at=now)
        keys = self._keys
        marks = [keys.web_message(conversation_id, message_id)] if attempt else []
        others = [keys.relay_due(conversation_id)] * 2 if self._follows else \
            [keys.relay_stream, keys.tracker_pending]
        return ([keys.conversation(conversation_id), keys.segment(conversation_id), *others,
                 keys.last_customer_turn(conversation_id), *marks],
                [conversation_id, json.dumps(event, ensure_ascii=False), repr(now),
                 "follow" if self._follows else "all", message_id, TAKEN_FOR, attempt or ""])
