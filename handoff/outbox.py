"""Messages on their way to a customer a person owns: accepted into a stream, delivered by a worker.

Agents' messages, and the notices the customer gets meanwhile (an agent joined, a transfer...):
both take the live path (`handoff.relay.outbound`), in the order they were accepted.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import asdict, dataclass, replace
from typing import Any, Dict, Optional

from redis.asyncio import Redis

from handoff.keys import Keys
from handoff.redis_client import check_replicated, is_cluster, replicated_on


@dataclass(frozen=True)
class OutboxMessage:
    """One agent message, as stored in `Keys.outbox_stream`."""

    id: str
    conversation_id: str
    agent: str
    agent_name: str
    text: str
    client_id: str = ""
    notice: str = ""  # a notice's kind (`handoff.notices.TEXTS`); empty for an agent's message
    extra: str = ""  # JSON: a notice's metadata and `slots` to set before it

    def extra_fields(self) -> Dict[str, Any]:
        """The decoded `extra`."""
        return json.loads(self.extra) if self.extra else {}

    def to_fields(self) -> Dict[str, str]:
        """Stream entry fields."""
        return asdict(self)

    @classmethod
    def from_fields(cls, fields: Dict[str, str]) -> "OutboxMessage":
        """Reads a stream entry."""
        return cls(**{k: fields.get(k, "") for k in cls.__dataclass_fields__})


# Records the client id and enqueues the message in one step, so that a crash cannot leave a
# client id recorded for a message that was never enqueued.
_ACCEPT = """
local first = redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2])
if first == 0 then return redis.call('HGET', KEYS[1], ARGV[1]) end
redis.call('XADD', KEYS[2], '*', unpack(ARGV, 3))
return ARGV[2]
"""

# On a Redis Cluster the outbox lives in another slot than the conversation: the step records
# the client id and keeps the message (`Keys.outbox_due`) in the conversation's slot, and the
# outbox entry follows. A resend of a message not delivered yet finds it there and enqueues it
# again (the delivery does each message once), so a crash between the two loses nothing.
# KEYS: client ids, outbox-due, delivered marks. ARGV: client id, message id, fields (JSON),
# lifetime. Replies {message id, fields to enqueue or false}.
_ACCEPT_THEN_ENQUEUE = """
if redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2]) == 1 then
  redis.call('HSET', KEYS[2], ARGV[2], ARGV[3])
  redis.call('EXPIRE', KEYS[2], ARGV[4])
  return {ARGV[2], ARGV[3]}
end
local id = redis.call('HGET', KEYS[1], ARGV[1])
local mark = redis.call('HGET', KEYS[3], id)
if mark == 'sent' or mark == 'failed' then return {id, false} end
return {id, redis.call('HGET', KEYS[2], id)}
"""
DUE_FOR = 3600  # seconds a console may send a message again and have it enqueued


async def accept(redis: Redis, keys: Keys, conversation_id: str, agent: str, agent_name: str,
                 text: str, client_id: Optional[str]) -> OutboxMessage:
    """Puts an agent message in the outbox.

    A resend with the same `client_id` is a no-op that returns the id of the message accepted
    the first time.
    """
    message = OutboxMessage(id=uuid.uuid4().hex, conversation_id=conversation_id, agent=agent,
                            agent_name=agent_name, text=text,
                            client_id=client_id or f"server-{uuid.uuid4().hex}")
    if is_cluster(redis):
        return await _accept_then_enqueue(redis, keys, message)
    flat = [part for item in message.to_fields().items() for part in item]
    async with redis.pipeline(transaction=False) as pipe:
        pipe.eval(_ACCEPT, 2, keys.client_ids(conversation_id), keys.outbox_stream,
                  message.client_id, message.id, *flat)
        # Accepted (202) only once on the replicas a failover could promote.
        waits = replicated_on(pipe, redis)
        replies = await pipe.execute()
    if waits:
        check_replicated(replies.pop(), waits)
    return replace(message, id=replies[0])


async def _accept_then_enqueue(redis: Any, keys: Keys, message: OutboxMessage) -> OutboxMessage:
    """`accept` on a Cluster: the step, then the outbox entry.

    Each is on the replicas in its own round trip: accepted only once both are.
    """
    cid = message.conversation_id
    async with redis.pipeline(transaction=False) as pipe:
        pipe.eval(_ACCEPT_THEN_ENQUEUE, 3, keys.client_ids(cid), keys.outbox_due(cid),
                  keys.delivered(cid), message.client_id, message.id,
                  json.dumps(message.to_fields(), ensure_ascii=False), DUE_FOR)
        waits = replicated_on(pipe, redis, near=keys.client_ids(cid))
        replies = await pipe.execute()
    if waits:
        check_replicated(replies.pop(), waits)
    message_id, due = replies[0]
    if due:
        async with redis.pipeline(transaction=False) as pipe:
            pipe.xadd(keys.outbox_stream, json.loads(due))
            waits = replicated_on(pipe, redis, near=keys.outbox_stream)
            replies = await pipe.execute()
        if waits:
            check_replicated(replies.pop(), waits)
    return replace(message, id=message_id)


async def enqueue_notice(redis: Redis, keys: Keys, conversation_id: str, kind: str, text: str,
                         metadata: Dict[str, Any], slots: Dict[str, Any]) -> OutboxMessage:
    """Puts a notice in the outbox, behind the agent messages accepted before it."""
    message = OutboxMessage(id=uuid.uuid4().hex, conversation_id=conversation_id, agent="",
                            agent_name="", text=text, notice=kind,
                            extra=json.dumps({"metadata": metadata, "slots": slots},
                                             ensure_ascii=False))
    await redis.xadd(keys.outbox_stream, message.to_fields())
    return message
