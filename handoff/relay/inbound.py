"""Customer → agent: the channel's one decision, and the message's way to the consoles.

`Inbound.take` runs in the Rasa process, in the channel, before anything reaches Rasa. In one
Redis step (a Lua script, so no state change can fall between the look and the write) it reads
the conversation's state and, if a person owns it or it is being given back to the bot
(`resume_pending`), appends the message to the conversation's segment, marks the segment for
the tracker writer and, for the consoles, appends it to the `relay` stream. Otherwise it writes
nothing and the channel gives the message to Rasa. A claim, a hand-back, a close or a cancel is
one transaction on the same hash, so each message is on one side of it: to the agent, or to the
bot, never both, never neither. On the web chat, the way a message went is recorded under its id
in that same step (`take_once`), so that a resend of it is taken once, even when the process that
had its first attempt died before taking it.
"""

from __future__ import annotations

import json
import time
from typing import Any, Dict, List, Optional, Tuple, Union

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline

from handoff.journal import TAKEN_FOR
from handoff.keys import Keys
from handoff.redis_client import Script
from handoff.relay.turns import customer_event

# KEYS: conversation hash, segment, relay stream, tracker-pending zset, last customer turn; and,
# for a message whose id a client may send again (the web chat), the id's mark (`web_message`).
# ARGV: conversation id, event JSON, now; with the mark: its lifetime, and `first` (a first
# attempt: both ways are recorded) or `again` (a resend: only a take is).
TAKE_LUA = """
local mark = KEYS[6]
if mark then
  local before = redis.call('GET', mark)
  if before == 'agent' or (before == 'bot' and ARGV[5] == 'again') then return 2 end
end
local state = redis.call('HGET', KEYS[1], 'state')
local human = state == 'queued' or state == 'assigned' or state == 'transferred'
local held = redis.call('HGET', KEYS[1], 'resume_pending')
if not human and not (held and held ~= '') then
  if mark and ARGV[5] == 'first' then redis.call('SET', mark, 'bot', 'EX', ARGV[4]) end
  return 0
end
redis.call('XADD', KEYS[2], '*', 'event', ARGV[2])
redis.call('ZADD', KEYS[4], 'NX', ARGV[3], ARGV[1])
redis.call('HSET', KEYS[5], 'event', ARGV[2], 'answered', '0', 'held', human and '0' or '1')
if human then
  redis.call('XADD', KEYS[3], '*', 'conversation_id', ARGV[1], 'event', ARGV[2])
end
if mark then redis.call('SET', mark, 'agent', 'EX', ARGV[4]) end
return 1
"""

# What `take_once` found: the message went to the person now, is the bot's to answer, or was
# taken before (an earlier attempt took it, or gave it to the bot).
TO_AGENT, TO_BOT, TAKEN_BEFORE = "agent", "bot", "taken_before"
_WAYS = {0: TO_BOT, 1: TO_AGENT, 2: TAKEN_BEFORE}


class Inbound:
    """The channels' door to the live path."""

    def __init__(self, redis: Redis, keys: Keys) -> None:
        self._redis, self._keys = redis, keys
        self._script = Script(redis, TAKE_LUA)

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
                            metadata: Optional[Dict[str, Any]] = None) -> None:
        """`take_once` of a first attempt, queued on `pipe`; give its reply to `way`.

        For a channel that has other writes to make in the same round trip.
        """
        await self._take_on(pipe, conversation_id, text, message_id, channel, metadata, "first")

    @staticmethod
    def way(reply: Any) -> str:
        """The way a message went (`TO_AGENT`, `TO_BOT`, `TAKEN_BEFORE`), from a take's reply."""
        return _WAYS[int(reply)]

    async def _take(self, conversation_id: str, text: str, message_id: str, channel: str,
                    metadata: Optional[Dict[str, Any]], attempt: Optional[str] = None) -> str:
        return self.way(await self._take_on(self._redis, conversation_id, text, message_id,
                                            channel, metadata, attempt))

    async def _take_on(self, client: Union[Redis, Pipeline], conversation_id: str, text: str,
                       message_id: str, channel: str, metadata: Optional[Dict[str, Any]],
                       attempt: Optional[str]) -> Any:
        keys, args = self.take_parts(conversation_id, text, message_id, channel, metadata,
                                     attempt)
        return await self._script(keys=keys, args=args, client=client)

    def take_parts(self, conversation_id: str, text: str, message_id: str, channel: str,
                   metadata: Optional[Dict[str, Any]], attempt: Optional[str] = None
                   ) -> Tuple[List[str], List[Any]]:
        """`TAKE_LUA`'s keys and args, for a caller's own script; its reply goes to `way`."""
        now = time.time()
        event = customer_event(text, message_id, channel, metadata, at=now)
        keys = self._keys
        marks = [keys.web_message(conversation_id, message_id)] if attempt else []
        return ([keys.conversation(conversation_id), keys.segment(conversation_id),
                 keys.relay_stream, keys.tracker_pending,
                 keys.last_customer_turn(conversation_id), *marks],
                [conversation_id, json.dumps(event, ensure_ascii=False), repr(now),
                 *([TAKEN_FOR, attempt] if attempt else [])])
