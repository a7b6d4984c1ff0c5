"""The conversation state machine: the only code that changes a conversation's state.

    bot → queued → assigned → [transferred] → bot | closed
                     ↑  └── to a team ──┘ (back in the queue, for that team)

Every transition is decided in one Lua step on the conversation's record (its slot alone, so that
a Redis Cluster can run it). Off a Cluster the state, the queue, the agent's set, the stats and the
notice to consoles change in that step, together or not at all; on a Cluster the writes in other
slots follow it, and the queue and the agents' sets are read as indexes of the records
(`handoff.conversation_index`, docs/architecture.md).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from enum import Enum
from typing import Any, Callable, Dict, FrozenSet, List, Mapping, Optional, Tuple

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline

from handoff import metrics, push
from handoff.conversation_index import NO_SEAT, Index, Recorder
from handoff.keys import Keys
from handoff.routing import queue_score
from handoff.ticket import Ticket


class State(str, Enum):
    """Who owns the conversation."""

    BOT = "bot"
    QUEUED = "queued"
    ASSIGNED = "assigned"
    TRANSFERRED = "transferred"
    CLOSED = "closed"


ALLOWED: Mapping[State, FrozenSet[State]] = {
    State.BOT: frozenset({State.QUEUED}),
    State.QUEUED: frozenset({State.ASSIGNED, State.BOT, State.CLOSED}),
    State.ASSIGNED: frozenset({State.TRANSFERRED, State.QUEUED, State.BOT, State.CLOSED}),
    State.TRANSFERRED: frozenset({State.ASSIGNED, State.TRANSFERRED, State.QUEUED, State.BOT,
                                  State.CLOSED}),
    State.CLOSED: frozenset({State.QUEUED}),
}

CLAIMS_KEPT = 2 * 3600  # seconds of claim history kept for estimated waits
FRONT = 1e9  # queue score taken off a requeued conversation: ahead of all others

# States in which a human owns the conversation: the bot must not answer.
HUMAN_STATES = frozenset({State.QUEUED, State.ASSIGNED, State.TRANSFERRED})


class IllegalTransition(Exception):
    """A transition the state machine does not allow from the current state."""

    def __init__(self, conversation_id: str, current: State, target: State) -> None:
        super().__init__(f"conversation {conversation_id}: {current.value} -> {target.value}")
        self.conversation_id = conversation_id
        self.current = current
        self.target = target


class LimitReached(Exception):
    """The agent already has as many conversations as they may have at once."""

    def __init__(self, agent: str, limit: int) -> None:
        super().__init__(f"agent {agent} has reached {limit} conversations")
        self.agent = agent
        self.limit = limit


class NotYours(Exception):
    """An agent acted on a conversation assigned to someone else."""

    def __init__(self, conversation_id: str, agent: Optional[str]) -> None:
        super().__init__(f"conversation {conversation_id} is assigned to {agent}")
        self.conversation_id = conversation_id
        self.agent = agent


def check_transition(conversation_id: str, current: State, target: State) -> None:
    """Raises `IllegalTransition` unless `current -> target` is in `ALLOWED`."""
    if target not in ALLOWED[current]:
        raise IllegalTransition(conversation_id, current, target)


# Fields of the record written outside a transition: `action_handoff` started and showed no
# event yet; a lost handoff is being run again; what a give-back has left to do.
HANDOFF_RUNNING, HANDOFF_RETRY, GIVEBACK_PLAN = "handoff_running", "handoff_retry", "giveback_plan"


@dataclass(frozen=True)
class Conversation:
    """A conversation's handoff record."""

    id: str
    state: State
    agent: Optional[str] = None
    agent_name: Optional[str] = None
    ticket_id: Optional[str] = None
    updated_at: float = 0.0
    team: Optional[str] = None
    channel: Optional[str] = None  # the customer's, when it was handed off (`handoff.channels`)
    first_reply_at: Optional[float] = None  # the first agent reply since the handoff
    # The customer's current language (`en`/`fr`): the ticket's at the handoff, then the last
    # one a relayed message clearly showed (`handoff.relay.consoles`, `follow_language`).
    language: Optional[str] = None
    queued_at: Optional[float] = None  # when the current handoff's ticket was queued
    # Whom to write to on Messenger, for a conversation that moved there from the web chat.
    messenger_psid: Optional[str] = None
    resume_pending: bool = False  # given back to the bot, Rasa not resumed yet
    giveback_plan: Optional[str] = None  # what a give-back has left to do (JSON, `giveback`)

    @classmethod
    def from_hash(cls, conversation_id: str, raw: Mapping[str, str]) -> "Conversation":
        """Reads the Redis hash; a conversation never handed off is with the bot."""
        return cls(
            id=conversation_id,
            state=State(raw.get("state", State.BOT.value)),
            agent=raw.get("agent") or None,
            agent_name=raw.get("agent_name") or None,
            ticket_id=raw.get("ticket_id") or None,
            updated_at=float(raw.get("updated_at", 0) or 0),
            team=raw.get("team") or None,
            channel=raw.get("channel") or None,
            first_reply_at=float(raw["first_reply_at"]) if raw.get("first_reply_at") else None,
            language=raw.get("language") or None,
            queued_at=float(raw["queued_at"]) if raw.get("queued_at") else None,
            messenger_psid=raw.get("messenger_psid") or None,
            resume_pending=bool(raw.get("resume_pending")),
            giveback_plan=raw.get(GIVEBACK_PLAN) or None,
        )

    def public(self) -> Dict[str, Any]:
        """The JSON shape of the agent API."""
        return {"id": self.id, "state": self.state.value, "agent": self.agent,
                "agent_name": self.agent_name, "team": self.team, "language": self.language}


