"""Internal notes on a conversation: for agents only, never sent to the customer."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any, Dict, List

from redis.asyncio import Redis

from handoff.keys import Keys
from handoff.redis_client import Script

MAX_NOTES = 500

# KEYS[1]: the conversation's notes. ARGV: the note, how many to keep. One step on one key:
# all or nothing on every topology (a Redis Cluster has no MULTI).
_ADD = """
redis.call('RPUSH', KEYS[1], ARGV[1])
redis.call('LTRIM', KEYS[1], -tonumber(ARGV[2]), -1)
"""


async def add(redis: Redis, keys: Keys, conversation_id: str, agent: str, agent_name: str,
              text: str) -> Dict[str, Any]:
    """Stores a note and returns it."""
    note = {"id": uuid.uuid4().hex, "agent": agent, "agent_name": agent_name, "text": text,
            "timestamp": time.time()}
    await Script(redis, _ADD)(keys=[keys.notes(conversation_id)],
                              args=[json.dumps(note, ensure_ascii=False), MAX_NOTES])
    return note


async def all_notes(redis: Redis, keys: Keys, conversation_id: str) -> List[Dict[str, Any]]:
    """The conversation's notes, oldest first."""
    return [json.loads(raw) for raw in await redis.lrange(keys.notes(conversation_id), 0, -1)]
