"""What the handoff service sends to customers' browsers, emitted by every Rasa process.

- agents' messages and notices of live conversations (`handoff.relay.outbound`): the delivery
  appends `{room, event, data}` to the `customer-out` stream; every Rasa process reads all of it
  from where it last was (a stream, not pub/sub: a reconnection to Redis loses nothing) and
  emits each to its own sockets in that room; while a page joins the room and is replayed what
  it missed (`bot.web`), the room's live messages wait (`held`), so that a newer message never
  reaches the page before the older ones of its replay;
- typing and queue status, ephemeral: the handoff service publishes `{room, event, data}` on the
  customer channel, and every Rasa process emits it to its own sockets likewise;
- customer typing: the web channel publishes a `typing` frame on the agents' push channel, for
  the agent who owns the conversation.
JSON, not pickle; the rooms are conversation ids (`bot.web`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import Any, AsyncIterator, Dict, Optional, Set

from redis.exceptions import RedisError
from socketio import AsyncServer

from handoff.conversation import HUMAN_STATES, ConversationStore
from handoff.keys import Keys
from handoff.push import agents, to_agents
from handoff.redis_client import connect, pubsub_client
from handoff.webchat_frames import for_plain_clients

logger = logging.getLogger(__name__)

ALLOWED_EVENTS = ("agent_typing", "queue_status")
MESSAGE_EVENTS = ("bot_uttered",)
READ_BLOCK_MS = 1000


class CustomerEvents:
    """Bridges typing events between this process's socket.io server and Redis."""

    def __init__(self, redis_url: str, keys: Keys) -> None:
        self._redis = connect(redis_url)
        self._keys = keys
        self._store = ConversationStore(self._redis, keys)
        self._task: Optional[asyncio.Task] = None
        self._messages: Optional[asyncio.Task] = None
        self._rooms: Dict[str, asyncio.Lock] = {}  # rooms held, and by how many
        self._holders: Dict[str, int] = {}
        # This process's sockets of clients that read no metadata (Rasa's own widgets), by room,
        # and the room of each.
        self._plain: Dict[str, Set[str]] = {}
        self._plain_room: Dict[str, str] = {}

    def client(self, room: str, sid: str, reads_metadata: bool) -> None:
        """`sid` speaks in `room` now.

        Unless it reads metadata, an agent's message reaches it with the name in the text.
        """
        self.gone(sid)
        if not reads_metadata:
            self._plain.setdefault(room, set()).add(sid)
            self._plain_room[sid] = room

    def gone(self, sid: str) -> None:
        """`sid` disconnected (or speaks elsewhere now)."""
        room = self._plain_room.pop(sid, None)
        plain = self._plain.get(room) if room is not None else None
        if plain is not None:
            plain.discard(sid)
            if not plain:
                del self._plain[room]

    @contextlib.asynccontextmanager
    async def held(self, room: str) -> AsyncIterator[None]:
        """Live messages to `room` wait meanwhile (in this process: rooms are per process).

        A page that reconnects joins its room, then is replayed the journal after its last id:
        a live message emitted in between would reach it before the older ones of the replay.
        Held, it comes after them (and, if the replay had it, the page drops it by its id).
        """
        lock = self._rooms.setdefault(room, asyncio.Lock())
        self._holders[room] = self._holders.get(room, 0) + 1
        try:
            async with lock:
                yield
        finally:
            self._holders[room] -= 1
            if not self._holders[room]:
                del self._holders[room], self._rooms[room]

    def start(self, sio: AsyncServer, namespace: Optional[str]) -> None:
        """Starts listening, once, on the running loop."""
        loop = asyncio.get_running_loop()
        if self._task is None or self._task.done():
            self._task = loop.create_task(self._listen(sio, namespace))
        if self._messages is None or self._messages.done():
            self._messages = loop.create_task(self._read_messages(sio, namespace))

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
                pubsub = pubsub_client(self._redis).pubsub(ignore_subscribe_messages=True)
                await pubsub.subscribe(self._keys.customer_channel)
                async for message in pubsub.listen():
                    if message.get("type") == "message":
                        await self._emit(sio, namespace, message["data"])
            except (RedisError, OSError, TypeError) as exc:
                # TypeError: redis-py's pub/sub, cut mid-reply, reads a missing response.
                logger.warning("webchat.customer_events.failure error=%r", exc)
                await asyncio.sleep(1)

    async def _read_messages(self, sio: AsyncServer, namespace: Optional[str]) -> None:
        """Emits the live path's messages to this process's sockets, in stream order."""
        stream, last = self._keys.customer_out_stream, "$"
        while True:
            try:
                if last == "$":
                    # From the newest entry on: a page that connects later replays the journal.
                    newest = await self._redis.xrevrange(stream, count=1)
                    last = newest[0][0] if newest else "0-0"
                reply = await self._redis.xread({stream: last}, block=READ_BLOCK_MS, count=200)
            except (RedisError, OSError) as exc:
                logger.warning("webchat.customer_out.failure error=%s", exc)
                await asyncio.sleep(0.2)
                continue
            for _, entries in reply or []:
                for entry_id, fields in entries:
                    last = entry_id
                    await self._emit_message(sio, namespace, fields)

    async def _emit_message(self, sio: AsyncServer, namespace: Optional[str],
                            fields: Dict[str, str]) -> None:
        try:
            data = json.loads(fields.get("data") or "{}")
        except json.JSONDecodeError:
            return
        room, event = fields.get("room"), fields.get("event")
        if event in MESSAGE_EVENTS and isinstance(room, str) and isinstance(data, dict):
            async with self.held(room):
                plain = sorted(self._plain.get(room, ()))
                named = for_plain_clients(data) if plain else None
                if named is None:
                    await sio.emit(event, data, room=room, namespace=namespace,
                                   ignore_queue=True)
                    return
                await sio.emit(event, data, room=room, namespace=namespace, skip_sid=plain,
                               ignore_queue=True)
                for sid in plain:
                    await sio.emit(event, named, room=sid, namespace=namespace,
                                   ignore_queue=True)

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

