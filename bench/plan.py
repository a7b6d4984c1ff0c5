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
    relay_conversations: int
    relay_seconds: float
    # The chat limit allows 0.5 messages/s per conversation: customers write every 2.1 s;
    # agents (limit 120 requests per 10 s each) every second.
    customer_interval: float
    agent_interval: float
    conversations_per_agent: int  # ≤ 10 at one message/s keeps agents under their API limit
    burst_per_conversation: int  # throughput: messages each way per conversation
    memory_conversations: int  # open conversations at which memory is measured
    redis_round_trips: int
    time_limit: float  # seconds for the whole run, start-up included

    @property
    def agents(self) -> int:
        """Agents needed for the relay conversations."""
        return -(-self.relay_conversations // self.conversations_per_agent)

    @property
    def levels(self) -> Tuple[int, ...]:
        """Concurrency levels of the bot-turn figure."""
        return tuple(sorted(self.bot_turns))


FULL = Plan(name="full", shards=4, bot_turns={1: 120, 10: 400, 50: 600}, turns_per_session=12,
            handoffs_one_at_a_time=40, handoffs_at_once_per_shard=4, relay_conversations=200,
            relay_seconds=60, customer_interval=2.1, agent_interval=1.0,
            conversations_per_agent=8, burst_per_conversation=2, memory_conversations=1000,
            redis_round_trips=2000, time_limit=1500)

QUICK = Plan(name="quick", shards=2, bot_turns={1: 8, 2: 8, 4: 16}, turns_per_session=12,
             handoffs_one_at_a_time=3, handoffs_at_once_per_shard=2, relay_conversations=6,
             relay_seconds=5, customer_interval=2.1, agent_interval=1.0,
             conversations_per_agent=3, burst_per_conversation=2, memory_conversations=10,
             redis_round_trips=200, time_limit=600)
