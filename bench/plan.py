"""How much load each figure gets: the full run, and a quick one for checks and the smoke test."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Tuple


@dataclass(frozen=True)
class Plan:
    """Counts and durations of one benchmark run."""

    name: str
    shards: int  # load-generator processes
    # Bot turns: concurrent customers -> measured turns in all (split between two rounds).
    bot_turns: Dict[int, int]
    # Turns per conversation before a customer moves to its next one: the chat's rate limit
    # (handoff/ratelimit.py, 15 messages per 30 s per conversation) must not be what we measure.
    turns_per_session: int
    handoffs_one_at_a_time: int
    handoffs_at_once_per_shard: int  # concurrency of the bulk handoffs that fill the relay
    # Relay curve: live conversations at each level (the largest is how many are handed off),
    # each side writing every `chat_interval` s ± `jitter`, open loop, for `level_seconds`
    # (the chat allows 15 messages per 30 s per conversation: not below 2.7 s with ±20 %).
    curve: Tuple[int, ...]
    chat_interval: float
    jitter: float
    level_seconds: float
    # Sustained throughput: offered relayed messages/s (both ways together), step by step,
    # over every live conversation, until p99 passes `step_p99_ms`.
    steps: Tuple[int, ...]
    step_seconds: float
    step_p99_ms: float
    # The same steps on the handoff process alone (bench.alone): customers at the channel's
    # door, no Rasa, the process on a core of its own.
    alone_steps: Tuple[int, ...]
    # Agents: few conversations each, so that the steps' agent messages stay under the agent
    # API limit (handoff/ratelimit.py: 120 requests per 10 s per agent).
    conversations_per_agent: int
    drain: float  # seconds after a phase's last send for stragglers
    redis_round_trips: int
    time_limit: float  # seconds for the whole run, start-up included
    # `--plan scaling` (bench.scaling): (handoff processes, Rasa processes) behind HAProxy,
    # each on every Redis topology of `topologies` (bench.scaling.TOPOLOGIES).
    layouts: Tuple[Tuple[int, int], ...] = ()
    topologies: Tuple[str, ...] = ("single",)
    # `--plan scaling`: a layout's stacks on every topology start at once (their Rasa processes
    # load the model side by side, about 30 s of one core each) and are measured in turn, the
    # later one waiting idle beside the first: for checking the harness only. Off, each stack
    # starts once the last one has stopped, so that nothing else of the bench's runs while a
    # layout is measured.
    start_together: bool = False

    @property
    def conversations(self) -> int:
        """Live conversations handed off before the relay (the curve's largest level)."""
        return max(self.curve)

    @property
    def agents(self) -> int:
        """Agents needed for the relay conversations."""
        return -(-self.conversations // self.conversations_per_agent)

    @property
    def levels(self) -> Tuple[int, ...]:
        """Concurrency levels of the bot-turn figure."""
        return tuple(sorted(self.bot_turns))


FULL = Plan(name="full", shards=4, bot_turns={1: 120, 10: 400, 50: 600}, turns_per_session=12,
            handoffs_one_at_a_time=40, handoffs_at_once_per_shard=4,
            curve=(50, 200, 500, 1000), chat_interval=10.0, jitter=0.2, level_seconds=60,
            steps=(25, 50, 100, 200, 400, 700, 1000, 1300), step_seconds=20, step_p99_ms=100.0,
            alone_steps=(400, 700, 1000, 1150, 1300), conversations_per_agent=8, drain=30,
            redis_round_trips=2000, time_limit=3300)

QUICK = Plan(name="quick", shards=2, bot_turns={1: 8, 2: 8, 4: 16}, turns_per_session=12,
             handoffs_one_at_a_time=3, handoffs_at_once_per_shard=2,
             curve=(3, 6), chat_interval=3.0, jitter=0.2, level_seconds=9,
             steps=(6, 12), step_seconds=4, step_p99_ms=100.0, alone_steps=(6, 12),
             conversations_per_agent=3, drain=20, redis_round_trips=200, time_limit=600)

# The live path alone, for profiling a change to it: one relay level and a few throughput steps
# (no report figure depends on it; `python -m bench --plan relay`).
RELAY = Plan(name="relay", shards=4, bot_turns={1: 4}, turns_per_session=12,
             handoffs_one_at_a_time=3, handoffs_at_once_per_shard=4,
             curve=(500,), chat_interval=10.0, jitter=0.2, level_seconds=60,
             steps=(100, 200, 400, 700, 1000), step_seconds=20, step_p99_ms=100.0,
             alone_steps=(400, 700, 1000, 1300), conversations_per_agent=8, drain=30,
             redis_round_trips=500, time_limit=1500)

# How the live path scales with processes (issue 17; `python -m bench --plan scaling`): the
# throughput steps on each layout, over 1000 live conversations, as section 4 of the main
# report (the chat's and the agent API's limits allow about 1,330 messages/s over them), on a
# single Redis and on a Redis Cluster of 3 primaries and 3 replicas (about 20 min each).
SCALING = Plan(name="scaling", shards=4, bot_turns={1: 4}, turns_per_session=12,
               handoffs_one_at_a_time=3, handoffs_at_once_per_shard=4,
               curve=(1000,), chat_interval=10.0, jitter=0.2, level_seconds=60,
               steps=(200, 400, 700, 1000, 1300), step_seconds=20, step_p99_ms=100.0,
               alone_steps=(), conversations_per_agent=8, drain=20,
               redis_round_trips=200, time_limit=5400,
               layouts=((1, 1), (2, 1), (4, 1), (1, 2)), topologies=("single", "cluster"))

# The same, small: checks the harness (tests/e2e/test_bench_smoke.py).
QUICK_SCALING = Plan(name="quick-scaling", shards=2, bot_turns={1: 4}, turns_per_session=12,
                     handoffs_one_at_a_time=1, handoffs_at_once_per_shard=2,
                     curve=(6,), chat_interval=3.0, jitter=0.2, level_seconds=9,
                     steps=(6, 12), step_seconds=4, step_p99_ms=100.0, alone_steps=(),
                     conversations_per_agent=3, drain=10, redis_round_trips=50,
                     time_limit=1500, layouts=((1, 1), (2, 1)),
                     topologies=("single", "cluster"), start_together=True)

# One handoff process alone over 1000 live conversations (section 6's steps, which need that
# many conversations to reach 1,300 messages/s under the chat's and the agent API's limits),
# after a short relay level and one step: for profiling the process's ceiling
# (`python -m bench --plan alone --no-baseline`; no report figure depends on it).
ALONE = Plan(name="alone", shards=4, bot_turns={1: 4}, turns_per_session=12,
             handoffs_one_at_a_time=3, handoffs_at_once_per_shard=4,
             curve=(1000,), chat_interval=10.0, jitter=0.2, level_seconds=20,
             steps=(200,), step_seconds=20, step_p99_ms=100.0,
             alone_steps=(700, 1000, 1150, 1300), conversations_per_agent=8, drain=30,
             redis_round_trips=200, time_limit=1500)

PLANS = {plan.name: plan for plan in (FULL, QUICK, RELAY, ALONE, SCALING, QUICK_SCALING)}
