"""Actions beyond a team's limit, waiting for a supervisor (in Redis).

An agent asks for a refund or a voucher above their team's limit (`handoff/teams.yml`): the
request waits here, a supervisor approves or refuses it in the console, and an approved one is
then run through the desk (`handoff/orders/desk.py`) under the approval's own request id, so
running it again (a double click, a retry after a crash) changes the order once.

Each move is one Lua step on the approval's hash (its conversation's slot): two supervisors
deciding at once, or a double click, decide once. `pending → approving → approved | failed`, or
`pending → refused`; `approving` may be approved again (the run was cut short). The pending set
lives in a slot of its own: off a Cluster the step writes it too (all or nothing); on a Cluster
an approval's entry is added before the step that makes it and taken out after the one that
decides it, and `pending` reads the set against the hashes, so a crash between leaves an entry
too many, never one missing (docs/architecture.md, issue 17).
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import asdict, dataclass
from typing import Any, Dict, List, Optional, Tuple

from redis.asyncio import Redis

from handoff.keys import Keys
from handoff.redis_client import Script, is_cluster

PENDING, APPROVING, APPROVED, REFUSED, FAILED = (
    "pending", "approving", "approved", "refused", "failed")

# KEYS: approval hash, conversation's approvals, then (off a Cluster only) the pending set.
# ARGV: id, time, member, fields...
_REQUEST = """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV, 4))
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[1])
if KEYS[3] then redis.call('ZADD', KEYS[3], ARGV[2], ARGV[3]) end
return 1
"""
# KEYS: approval hash, then (off a Cluster only) the pending set. ARGV: decision
# (approving|refused), member, by, name, time.
_DECIDE = """
local status = redis.call('HGET', KEYS[1], 'status')
if not status then return 'missing' end
if status == 'pending' or (status == 'approving' and ARGV[1] == 'approving') then
  redis.call('HSET', KEYS[1], 'status', ARGV[1], 'decided_by', ARGV[3],
             'decided_by_name', ARGV[4], 'decided_at', ARGV[5])
  if KEYS[2] then redis.call('ZREM', KEYS[2], ARGV[2]) end
  return 'ok'
