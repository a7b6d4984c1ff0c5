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
from handoff.redis_client import check_replicated, replicated_on


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


async def accept(redis: Redis, keys: Keys, conversation_id: str, agent: str, agent_name: str,
                 text: str, client_id: Optional[str]) -> OutboxMessage:
    """Puts an agent message in the outbox.

    A resend with the same `client_id` is a no-op that returns the id of the message accepted
    the first time.
    """
    message = OutboxMessage(id=uuid.uuid4().hex, conversation_id=conversation_id, agent=agent,
                            agent_name=agent_name, text=text,
                            client_id=client_id or f"server-{uuid.uuid4().hex}")
    flat = [part for item in message.to_fields().items() for part in item]
    async with redis.pipeline(transaction=False) as pipe:
        pipe.eval(_ACCEPT, 2, keys.client_ids(conversation_id), keys.outbox_stream,
                  message.client_id, message.id, *flat)
        # Accepted (202) only once on the replicas a failover could promote.
        waits = replicated_on(pipe, redis)
        replies = await pipe.execute()
    if waits:
        check_replicated(replies.pop(), redis)
    return replace(message, id=replies[0])


async def enqueue_notice(redis: Redis, keys: Keys, conversation_id: str, kind: str, text: str,
                         metadata: Dict[str, Any], slots: Dict[str, Any]) -> OutboxMessage:
    """Puts a notice in the outbox, behind the agent messages accepted before it."""
    message = OutboxMessage(id=uuid.uuid4().hex, conversation_id=conversation_id, agent="",
                            agent_name="", text=text, notice=kind,
                            extra=json.dumps({"metadata": metadata, "slots": slots},
                                             ensure_ascii=False))
    await redis.xadd(keys.outbox_stream, message.to_fields())
    return message
