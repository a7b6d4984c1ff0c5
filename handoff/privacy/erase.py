"""Erasing one customer (or one expired conversation) everywhere, figures kept but unlinked.

What is theirs alone is deleted: per-conversation keys (record, journal, segment, notes, contact
details, delivery marks...), Rasa's trackers, tickets, profile links, Messenger keys, keys named
by one of their ids, their fields and members in shared keys (good answers, the queue, who is
online, the VIP list), and every entry of a shared stream that names them (acknowledged first
in every group, so no consumer waits for it); a stream that lost entries is rebuilt, so that
their bytes do not outlive them in Redis's files (`stream_rebuild`).

What the dashboard counts is kept without who (Art. 17 leaves anonymous statistics alone): a
conversation session, a handoff record and a survey get a new random id and lose the
conversation id, the ticket id and the survey comment (the customer's words); their channel,
times, reason, intents, team, agent and scores stay, so the figures of every period are the same
before and after. Nothing left links them back to the customer.

Every step is idempotent: erasing again finds nothing and changes nothing. Closing a live
conversation first is the caller's (`handoff.privacy.desk`), as it needs the give-back.

On a Redis Cluster (issue 17) a record and its index (`metrics:handoffs`, `surveys`...) live in
different slots, and a record cannot be renamed into another slot: the record is copied under
its new id without who, the old one deleted, and then its index entry renamed in one step on
the index. Off a Cluster the three are one Lua step, as before. A crash between can cost the
dashboard that one record's figures (an index entry whose record is missing, which readers skip;
an unindexed copy nobody reads), never leave the customer's data behind.
"""

from __future__ import annotations

import uuid
from collections import Counter
from typing import Dict, List, Tuple

from redis.asyncio import Redis

from handoff.keys import RASA_KEYS, Keys
from handoff.privacy.holdings import Holdings
from handoff.privacy.stream_rebuild import StreamRebuilder
from handoff.redis_client import Script, is_cluster

BATCH = 100
ERASED = "erased"  # prefix of the random ids of records kept for the figures

# KEYS: index zset, old hash, new hash. ARGV: old member, new member, then field, value pairs
# written to the record. Renames the record and its index entry in one step (the dashboard
# never sees it twice or not at all).
_UNLINK_RECORD = """
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
if redis.call('EXISTS', KEYS[2]) == 1 then
  redis.call('RENAME', KEYS[2], KEYS[3])
  for i = 3, #ARGV, 2 do redis.call('HSET', KEYS[3], ARGV[i], ARGV[i + 1]) end
end
if score then
  redis.call('ZREM', KEYS[1], ARGV[1])
  redis.call('ZADD', KEYS[1], score, ARGV[2])
end
return 1
"""
# On a Cluster. KEYS: index zset. ARGV: old member, new member ('' for none). The old member's
# entry renamed (or taken out), in one step on the index.
_REINDEX = """
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
if score then
  redis.call('ZREM', KEYS[1], ARGV[1])
  if ARGV[2] ~= '' then redis.call('ZADD', KEYS[1], score, ARGV[2]) end
end
return 1
"""
# KEYS: a stream. ARGV: entry ids. Acknowledged in every group of the stream and deleted, in
# one step (one key: one slot). The groups are read here: redis-py's cluster client cannot send
# XINFO GROUPS, and a group made meanwhile cannot be missed. Replies how many were deleted.
_DROP_ENTRIES = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
for _, group in ipairs(redis.call('XINFO', 'GROUPS', KEYS[1])) do
  for i = 1, #group, 2 do
    if group[i] == 'name' then redis.call('XACK', KEYS[1], group[i + 1], unpack(ARGV)) end
  end