Extra = Callable[[Pipeline, Conversation], None]


class ConversationStore:
    """Reads conversations and moves them between states, atomically, in Redis."""

    def __init__(self, redis: Redis, keys: Keys) -> None:
        self._redis = redis
        self._keys = keys
        self._index = Index(redis, keys)

    async def get(self, conversation_id: str) -> Conversation:
        """The conversation's current record."""
        raw = await self._redis.hgetall(self._keys.conversation(conversation_id))
        return Conversation.from_hash(conversation_id, raw)

    async def get_many(self, conversation_ids: List[str]) -> List[Conversation]:
        """The records of several conversations, in one round trip (the live path's batches)."""
        async with self._redis.pipeline(transaction=False) as pipe:
            self.get_many_on(pipe, conversation_ids)
            raws = await pipe.execute()
        return self.records(conversation_ids, raws)

    def get_many_on(self, pipe: Pipeline, conversation_ids: List[str]) -> None:
        """`get_many` queued on `pipe` (one reply per conversation): give them to `records`."""
        for conversation_id in conversation_ids:
            pipe.hgetall(self._keys.conversation(conversation_id))

    @staticmethod
    def records(conversation_ids: List[str], raws: List[Any]) -> List[Conversation]:
        """The records that `get_many_on`'s replies hold."""
        return [Conversation.from_hash(cid, raw)
                for cid, raw in zip(conversation_ids, raws, strict=True)]

    async def ticket(self, ticket_id: Optional[str]) -> Optional[Ticket]:
        """A stored ticket, or None."""
        if not ticket_id:
            return None
        raw = await self._redis.get(self._keys.ticket(ticket_id))
        return Ticket.from_json(raw) if raw else None

    async def tickets(self, ticket_ids: List[Optional[str]]) -> List[Optional[Ticket]]:
        """Stored tickets, in one round trip (None where there is none)."""
        named = [t for t in ticket_ids if t]
        if not named:
            return [None] * len(ticket_ids)
        async with self._redis.pipeline(transaction=False) as pipe:  # keys in several slots
            for ticket_id in named:
                pipe.get(self._keys.ticket(ticket_id))
            raws = dict(zip(named, await pipe.execute(), strict=True))
        return [Ticket.from_json(raws[t]) if t and raws.get(t) else None for t in ticket_ids]

    async def language(self, record: Conversation) -> Optional[str]:
        """The customer's current language: the record's, else its ticket's (None: no ticket)."""
        if record.language:
            return record.language
        ticket = await self.ticket(record.ticket_id)
        return ticket.language if ticket else None

    def follow_language(self, pipe: Pipeline, conversation_id: str, language: str) -> None:
        """Queues on `pipe` the customer's new language, as their latest message clearly showed.

        One field of the record, no transition: a transition racing it writes only its own
        fields (the language only at a new handoff, from its ticket), so it keeps it.
        """
        pipe.hset(self._keys.conversation(conversation_id), "language", language)

    async def position(self, conversation_id: str) -> Optional[int]:
        """1-based place in the queue, or None when not queued."""
        ids = await self.queued_ids()
        return ids.index(conversation_id) + 1 if conversation_id in ids else None

    async def queued_ids(self) -> List[str]:
        """Queued conversation ids, first in line first."""
        return [record.id for record in await self.queued()]

    async def queued(self) -> List[Conversation]:
        """The records of the queued conversations, first in line first.

        The queue is an index of the records (`handoff.conversation_index`): an entry whose
        record is no longer queued (a claim whose last round trip is under way, or whose
        process died before it) is skipped and taken out.
        """
        ids = list(await self._redis.zrange(self._keys.queue, 0, -1))
        records = await self.get_many(ids) if ids else []
        stale = [record.id for record in records if record.state != State.QUEUED]
        if stale:
            async with self._redis.pipeline(transaction=False) as pipe:
                for cid in stale:
                    self._index.unqueue(pipe, cid)
                await pipe.execute()
            if self._index.cluster:  # read before an enqueue that may have passed since
                for cid in stale:
                    await self._index.put_back(cid)
        return [record for record in records if record.state == State.QUEUED]

    async def resume_pending(self, conversation_id: str) -> bool:
        """Whether the conversation went back to the bot but Rasa was not resumed yet."""
        return bool(await self._redis.hget(self._keys.conversation(conversation_id),
                                           "resume_pending"))

    def moved_on(self, pipe: Pipeline, conversation_id: str, channel: str,
                 messenger_psid: Optional[str] = None) -> None:
        """Queues on `pipe`: the customer is answered on `channel` from now on.

        On Messenger, at `messenger_psid` (the conversation keeps its own id).
        """
        fields = {"channel": channel, **({"messenger_psid": messenger_psid}
                                         if messenger_psid else {})}
        pipe.hset(self._keys.conversation(conversation_id), mapping=fields)

    async def handoff_started(self, conversation_id: str, at: str) -> None:
        """`action_handoff` runs: until it pauses the bot, a next action means it was lost."""
        await self._redis.hset(self._keys.conversation(conversation_id), HANDOFF_RUNNING, at)

    async def handoff_running(self, conversation_id: str) -> bool:
        """Whether `action_handoff` started and has not paused the bot yet."""
        return await self._redis.hget(self._keys.conversation(conversation_id),
                                      HANDOFF_RUNNING) is not None

    async def handoff_settled(self, conversation_id: str) -> None:
        """`action_handoff` paused the bot, or its loss was reported."""
        await self._redis.hdel(self._keys.conversation(conversation_id), HANDOFF_RUNNING)

    async def retrying_handoff(self, conversation_id: str) -> bool:
        """Marks a lost handoff as being run again: True the first time (tell the customer)."""
        return bool(await self._redis.hsetnx(self._keys.conversation(conversation_id),
                                             HANDOFF_RETRY, "1"))

    async def handoff_retried(self, conversation_id: str) -> None:
        """The lost handoff ran (or the customer asked again)."""
        await self._redis.hdel(self._keys.conversation(conversation_id), HANDOFF_RETRY)

    async def resumed(self, conversation_id: str) -> None:
        """Rasa has resumed the conversation."""
        await self._redis.hdel(self._keys.conversation(conversation_id), "resume_pending")

    async def first_reply(self, conversation_id: str, at: float) -> None:
        """Records the first agent reply since the handoff (later ones change nothing)."""
        if await self._redis.hsetnx(self._keys.conversation(conversation_id), "first_reply_at",
                                    str(at)):
            # Only the first reply of a handoff (`first_reply_at` is cleared at each enqueue):
            # later agent messages need no trip to the handoff record.
            ticket_id = await self._redis.hget(self._keys.conversation(conversation_id),
                                               "ticket_id")
            await metrics.first_reply(self._redis, self._keys, ticket_id, at)

    async def agent_conversation_ids(self, username: str) -> List[str]:
        """Ids of the conversations assigned to an agent."""
        return (await self.agents_conversation_ids([username]))[username]

    async def agents_conversation_ids(self, usernames: List[str]) -> Dict[str, List[str]]:
        """`agent_conversation_ids` of several agents, in two round trips."""
        seats = await self._seats(usernames)
        return {name: sorted(cid for cid, backed in seats[name].items() if backed)
                for name in usernames}

    async def unbacked_seats(self) -> List[Tuple[str, str]]:
        """(agent, conversation) of the seats in agents' sets their records do not back now.

        A claim under way, or one whose process died between its seat and its step
        (`handoff.service.jobs.index_repair` tells them apart by age). Every primary is scanned.
        """
        agents = await self._index.seated_agents()
        seats = await self._seats(agents) if agents else {}
        return [(name, cid) for name in agents
                for cid, backed in sorted(seats[name].items()) if not backed]

    async def _seats(self, usernames: List[str]) -> Dict[str, Dict[str, bool]]:
        """Each agent's seats, and whether the record backs each, in two round trips.

        An agent's set is an index that may hold a seat of a claim under way or lost
        (`handoff.conversation_index`): only what the record says the agent holds counts.
        """
        async with self._redis.pipeline(transaction=False) as pipe:
            for username in usernames:
                pipe.smembers(self._keys.agent_conversations(username))
            held = await pipe.execute()
        ids = sorted({cid for members in held for cid in members})
        records = {record.id: record for record in await self.get_many(ids)} if ids else {}
        return {name: {cid: records[cid].agent == name and records[cid].state in HUMAN_STATES
                       for cid in members}
                for name, members in zip(usernames, held, strict=True)}

    async def give_back_seat(self, agent: str, conversation_id: str) -> None:
        """Takes a seat out of the agent's set unless the record says the agent holds it."""
        await self._index.give_back_seat(agent, conversation_id)

    async def repair_indexes(self) -> int:
        """Writes back the queue entries and seats the records back; how many records it read.

        For a Cluster, after a process died between a transition's step and what follows it
        (`handoff.conversation_index`); off a Cluster nothing can be missing.
        """
        return await self._index.repair()

    async def earlier_tickets(self, customer_id: str, limit: int = 10) -> List[Dict[str, Any]]:
        """Briefs of the customer's earlier tickets, newest first."""
        ids = await self._redis.lrange(self._keys.customer_tickets(customer_id), 0, limit - 1)
        tickets = [await self.ticket(ticket_id) for ticket_id in ids]
        return [t.brief() for t in tickets if t is not None]

    async def enqueue(self, ticket: Ticket, team: Optional[str] = None,
                      front: bool = False) -> Conversation:
        """Moves bot|closed → queued for `team` (None: everyone), at its place in line.

        Stores the ticket; the place comes from `handoff.routing.queue_score`, ahead of all
        others with `front` (a follow-up kept while nobody could answer).
        """
        keys, raw = self._keys, ticket.to_json()
        score = queue_score(ticket) - (FRONT if front else 0.0)

        def extra(pipe: Pipeline, _: Conversation) -> None:
            # A new handoff: the first-reply clock of an earlier one does not count.
            pipe.hdel(keys.conversation(ticket.conversation_id), "first_reply_at")
            pipe.lpush(keys.customer_tickets(ticket.customer["id"]), ticket.ticket_id)
            pipe.xadd(keys.tickets_stream, {"ticket": raw})  # trimmed by handoff.streams
            metrics.handoff_queued(pipe, keys, ticket, team)

        # Before the record names it (in another slot on a Cluster): never a missing ticket.
        await self._redis.set(keys.ticket(ticket.ticket_id), raw)
        try:
            return await self.transition(
                ticket.conversation_id, State.QUEUED, queue_score=score, extra=extra,
                fields={"ticket_id": ticket.ticket_id, "agent": "", "agent_name": "",
                        "team": team or "", "channel": ticket.channel,
                        "language": ticket.language, "queued_at": str(ticket.created_at)},
            )
        except IllegalTransition:
            if (await self.get(ticket.conversation_id)).ticket_id != ticket.ticket_id:
                await self._redis.delete(keys.ticket(ticket.ticket_id))  # no record names it
            raise

    async def claim(self, conversation_id: str, agent: str, agent_name: str,
                    limit: Optional[int] = None,
                    transferred_to: Optional[str] = None) -> Conversation:
        """Moves queued → assigned to `agent`; a second claimer gets `IllegalTransition`.

        With `limit`, an agent who already has that many conversations gets `LimitReached`.
        Only a queued conversation can be claimed, unless `transferred_to` names the agent a
        conversation is transferred to (a supervisor takes it over): it must still be theirs.
        """
        return await self.transition(conversation_id, State.ASSIGNED, limit=limit,
                                     fields={"agent": agent, "agent_name": agent_name},
                                     owner=transferred_to,
                                     source=State.TRANSFERRED if transferred_to else
                                     State.QUEUED)

    async def transfer(self, conversation_id: str, agent: str, to_agent: str,
                       to_name: str) -> Conversation:
        """Moves assigned → transferred to another agent, by the agent who owns it."""
        return await self.transition(conversation_id, State.TRANSFERRED, owner=agent,
                                     fields={"agent": to_agent, "agent_name": to_name})

    async def to_team(self, conversation_id: str, agent: str, team: str) -> Conversation:
        """Moves assigned|transferred → queued for `team`, by the agent who owns it.

        The conversation keeps its place in line (from its ticket), so a transfer never sends the
        customer to the back of the queue; the team's consoles are told at once.
        """
        return await self.requeue(conversation_id, agent, team, front=False)

    async def requeue(self, conversation_id: str, agent: str, team: Optional[str],
                      front: bool) -> Conversation:
        """Moves assigned|transferred → queued for `team`, taking it from `agent`.

        With `front`, ahead of every ticket that was not requeued (an agent who disappeared must
        not cost the customer their wait); else at the ticket's own place.
        """
        current = await self.get(conversation_id)
        ticket = await self.ticket(current.ticket_id)
        if ticket is None:
            raise IllegalTransition(conversation_id, current.state, State.QUEUED)
        keys = self._keys
        score = queue_score(ticket) - (FRONT if front else 0.0)

        def extra(pipe: Pipeline, _: Conversation) -> None:
            frame = {"type": "ticket.queued", "ticket": {**ticket.public(), "team": team},
                     "audience": push.team(team)}
            push.to_agents_on(pipe, keys, frame, near=keys.conversation(conversation_id))

        return await self.transition(conversation_id, State.QUEUED, owner=agent, extra=extra,
                                     queue_score=score,
                                     fields={"agent": "", "agent_name": "", "team": team or ""})

    async def reassign(self, conversation_id: str, to_agent: str, to_name: str,
                       limit: Optional[int] = None) -> Conversation:
        """Gives the conversation to `to_agent`, whoever holds it now (a supervisor's move).

        A queued conversation becomes assigned; a held one becomes transferred.
        """
        current = await self.get(conversation_id)
        target = State.ASSIGNED if current.state == State.QUEUED else State.TRANSFERRED
        return await self.transition(conversation_id, target, limit=limit,
                                     fields={"agent": to_agent, "agent_name": to_name,
                                             "team": ""})

    async def accept(self, conversation_id: str, agent: str) -> Conversation:
        """Moves transferred → assigned, by the agent it was transferred to."""
        return await self.transition(conversation_id, State.ASSIGNED, owner=agent)

    async def release(self, conversation_id: str, agent: str, target: State,
                      resolution: str = "") -> Conversation:
        """Moves assigned → bot (hand-back) or closed (with its `resolution`), by its owner."""
        fields = {"agent": "", "agent_name": ""}
        if target == State.CLOSED and resolution:
            fields["resolution"] = resolution
        return await self.transition(conversation_id, target, owner=agent, fields=fields)

    async def transition(
        self,
        conversation_id: str,
        target: State,
        *,
        owner: Optional[str] = None,
        fields: Optional[Dict[str, str]] = None,
        extra: Optional[Extra] = None,
        limit: Optional[int] = None,
        source: Optional[State] = None,
        queue_score: Optional[float] = None,
    ) -> Conversation:
        """Moves a conversation to `target` in one step on its slot, retrying on a concurrent one.

        Args:
            conversation_id: the Rasa sender id.
            target: the new state; must be allowed from the current one.
            owner: when given, the conversation must be assigned to this agent.
            fields: more hash fields to write with the state.
            extra: queues more commands with the transition (one key each, `KEYED`): off a
                Cluster they run in its step; on one, those in the conversation's slot do,
                the others right after it (`handoff.conversation_index`).
            limit: the new agent (in `fields`) may hold at most this many conversations.
            source: when given, the only state the move may start from.
            queue_score: with `target` queued, its place in line.
        """
        fields = fields or {}
        if target == State.QUEUED and queue_score is not None:
            fields = {**fields, "queue_score": repr(queue_score)}  # to put the entry back
        agent = fields.get("agent") if target in HUMAN_STATES else None
        seat = await self._index.take_seat(agent, conversation_id, limit) if agent else 0
        if seat == NO_SEAT:
            raise LimitReached(agent or "", limit or 0)
        entered = (target == State.QUEUED and queue_score is not None
                   and await self._index.enter_queue(conversation_id, queue_score))
        try:
            return await self._move(conversation_id, target, owner, fields, extra, source,
                                    queue_score, seat == 1)
        except (IllegalTransition, NotYours):
            # Nothing happened: what was written ahead of it is taken back. (On any other
            # error the outcome is unknown: an entry too many, which readers skip.)
            if seat == 1 and agent:
                await self._index.give_back_seat(agent, conversation_id)
            if entered:
                await self._index.leave_queue(conversation_id)
            raise

    async def _move(self, conversation_id: str, target: State, owner: Optional[str],
                    fields: Dict[str, str], extra: Optional[Extra], source: Optional[State],
                    queue_score: Optional[float], seated: bool) -> Conversation:
        key = self._keys.conversation(conversation_id)
        while True:
            raw = await self._redis.hgetall(key)
            current = Conversation.from_hash(conversation_id, raw)
            check_transition(conversation_id, current.state, target)
            if source is not None and current.state != source:
                raise IllegalTransition(conversation_id, current.state, target)
            if owner is not None and current.agent != owner:
                raise NotYours(conversation_id, current.agent)
            now, pipe = time.time(), Recorder()
            pipe.hset(key, mapping={"state": target.value, "updated_at": str(now), **fields})
            pipe.hincrby(key, "rev", 1)
            updated = self._index_writes(pipe, current, target, fields, now, queue_score)
            if extra is not None:
                extra(pipe, current)  # type: ignore[arg-type]  # records like a pipeline
            inside, after = self._index.split(key, pipe.commands)
            if seated:
                # The seat taken ahead is the entry; sent again after the step, it could land
                # after a later transition took the conversation from the agent.
                seat_key = self._keys.agent_conversations(fields["agent"])
                after = [c for c in after if not (c[0] == "SADD" and c[1] == seat_key)]
            if await self._index.move(key, raw.get("rev", "0"), inside):
                await self._index.follow(after)
                if self._index.takes_out(after):
                    await self._index.put_back(conversation_id)
                return updated

    def _index_writes(self, pipe: Recorder, current: Conversation, target: State,
                      fields: Dict[str, str], now: float,
                      queue_score: Optional[float] = None) -> Conversation:
        """Queues what goes with `current → target` outside the record: indexes, stats, frames."""
        keys, cid = self._keys, current.id
        record = {"state": target.value, **fields}
        if target == State.QUEUED and queue_score is not None:
            pipe.zadd(keys.queue, {cid: queue_score})
        if current.state == State.QUEUED and target != State.QUEUED:
            pipe.zrem(keys.queue, cid)
            if target == State.ASSIGNED:
                pipe.zadd(keys.recent_claims, {f"{cid}:{now}": now})
                pipe.zremrangebyscore(keys.recent_claims, 0, now - CLAIMS_KEPT)
            removed = {"type": "ticket.removed", "conversation_id": cid, "state": target.value,
                       "audience": push.team(current.team)}
            push.to_agents_on(pipe, keys, removed, near=keys.conversation(cid))
        if current.agent and record.get("agent", current.agent) != current.agent:
            pipe.srem(keys.agent_conversations(current.agent), cid)
        agent = record.get("agent", current.agent or "") or None
        if agent and target in HUMAN_STATES:
            pipe.sadd(keys.agent_conversations(agent), cid)
        metrics.handoff_moved(pipe, keys, cid, record.get("ticket_id", current.ticket_id),
                              current.state.value, target.value, current.team, current.agent,
                              fields, now)
        updated = Conversation(
            id=cid, state=target, agent=agent,
            agent_name=record.get("agent_name", current.agent_name or "") or None,
            ticket_id=record.get("ticket_id", current.ticket_id), updated_at=now,
            team=record.get("team", current.team or "") or None,
            language=record.get("language", current.language or "") or None,
        )
        # The agents who held it and hold it now, and supervisors; not the whole floor.
        frame = {"type": "conversation.state", "conversation_id": cid, "state": target.value,
                 "agent": updated.agent, "agent_name": updated.agent_name, "team": updated.team,
                 "previous_state": current.state.value,
                 "audience": push.agents(current.agent, updated.agent)}
        push.to_agents_on(pipe, keys, frame, near=keys.conversation(cid))
        return updated
