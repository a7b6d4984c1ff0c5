"""What happened, kept for the supervisor dashboard: conversations and the outcome of handoffs.

The conversation hash holds only a conversation's latest handoff, and the tracker is too big to
read for every figure, so two durable records are kept, each indexed by time in a sorted set
(a date range is one ZRANGEBYSCORE):

- a **conversation session** (`Keys.metrics_conversation`): one per Rasa session of a sender
  that has at least one customer message. It starts at the first customer message and ends when
  Rasa starts a new session (`session_started`, after `session_expiration_time` idle) or when
  an agent closes the conversation or the customer abandons the queue; the next customer message
  then starts a new one. It records the channel, whether a handoff happened (the `pause` that
  `action_handoff` appends) and the intents the customer expressed. Written by the relay worker,
  which reads every tracker event in order, so a session is always known before its pause.
  Which session a message belongs to is decided in one Lua step on the conversation's
  `Keys.metrics_current` (`SESSION`). Off a Redis Cluster the new session's record and its
  entry in `Keys.metrics_conversations` are written in that step too; on a Cluster, where they
  are in other slots, they are written before it (and taken back if the step finds a session
  another process started meanwhile): the current session never names a session missing from
  the index. A process that dies in between leaves a record and entry that the current session
  does not name; the worker reads the same event again and takes them up (the session's id is
  the conversation and the message's time). Not covered: an event never read again, or a
  process that dies while taking back, leaves that session in the index (the dashboard counts
  it).
- a **handoff** (`Keys.metrics_handoff`, one per ticket): reason, intent, channel, language,
  team, queued_at, claimed_at, first_reply_at, ended_at, outcome and agent. Written by the state
  machine with each transition (`handoff_queued`, `handoff_moved`: in its step off a Redis
  Cluster, just after it on one, `handoff.conversation_index`) and by
  the first agent reply (`first_reply`).

Outcomes: `closed` (an agent closed it; `resolution` says how), `handed_back` (an agent gave it
back to the bot), `abandoned` (the customer left the queue, `handoff.service.jobs.abandonment`),
`cancelled` (the customer chose to go back to the assistant while waiting).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Tuple

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline

from handoff.keys import Keys
from handoff.redis_client import Script, is_cluster
from handoff.ticket import Ticket, is_topic

HUMAN = ("queued", "assigned", "transferred")
INTENT_FIELD = "intent:"

# KEYS[1]: the conversation's current session; off a Cluster also KEYS[2], the new session's
# record, and KEYS[3], the sessions' index. ARGV: the customer message's time, the new session's
# id, its channel, the conversation id. Replies the session the message belongs to: the current
# one, unless there is none, Rasa started a new one or the conversation was closed before the
# message; then the new one, made current (and, with KEYS[2], recorded and indexed).
SESSION = """
local current = redis.call('HMGET', KEYS[1], 'session', 'new_session', 'ended_at')
local ended = tonumber(current[3] or '0') or 0
if current[1] and current[1] ~= '' and not (current[2] and current[2] ~= '')
    and not (ended ~= 0 and tonumber(ARGV[1]) > ended) then
  return current[1]
end
redis.call('HSET', KEYS[1], 'session', ARGV[2], 'started_at', ARGV[1])
redis.call('HDEL', KEYS[1], 'ended_at', 'new_session')
if KEYS[2] then
  redis.call('HSET', KEYS[2], 'conversation_id', ARGV[4], 'channel', ARGV[3],
             'started_at', ARGV[1])
  redis.call('ZADD', KEYS[3], ARGV[1], ARGV[2])
end
return ARGV[2]
"""


def handoff_queued(pipe: Pipeline, keys: Keys, ticket: Ticket, team: Optional[str]) -> None:
    """A new handoff (bot|closed → queued): its record, with the state machine's transition."""
    record = keys.metrics_handoff(ticket.ticket_id)
    pipe.hset(record, mapping={
        "ticket_id": ticket.ticket_id, "conversation_id": ticket.conversation_id,
        "queued_at": repr(ticket.created_at), "reason": ticket.reason,
        "intent": handoff_intent(ticket), "channel": ticket.channel,
        "language": ticket.language, "team": team or "", "outcome": "",
    })
    pipe.zadd(keys.metrics_handoffs, {ticket.ticket_id: ticket.created_at})


def handoff_moved(pipe: Pipeline, keys: Keys, conversation_id: str, ticket_id: Optional[str],
                  current: str, target: str, team: Optional[str], agent: Optional[str],
                  fields: Dict[str, str], now: float) -> None:
    """Claim and end of a handoff, with the transition `current → target`."""
    if not ticket_id:
        return
    record = keys.metrics_handoff(ticket_id)
    if current == "queued" and target == "assigned":
        pipe.hsetnx(record, "claimed_at", repr(now))  # the first claim; a requeue keeps it
    if target in ("assigned", "transferred", "queued"):
        pipe.hset(record, "team", fields.get("team", team or "") or "")
    if current in HUMAN and target in ("bot", "closed"):
        pipe.hset(record, mapping={
            "ended_at": repr(now), "outcome": outcome_of(current, target, fields),
            "resolution": fields.get("resolution", "") if target == "closed" else "",
            "team": team or "", "agent": agent or ""})
    if target == "closed":
        # The customer's next message starts a new conversation session.
        pipe.hset(keys.metrics_current(conversation_id), "ended_at", repr(now))


