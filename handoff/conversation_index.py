"""The one-slot steps of a transition and the global indexes derived from the records.

A conversation's record (`Keys.conversation`, hash-tagged) is the one truth of its state. The
queue (`Keys.queue`) and the agents' sets (`Keys.agent_conversations`) live in slots of their
own: on a Redis Cluster nothing can change them atomically with the record. They are indexes
of it, kept by the state machine (`handoff.conversation`) and read by tolerant readers:

- what can only add (a seat in the new agent's set) is written before the record changes, so
  an index lags by an entry too many, never one missing: readers check each entry against its
  record (`ConversationStore.queued`, `agents_conversation_ids`);
- what takes out (the queue entry of a claimed conversation, the seat a lost claim took) comes
  after. Off a Cluster it is a Lua step that reads the record first and leaves an entry the
  record still justifies, so a removal that arrives late (after a later transition put the
  entry back) changes nothing. On a Cluster the record is on another node: a plain removal.

See docs/architecture.md (Redis topologies, Cluster: the transitions).
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Sequence

from handoff.keys import Keys
from handoff.redis_client import Script, is_cluster

# The decisive step of a claim, on the conversation's slot alone: the state (and, when a
# supervisor takes a transfer over, its holder) checked and the new one written at once.
# ARGV: the state it must be in, the agent it must be held by ('' for any), then field/value
# pairs. Replies {1, the record as it was} or {0, state, agent} when it was not claimable.
CLAIM = """
local state = redis.call('HGET', KEYS[1], 'state') or 'bot'
local agent = redis.call('HGET', KEYS[1], 'agent') or ''
if state ~= ARGV[1] or (ARGV[2] ~= '' and agent ~= ARGV[2]) then
  return {0, state, agent}
end
local before = redis.call('HGETALL', KEYS[1])
redis.call('HSET', KEYS[1], unpack(ARGV, 3))
return {1, before}
"""

# A seat in the agent's set, taken before the claim: the set counts what they hold and the
# claims under way, so two claims by one agent at once cannot both pass their limit (ARGV[2],
# '' for none). Replies 1 (taken), 0 (already there: not ours to give back), -1 (no seat).
SEAT = """
if redis.call('SISMEMBER', KEYS[1], ARGV[1]) == 1 then return 0 end
if ARGV[2] ~= '' and redis.call('SCARD', KEYS[1]) >= tonumber(ARGV[2]) then return -1 end
return redis.call('SADD', KEYS[1], ARGV[1])
"""

# Off a Cluster: out of the queue unless the record (KEYS[1]) says it is queued.
UNQUEUE = """
if redis.call('HGET', KEYS[1], 'state') == 'queued' then return 0 end
return redis.call('ZREM', KEYS[2], ARGV[1])
"""

# Off a Cluster: out of agent ARGV[2]'s set unless the record says that agent holds it.
UNSEAT = """
local state = redis.call('HGET', KEYS[1], 'state')
if redis.call('HGET', KEYS[1], 'agent') == ARGV[2]
    and (state == 'assigned' or state == 'transferred') then
  return 0
end
return redis.call('SREM', KEYS[2], ARGV[1])
"""

NO_SEAT = -1


class Index:
    """The steps above, on one client (single Redis, Sentinel's primary or a Cluster)."""

    def __init__(self, redis: Any, keys: Keys) -> None:
        self._redis, self._keys = redis, keys
        self.cluster = is_cluster(redis)
        self._claim = Script(redis, CLAIM)
        self._seat = Script(redis, SEAT)
        self._unseat = Script(redis, UNSEAT)

    async def claim(self, conversation_id: str, source: str, holder: Optional[str],
                    record: Dict[str, str]) -> List[Any]:
        """Runs `CLAIM`; its reply."""
        pairs = [item for field, value in record.items() for item in (field, value)]
        return list(await self._claim(keys=[self._keys.conversation(conversation_id)],
                                      args=[source, holder or "", *pairs]))

    async def take_seat(self, agent: str, conversation_id: str, limit: Optional[int]) -> int:
        """Runs `SEAT`: 1 (taken), 0 (was there), `NO_SEAT`."""
        return int(await self._seat(keys=[self._keys.agent_conversations(agent)],
                                    args=[conversation_id, "" if limit is None else limit]))

    async def give_back_seat(self, agent: str, conversation_id: str) -> None:
        """Takes back a seat `take_seat` took for a claim that did not happen."""
        if self.cluster:
            await self._redis.srem(self._keys.agent_conversations(agent), conversation_id)
        else:
            await self._unseat(keys=[self._keys.conversation(conversation_id),
                                     self._keys.agent_conversations(agent)],
                               args=[conversation_id, agent])

    def unqueue(self, pipe: Any, conversation_id: str) -> None:
        """Queues on `pipe` the removal of a conversation that left the queue."""
        if self.cluster:
            pipe.zrem(self._keys.queue, conversation_id)
        else:
            pipe.eval(UNQUEUE, 2, self._keys.conversation(conversation_id), self._keys.queue,
                      conversation_id)

    def unseat(self, pipe: Any, agent: str, conversation_id: str) -> None:
        """Queues on `pipe` the removal of a conversation `agent` no longer holds."""
        if self.cluster:
            pipe.srem(self._keys.agent_conversations(agent), conversation_id)
        else:
            pipe.eval(UNSEAT, 2, self._keys.conversation(conversation_id),
                      self._keys.agent_conversations(agent), conversation_id, agent)


def record_of(flat: Sequence[Any]) -> Dict[str, str]:
    """A hash that Lua returned as a flat list of fields and values."""
    items = [item.decode() if isinstance(item, bytes) else item for item in flat]
    return dict(zip(items[::2], items[1::2], strict=True))
