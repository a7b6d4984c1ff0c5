"""What the dashboard shows about right now, and waiting times that count everyone who waited.

A median wait over answered conversations alone looked fine (10 s) while 289 customers were
still waiting and late: the customers who wait longest are the ones not answered yet. So:
- `now`: customers waiting now, the longest wait, how many of them are past their team's
  first-reply target, agents online (a console connected, presence `online`) and busy (online
  with at least one conversation);
- `waited`: for every handoff of the period, how long the customer waited for a first reply:
  until the reply, or until they left (abandoned, back to the bot, closed unanswered), or until
  now for those still waiting; and the share answered within their team's target.
"""

from __future__ import annotations

from typing import Any, Dict, Iterable, List, Mapping, Optional

from redis.asyncio import Redis

from handoff.accounts import Agent
from handoff.conversation import ConversationStore
from handoff.keys import Keys
from handoff.presence import Presence
from handoff.service.jobs.sla import DEFAULT_FIRST_REPLY_SLA


def target_of(targets: Mapping[str, int], team: Optional[str]) -> int:
    """A team's first-reply target in seconds (`handoff/teams.yml`), else the default."""
    return targets.get(team or "", DEFAULT_FIRST_REPLY_SLA)


async def now(redis: Redis, keys: Keys, store: ConversationStore, agents: Iterable[Agent],
              targets: Mapping[str, int], at: float) -> Dict[str, Any]:
    """The queue and the agents at `at`."""
    records = await store.queued()
    waits: List[float] = []
    late = 0
    for record in records:
        queued_at, team = record.queued_at, record.team
        if not queued_at:
            continue
        waited = max(0.0, at - queued_at)
        waits.append(waited)
        late += int(waited > target_of(targets, team))
    online = await Presence(redis, keys).available(list(agents), at)
    held = await store.agents_conversation_ids(online) if online else {}
    busy = [u for u in online if held[u]]
    return {"waiting": len(records), "longest_wait": max(waits, default=None), "late": late,
            "agents_online": len(online), "agents_busy": len(busy)}


def waited(handoff: Mapping[str, str], at: float) -> Optional[float]:
    """How long this handoff's customer waited for a first reply (see the module)."""
    if not handoff.get("queued_at"):
        return None
    start = float(handoff["queued_at"])
    end = handoff.get("first_reply_at") or handoff.get("ended_at")
    return max(0.0, (float(end) if end else at) - start)


def answered_within(handoffs: Iterable[Mapping[str, str]], targets: Mapping[str, int],
                    at: float) -> Dict[str, Any]:
    """How many decided handoffs got a first reply within their team's target.

    Decided: answered, ended, or already past the target.
    """
    decided = within = 0
    for h in handoffs:
        if not h.get("queued_at"):
            continue
        target = target_of(targets, h.get("team"))
        wait = waited(h, at)
        assert wait is not None
        if h.get("first_reply_at"):
            decided += 1
            within += int(wait <= target)
        elif h.get("ended_at") or wait > target:
            decided += 1
    return {"count": decided, "within": within,
            "rate": round(within / decided, 4) if decided else None}
