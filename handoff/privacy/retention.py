"""Storage limitation: data older than its kind's retention is removed by a background job.

Kinds (days, `handoff.settings`; 0 keeps that kind for ever):
- conversations (`HANDOFF_RETAIN_CONVERSATIONS_DAYS`, 90): a conversation whose last activity
  (its tracker's last event, its record, its journal, and the conversation its Messenger
  user's messages go to) is older is erased as `handoff.privacy.erase` erases a customer:
  transcript, journal, tickets, notes, contact details, good answers, profile link; its
  dashboard records stay, unlinked. A conversation a person owns is never touched. Dead letters
  (poison stream entries, with their fields) go at the same age;
- aggregated records (`HANDOFF_RETAIN_RECORDS_DAYS`, 730): dashboard sessions and handoffs,
  and surveys, by the time they started;
- the privacy audit log (`HANDOFF_RETAIN_AUDIT_DAYS`, 1095).

Every handoff-service process runs the job; a pass runs in one of them at a time and at most
once per `every` seconds across all of them: the process that takes the lease (SET NX with a
TTL of `every`) runs it and leaves the lease to expire, renewing it while a long pass goes on.
Progress and counts are logged; each pass that removed something is in the audit log.

On a Redis Cluster (issue 17) aggregated records and their index live in different slots: the
records of a batch are deleted first, then their index entries, so a crash between leaves index
entries whose record is missing (the dashboard's readers skip them; the next pass takes them
out), never a record nobody can find. Off a Cluster the two are one MULTI, as before.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional

from redis.asyncio import Redis

from handoff.channels import MESSENGER, WEB
from handoff.conversation import HUMAN_STATES, ConversationStore
from handoff.keys import RASA_KEYS, Keys
from handoff.privacy import audit
from handoff.privacy.erase import Eraser
from handoff.privacy.finder import Customer
from handoff.privacy.holdings import holdings
from handoff.privacy.store import scan, tracker
from handoff.profiles import identity
from handoff.redis_client import Script, is_cluster
from handoff.settings import Settings

logger = logging.getLogger(__name__)

DAY = 86400.0
BATCH = 200
PROGRESS_EVERY = 1000  # conversations checked between two progress lines

# KEYS: lease. ARGV: token, milliseconds. Extends the lease only if it is still ours.
_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"""


@dataclass(frozen=True)
class Retention:
    """How long each kind of data is kept, in days (0: for ever)."""

    conversations_days: float = 90.0
    records_days: float = 730.0
    audit_days: float = 1095.0

    @classmethod
    def from_settings(cls, settings: Settings) -> "Retention":
        """The operator's choices."""
        return cls(settings.retain_conversations_days, settings.retain_records_days,
                   settings.retain_audit_days)

    def public(self) -> Dict[str, float]:
        """As the export tells the customer."""
        return {"conversations": self.conversations_days, "records": self.records_days,
                "audit": self.audit_days}


