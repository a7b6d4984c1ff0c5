"""Redis Streams with consumer groups: at-least-once delivery with explicit acknowledgement.

A consumer first re-reads its own pending entries (id `0`), then takes new ones (`>`), and
periodically claims entries that another consumer read but never acknowledged (it crashed).
Handlers must therefore be idempotent.

Several consumers of one group (several handoff services) share its entries. With a `lane`
(e.g. a conversation), an entry is handled only once no other consumer still has an older
entry of its lane pending: each consumer keeps such entries back (still pending, in its own
list) and looks again before its next reads, so a conversation's entries take effect in stream
order whoever reads them. Without a lane, order holds within one consumer only.

A handler failure is either transient (Redis or Rasa unreachable: the entry is retried, as long
as it takes) or not: an entry whose handler fails that way `max_failures` times is a poison
entry; it moves to the dead-letter stream (`Keys.dead_letters`, with its stream, id, fields and
error), is acknowledged so that it blocks nothing behind it, and is reported (log, and `on_dead`).

Streams are never trimmed by length at XADD (that could drop entries not yet handled): the
`StreamTrimmer` removes only entries older than everything some group still has to handle.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import Awaitable, Callable, Dict, List, Optional, Sequence, Tuple, Type

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from handoff.redis_client import is_cluster

logger = logging.getLogger(__name__)

Entry = Tuple[str, Dict[str, str]]
Handler = Callable[[str, Dict[str, str]], Awaitable[None]]


class Acknowledgement:
    """A read's acknowledgement, which a batch handler may queue on its own last pipeline.

    Queued after the handler's last writes, it costs no round trip of its own; if the handler
    does not queue it, the consumer acknowledges the read itself once the handler returns. Redis
    runs a pipeline's commands in order whatever their replies: if an earlier write of the
    pipeline was refused, the handler's exception sends the read entry by entry through the
    (idempotent) handler, as without it.
    """

    def __init__(self, stream: str, group: str, entry_ids: List[str]) -> None:
        self._stream, self._group, self._ids = stream, group, entry_ids
        self.queued = False

    def on(self, pipe: Pipeline) -> None:
        """Queues the XACK on `pipe`: call it after the read's last writes on that pipeline."""
        pipe.xack(self._stream, self._group, *self._ids)
        self.queued = True


# Handles a whole read at once (e.g. one Redis pipeline for all of it): the live path's consumers,
# whose cost per message must not be a few round trips each. Given the read's `Acknowledgement`.
BatchHandler = Callable[[List[Entry], Acknowledgement], Awaitable[None]]
OnDead = Callable[[Dict[str, str]], Awaitable[None]]
TRANSIENT: Tuple[Type[BaseException], ...] = (RedisConnectionError, RedisTimeoutError, OSError)
MAX_FAILURES = 3
# How long a read waits while entries are held back for another consumer (ms, per round in a
# row with nothing to handle): that consumer usually finishes within milliseconds; one that
# died leaves its entries to be claimed after `claim_idle_ms`, and polling for it is paced.
HOLD_WAITS_MS = (2, 5, 10, 20, 50, 100, 200)
LANES_REMEMBERED = 4096  # other consumers' entries whose lane is known without a read


