"""Events between customers' browsers and agents that are not messages: typing, queue status.

Messages always go through Rasa (one record). Typing is ephemeral, so it takes a shorter path:
- customer typing: the web channel publishes a `typing` frame on the agents' push channel, for
  the agent who owns the conversation;
- agent typing: the handoff service publishes `{room, event, data}` on the customer channel; every
  Rasa process's web channel listens and emits it to its own sockets in that room (JSON, not
  pickle, and no change to how bot messages travel).
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any, Dict, Optional

from redis.exceptions import RedisError
from socketio import AsyncServer

from handoff.conversation import HUMAN_STATES, ConversationStore
from handoff.keys import Keys
from handoff.push import agents, to_agents
from handoff.redis_client import connect

logger = logging.getLogger(__name__)

ALLOWED_EVENTS = ("agent_typing", "queue_status")


class CustomerEvents:
    """Bridges typing events between this process's socket.io server and Redis."""

    def __init__(self, redis_url: str, keys: Keys) -> None:
        self._redis = connect(redis_url)
        self._keys = keys
        self._store = ConversationStore(self._redis, keys)
        self._task: Optional[asyncio.Task] = None

    def start(self, sio: AsyncServer, namespace: Optional[str]) -> None:
        """Starts listening, once, on the running loop."""
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._listen(sio, namespace))

    async def customer_typing(self, conversation_id: str, typing: bool) -> None:
        """Tells the agent who owns the conversation, if any, that the customer types."""
        try:
            record = await self._store.get(conversation_id)
            if record.state not in HUMAN_STATES or not record.agent:
                return
            frame = {"type": "typing", "conversation_id": conversation_id, "typing": typing,
                     "audience": agents(record.agent)}
            await to_agents(self._redis, self._keys, frame)
        except RedisError as exc:
            logger.warning("webchat.typing.failure conversation=%s error=%s", conversation_id, exc)

    async def _listen(self, sio: AsyncServer, namespace: Optional[str]) -> None:
        while True:
            try:
                pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
                await pubsub.subscribe(self._keys.customer_channel)
                async for message in pubsub.listen():
                    if message.get("type") == "message":
                        await self._emit(sio, namespace, message["data"])
            except (RedisError, OSError) as exc:
                logger.warning("webchat.customer_events.failure error=%s", exc)
                await asyncio.sleep(1)

    async def _emit(self, sio: AsyncServer, namespace: Optional[str], raw: str) -> None:
        try:
            item: Dict[str, Any] = json.loads(raw)
        except json.JSONDecodeError:
            return
        if item.get("event") in ALLOWED_EVENTS and isinstance(item.get("room"), str):
            # Every Rasa process gets the event: each emits to its own sockets only (with the
            # Redis manager, a queued emit would reach the customer once per process).
            await sio.emit(item["event"], item.get("data") or {}, room=item["room"],
                           namespace=namespace, ignore_queue=True)