class RetentionJob:
    """One pass per `tick()` in whichever process holds the lease."""

    def __init__(self, redis: Redis, keys: Keys, retention: Retention,
                 clock: Callable[[], float], every: float) -> None:
        self._redis, self._keys, self._retention = redis, keys, retention
        self._clock, self._lease_ms = clock, max(1000, int(every * 1000))
        self._renew = Script(redis, _RENEW)
        self._cluster = is_cluster(redis)
        self._eraser = Eraser(redis, keys)

    async def tick(self) -> Optional[Dict[str, int]]:
        """Runs a pass if no other process ran one within `every`; its counts (None: not ours)."""
        token = uuid.uuid4().hex
        if not await self._redis.set(self._keys.retention_lease, token, nx=True,
                                     px=self._lease_ms):
            return None
        now = self._clock()
        logger.info("retention.pass.start conversations_days=%s records_days=%s audit_days=%s",
                    self._retention.conversations_days, self._retention.records_days,
                    self._retention.audit_days)
        counts: Dict[str, int] = {}
        if self._retention.conversations_days:
            cutoff = now - self._retention.conversations_days * DAY
            counts.update(await self._conversations(cutoff, token))
            counts["dead_letters"] = await self._redis.xtrim(
                self._keys.dead_letters, minid=int(cutoff * 1000), approximate=False)
        if self._retention.records_days:
            counts.update(await self._records(now - self._retention.records_days * DAY))
        if self._retention.audit_days:
            counts["audit_entries"] = await self._redis.xtrim(
                self._keys.privacy_audit,
                minid=int((now - self._retention.audit_days * DAY) * 1000), approximate=False)
        if any(counts.values()):
            await self._redis.incr(self._keys.data_removed)
            await audit.record(self._redis, self._keys, "retention", "retention", counts, at=now)
        logger.info("retention.pass.done %s",
                    " ".join(f"{k}={v}" for k, v in sorted(counts.items())))
        return counts

    async def _conversations(self, cutoff: float, token: str) -> Dict[str, int]:
        checked = erased = 0
        batch: List[str] = []
        seen = set()
        async for cid in self._conversation_ids():
            if cid in seen:
                continue
            seen.add(cid)
            batch.append(cid)
            if len(batch) >= BATCH:
                erased += await self._expire(batch, cutoff)
                checked += len(batch)
                batch = []
                await self._renew(keys=[self._keys.retention_lease], args=[token, self._lease_ms])
                if checked % PROGRESS_EVERY < BATCH:
                    logger.info("retention.progress checked=%d erased=%d", checked, erased)
        erased += await self._expire(batch, cutoff)
        checked += len(batch)
        return {"conversations_checked": checked, "conversations_erased": erased}

    async def _conversation_ids(self):  # type: ignore[no-untyped-def]
        rasa = RASA_KEYS
        async for key in scan(self._redis, rasa.tracker_pattern):
            yield rasa.conversation_of(key)
        prefix = len(self._keys.conversation(""))  # `…:conv:{}`: the id sits before the `}`
        async for key in scan(self._redis, self._keys.conversation("*")):
            yield key[prefix - 1:-1]

    async def _expire(self, batch: List[str], cutoff: float) -> int:
        """Erases the conversations of `batch` idle since before `cutoff`, all in one go."""
        expired = Customer()
        for cid in batch:
            last = await self._last_activity(cid)
            if last >= cutoff or not last:
                continue  # recent, live, or nothing dated to go by: kept
            expired.conversations.add(cid)
            if await self._redis.exists(self._keys.messenger_last_inbound(cid),
                                        self._keys.messenger_alias(cid)):
                expired.psids.add(cid)  # a Messenger user's own conversation: their keys go
            for member in (identity(WEB, cid), identity(MESSENGER, cid)):
                if await self._redis.exists(self._keys.profile_of(member)):
                    expired.identities.add(member)
            expired.tickets.update(await self._redis.lrange(self._keys.customer_tickets(cid),
                                                            0, -1))
        if expired.conversations:
            await self._eraser.erase(await holdings(self._redis, self._keys, expired,
                                                    thorough=False))
        return len(expired.conversations)

    async def _last_activity(self, cid: str, follow_alias: bool = True) -> float:
        """The latest time anything happened in the conversation (0: nothing dated).

        A conversation a person owns is happening now, however long ago its last message.
        """
        record = await ConversationStore(self._redis, self._keys).get(cid)
        if record.state in HUMAN_STATES:
            return float("inf")
        events = (await tracker(self._redis, cid)).get("events") or []
        times = [0.0]
        times.extend(float(e.get("timestamp") or 0) for e in events[-20:])
        times.append(record.updated_at)
        last = await self._redis.xrevrange(self._keys.journal(cid), "+", "-", count=1)
        if last:
            times.append(int(last[0][0].split("-")[0]) / 1000)
        alias = await self._redis.get(self._keys.messenger_alias(cid))
        if follow_alias and alias and alias != cid:
            # This Messenger user writes in another conversation: theirs lives as long as it.
            times.append(await self._last_activity(alias, follow_alias=False))
        return max(times)

    async def _records(self, cutoff: float) -> Dict[str, int]:
        keys = self._keys
        return {
            "sessions": await self._drop(keys.metrics_conversations, keys.metrics_conversation,
                                         cutoff),
            "handoffs": await self._drop(keys.metrics_handoffs, keys.metrics_handoff, cutoff),
            "surveys": await self._drop(keys.surveys(), keys.survey, cutoff),
        }

    async def _drop(self, index: str, record: Callable[[str], str], cutoff: float) -> int:
        """Deletes the records of `index` scored before `cutoff`, a batch at a time."""
        dropped = 0
        while True:
            ids = await self._redis.zrangebyscore(index, "-inf", f"({cutoff}", start=0, num=BATCH)
            if not ids:
                return dropped
            if self._cluster:  # the records first, then what finds them
                await self._redis.unlink(*(record(one) for one in ids))
                await self._redis.zrem(index, *ids)
            else:
                async with self._redis.pipeline(transaction=True) as pipe:
                    pipe.unlink(*(record(one) for one in ids))
                    pipe.zrem(index, *ids)
                    await pipe.execute()
            dropped += len(ids)