end
return status
"""
# KEYS: approval hash. ARGV: final status, outcome JSON. Only the first finish counts.
_FINISH = """
if redis.call('HGET', KEYS[1], 'status') ~= 'approving' then return 0 end
redis.call('HSET', KEYS[1], 'status', ARGV[1], 'outcome', ARGV[2])
return 1
"""


class AlreadyDecided(Exception):
    """The approval was decided already (its status now is `status`), or does not exist."""

    def __init__(self, status: str) -> None:
        super().__init__(status)
        self.status = status


@dataclass(frozen=True)
class Approval:
    """One request above a limit, as stored."""

    id: str
    conversation_id: str
    kind: str
    order_number: str
    amount_cents: int
    requested_by: str
    requested_by_name: str
    created_at: float
    status: str = PENDING
    decided_by: str = ""
    decided_by_name: str = ""
    decided_at: float = 0.0
    outcome: str = ""  # JSON of the desk's outcome, once run

    def public(self) -> Dict[str, Any]:
        """The JSON shape of the agent API."""
        found = asdict(self)
        found["outcome"] = json.loads(self.outcome) if self.outcome else None
        return found

    @classmethod
    def from_fields(cls, fields: Dict[str, str]) -> "Approval":
        """Reads the stored hash."""
        return cls(id=fields["id"], conversation_id=fields["conversation_id"],
                   kind=fields["kind"], order_number=fields["order_number"],
                   amount_cents=int(fields["amount_cents"]),
                   requested_by=fields["requested_by"],
                   requested_by_name=fields.get("requested_by_name", ""),
                   created_at=float(fields["created_at"]),
                   status=fields.get("status", PENDING),
                   decided_by=fields.get("decided_by", ""),
                   decided_by_name=fields.get("decided_by_name", ""),
                   decided_at=float(fields.get("decided_at") or 0),
                   outcome=fields.get("outcome", ""))


def approval_id(conversation_id: str, request_id: str) -> str:
    """The approval a console request makes: the same request (a double click) makes one."""
    return hashlib.sha256(f"{conversation_id}\n{request_id}".encode()).hexdigest()[:20]


class Approvals:
    """The approvals of every conversation."""

    def __init__(self, redis: Redis, keys: Keys) -> None:
        self._redis, self._keys = redis, keys
        self._cluster = is_cluster(redis)
        self._request, self._decide = Script(redis, _REQUEST), Script(redis, _DECIDE)
        self._finish = Script(redis, _FINISH)

    async def request(self, conversation_id: str, request_id: str, kind: str,
                      order_number: str, amount_cents: int, requested_by: str,
                      requested_by_name: str) -> Tuple[Approval, bool]:
        """The approval for this request, and whether it was made now (False: asked before)."""
        aid = approval_id(conversation_id, request_id)
        approval = Approval(aid, conversation_id, kind, order_number, amount_cents,
                            requested_by, requested_by_name, time.time())
        fields = {k: str(v) for k, v in asdict(approval).items()}
        pending, member = self._keys.approvals_pending, _member(conversation_id, aid)
        if self._cluster:  # the entry first: alone, `pending` skips it
            await self._redis.zadd(pending, {member: approval.created_at}, nx=True)
        created = await self._request(
            keys=[self._keys.approval(conversation_id, aid),
                  self._keys.conversation_approvals(conversation_id),
                  *([] if self._cluster else [pending])],
            args=[aid, str(approval.created_at), member,
                  *[part for item in fields.items() for part in item]])
        if created:
            return approval, True
        found = await self.get(conversation_id, aid)
        assert found is not None
        if self._cluster and found.status != PENDING:  # decided: the entry ahead goes
            await self._redis.zrem(pending, member)
        return found, False

    async def get(self, conversation_id: str, aid: str) -> Optional[Approval]:
        """One approval, or None."""
        fields = await self._redis.hgetall(self._keys.approval(conversation_id, aid))
        return Approval.from_fields(fields) if fields else None

    async def of_conversation(self, conversation_id: str) -> List[Approval]:
        """The conversation's approvals, oldest first."""
        ids = await self._redis.zrange(self._keys.conversation_approvals(conversation_id), 0, -1)
        found = [await self.get(conversation_id, aid) for aid in ids]
        return [a for a in found if a is not None]

    async def pending(self) -> List[Approval]:
        """Every approval waiting for a supervisor, oldest first.

        The set is an index of the hashes: an entry whose approval was decided is taken out
        (on a Cluster, a decision's removal comes after it); one whose hash is missing (a
        request under way) is skipped.
        """
        found = []
        for member in await self._redis.zrange(self._keys.approvals_pending, 0, -1):
            cid, aid = json.loads(member)
            approval = await self.get(cid, aid)
            if approval is None:
                continue
            if approval.status != PENDING:
                await self._redis.zrem(self._keys.approvals_pending, member)
            else:
                found.append(approval)
        return found

    async def decide(self, conversation_id: str, aid: str, approve: bool, supervisor: str,
                     supervisor_name: str) -> Approval:
        """Moves it to `approving` (to be run) or `refused`; `AlreadyDecided` otherwise."""
        pending, member = self._keys.approvals_pending, _member(conversation_id, aid)
        verdict = await self._decide(
            keys=[self._keys.approval(conversation_id, aid),
                  *([] if self._cluster else [pending])],
            args=[APPROVING if approve else REFUSED, member, supervisor, supervisor_name,
                  str(time.time())])
        if self._cluster and verdict != "missing":  # decided, now or before: never pending again
            await self._redis.zrem(pending, member)
        if verdict != "ok":
            raise AlreadyDecided(verdict)
        found = await self.get(conversation_id, aid)
        assert found is not None
        return found

    async def finish(self, approval: Approval, done: bool, outcome: Dict[str, Any]) -> bool:
        """Records the run's outcome (`approved` or `failed`); False if another run did first."""
        return bool(await self._finish(
            keys=[self._keys.approval(approval.conversation_id, approval.id)],
            args=[APPROVED if done else FAILED, json.dumps(outcome, ensure_ascii=False)]))


def _member(conversation_id: str, aid: str) -> str:
    return json.dumps([conversation_id, aid])
