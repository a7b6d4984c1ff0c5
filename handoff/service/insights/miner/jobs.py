"""Mining for the console (issue 8): off the event loop, one analysis at a time, kept briefly.

The miner's work is CPU-bound (json, spaCy, scikit-learn). It runs in one worker thread of the
handoff service, so the event loop keeps serving agents meanwhile (the GIL is shared: the loop
is slowed, never stopped); one thread also means spaCy's pipelines are never used by two threads
at once, which spaCy does not promise to be safe. Only reading Redis happens on the loop, a
batch of trackers at a time, so memory holds one batch of raw trackers, not the whole store.

A request starts the job for its question (language, period) or joins the one running, and
waits a little for it; a longer job is reported as running, with how many conversations it has
read and then how many messages it analyses, and the page asks again. A finished result is kept
`ttl` seconds in this process's memory: a cache, not state (another process computes its own).
Good answers are attached to a copy of the cached groups whenever the marked pairs have changed,
so a reply marked a second ago is there without mining again.
"""

from __future__ import annotations

import asyncio
import copy
import json
import logging
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Optional, Sequence, Tuple

from redis.asyncio import Redis

from handoff.conversation import ConversationStore
from handoff.keys import RASA_KEY_PREFIX, Keys, RasaKeys
from handoff.redis_client import get_many, scan_keys
from handoff.service.insights.knowledge import GoodAnswer, GoodAnswers

if TYPE_CHECKING:
    from handoff.service.insights.miner.grouping import Group, MinedMessage, Mining

# The miner's modules (scikit-learn, SciPy, spaCy) are imported by the first analysis, in the
# worker thread: a handoff service whose miner nobody opens never loads them.

logger = logging.getLogger(__name__)

# Most recent messages analysed per language. Clustering compares every pair of messages, and
# 2,200 messages took 6 s and ~60 MB on 2 cores (the spaCy models add ~300 MB once loaded);
# beyond the cap the result says `truncated` and the page asks for a shorter period.
MAX_MESSAGES_PER_LANGUAGE = 2000
TTL_SECONDS = 300.0  # a finished result answers the same question for 5 minutes
MAX_RUNNING = 2  # distinct questions analysed (or waiting for the thread) at once
MAX_KEPT = 16  # finished results kept (the oldest goes first)
READ_BATCH = 200  # trackers fetched with one MGET


class MinerBusy(Exception):
    """Too many different analyses are under way: try again later."""


@dataclass(frozen=True)
class Question:
    """What a supervisor asks: the messages of one language (None: both) in a period."""

    language: Optional[str] = None
    since: Optional[float] = None  # epoch seconds, inclusive
    until: Optional[float] = None  # epoch seconds, exclusive


@dataclass
class Job:
    """One analysis of one question, running or finished."""

    question: Question
    id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])  # names this result
    started_at: float = field(default_factory=time.time)
    stage: str = "reading"  # reading -> analysing -> done | failed
    conversations: int = 0  # trackers read so far
    messages: Optional[int] = None  # messages analysed (known once read)
    truncated: bool = False  # more messages than MAX_MESSAGES_PER_LANGUAGE in a language
    mining: Optional[Mining] = None
    finished_at: Optional[float] = None
    task: Optional["asyncio.Task[None]"] = None
    # `Keys.data_removed` when it started: customers' data erased since then makes it stale.
    removed: Optional[str] = None
    attached: Optional[Tuple[Tuple[Tuple[str, float], ...], List[Group], List[Dict[str, str]]]] \
        = None

    @property
    def running(self) -> bool:
        """Whether the job is still reading or analysing."""
        return self.stage in ("reading", "analysing")


