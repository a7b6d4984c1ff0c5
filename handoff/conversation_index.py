"""The one-slot step of a transition and the global indexes derived from the records.

A conversation's record (`Keys.conversation`, hash-tagged) is the one truth of its state, with
a revision (`rev`) that every transition adds one to. A transition is decided in one Lua step
on the record's slot (`MOVE`): the record still at the revision it was read at, or nothing
happens and the transition is tried again (as a WATCH would have it, but in one slot).

The queue (`Keys.queue`), the agents' sets (`Keys.agent_conversations`) and the other global
keys a transition writes (stats, tickets stream, metrics) live in slots of their own:

- off a Cluster, every write of the transition runs inside that same Lua step: all or nothing,
  as the MULTI of earlier versions;
- on a Cluster, the step holds the writes in the record's slot (the record, the segment's
  boundary, the frames to consoles, published after the write); the others follow in one
  pipeline once the step has passed.

What can only add to an index (a seat in the new agent's set, a queue entry) is written before
the step, so an index lags by an entry too many, never one missing: readers check each entry
against its record (`ConversationStore.queued`, `agents_conversation_ids`), and the entries of
a transition that did not happen are taken back. What takes out follows the step, then the
record is read again and what it backs written back (`put_back`): a removal that lands after a
later transition cannot leave an entry missing. See docs/architecture.md (Conversation state
machine).
"""

from __future__ import annotations

import json
from typing import Any, List, Optional, Sequence, Tuple

from redis.commands.core import AsyncCoreCommands
from redis.crc import key_slot

from handoff.keys import Keys
from handoff.redis_client import Script, is_cluster, scan_keys

# KEYS[1]: the record; the other KEYS: the keys the commands write (declared for the Cluster,
# all in the record's slot there). ARGV[1]: the revision the record was read at; ARGV[2]: the
# commands (JSON list of lists of strings). Replies 1 (done) or 0 (the record moved on).
MOVE = """
if (redis.call('HGET', KEYS[1], 'rev') or '0') ~= ARGV[1] then return 0 end
for _, command in ipairs(cjson.decode(ARGV[2])) do
  redis.call(unpack(command))
end
return 1
"""

# A seat in the agent's set, taken before the transition that gives them the conversation:
# the set counts what they hold and the transitions under way, so two claims by one agent at
# once cannot both pass their limit (ARGV[2], '' for none). Replies 1 (taken), 0 (already
# there: not ours to give back), -1 (no seat).
SEAT = """
if redis.call('SISMEMBER', KEYS[1], ARGV[1]) == 1 then return 0 end
if ARGV[2] ~= '' and redis.call('SCARD', KEYS[1]) >= tonumber(ARGV[2]) then return -1 end
return redis.call('SADD', KEYS[1], ARGV[1])
"""

# Off a Cluster: out of the queue unless the record (KEYS[1]) says it is queued.
UNQUEUE = """
if redis.call('HGET', KEYS[1], 'state') == 'queued' then return 0 end
return redis.call('ZREM', KEYS[2], ARGV[1])
"""

# Off a Cluster: out of agent ARGV[2]'s set unless the record says that agent holds it.
UNSEAT = """
local state = redis.call('HGET', KEYS[1], 'state')
if redis.call('HGET', KEYS[1], 'agent') == ARGV[2]
    and (state == 'assigned' or state == 'transferred') then
  return 0
end
return redis.call('SREM', KEYS[2], ARGV[1])
"""

NO_SEAT = -1

# Commands a transition's writers may queue: each names one key, first. A command outside
# this list could name keys elsewhere: refused rather than sent to the wrong node.
KEYED = frozenset({"HSET", "HDEL", "HSETNX", "HINCRBY", "HINCRBYFLOAT", "ZADD", "ZREM",
                   "ZREMRANGEBYSCORE", "SADD", "SREM", "SET", "DEL", "EXPIRE", "LPUSH",
                   "RPUSH", "LTRIM", "XADD", "INCR", "INCRBY"})

Command = List[str]


class Recorder(AsyncCoreCommands):
    """Stands for a pipeline: keeps the commands a transition's writers queue on it."""

    def __init__(self) -> None:
        self.commands: List[Command] = []

    def execute_command(self, *args: Any, **_: Any) -> "Recorder":
        """Keeps the command; returns the recorder, as a pipeline returns itself."""
        self.commands.append([_text(arg) for arg in args])
        return self


