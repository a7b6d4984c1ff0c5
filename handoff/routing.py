"""Where a ticket goes, in which order, and which agents may be given it.

Order. The queue is one sorted set scored by `created_at - HEAD_START × priority`: a ticket of
priority p goes ahead of every ticket created less than `HEAD_START × p` seconds before it, and
of none older. So priority helps, but nobody starves: a normal ticket created at t is behind at
most the tickets created before `t + HEAD_START × MAX_PRIORITY`, however many urgent ones keep
coming after that.

Team. The latest topic (intent) of the conversation that a team lists wins; failing that, a slot
a team lists (e.g. an order number goes to orders); failing that, no team (everyone).

Eligibility. An agent may be given a ticket automatically when online, serving its team, speaking
its language and under their limit of simultaneous conversations; the least busy such agent
gets it (ties: the one who got a conversation longest ago).
"""

from __future__ import annotations

from typing import Dict, Iterable, List, Optional, Sequence

from handoff.accounts import Agent
from handoff.teams import Team
from handoff.ticket import MAX_PRIORITY, Ticket

HEAD_START = 120.0  # seconds of queue a ticket gains per priority step
DEFAULT_ASSIGNMENT = "auto"


def queue_score(ticket: Ticket) -> float:
    """The ticket's place in the queue (smaller is earlier)."""
    return ticket.created_at - HEAD_START * min(ticket.priority, MAX_PRIORITY)


def route(ticket: Ticket, teams: Dict[str, Team]) -> Optional[str]:
    """The team that should handle the ticket, or None for everyone."""
    for topic in reversed(ticket.topics):
        for team in teams.values():
            if topic in team.topics:
                return team.id
    for team in teams.values():
        if any(ticket.slots.get(slot) for slot in team.slots):
            return team.id
    return None


def assignment_of(team: Optional[str], teams: Dict[str, Team]) -> str:
    """`auto` or `manual` for a team's queue."""
    return teams[team].assignment if team in teams else DEFAULT_ASSIGNMENT


def pick_agent(candidates: Iterable[Agent], team: Optional[str], language: str,
               load: Dict[str, int], online: Sequence[str],
               last_assigned: Dict[str, float]) -> Optional[Agent]:
    """The least busy online agent who serves `team`, speaks `language` and has room."""
    eligible: List[Agent] = [
        a for a in candidates
        if a.username in online and (not team or team in a.teams)
        and language in a.languages and load.get(a.username, 0) < a.max_conversations
        and not a.is_supervisor]
    if not eligible:
        return None
    return min(eligible, key=lambda a: (load.get(a.username, 0),
                                        last_assigned.get(a.username, 0.0), a.username))
