"""Customer → agent: the channel's one decision, and the message's way to the consoles.

`Inbound.take` runs in the Rasa process, in the channel, before anything reaches Rasa. In one
Redis step (a Lua script, so no state change can fall between the look and the write) it reads
the conversation's state and, if a person owns it or it is being given back to the bot
(`resume_pending`), appends the message to the conversation's segment, marks the segment for
the tracker writer and, for the consoles, appends it to the `relay` stream. Otherwise it writes
nothing and the channel gives the message to Rasa. A claim, a hand-back, a close or a cancel is
one transaction on the same hash, so each message is on one side of it: to the agent, or to the
bot, never both, never neither.
"""

from __future__ import annotations

import json
import time
from typing import Any, Dict, Optional

from redis.asyncio import Redis

from handoff.keys import Keys
from handoff.relay.turns import customer_event

# KEYS: conversation hash, segment, relay stream, tracker-pending zset, last customer turn.
# ARGV: conversation id, event JSON, now.
_TAKE = """
local state = redis.call('HGET', KEYS[1], 'state')
local human = state == 'queued' or state == 'assigned' or state == 'transferred'
local held = redis.call('HGET', KEYS[1], 'resume_pending')
if not human and not (held and held ~= '') then return 0 end
redis.call('XADD', KEYS[2], '*', 'event', ARGV[2])
redis.call('ZADD', KEYS[4], 'NX', ARGV[3], ARGV[1])
redis.call('HSET', KEYS[5], 'event', ARGV[2], 'answered', '0', 'held', human and '0' or '1')
if human then
  redis.call('XADD', KEYS[3], '*', 'conversation_id', ARGV[1], 'event', ARGV[2])
end
return 1
"""


class Inbound:
    """The channels' door to the live path."""

    def __init__(self, redis: Redis, keys: Keys) -> None:
        self._redis, self._keys = redis, keys
        self._script = redis.register_script(_TAKE)

    async def take(self, conversation_id: str, text: str, message_id: str, channel: str,
                   metadata: Optional[Dict[str, Any]] = None) -> bool:
        """Whether the message went to the person (True) or is the bot's to answer (False)."""
        now = time.time()
        event = customer_event(text, message_id, channel, metadata, at=now)
        keys = self._keys
        taken = await self._script(
            keys=[keys.conversation(conversation_id), keys.segment(conversation_id),
                  keys.relay_stream, keys.tracker_pending,
                  keys.last_customer_turn(conversation_id)],
            args=[conversation_id, json.dumps(event, ensure_ascii=False), repr(now)])
        return bool(taken)
