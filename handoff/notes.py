"""Internal notes on a conversation: for agents only, never sent to the customer."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any, Dict, List

from redis.asyncio import Redis

from handoff.keys import Keys

MAX_NOTES = 500


async def add(redis: Redis, keys: Keys, conversation_id: str, agent: str, agent_name: str,
              text: str) -> Dict[str, Any]:
    """Stores a note and returns it."""
    note = {"id": uuid.uuid4().hex, "agent": agent, "agent_name": agent_name, "text": text,
            "timestamp": time.time()}
    async with redis.pipeline(transaction=True) as pipe:
        pipe.rpush(keys.notes(conversation_id), json.dumps(note, ensure_ascii=False))
        pipe.ltrim(keys.notes(conversation_id), -MAX_NOTES, -1)
        await pipe.execute()
    return note


async def all_notes(redis: Redis, keys: Keys, conversation_id: str) -> List[Dict[str, Any]]:
    """The conversation's notes, oldest first."""
    return [json.loads(raw) for raw in await redis.lrange(keys.notes(conversation_id), 0, -1)]
