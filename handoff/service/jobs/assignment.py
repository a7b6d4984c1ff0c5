"""Automatic assignment of queued conversations to the least busy available agent.

In queue order, for the teams whose `assignment` is `auto` (`handoff/teams.yml`).

Every handoff-service process runs an assigner; they may race for the same conversation or the
same agent. Each assignment is the state machine's `claim` (a seat in the agent's set taken
within their limit in one step, then the move in one step on the conversation's record), so a
conversation is assigned once, an agent never goes over their limit, and a lost race is skipped
until the next pass: nothing is assigned twice and nothing leaves the queue unassigned.
"""

from __future__ import annotations

import logging
from typing import Callable, Dict, List, Optional

from redis.asyncio import Redis

from handoff.accounts import AccountStore, Agent
from handoff.announce import Announcer
from handoff.conversation import ConversationStore, IllegalTransition, LimitReached, State
from handoff.keys import Keys
from handoff.presence import Presence
from handoff.routing import assignment_of, pick_agent
from handoff.teams import Team

logger = logging.getLogger(__name__)


class Assigner:
    """One pass over the queue per `tick()`."""

    def __init__(self, redis: Redis, keys: Keys, store: ConversationStore,
                 accounts: AccountStore, presence: Presence, teams: Dict[str, Team],
                 announcer: Announcer, clock: Callable[[], float]) -> None:
        self._redis, self._keys, self._store, self._accounts = redis, keys, store, accounts
        self._presence, self._teams, self._announcer = presence, teams, announcer
        self._clock = clock

    async def tick(self) -> int:
        """Assigns what it can; how many conversations it assigned."""
        queued = await self._store.queued_ids()
        if not queued:
            return 0
        now = self._clock()
        agents = await self._accounts.all()
        online = await self._presence.available(agents, now)
        if not online:
            return 0
        held = await self._store.agents_conversation_ids([a.username for a in agents])
        load = {name: len(ids) for name, ids in held.items()}
        last = {k: float(v) for k, v in
                (await self._redis.hgetall(self._keys.last_assigned)).items()}
        assigned = 0
        for cid in queued:
            record = await self._store.get(cid)
            if record.state != State.QUEUED or assignment_of(record.team, self._teams) != "auto":
                continue
            language = record.language or "en"
            agent = await self._assign(cid, record.team, language, agents, load, online, last)
            if agent is None:
                continue
            load[agent.username] = load.get(agent.username, 0) + 1
            last[agent.username] = now
            await self._redis.hset(self._keys.last_assigned, agent.username, str(now))
            await self._announcer.agent_joined(cid, agent.name)
            logger.info("assign.done conversation=%s agent=%s team=%s", cid, agent.username,
                        record.team)
            assigned += 1
        return assigned

    async def _assign(self, cid: str, team: Optional[str], language: str, agents: List[Agent],
                      load: Dict[str, int], online: List[str],
                      last: Dict[str, float]) -> Optional[Agent]:
        """Gives `cid` to the best agent, or the next best if that one filled up meanwhile.

        Another process may have given them work: this view of loads only ever lags behind, so
        a ticket is left for later only when nobody who may take it has room.
        """
        while True:
            agent = pick_agent(agents, team, language, load, online, last)
            if agent is None:
                return None
            try:
                await self._store.claim(cid, agent.username, agent.name,
                                        limit=agent.max_conversations)
                return agent
            except IllegalTransition:
                return None  # taken by another process, or cancelled
            except LimitReached:
                load[agent.username] = len(await self._store.agent_conversation_ids(
                    agent.username))
