"""Write-behind: the human segment's turns into the Rasa tracker, in order, once each.

Turns wait in the conversation's segment stream (appended by `inbound` and `outbound`), and the
conversation in `Keys.tracker_pending` (scored by its oldest unwritten turn). The writer, in
every handoff-service process, flushes conversations whose oldest turn has waited `delay`
seconds, many conversations per pass (their leases, segments and settling in a round trip
each; the write one conversation at a time: Redis serves other clients between), straight
into Rasa's stored trackers (`stored_tracker`: the events whose message id the tracker does
not have yet, never while Rasa holds the conversation's lock); through Rasa's
`tracker_writes` door (`bot/tracker_writes.py`) only at a give-back, whose NLU results are
kept with the customer's turns. Entries leave the segment only once the tracker has them, so a
crash or a Rasa outage loses nothing; a turn written twice (two writers, a retry) is appended
once. The give-back calls `flush` to have every turn in the tracker before the bot resumes.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import Any, Callable, Dict, List, Optional, Tuple, Union

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline

from handoff.keys import Keys
from handoff.rasa_api import RasaClient, RasaUnavailable
from handoff.redis_client import Script, is_cluster
from handoff.relay.stored_tracker import BUSY, UNKNOWN_LAYOUT, StoredTrackers

logger = logging.getLogger(__name__)

DEFAULT_DELAY = 10.0  # seconds a turn may wait; longer batches cost Rasa less
BATCH_CONVERSATIONS = 50  # conversations per call to Rasa
BATCH_TURNS = 500  # turns of one conversation per call
# Bytes of events per call to Rasa, whose server refuses bodies over twice that
# (bot/limits.py): a conversation takes at most half of a call.
CALL_BYTES = 1024 * 1024
LEASE_MS = 30_000
BUSY_RETRY, BUSY_PATIENCE = 0.05, 30.0  # seconds: a flush waiting for Rasa's lock
# A segment entry with this field marks where a give-back moved the conversation: turns after it
# came when the bot was taking over, and are written after the bot's resume.
BOUNDARY = "boundary"

# Forgets the conversation (and its empty segment) only when the segment is empty, in one step: a
# turn appended meanwhile keeps it pending. On a Redis Cluster the tracker-pending zset is in
# another slot: the step leaves it out and `_forget` follows.
# KEYS: segment, lease, and off a Cluster the tracker-pending zset. ARGV: conversation id.
_SETTLE = """
local left = redis.call('XLEN', KEYS[1])
if left == 0 then
  redis.call('DEL', KEYS[1])
  if KEYS[3] then redis.call('ZREM', KEYS[3], ARGV[1]) end