class MinerJobs:
    """The console's miner: jobs per question, one worker thread, results kept `ttl` seconds."""

    def __init__(self, redis: Redis, keys: Keys, tracker_prefix: str = RASA_KEY_PREFIX,
                 ttl: float = TTL_SECONDS,
                 max_messages: int = MAX_MESSAGES_PER_LANGUAGE) -> None:
        self._redis = redis
        self._keys = keys
        self._trackers = RasaKeys(tracker_prefix)
        self._ttl = ttl
        self._max_messages = max_messages
        self._jobs: Dict[Question, Job] = {}
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="miner")

    async def job(self, question: Question, refresh: bool = False, wait: float = 0.0) -> Job:
        """The job for `question`: the kept result, the running one, or a new one.

        `refresh` starts again from the tracker store unless a job is running already.
        Waits up to `wait` seconds for a running job to finish. Raises MinerBusy.
        """
        self._forget_old()
        removed = await self._redis.get(self._keys.data_removed)
        job = self._jobs.get(question)
        if job is None or (refresh and not job.running) or job.stage == "failed" or \
                (job.removed != removed and not job.running):
            if sum(j.running for j in self._jobs.values()) >= MAX_RUNNING:
                raise MinerBusy()
            job = Job(question, removed=removed)
            job.task = asyncio.create_task(self._run(job))
            self._jobs[question] = job
        if job.running and wait > 0 and job.task is not None:
            await asyncio.wait([job.task], timeout=wait)
        return job

    async def groups(self, job: Job) -> Tuple[List[Group], List[Dict[str, str]]]:
        """A finished job's groups with the good answers marked now, and the pairs of no group."""
        assert job.mining is not None
        pairs = await self._good_answers(job.question)
        marks = tuple(sorted((p.id, p.marked_at) for p in pairs))
        if job.attached is None or job.attached[0] != marks:
            groups = copy.deepcopy(job.mining.groups)
            unplaced = await self._in_thread(_attach, groups, pairs)
            job.attached = (marks, groups, unplaced)
        return job.attached[1], job.attached[2]

    async def draft(self, groups: Sequence[Group], intent: str = "") -> str:
        """The draft NLU intent and FAQ answer of `groups` (masking uses spaCy: in the thread)."""
        return await self._in_thread(_draft, list(groups), intent)

    async def close(self) -> None:
        """Stops the jobs; a mining already in the thread finishes there, unobserved."""
        tasks = [j.task for j in self._jobs.values() if j.task is not None and j.running]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._executor.shutdown(wait=False, cancel_futures=True)

    async def _run(self, job: Job) -> None:
        try:
            messages = await self._read(job)
            messages, job.truncated = _latest(messages, self._max_messages)
            job.messages = len(messages)
            job.stage = "analysing"
            job.mining = await self._in_thread(_mine, messages)
            job.stage = "done"
        except asyncio.CancelledError:
            job.stage = "failed"
            raise
        except Exception:  # reported to the page as `mining_failed`; the next request retries
            logger.exception("miner.failed question=%s", job.question)
            job.stage = "failed"
        finally:
            job.finished_at = time.time()

    async def _read(self, job: Job) -> List[MinedMessage]:
        """The question's messages, reading trackers a batch at a time (parsing in the thread)."""
        question = job.question
        found: List[MinedMessage] = []
        batch: List[str] = []
        async for key in scan_keys(self._redis, self._trackers.tracker_pattern, 500):
            batch.append(key)
            if len(batch) >= READ_BATCH:
                found.extend(await self._read_batch(batch, question))
                job.conversations += len(batch)
                batch = []
        if batch:
            found.extend(await self._read_batch(batch, question))
            job.conversations += len(batch)
        found.sort(key=lambda m: (m.timestamp or 0.0, m.conversation_id))
        return found

    async def _read_batch(self, keys: List[str], question: Question) -> List[MinedMessage]:
        raws = await get_many(self._redis, keys)
        return await self._in_thread(_parse, self._trackers, keys, raws, question)

    async def _good_answers(self, question: Question) -> List[GoodAnswer]:
        """Marked pairs of the period, and of the language when the conversation records it."""
        pairs = []
        for pair in await GoodAnswers(self._redis, self._keys).list():
            at = pair.answered_at or pair.marked_at
            if question.since is not None and at < question.since:
                continue
            if question.until is not None and at >= question.until:
                continue
            if question.language is not None:
                language = (await ConversationStore(self._redis, self._keys).get(
                    pair.conversation_id)).language
                if language and language != question.language:
                    continue
            pairs.append(pair)
        return pairs

    async def _in_thread(self, function: Callable[..., Any], *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._executor, function, *args)

    def _forget_old(self) -> None:
        now = time.time()
        finished = [j for j in self._jobs.values() if not j.running]
        for job in finished:
            if job.finished_at is not None and now - job.finished_at > self._ttl:
                del self._jobs[job.question]
        finished = sorted((j for j in self._jobs.values() if not j.running),
                          key=lambda j: j.finished_at or 0.0)
        for job in finished[:max(0, len(finished) - MAX_KEPT)]:
            del self._jobs[job.question]


def _mine(messages: List["MinedMessage"]) -> "Mining":
    from handoff.service.insights.miner.grouping import Mining, mine

    return mine(messages) if messages else Mining([], [], [])


def _attach(groups: List["Group"], pairs: List[GoodAnswer]) -> List[Dict[str, str]]:
    from handoff.service.insights.miner.export import attach_good_answers

    return attach_good_answers(groups, pairs)


def _draft(groups: List["Group"], intent: str) -> str:
    from handoff.service.insights.miner.export import draft_yaml

    return draft_yaml(groups, intent)


def _parse(trackers: RasaKeys, keys: List[str], raws: List[Any], question: Question
           ) -> List["MinedMessage"]:
    from handoff.service.insights.miner.source import messages_from_events

    found: List["MinedMessage"] = []
    for key, raw in zip(keys, raws, strict=True):
        if raw is None:  # expired or deleted between SCAN and MGET
            continue
        try:
            dialogue = json.loads(raw)
        except ValueError:
            logger.warning("miner.unreadable_tracker key=%s", key)
            continue
        for message in messages_from_events(dialogue.get("name") or trackers.conversation_of(key),
                                            dialogue.get("events") or [], question.since):
            if question.language is not None and message.language != question.language:
                continue
            if question.until is not None and (message.timestamp or 0.0) >= question.until:
                continue
            found.append(message)
    return found


def _latest(messages: List[MinedMessage], limit: int) -> Tuple[List[MinedMessage], bool]:
    """At most `limit` messages per language, the most recent (`messages` is oldest first)."""
    by_language: Dict[str, int] = {}
    kept: List[MinedMessage] = []
    for message in reversed(messages):
        count = by_language.get(message.language, 0)
        if count < limit:
            kept.append(message)
        by_language[message.language] = count + 1
    kept.reverse()
    return kept, len(kept) < len(messages)
