"""Agents' voice: the eNPS question, asked in the console at most once per calendar month.

"How likely are you to recommend working in this team to a friend?" (0–10). Answers are kept
as counts per score and month, with no name: the set of who answered or dismissed the question
this month is kept apart, only so that nobody is asked twice, and the two are never joined.
eNPS = % promoters (9–10) − % detractors (0–6). A month with fewer than `MIN_ANSWERS` answers
shows no score, so that nobody's answer can be read off it.

An answer is one Lua step on the period's `asked` set (`ANSWER`: once per period). Off a Redis
Cluster the score's count and the month in the periods are written in that same step (both or
neither); on a Cluster, where they are in other slots, the month is written before the step (a
month without answers is skipped by `scores`) and the count after it: a process that dies
between the step and the count loses that answer's score (the agent is not asked again).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Dict, List, Optional

from redis.asyncio import Redis

from handoff.keys import Keys
from handoff.redis_client import Script, is_cluster

MIN_ANSWERS = 3
SCORES = range(0, 11)

# KEYS[1]: the period's asked set; off a Cluster also KEYS[2], its scores, and KEYS[3], the
# periods. ARGV: the username, the score ('' for a dismissal), the period. Replies 0 if the
# agent was asked already (nothing written), else 1.
ANSWER = """
if redis.call('SADD', KEYS[1], ARGV[1]) == 0 then return 0 end
if KEYS[2] and ARGV[2] ~= '' then
  redis.call('HINCRBY', KEYS[2], ARGV[2], 1)
  redis.call('SADD', KEYS[3], ARGV[3])
end
return 1
"""


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
        self._step, self._cluster = Script(redis, ANSWER), is_cluster(redis)

    async def should_ask(self, username: str, now: float) -> bool:
        """Whether the agent has neither answered nor dismissed this period's question."""
        return not await self._redis.sismember(self._keys.enps_asked(period_of(now)), username)

    async def answer(self, username: str, score: Optional[int], now: float) -> None:
        """Records a score (0–10), or a dismissal with `score=None`; once per period.

        The name goes into the period's `asked` set and the score into its anonymous counts
        (off a Redis Cluster in one step: both or neither, see the module's docstring); a second
        answer raises `AlreadyAsked`.
        """
        period = period_of(now)
        asked, counts = self._keys.enps_asked(period), self._keys.enps_scores(period)
        args = [username, "" if score is None else str(score), period]
        if not self._cluster:
            if not await self._step(keys=[asked, counts, self._keys.enps_periods], args=args):
                raise AlreadyAsked(username)
            return
        if score is not None:  # the month first: an entry too many, never one missing
            await self._redis.sadd(self._keys.enps_periods, period)
        if not await self._step(keys=[asked], args=args):
            raise AlreadyAsked(username)
        if score is not None:
            await self._redis.hincrby(counts, str(score), 1)

    async def scores(self, first: str, last: str) -> List[PeriodScore]:
        """The periods from `first` to `last` (`YYYY-MM`, inclusive) that have answers."""
        periods = sorted(p for p in await self._redis.smembers(self._keys.enps_periods)
                         if first <= p <= last)
        found = []
        for period in periods:
            raw = await self._redis.hgetall(self._keys.enps_scores(period))
            counts = {int(score): int(n) for score, n in raw.items()}
            total = sum(counts.values())
            if not total:  # on a Cluster, a month written ahead of an answer that did not come
                continue
            found.append(PeriodScore(period, total,
                                     net_promoter_score(counts) if total >= MIN_ANSWERS else None))
        return found
