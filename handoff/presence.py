"""Whether agents are really there, and what happens to their conversations when they are not.

An agent is *available* for new conversations when their presence (chosen in the console) is
`online` and one of their consoles was connected within `grace` seconds: every handoff-service
process writes, every `HEARTBEAT` seconds, the time for each agent with a WebSocket open on it
(`Hub`). An agent *gone* (no console for longer than `grace`, whatever their presence) loses
their conversations: each is requeued at the front of its queue, with a note for the next agent,
and the customer is told (`Requeuer`). `away` agents keep their conversations but get no new ones.
"""

from __future__ import annotations

import logging
from typing import Callable, Dict, Iterable, List

from redis.asyncio import Redis
from redis.exceptions import RedisError

from handoff import notes
from handoff.accounts import AccountStore, Agent
from handoff.announce import Announcer
from handoff.conversation import ConversationStore, IllegalTransition, NotYours
from handoff.keys import Keys

logger = logging.getLogger(__name__)

HEARTBEAT = 5.0
DEFAULT_GRACE = 60.0


class Presence:
    """Console heartbeats and availability."""

    def __init__(self, redis: Redis, keys: Keys, grace: float = DEFAULT_GRACE) -> None:
        self._redis, self._keys, self.grace = redis, keys, grace

    async def beat(self, usernames: Iterable[str], now: float) -> None:
        """Records that these agents have a console connected now."""
        names = set(usernames)
        if names:
            await self._redis.hset(self._keys.agents_seen,
                                   mapping={name: str(now) for name in names})

    async def last_seen(self) -> Dict[str, float]:
        """The last time each agent had a console connected, by username."""
        return {k: float(v) for k, v in (await self._redis.hgetall(self._keys.agents_seen)).items()}

    async def available(self, agents: Iterable[Agent], now: float) -> List[str]:
        """Usernames of agents online with a console connected within the grace time."""
        seen = await self.last_seen()
        found = []
        for agent in agents:
            if now - seen.get(agent.username, 0.0) <= self.grace and \
                    await self._redis.get(self._keys.presence(agent.username)) == "online":
                found.append(agent.username)
        return found


class Requeuer:
    """Requeues, at the front, the conversations of agents who are gone."""

    def __init__(self, presence: Presence, accounts: AccountStore, store: ConversationStore,
                 announcer: Announcer, redis: Redis, keys: Keys,
                 clock: Callable[[], float]) -> None:
        self._presence, self._accounts, self._store = presence, accounts, store
        self._announcer, self._redis, self._keys, self._clock = announcer, redis, keys, clock

    async def tick(self) -> int:
        """One pass; how many conversations were requeued."""
        now = self._clock()
        seen = await self._presence.last_seen()
        moved = 0
        agents = await self._accounts.all()
        holding = await self._store.agents_conversation_ids([a.username for a in agents])
        for agent in agents:
            held = holding[agent.username]
            last = seen.get(agent.username)
            # Only a console that went away counts (an agent who never had one, e.g. a script
            # using the API, keeps their conversations).
            if not held or last is None or now - last <= self._presence.grace:
                continue
            for cid in held:
                moved += await self._requeue(cid, agent)
        return moved

    async def _requeue(self, cid: str, agent: Agent) -> int:
        record = await self._store.get(cid)
        try:
            record = await self._store.requeue(cid, agent.username, record.team, front=True)
        except (IllegalTransition, NotYours, RedisError) as exc:
            logger.info("requeue.skipped conversation=%s agent=%s reason=%r", cid,
                        agent.username, exc)
            return 0
        minutes = max(1, round(self._presence.grace / 60))
        await notes.add(self._redis, self._keys, cid, agent.username, agent.name,
                        f"{agent.name}: no console for over {minutes} min / aucune console "
                        f"depuis plus de {minutes} min. Back at the front of the queue / "
                        "remise en tête de file.")
        await self._announcer.send(cid, "requeued", agent.name)
        logger.warning("requeue.agent_gone conversation=%s agent=%s", cid, agent.username)
        return 1
