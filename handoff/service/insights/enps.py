"""Agents' voice: the eNPS question, asked in the console at most once per calendar month.

"How likely are you to recommend working in this team to a friend?" (0–10). Answers are kept
as counts per score and month, with no name: the set of who answered or dismissed the question
this month is kept apart, only so that nobody is asked twice, and the two are never joined.
eNPS = % promoters (9–10) − % detractors (0–6). A month with fewer than `MIN_ANSWERS` answers
shows no score, so that nobody's answer can be read off it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Dict, List, Optional

from redis.asyncio import Redis
from redis.exceptions import WatchError

from handoff.keys import Keys

MIN_ANSWERS = 3
SCORES = range(0, 11)


class AlreadyAsked(Exception):
    """The agent already answered or dismissed this period's question."""


def period_of(at: float) -> str:
    """The period (`YYYY-MM`, UTC) of a time."""
    return dt.datetime.fromtimestamp(at, dt.timezone.utc).strftime("%Y-%m")


def net_promoter_score(counts: Dict[int, int]) -> Optional[float]:
    """% promoters (9–10) − % detractors (0–6), rounded to 0.1; None without answers.

    `counts`: 0–10 answers counted by score. The customers' NPS and the agents' eNPS are both
    this.
    """
    total = sum(counts.values())
    if not total:
        return None
    promoters = sum(n for score, n in counts.items() if score >= 9)
    detractors = sum(n for score, n in counts.items() if score <= 6)
    return round(100.0 * (promoters - detractors) / total, 1)


@dataclass(frozen=True)
class PeriodScore:
    """One period's eNPS as supervisors see it (no score under `MIN_ANSWERS` answers)."""

    period: str
    answers: int
    score: Optional[float]

    def public(self) -> Dict[str, object]:
        """The JSON shape of the dashboard."""
        return {"period": self.period, "answers": self.answers, "score": self.score,
                "shown": self.score is not None}


class EnpsStore:
    """Answers in Redis (`Keys.enps_scores`, `Keys.enps_asked`, `Keys.enps_periods`)."""

    def __init__(self, redis: Redis, keys: Keys) -> None:
        self._redis, self._keys = redis, keys

    async def should_ask(self, username: str, now: float) -> bool:
        """Whether the agent has neither answered nor dismissed this period's question."""
        return not await self._redis.sismember(self._keys.enps_asked(period_of(now)), username)

    async def answer(self, username: str, score: Optional[int], now: float) -> None:
        """Records a score (0–10), or a dismissal with `score=None`; once per period.

        The name goes into the period's `asked` set and the score into its anonymous counts in
        one transaction: both or neither, and a second answer raises `AlreadyAsked`.
        """
        period = period_of(now)
        asked = self._keys.enps_asked(period)
        while True:
            async with self._redis.pipeline(transaction=True) as pipe:
                try:
                    await pipe.watch(asked)
                    if await pipe.sismember(asked, username):
                        raise AlreadyAsked(username)
                    pipe.multi()
                    pipe.sadd(asked, username)
                    if score is not None:
                        pipe.hincrby(self._keys.enps_scores(period), str(score), 1)
                        pipe.sadd(self._keys.enps_periods, period)
                    await pipe.execute()
                    return
                except WatchError:
                    continue

    async def scores(self, first: str, last: str) -> List[PeriodScore]:
        """The periods from `first` to `last` (`YYYY-MM`, inclusive) that have answers."""
        periods = sorted(p for p in await self._redis.smembers(self._keys.enps_periods)
                         if first <= p <= last)
        found = []
        for period in periods:
            raw = await self._redis.hgetall(self._keys.enps_scores(period))
            counts = {int(score): int(n) for score, n in raw.items()}
            total = sum(counts.values())
            found.append(PeriodScore(period, total,
                                     net_promoter_score(counts) if total >= MIN_ANSWERS else None))
        return found