class StreamConsumer:
    """One consumer of one group on one stream."""

    def __init__(
        self,
        redis: Redis,
        stream: str,
        group: str,
        consumer: str,
        *,
        block_ms: int = 1000,
        count: int = 50,
        claim_idle_ms: int = 30_000,
        dead_letters: Optional[str] = None,
        transient: Callable[[BaseException], bool] = lambda exc: isinstance(exc, TRANSIENT),
        max_failures: int = MAX_FAILURES,
        on_dead: Optional[OnDead] = None,
        lane: Optional[Callable[[Dict[str, str]], str]] = None,
    ) -> None:
        """A consumer; with `lane`, entries of different lanes are handled at the same time.

        `lane` names what must be handled in order (e.g. a conversation): entries of one lane
        are handled one after the other. Without it, every entry waits for the one before.
        """
        self._redis = redis
        self._lane = lane
        self._dead_letters = dead_letters
        self._transient = transient
        self._max_failures = max_failures
        self._on_dead = on_dead
        self.stream = stream
        self.group = group
        self.consumer = consumer
        self._block_ms = block_ms
        self._count = count
        self._claim_idle_ms = claim_idle_ms
        self._next_claim = 0.0
        self._pending_first = True
        # Read (so pending in this consumer) but behind another consumer's older entry of their
        # lane; by id.
        self._held: Dict[str, Entry] = {}
        self._holding_rounds = 0
        self._lanes_seen: Dict[str, str] = {}

    async def ensure_group(self) -> None:
        """Creates the group (and the stream) if missing; new groups start at the beginning."""
        try:
            await self._redis.xgroup_create(self.stream, self.group, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    async def read(self) -> List[Entry]:
        """Own pending entries first, then entries claimed from dead consumers, then new ones.

        Entries held back are pending too, but never returned again: a pending entry that
        waits for another consumer must not keep this one from claiming or reading.
        """
        if self._pending_first:
            after = "0"
            while True:
                entries = await self._xreadgroup(after, block=None)
                fresh = [entry for entry in entries if entry[0] not in self._held]
                if fresh:
                    return fresh
                if not entries:
                    break
                after = entries[-1][0]
            self._pending_first = False
        # An entry is claimable only after `claim_idle_ms`: looking more often than every half
        # of it finds nothing new and would cost every read a round trip.
        now = time.monotonic()
        if now >= self._next_claim:
            self._next_claim = now + self._claim_idle_ms / 2000
            claimed = await self.claim_stale()
            if claimed:
                self._next_claim = 0.0  # there may be more
                return claimed
        block = self._block_ms
        if self._held:
            block = min(block, HOLD_WAITS_MS[min(self._holding_rounds, len(HOLD_WAITS_MS) - 1)])
        return await self._xreadgroup(">", block=block)

    async def in_turn(self, entries: List[Entry]) -> List[Entry]:
        """Of `entries` and those held back, the ones whose turn it is, in stream order.

        An entry waits while another consumer of the group has an older entry of its lane
        pending (read, not acknowledged): handled now, it could take effect before that one.
        """
        for entry in entries:
            self._held[entry[0]] = entry
        if not self._held or self._lane is None:
            ready, self._held = list(self._held.values()), {}
            return ready
        candidates = sorted(self._held.values(), key=lambda entry: _id_key(entry[0]))
        blockers = await self._older_elsewhere(candidates[-1][0])
        ready, held = [], {}
        for entry in candidates:
            blocker = blockers.get(self._lane(entry[1]))
            if blocker is not None and _id_key(blocker) < _id_key(entry[0]):
                held[entry[0]] = entry
            else:
                ready.append(entry)
        self._held = held
        self._holding_rounds = 0 if ready or not held else self._holding_rounds + 1
        return ready

    async def _older_elsewhere(self, newest: str) -> Dict[str, str]:
        """For each lane, the oldest entry up to `newest` pending in another consumer."""
        summary = await self._redis.xpending(self.stream, self.group)
        others = [(_text(c["name"]), int(c["pending"])) for c in summary.get("consumers") or []]
        others = [(name, count) for name, count in others if name != self.consumer and count]
        if not others:
            return {}
        async with self._redis.pipeline(transaction=False) as pipe:
            for name, count in others:
                pipe.xpending_range(self.stream, self.group, min="-", max=newest, count=count,
                                    consumername=name)
            pending = [_text(row["message_id"]) for rows in await pipe.execute() for row in rows]
        unknown = [entry_id for entry_id in pending if entry_id not in self._lanes_seen]
        if unknown:
            if len(self._lanes_seen) > LANES_REMEMBERED:
                self._lanes_seen.clear()
            async with self._redis.pipeline(transaction=False) as pipe:
                for entry_id in unknown:
                    pipe.xrange(self.stream, entry_id, entry_id)
                for entry_id, found in zip(unknown, await pipe.execute(), strict=True):
                    # Gone (a dead letter's, trimmed): it holds nothing back.
                    self._lanes_seen[entry_id] = self._lane(found[0][1]) if found else ""
        oldest: Dict[str, str] = {}
        for entry_id in pending:
            lane = self._lanes_seen.get(entry_id)
            if lane and (lane not in oldest or _id_key(entry_id) < _id_key(oldest[lane])):
                oldest[lane] = entry_id
        return oldest

    async def claim_stale(self) -> List[Entry]:
        """Takes over entries idle for longer than `claim_idle_ms` in other consumers."""
        result = await self._redis.xautoclaim(
            self.stream, self.group, self.consumer, self._claim_idle_ms, "0-0",
            count=self._count,
        )
        return [(eid, fields) for eid, fields in result[1] if fields]

    async def ack(self, *entry_ids: str) -> None:
        """Marks entries done; call only once their effect is durable."""
        await self._redis.xack(self.stream, self.group, *entry_ids)

    async def _xreadgroup(self, last_id: str, block: Optional[int]) -> List[Entry]:
        reply = await self._redis.xreadgroup(
            self.group, self.consumer, {self.stream: last_id}, count=self._count, block=block
        )
        entries: List[Entry] = []
        for _, stream_entries in reply or []:
            entries.extend((eid, fields) for eid, fields in stream_entries if fields)
        return entries

    async def run(self, handler: Handler, stop: asyncio.Event, retry_delay: float = 0.5,
                  batch: Optional[BatchHandler] = None) -> None:
        """Feeds entries to `handler` until `stop` is set.

        An entry whose handler fails stays pending and is retried, before any later entry, on
        the next pass over pending entries.

        With `batch`, each read goes to `batch` whole and is acknowledged in one call; a read
        whose batch fails with a transient error is retried whole (handlers are idempotent), and
        one that fails otherwise goes entry by entry to `handler`, which finds the poison entry.
        """
        await self._ensure_group_retrying(stop, retry_delay)
        while not stop.is_set():
            try:
                entries = await self.in_turn(await self.read())
            except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
                logger.warning("stream.read.failure stream=%s error=%s", self.stream, exc)
                await _wait(stop, retry_delay)
                continue
            except ResponseError as exc:
                if "NOGROUP" not in str(exc):
                    raise
                await self._ensure_group_retrying(stop, retry_delay)
                continue
            if batch is not None and entries:
                outcome = await self._handle_batch(batch, entries)
                if outcome is not None:
                    done = outcome
                    if not done:
                        self._pending_first = True
                        await _wait(stop, retry_delay)
                    continue
            if self._lane is None:
                done = await self._handle_in_order(handler, entries)
            else:
                lanes: Dict[str, List[Entry]] = {}
                for entry in entries:
                    lanes.setdefault(self._lane(entry[1]), []).append(entry)
                done = all(await asyncio.gather(*(self._handle_in_order(handler, lane)
                                                  for lane in lanes.values())))
            if not done:
                self._pending_first = True
                await _wait(stop, retry_delay)

    async def _handle_batch(self, batch: BatchHandler, entries: List[Entry]) -> Optional[bool]:
        """True: handled and acknowledged; False: retry it all later; None: go entry by entry."""
        acknowledgement = Acknowledgement(self.stream, self.group,
                                          [entry_id for entry_id, _ in entries])
        try:
            await batch(entries, acknowledgement)
            if not acknowledgement.queued:
                await self.ack(*(entry_id for entry_id, _ in entries))
            return True
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - one bad entry must not stop the consumer
            if self._transient(exc):
                logger.warning("stream.batch.retry stream=%s entries=%d error=%r", self.stream,
                               len(entries), exc)
                return False
            logger.warning("stream.batch.failure stream=%s entries=%d error=%r: one by one",
                           self.stream, len(entries), exc)
            return None

    async def _handle_in_order(self, handler: Handler, entries: List[Entry]) -> bool:
        for entry_id, fields in entries:
            if not await self._handle(handler, entry_id, fields):
                return False  # this one and those after it are retried first, in order
        return True

    async def _handle(self, handler: Handler, entry_id: str, fields: Dict[str, str]) -> bool:
        try:
            await handler(entry_id, fields)
            await self.ack(entry_id)
            return True
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - one bad entry must not stop the consumer
            if self._transient(exc):
                logger.warning("stream.handler.retry stream=%s entry=%s error=%r", self.stream,
                               entry_id, exc)
                return False
            logger.exception("stream.handler.failure stream=%s entry=%s", self.stream, entry_id)
            return await self._count_failure(entry_id, fields, exc)

    async def _count_failure(self, entry_id: str, fields: Dict[str, str],
                             exc: BaseException) -> bool:
        """True when the entry was moved to the dead letters (so the consumer goes on)."""
        if self._dead_letters is None:
            return False
        failures_key = f"{self._dead_letters}:failures"
        try:
            failures = await self._redis.hincrby(failures_key, f"{self.stream}|{entry_id}", 1)
            if failures < self._max_failures:
                return False
            dead = {"stream": self.stream, "group": self.group, "entry_id": entry_id,
                    "fields": json.dumps(fields, ensure_ascii=False), "error": repr(exc)[:500],
                    "failures": str(failures)}
            # Three slots on a Redis Cluster, where a MULTI names one: the dead letter first, so
            # that a crash before the acknowledgement leaves it twice, never lost.
            cluster = is_cluster(self._redis)
            async with self._redis.pipeline(transaction=not cluster) as pipe:
                pipe.xadd(self._dead_letters, dead)
                if cluster:
                    await pipe.execute()
                pipe.xack(self.stream, self.group, entry_id)
                pipe.hdel(failures_key, f"{self.stream}|{entry_id}")
                await pipe.execute()
        except TRANSIENT:
            return False
        logger.error("stream.dead_letter stream=%s entry=%s failures=%d error=%r", self.stream,
                     entry_id, failures, exc)
        if self._on_dead is not None:
            await self._on_dead(dead)
        return True

    async def _ensure_group_retrying(self, stop: asyncio.Event, delay: float) -> None:
        while not stop.is_set():
            try:
                await self.ensure_group()
                return
            except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
                logger.warning("stream.group.failure stream=%s error=%s", self.stream, exc)
                await _wait(stop, delay)


async def _wait(stop: asyncio.Event, delay: float) -> None:
    try:
        await asyncio.wait_for(stop.wait(), timeout=delay)
    except asyncio.TimeoutError:
        pass


class StreamTrimmer:
    """Trims streams of the entries every group is done with, and never any other."""

    def __init__(self, redis: Redis, streams: Sequence[str]) -> None:
        self._redis, self._streams = redis, list(streams)

    async def tick(self) -> Dict[str, int]:
        """Trims each stream; how many entries each lost."""
        trimmed = {}
        for stream in self._streams:
            floor = await self.safe_floor(stream)
            if floor is not None:
                trimmed[stream] = await self._redis.xtrim(stream, minid=floor, approximate=False)
        return trimmed

    async def safe_floor(self, stream: str) -> Optional[str]:
        """The oldest id some group still needs (pending, or not delivered yet); None: unsure."""
        try:
            groups = await self._redis.xinfo_groups(stream)
        except ResponseError:
            return None  # no such stream
        if not groups:
            return None  # nobody reads it yet: keep everything
        floors = []
        for group in groups:
            pending = await self._redis.xpending(stream, group["name"])
            if pending.get("pending"):
                floors.append(pending["min"])
            else:
                floors.append(_next_id(group["last-delivered-id"]))
        return min(floors, key=_id_key)


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _id_key(entry_id: str) -> Tuple[int, int]:
    ms, _, seq = entry_id.partition("-")
    return int(ms), int(seq or 0)


def _next_id(entry_id: str) -> str:
    ms, seq = _id_key(entry_id)
    return f"{ms}-{seq + 1}"