end
return redis.call('XDEL', KEYS[1], unpack(ARGV))
"""
# KEYS: the recent claims. ARGV: old member, new member. The claim keeps its time, not its name.
_RENAME_MEMBER = """
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
redis.call('ZREM', KEYS[1], ARGV[1])
if score then redis.call('ZADD', KEYS[1], score, ARGV[2]) end
return 1
"""


def new_id() -> str:
    """A random id for a record kept for the figures: it names nobody."""
    return f"{ERASED}-{uuid.uuid4().hex}"


class Eraser:
    """Removes what `Holdings` lists."""

    def __init__(self, redis: Redis, keys: Keys) -> None:
        self._redis, self._keys = redis, keys
        self._cluster = is_cluster(redis)
        self._unlink_record = Script(redis, _UNLINK_RECORD)
        self._reindex = Script(redis, _REINDEX)
        self._drop_entries = Script(redis, _DROP_ENTRIES)
        self._rename_member = Script(redis, _RENAME_MEMBER)
        self._streams = StreamRebuilder(redis)

    async def erase(self, held: Holdings) -> Dict[str, int]:
        """Erases everything in `held`; how many of each kind."""
        counts: Counter = Counter()
        counts["stream_entries"] = await self._stream_entries(held.stream_entries)
        handoff_ids = await self._handoffs(held.handoffs)
        counts["handoffs_unlinked"] = len(handoff_ids)
        counts["sessions_unlinked"] = await self._sessions(held.sessions)
        counts["surveys_unlinked"] = await self._surveys(held.surveys, handoff_ids)
        counts["claims_unlinked"] = await self._claims(held.claims)
        counts["shared_members"] = await self._members(sorted(held.members))
        # What finds and links the customer goes last: an erasure cut short is found again.
        counts["keys"] = await self._delete(sorted(held.keys, key=self._finding_last))
        if sum(counts.values()):
            await self._redis.incr(self._keys.data_removed)  # caches drop what they computed
        return dict(counts)

    def _finding_last(self, key: str) -> Tuple[bool, str]:
        finding = (RASA_KEYS.is_tracker(key) or key.startswith(self._keys.ticket(""))
                   or key.endswith(":contact") or key.startswith(self._keys.prefix + ":profile:")
                   or key.startswith(self._keys.prefix + ":identity:")
                   or key.startswith(self._keys.prefix + ":messenger:psid:")
                   or key.startswith(self._keys.prefix + ":customer:"))
        return finding, key

    async def _stream_entries(self, found: Dict[str, List[str]]) -> int:
        removed = 0
        for stream, ids in found.items():
            for start in range(0, len(ids), BATCH):
                removed += await self._drop_entries(keys=[stream],
                                                    args=ids[start:start + BATCH])
            await self._streams.rebuild(stream)
        return removed

    async def _handoffs(self, ticket_ids: List[str]) -> Dict[str, str]:
        """Handoff records unlinked; old ticket id -> the record's new id."""
        renamed = {}
        for ticket_id in ticket_ids:
            new = new_id()
            await self._unlink(keys=[self._keys.metrics_handoffs,
                                     self._keys.metrics_handoff(ticket_id),
                                     self._keys.metrics_handoff(new)],
                               args=[ticket_id, new, "ticket_id", new, "conversation_id", ""])
            renamed[ticket_id] = new
        return renamed

    async def _sessions(self, sessions: List[str]) -> int:
        for session in sessions:
            started = session.rsplit(":", 1)[-1]
            new = f"{new_id()}:{started}"
            await self._unlink(keys=[self._keys.metrics_conversations,
                                     self._keys.metrics_conversation(session),
                                     self._keys.metrics_conversation(new)],
                               args=[session, new, "conversation_id", ""])
        return len(sessions)

    async def _surveys(self, survey_ids: List[str], handoff_ids: Dict[str, str]) -> int:
        for survey_id in survey_ids:
            ticket_id = await self._redis.hget(self._keys.survey(survey_id), "ticket_id") or ""
            new = new_id()
            await self._unlink(keys=[self._keys.surveys(), self._keys.survey(survey_id),
                                     self._keys.survey(new)],
                               args=[survey_id, new, "survey_id", new, "conversation_id", "",
                                     "ticket_id", handoff_ids.get(ticket_id, ""),
                                     "comment", ""])
        return len(survey_ids)

    async def _claims(self, members: List[str]) -> int:
        """Recent claims (estimated waits) keep their time, not whose conversation it was."""
        for member in members:
            await self._rename_member(keys=[self._keys.recent_claims],
                                      args=[member, f"{new_id()}:{member.rsplit(':', 1)[-1]}"])
        return len(members)

    async def _members(self, members: List[Tuple[str, str]]) -> int:
        removed = 0
        for key, member in members:
            kind = await self._redis.type(key)
            if kind == "hash":
                removed += await self._redis.hdel(key, member)
            elif kind == "zset":
                removed += await self._redis.zrem(key, member)
            elif kind == "set":
                removed += await self._redis.srem(key, member)
        return removed

    async def _unlink(self, keys: List[str], args: List[str]) -> None:
        """Renames a kept record (KEYS: index, old, new) and its index entry, without who.

        ARGV: old member, new member, then the fields written to the record.
        """
        if not self._cluster:
            await self._unlink_record(keys=keys, args=args)
            return
        index, old, new = keys
        raw = await self._redis.hgetall(old)
        if raw:  # copied without who, then the old one goes: the customer's data first
            written = dict(zip(args[2::2], args[3::2], strict=True))
            await self._redis.hset(new, mapping={**raw, **written})
            await self._redis.delete(old)
        await self._reindex(keys=[index], args=[args[0], args[1] if raw else ""])

    async def _delete(self, names: List[str]) -> int:
        removed = 0
        for start in range(0, len(names), BATCH):
            removed += await self._redis.unlink(*names[start:start + BATCH])
        return removed