end
redis.call('DEL', KEYS[2])
return left
"""

Entries = List[Tuple[str, Dict[str, str]]]


async def append_turns(redis: Redis, keys: Keys, conversation_id: str,
                       events: List[Dict[str, Any]], answered: bool = False) -> None:
    """Appends turns to the segment (outbound side; `inbound` does it in its own script).

    With `answered`, the customer's last message is marked answered (an agent replied).
    """
    # On a Cluster the tracker-pending zset is in another slot: no MULTI across them; its entry
    # goes after the turns (see `TrackerWriter._forget`).
    async with redis.pipeline(transaction=not is_cluster(redis)) as pipe:
        queue_turns(pipe, keys, conversation_id, events, answered)
        await pipe.execute()


def queue_turns(pipe: Pipeline, keys: Keys, conversation_id: str,
                events: List[Dict[str, Any]], answered: bool = False) -> None:
    """`append_turns` queued on `pipe` (the delivery's batches)."""
    for event in events:
        pipe.xadd(keys.segment(conversation_id), {"event": json.dumps(event, ensure_ascii=False)})
    pipe.zadd(keys.tracker_pending, {conversation_id: time.time()}, nx=True)
    if answered:
        pipe.hset(keys.last_customer_turn(conversation_id), "answered", "1")


async def segment_events(redis: Redis, keys: Keys, conversation_id: str) -> List[Dict[str, Any]]:
    """The turns not yet in the tracker, oldest first (the console shows them after it)."""
    entries = await redis.xrange(keys.segment(conversation_id), "-", "+")
    return [json.loads(fields["event"]) for _, fields in entries if fields.get("event")]


class TrackerWriter:
    """Flushes segments into Rasa's tracker."""

    def __init__(self, redis: Redis, keys: Keys, rasa: RasaClient,
                 delay: float = DEFAULT_DELAY, clock: Callable[[], float] = time.time) -> None:
        self._redis, self._keys, self._rasa = redis, keys, rasa
        self._delay, self._clock = delay, clock
        self._settle = Script(redis, _SETTLE)
        self._cluster = is_cluster(redis)
        self._stored = StoredTrackers(redis)

    async def flush(self, conversation_id: str,
                    parse: Optional[Dict[str, Dict[str, Any]]] = None) -> int:
        """Writes the segment's turns now, up to a give-back's boundary; how many.

        `parse` (message id → NLU result) fills in the NLU of customer turns written without it.
        Raises `RasaUnavailable` when Rasa does not take them (they stay in the segment).
        """
        written, waited = 0, 0.0
        while True:
            entries, boundary = await self._pending(conversation_id)
            if entries or parse:
                if await self._write({conversation_id: entries}, {conversation_id: parse or {}}):
                    # Rasa is in a turn of this conversation (its lock): a moment, not a failure.
                    if waited >= BUSY_PATIENCE:
                        raise RasaUnavailable(conversation_id, "locked by Rasa all along")
                    await asyncio.sleep(BUSY_RETRY)
                    waited += BUSY_RETRY
                    continue
                parse, written = None, written + len(entries)
            if boundary is not None:
                return written  # what follows is for after the bot's resume
            if await self._settled(conversation_id):
                return written

    async def drop_boundary(self, conversation_id: str) -> None:
        """Removes the give-back's boundary: the turns after it may be written now."""
        entries = await self._redis.xrange(self._keys.segment(conversation_id), "-", "+")
        marks = [entry_id for entry_id, fields in entries if BOUNDARY in fields]
        if marks:
            await self._redis.xdel(self._keys.segment(conversation_id), *marks)

    async def tick(self) -> int:
        """Flushes the conversations whose oldest turn has waited long enough; how many.

        A few round trips for the whole batch: leases, segments, the write, and settling.
        """
        due = await self._redis.zrangebyscore(self._keys.tracker_pending, "-inf",
                                              self._clock() - self._delay, start=0,
                                              num=BATCH_CONVERSATIONS)
        if not due:
            return 0
        async with self._redis.pipeline(transaction=False) as pipe:
            for cid in due:
                pipe.set(self._keys.tracker_lease(cid), "1", nx=True, px=LEASE_MS)
            leased = [cid for cid, got in zip(due, await pipe.execute(), strict=True) if got]
        if not leased:
            return 0
        async with self._redis.pipeline(transaction=False) as pipe:
            for cid in leased:
                pipe.xrange(self._keys.segment(cid), "-", "+", count=BATCH_TURNS)
            segments = await pipe.execute()
        batch = {cid: _before_boundary(entries)[0]
                 for cid, entries in zip(leased, segments, strict=True)}
        try:
            await self._write(batch, {})
        finally:
            async with self._redis.pipeline(transaction=False) as pipe:
                for cid in batch:
                    await self._settle_on(pipe, cid)
                left = await pipe.execute()
            await self._forget([cid for cid, n in zip(batch, left, strict=True) if int(n) == 0])
        return len(batch)

    async def _pending(self, conversation_id: str) -> Tuple[Entries, Optional[str]]:
        """The next turns to write, and the boundary they stop at, if any."""
        return _before_boundary(await self._redis.xrange(
            self._keys.segment(conversation_id), "-", "+", count=BATCH_TURNS))

    async def _write(self, batch: Dict[str, Entries],
                     parse: Dict[str, Dict[str, Dict[str, Any]]]) -> List[str]:
        """Writes the batch; the conversations left for later (Rasa is busy with them).

        Turns go straight into Rasa's stored tracker (`stored_tracker`); through Rasa's door
        only with NLU results to keep (a give-back) or a stored layout not known here.
        """
        events = {cid: [json.loads(fields["event"]) for _, fields in entries
                        if fields.get("event")] for cid, entries in batch.items()}
        direct = {cid: turns for cid, turns in events.items() if not parse.get(cid)}
        outcome = await self._stored.append(direct, self._clock())
        busy = [cid for cid, n in outcome.items() if n == BUSY]
        through_rasa = [
            {"conversation_id": cid, "events": turns, "parse": parse.get(cid) or {}}
            for cid, turns in events.items()
            if parse.get(cid) or outcome.get(cid) == UNKNOWN_LAYOUT]
        for call in _calls(through_rasa):
            await self._rasa.write_turns(call)
        async with self._redis.pipeline(transaction=False) as pipe:
            for cid, entries in batch.items():
                if entries and cid not in busy:
                    pipe.xdel(self._keys.segment(cid), *[entry_id for entry_id, _ in entries])
            await pipe.execute()
        return busy

    async def _settled(self, conversation_id: str) -> bool:
        if int(await self._settle_on(self._redis, conversation_id)) > 0:
            return False
        await self._forget([conversation_id])
        return True

    async def _settle_on(self, client: Union[Redis, Pipeline], conversation_id: str) -> Any:
        keys = self._keys
        here = [keys.segment(conversation_id), keys.tracker_lease(conversation_id)]
        return await self._settle(keys=here if self._cluster else [*here, keys.tracker_pending],
                                  args=[conversation_id], client=client)

    async def _forget(self, settled: List[str]) -> None:
        """On a Cluster, takes the settled conversations out of tracker-pending.

        Off one the step did it. Then puts back any whose segment got a turn meanwhile: a
        take's entry there may have landed just before the removal.
        """
        if not self._cluster or not settled:
            return
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.zrem(self._keys.tracker_pending, *settled)
            for cid in settled:
                pipe.xlen(self._keys.segment(cid))
            lengths = (await pipe.execute())[1:]
        again = {cid: self._clock() for cid, n in zip(settled, lengths, strict=True) if n}
        if again:
            await self._redis.zadd(self._keys.tracker_pending, again, nx=True)


def _before_boundary(entries: Entries) -> Tuple[Entries, Optional[str]]:
    """The entries before a give-back's boundary, and the boundary's id, if there is one.

    Cut short where the events pass half a call to Rasa (`CALL_BYTES`): the rest goes next.
    """
    size = 0
    for n, (entry_id, fields) in enumerate(entries):
        if BOUNDARY in fields:
            return entries[:n], entry_id
        size += _sent_size(fields.get("event"))
        if size > CALL_BYTES // 2 and n > 0:
            return entries[:n], None
    return entries, None


def _calls(conversations: List[Dict[str, Any]]) -> List[List[Dict[str, Any]]]:
    """The conversations in groups of at most `CALL_BYTES` of JSON, in order."""
    calls: List[List[Dict[str, Any]]] = []
    size = 0
    for conversation in conversations:
        bytes_ = len(json.dumps(conversation))  # as aiohttp sends it: ASCII, escaped
        if not calls or size + bytes_ > CALL_BYTES:
            calls.append([])
            size = 0
        calls[-1].append(conversation)
        size += bytes_
    return calls


def _sent_size(event: Optional[str]) -> int:
    """Bytes of a stored event once sent to Rasa (aiohttp escapes everything but ASCII)."""
    return len(json.dumps(json.loads(event))) if event else 0
