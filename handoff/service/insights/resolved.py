"""Replies that resolved past questions: agents' answers in conversations closed as resolved.

The most recent handoffs closed with the resolution `resolved` (`handoff.metrics`' records)
are read from Rasa's tracker store, and each agent reply is paired with the customer message
it answered (`knowledge.question_for`), as a good answer is, but without anyone marking it.
Suggestions and the knowledge search show them masked (`handoff.pii`), like good answers.

Read at most every `REFRESH` seconds per process and kept in memory meanwhile; a cache, not
state. Customers' data removed since (`Keys.data_removed`: an erasure, a retention pass)
makes it stale at once, as the miner's results.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Tuple

from redis.asyncio import Redis

from handoff.keys import RASA_KEYS, Keys
from handoff.redis_client import get_many
from handoff.service.insights.knowledge import GoodAnswer, question_for
from handoff.transcript import turns_from_events

RECENT = 300  # resolved handoffs read, newest first
REFRESH = 60.0  # seconds a reading is kept
SCANNED = RECENT * 4  # handoff records looked at to find them (others were not resolved)


@dataclass
class ResolvedReplies:
    """The replies of recently resolved conversations, read again when stale."""

    redis: Redis
    keys: Keys
    clock: Any = time.monotonic
    _kept: Tuple[float, Optional[str], List[GoodAnswer]] = field(
        default=(float("-inf"), None, []))

    async def pairs(self) -> List[GoodAnswer]:
        """Question/reply pairs of the most recent resolved conversations."""
        removed = await self.redis.get(self.keys.data_removed)
        read_at, read_removed, pairs = self._kept
        if self.clock() - read_at < REFRESH and removed == read_removed:
            return pairs
        pairs = await self._read()
        self._kept = (self.clock(), removed, pairs)
        return pairs

    async def _read(self) -> List[GoodAnswer]:
        tickets = await self.redis.zrevrange(self.keys.metrics_handoffs, 0, SCANNED - 1)
        async with self.redis.pipeline(transaction=False) as pipe:
            for ticket_id in tickets:
                pipe.hmget(self.keys.metrics_handoff(ticket_id),
                           ["conversation_id", "outcome", "resolution", "ended_at"])
            records = await pipe.execute()
        conversations: Dict[str, float] = {}
        for cid, outcome, resolution, ended in records:
            if cid and outcome == "closed" and resolution == "resolved" \
                    and cid not in conversations and len(conversations) < RECENT:
                conversations[cid] = float(ended or 0)
        if not conversations:
            return []
        # Both names of each tracker (one not yet moved to the new layout is read too).
        names = await get_many(self.redis, [name for cid in conversations
                                            for name in RASA_KEYS.trackers(cid)])
        raw = [new if new is not None else old for new, old in zip(names[::2], names[1::2],
                                                                    strict=True)]
        # Parsing hundreds of transcripts is CPU work: off the event loop.
        return await asyncio.to_thread(_pairs, list(conversations.items()), raw)


def _pairs(conversations: List[Tuple[str, float]], raw: List[Optional[str]]) -> List[GoodAnswer]:
    found = []
    for (cid, ended), text in zip(conversations, raw, strict=True):
        if not text:
            continue
        turns = turns_from_events((json.loads(text) or {}).get("events") or [])
        for turn in turns:
            if turn.get("kind") != "agent" or not turn.get("text"):
                continue
            try:
                question, answer = question_for(turns, str(turn.get("id")))
            except LookupError:
                continue
            found.append(GoodAnswer(cid, str(question["id"]), question.get("text") or "",
                                    str(answer["id"]), answer.get("text") or "",
                                    answer.get("agent_username") or "", "", ended))
    return found