def outcome_of(current: str, target: str, fields: Dict[str, str]) -> str:
    """How a handoff ended (see the module's docstring)."""
    if current == "queued":
        return "cancelled" if target == "bot" else "abandoned"
    return "handed_back" if target == "bot" else "closed"


def handoff_intent(ticket: Ticket) -> str:
    """What the customer was asking about.

    The last topic of the conversation, else the intent of the message that led to the handoff
    (e.g. `request_human`).
    """
    if ticket.topics:
        return ticket.topics[-1]
    ranking = ticket.intent_ranking or [{}]
    return str(ranking[0].get("name") or "")


async def first_reply(redis: Redis, keys: Keys, ticket_id: Optional[str], at: float) -> None:
    """The first agent reply of a handoff (later ones change nothing)."""
    if ticket_id:
        await redis.hsetnx(keys.metrics_handoff(ticket_id), "first_reply_at", repr(at))


class Recorder:
    """Conversation sessions, from the tracker events the relay worker reads in order."""

    def __init__(self, redis: Redis, keys: Keys) -> None:
        self._redis, self._keys = redis, keys
        self._step, self._cluster = Script(redis, SESSION), is_cluster(redis)

    async def observe(self, event: Dict[str, Any]) -> None:
        """One tracker event (with `sender_id`); idempotent, so a retried entry counts once."""
        cid, kind = event.get("sender_id"), event.get("event")
        if not cid or kind not in ("user", "pause", "session_started"):
            return
        at = float(event.get("timestamp") or 0)
        current = self._keys.metrics_current(cid)
        if kind == "session_started":
            # Whatever the clocks say, the next customer message starts a new session.
            await self._redis.hset(current, "new_session", "1")
        elif kind == "pause":
            session = await self._redis.hget(current, "session")
            if session:
                await self._redis.hset(self._keys.metrics_conversation(session),
                                       "handed_off", "1")
        else:
            session = await self._session_for(cid, at, str(event.get("input_channel") or ""))
            intent = ((event.get("parse_data") or {}).get("intent") or {}).get("name")
            if intent and is_topic(intent):
                await self._redis.hset(self._keys.metrics_conversation(session),
                                       INTENT_FIELD + intent, "1")

    async def _session_for(self, cid: str, at: float, channel: str) -> str:
        """The current session of `cid`, or a new one starting at `at`."""
        current = self._keys.metrics_current(cid)
        session = f"{cid}:{at!r}"
        record, index = self._keys.metrics_conversation(session), self._keys.metrics_conversations
        args = [repr(at), session, channel, cid]
        if not self._cluster:
            return str(await self._step(keys=[current, record, index], args=args))
        state = await self._redis.hgetall(current)
        ended = float(state.get("ended_at") or 0)
        if state.get("session") and not state.get("new_session") and not (ended and at > ended):
            return str(state["session"])
        # On a Cluster: the new session recorded and indexed before it is made current.
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.hset(record, mapping={"conversation_id": cid, "channel": channel,
                                       "started_at": repr(at)})
            pipe.zadd(index, {session: at})
            await pipe.execute()
        found = str(await self._step(keys=[current], args=args))
        if found != session:  # another process started the session meanwhile: ours goes,
            await self._redis.delete(record)  # the record first: an entry without is skipped
            await self._redis.zrem(index, session)
        return found


@dataclass(frozen=True)
class Session:
    """A conversation session as the dashboard reads it."""

    id: str
    conversation_id: str
    channel: str
    started_at: float
    handed_off: bool
    intents: Tuple[str, ...]


class Records:
    """Reads the records of a time range, [start, end)."""

    def __init__(self, redis: Redis, keys: Keys) -> None:
        self._redis, self._keys = redis, keys

    async def sessions(self, start: float, end: float) -> List[Session]:
        """Conversation sessions started in [start, end), oldest first."""
        ids = await self._redis.zrangebyscore(self._keys.metrics_conversations, start,
                                              f"({end}")
        found = []
        for sid, raw in zip(ids, await self._hashes(self._keys.metrics_conversation, ids),
                            strict=True):
            if not raw:
                continue
            found.append(Session(
                id=sid, conversation_id=raw.get("conversation_id", ""),
                channel=raw.get("channel", ""), started_at=float(raw.get("started_at") or 0),
                handed_off=raw.get("handed_off") == "1",
                intents=tuple(sorted(k[len(INTENT_FIELD):] for k in raw
                                     if k.startswith(INTENT_FIELD)))))
        return found

    async def handoffs(self, start: float, end: float) -> List[Dict[str, str]]:
        """Handoff records queued in [start, end), oldest first."""
        ids = await self._redis.zrangebyscore(self._keys.metrics_handoffs, start, f"({end}")
        return [raw for raw in await self._hashes(self._keys.metrics_handoff, ids) if raw]

    async def _hashes(self, key_of: Any, ids: List[str]) -> List[Dict[str, str]]:
        async with self._redis.pipeline(transaction=False) as pipe:
            for one in ids:
                pipe.hgetall(key_of(one))
            return list(await pipe.execute()) if ids else []
