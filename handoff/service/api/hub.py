"""Agents' WebSocket connections in this process, fed from the Redis push channel.

Any process (action server, handoff service, another handoff service) publishes frames on one
pub/sub channel; every handoff service process forwards each frame to its own sockets whose agent
is in the frame's audience. Pub/sub is at-most-once: a console that reconnects reloads its state
through the HTTP API.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import Any, Dict, List, Optional, Set, Tuple

from aiohttp import WSCloseCode, web
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError

from handoff.accounts import Agent
from handoff.keys import Keys
from handoff.presence import HEARTBEAT, Presence
from handoff.push import everyone, reaches, unbatched
from handoff.redis_client import pubsub_client

logger = logging.getLogger(__name__)

Pair = Tuple[web.WebSocketResponse, Agent]


class Hub:
    """Registry of open agent sockets and the task that feeds them."""

    def __init__(self, redis: Redis, keys: Keys, presence: Presence) -> None:
        self._redis = redis
        self._keys = keys
        self._presence = presence
        self._sockets: Set[Pair] = set()
        self._by_agent: Dict[str, Set[Pair]] = {}
        self._supervisors: Set[Pair] = set()
        self._task: Optional[asyncio.Task] = None
        self._heartbeat: Optional[asyncio.Task] = None
        self.subscribed = asyncio.Event()

    async def add(self, ws: web.WebSocketResponse, agent: Agent) -> None:
        """Registers an agent's socket (with the account as it was when it connected)."""
        self._sockets.add((ws, agent))
        self._by_agent.setdefault(agent.username, set()).add((ws, agent))
        if agent.is_supervisor:
            self._supervisors.add((ws, agent))
        try:
            await self._presence.beat([agent.username], time.time())
        except (RedisConnectionError, OSError) as exc:
            logger.warning("hub.heartbeat.failure error=%s", exc)  # the next beat will do

    def remove(self, ws: web.WebSocketResponse, agent: Agent) -> None:
        """Forgets a closed socket."""
        self._sockets.discard((ws, agent))
        self._supervisors.discard((ws, agent))
        mine = self._by_agent.get(agent.username)
        if mine is not None:
            mine.discard((ws, agent))
            if not mine:
                del self._by_agent[agent.username]

    def start(self) -> None:
        """Starts listening to the push channel, and the consoles' heartbeat."""
        self._task = asyncio.create_task(self._listen(), name="hub")
        self._heartbeat = asyncio.create_task(self._beat(), name="hub-heartbeat")

    async def stop(self) -> None:
        """Stops listening and closes every socket with 'going away'."""
        for task in (self._task, self._heartbeat):
            if task is not None:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
        # All at once: each waits (up to its timeout) for its console's answer.
        await asyncio.gather(*(ws.close(code=WSCloseCode.GOING_AWAY, message=b"server shutdown")
                               for ws, _ in list(self._sockets)), return_exceptions=True)

    async def send(self, frame: Dict[str, Any]) -> None:
        """Sends a frame to the local sockets of its audience."""
        audience = frame.pop("audience", everyone())
        data = json.dumps(frame, ensure_ascii=False)
        for ws, agent in self._candidates(audience):
            if reaches(audience, agent):
                try:
                    await ws.send_str(data)
                except (ConnectionResetError, RuntimeError):
                    self.remove(ws, agent)

    def _candidates(self, audience: Dict[str, Any]) -> List[Pair]:
        # Most frames are one conversation's, for its agent and the supervisors: those sockets
        # only, not every console of the process (hundreds of them).
        if audience.get("all") or "team" in audience:
            return list(self._sockets)
        found = [pair for name in audience.get("agents", ())
                 for pair in self._by_agent.get(name, ())]
        if audience.get("supervisors"):
            found += [pair for pair in self._supervisors if pair not in found]
        return found

    async def _beat(self) -> None:
        # Agents with a console open here are there: `handoff.presence` reads these times.
        while True:
            try:
                await self._presence.beat({agent.username for _, agent in self._sockets},
                                          time.time())
            except (RedisConnectionError, OSError) as exc:
                logger.warning("hub.heartbeat.failure error=%s", exc)
            await asyncio.sleep(HEARTBEAT)

    async def _listen(self) -> None:
        while True:
            try:
                pubsub = pubsub_client(self._redis).pubsub(ignore_subscribe_messages=True)
                await pubsub.subscribe(self._keys.push_channel)
                self.subscribed.set()
                async for message in pubsub.listen():
                    if message.get("type") == "message":
                        for frame in unbatched(json.loads(message["data"])):
                            await self.send(frame)
            except (RedisConnectionError, OSError) as exc:
                self.subscribed.clear()
                logger.warning("hub.subscribe.failure error=%s", exc)
                await asyncio.sleep(0.5)