class Index:
    """The steps above, on one client (single Redis, Sentinel's primary or a Cluster)."""

    def __init__(self, redis: Any, keys: Keys) -> None:
        self._redis, self._keys = redis, keys
        self.cluster = is_cluster(redis)
        self._move = Script(redis, MOVE)
        self._seat = Script(redis, SEAT)
        self._unseat = Script(redis, UNSEAT)
        self._unqueue = Script(redis, UNQUEUE)

    def split(self, record: str, commands: List[Command]) -> Tuple[List[Command], List[Command]]:
        """The commands that run in the step on `record`, and those that follow it.

        Frames go with the step: published on the record's node once it is written.
        """
        inside: List[Command] = []
        after: List[Command] = []
        slot = key_slot(record.encode())
        for command in commands:
            name = command[0].upper()
            if name != "PUBLISH" and name not in KEYED:
                raise ValueError(f"a transition cannot queue {name}")
            if not self.cluster or name == "PUBLISH" or key_slot(command[1].encode()) == slot:
                inside.append(command)
            else:
                after.append(command)
        return inside, after

    async def move(self, record: str, rev: str, inside: List[Command]) -> bool:
        """Runs `MOVE`: whether the record was still at `rev` (and the commands ran)."""
        keys = [record, *dict.fromkeys(c[1] for c in inside if c[0].upper() != "PUBLISH")]
        return bool(await self._move(keys=keys, args=[rev, json.dumps(inside)]))

    async def follow(self, after: Sequence[Command]) -> None:
        """Sends what follows a step, in one pipeline (each node runs its share)."""
        if not after:
            return
        async with self._redis.pipeline(transaction=False) as pipe:
            for command in after:
                pipe.execute_command(*command)
            await pipe.execute()

    def takes_out(self, after: Sequence[Command]) -> bool:
        """Whether `after` takes an entry out of the queue or an agent's set."""
        return any(c[0].upper() in ("ZREM", "SREM") and
                   (c[1] == self._keys.queue or c[1].endswith(":conversations")) for c in after)

    async def put_back(self, conversation_id: str) -> None:
        """Writes again the entries the record backs now, after removals that followed a step.

        On a Cluster a removal sent after the step may land after another process's later
        transition put the entry back (a claim, then at once a requeue): read after it, the
        record tells what must be there. An entry it writes that a still later transition
        took out meanwhile is one too many, which readers skip; never one missing.
        """
        raw = await self._redis.hgetall(self._keys.conversation(conversation_id))
        state, agent, score = raw.get("state"), raw.get("agent"), raw.get("queue_score")
        if state == "queued" and score:
            await self._redis.zadd(self._keys.queue, {conversation_id: float(score)})
        elif state in ("assigned", "transferred") and agent:
            await self._redis.sadd(self._keys.agent_conversations(agent), conversation_id)

    async def repair(self) -> int:
        """`put_back` for every record (all primaries scanned); how many records it read.

        What a process that died between a step and what follows it on a Cluster can leave
        missing: a queue entry or a holder's seat taken out late. Scheduled on a Cluster by
        `handoff.service.jobs.index_repair`.
        """
        start = self._keys.conversation("")[:-1]  # `<prefix>:conv:{`
        read = 0
        async for key in scan_keys(self._redis, start + "*}"):
            conversation_id = key[len(start):-1]
            if "}" in conversation_id or "{" in conversation_id:
                continue  # not a record's name
            await self.put_back(conversation_id)
            read += 1
        return read

    async def seated_agents(self) -> List[str]:
        """The agents whose set holds a seat (every primary scanned), sorted."""
        start, end = self._keys.agent_conversations("\0").split("\0")
        return sorted({key[len(start):len(key) - len(end)]
                       async for key in scan_keys(self._redis, f"{start}*{end}")})

    async def take_seat(self, agent: str, conversation_id: str, limit: Optional[int]) -> int:
        """Runs `SEAT`: 1 (taken), 0 (was there), `NO_SEAT`."""
        return int(await self._seat(keys=[self._keys.agent_conversations(agent)],
                                    args=[conversation_id, "" if limit is None else limit]))

    async def give_back_seat(self, agent: str, conversation_id: str) -> None:
        """Takes back a seat `take_seat` took for a transition that did not happen."""
        if self.cluster:
            await self._redis.srem(self._keys.agent_conversations(agent), conversation_id)
        else:
            await self._unseat(keys=[self._keys.conversation(conversation_id),
                                     self._keys.agent_conversations(agent)],
                               args=[conversation_id, agent])

    async def enter_queue(self, conversation_id: str, score: float) -> bool:
        """A queue entry written before the transition to queued; whether it was new."""
        return bool(await self._redis.zadd(self._keys.queue, {conversation_id: score}, nx=True))

    async def leave_queue(self, conversation_id: str) -> None:
        """Takes out an entry the record does not back (off a Cluster, checked in one step)."""
        if self.cluster:
            await self._redis.zrem(self._keys.queue, conversation_id)
        else:
            await self._unqueue(keys=[self._keys.conversation(conversation_id), self._keys.queue],
                                args=[conversation_id])

    def unqueue(self, pipe: Any, conversation_id: str) -> None:
        """`leave_queue` queued on `pipe`."""
        if self.cluster:
            pipe.zrem(self._keys.queue, conversation_id)
        else:
            pipe.eval(UNQUEUE, 2, self._keys.conversation(conversation_id), self._keys.queue,
                      conversation_id)

    def unseat(self, pipe: Any, agent: str, conversation_id: str) -> None:
        """`give_back_seat` queued on `pipe`."""
        if self.cluster:
            pipe.srem(self._keys.agent_conversations(agent), conversation_id)
        else:
            pipe.eval(UNSEAT, 2, self._keys.conversation(conversation_id),
                      self._keys.agent_conversations(agent), conversation_id, agent)


def _text(arg: Any) -> str:
    if isinstance(arg, bytes):
        return arg.decode()
    if isinstance(arg, float):
        return repr(arg)  # as redis-py sends it
    return str(arg)
