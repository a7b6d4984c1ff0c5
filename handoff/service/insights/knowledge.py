"""Agent answers as knowledge: replies an agent marked as a good answer to a customer question.

Marked pairs are candidate FAQ entries for bot designers (`python -m
handoff.service.insights.miner`). They are
stored as written, like the transcript they come from; everything that shows or exports them
masks personal data (`handoff.pii`). One HASH (`Keys.good_answers`) keyed by the answer turn,
so marking the same reply twice keeps one entry.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from typing import Any, Dict, List, Optional, Sequence, Tuple

from redis.asyncio import Redis

from handoff.keys import Keys
from handoff.transcript import Turn


@dataclass(frozen=True)
class GoodAnswer:
    """An agent's reply marked as a good answer to the customer question before it."""

    conversation_id: str
    question_id: str  # transcript turn ids (`handoff.transcript`)
    question: str
    answer_id: str
    answer: str
    agent: str  # who wrote the reply
    marked_by: str  # who marked it (the agent, or a supervisor)
    marked_at: float
    answered_at: Optional[float] = None

    @property
    def id(self) -> str:
        """The pair's id: one entry per answer turn."""
        return f"{self.conversation_id}:{self.answer_id}"

    @classmethod
    def from_json(cls, raw: str) -> "GoodAnswer":
        """The entry as stored."""
        data: Dict[str, Any] = json.loads(raw)
        return cls(**{k: data.get(k) for k in cls.__dataclass_fields__})


def question_for(turns: Sequence[Turn], answer_id: str) -> Tuple[Turn, Turn]:
    """The agent turn `answer_id` and the customer turn it answers (the last one before it).

    Raises LookupError when the turn is not an agent's, or no customer message comes before it.
    """
    for index, turn in enumerate(turns):
        if turn.get("id") == answer_id:
            if turn.get("kind") != "agent":
                raise LookupError(f"turn {answer_id} is not an agent's reply")
            for earlier in reversed(turns[:index]):
                if earlier.get("kind") == "customer" and not earlier.get("payload"):
                    return earlier, turn
            raise LookupError(f"no customer message before turn {answer_id}")
    raise LookupError(f"no turn {answer_id} in this conversation")


class GoodAnswers:
    """The store of marked pairs, in Redis."""

    def __init__(self, redis: Redis, keys: Keys) -> None:
        self._redis = redis
        self._keys = keys

    async def mark(self, conversation_id: str, question: Turn, answer: Turn, marked_by: str,
                   at: Optional[float] = None) -> GoodAnswer:
        """Marks `answer` (an agent turn) as a good answer to `question` (a customer turn)."""
        pair = GoodAnswer(
            conversation_id=conversation_id, question_id=str(question["id"]),
            question=question.get("text") or "", answer_id=str(answer["id"]),
            answer=answer.get("text") or "",
            agent=answer.get("agent_username") or answer.get("agent") or marked_by,
            marked_by=marked_by, marked_at=time.time() if at is None else at,
            answered_at=answer.get("timestamp"))
        await self._redis.hset(self._keys.good_answers, pair.id, json.dumps(asdict(pair)))
        return pair

    async def unmark(self, pair_id: str) -> bool:
        """Removes a pair; False when it was not marked."""
        return bool(await self._redis.hdel(self._keys.good_answers, pair_id))

    async def list(self) -> List[GoodAnswer]:
        """Every marked pair, most recently marked first."""
        raw = await self._redis.hgetall(self._keys.good_answers)
        pairs = [GoodAnswer.from_json(value) for value in raw.values()]
        return sorted(pairs, key=lambda p: -p.marked_at)
