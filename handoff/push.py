"""Ephemeral notices over Redis pub/sub: frames for agents' consoles, events for customers.

At most once by nature: anything that must not be lost (messages, tickets, states) travels in
streams or through Rasa; these only make the screens live.
"""

from __future__ import annotations

import json
from typing import Any, Dict

from redis.asyncio import Redis

from handoff.keys import Keys


async def to_agents(redis: Redis, keys: Keys, frame: Dict[str, Any]) -> None:
    """A frame for the consoles of its `audience` ({"all": true} or {"agent": username})."""
    await redis.publish(keys.push_channel, json.dumps(frame, ensure_ascii=False))


async def to_customer(redis: Redis, keys: Keys, room: str, event: str,
                      data: Dict[str, Any]) -> None:
    """A socket.io event for the customer whose session id is `room` (see `bot.customer_events`)."""
    await redis.publish(keys.customer_channel,
                        json.dumps({"room": room, "event": event, "data": data},
                                   ensure_ascii=False))
