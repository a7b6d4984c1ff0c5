"""Which channel a conversation is on, and whether an agent can reach the customer there now.

The web chat always can. On Messenger, an agent may write up to 7 days after the customer's last
message (with the `HUMAN_AGENT` tag after 24 hours); after that the console says so before the
agent types (`handoff.messenger_api.send_fields`).
"""

from __future__ import annotations

from typing import Any, Dict, Optional

from redis.asyncio import Redis

from handoff.conversation import ConversationStore
from handoff.keys import Keys
from handoff.messenger_api import HUMAN_AGENT_WINDOW, send_fields

MESSENGER = "messenger"
WEB = "socketio"


async def channel_of(redis: Redis, keys: Keys, conversation_id: str) -> str:
    """The customer's channel when the conversation was handed off."""
    return (await ConversationStore(redis, keys).get(conversation_id)).channel or WEB


async def output_channel(redis: Redis, keys: Keys, conversation_id: str) -> str:
    """Where Rasa should send to reach the customer now.

    The conversation's channel (it may have moved since the customer last wrote), else the
    channel they last wrote from.
    """
    channel = (await ConversationStore(redis, keys).get(conversation_id)).channel
    return channel if channel in (WEB, MESSENGER) else "latest"


async def messenger_address(redis: Redis, keys: Keys, conversation_id: str) -> str:
    """The PSID to write to (a conversation that moved to Messenger keeps its own id)."""
    record = await ConversationStore(redis, keys).get(conversation_id)
    return record.messenger_psid or conversation_id


async def messenger_fields(redis: Redis, keys: Keys, conversation_id: str,
                           now: float) -> Optional[Dict[str, str]]:
    """Send API fields for an agent's message now, or None when the window is closed."""
    psid = await messenger_address(redis, keys, conversation_id)
    last = await redis.get(keys.messenger_last_inbound(psid))
    return send_fields(float(last) if last else None, now, human=True)


async def reach(redis: Redis, keys: Keys, conversation_id: str, now: float,
                channel: Optional[str] = None) -> Dict[str, Any]:
    """`{"channel", "can_reply", "tag", "until"}` for the console.

    `channel`: the conversation's, when the caller has its record (one round trip fewer).
    """
    channel = channel or await channel_of(redis, keys, conversation_id)
    if channel != MESSENGER:
        return {"channel": channel, "can_reply": True, "tag": None, "until": None}
    psid = await messenger_address(redis, keys, conversation_id)
    last = await redis.get(keys.messenger_last_inbound(psid))
    fields = send_fields(float(last) if last else None, now, human=True)
    return {"channel": channel, "can_reply": fields is not None,
            "tag": (fields or {}).get("tag"),
            "until": float(last) + HUMAN_AGENT_WINDOW if last else None}
