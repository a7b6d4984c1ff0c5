"""The support teams (`handoff/teams.yml`): who a conversation can be sent to besides one agent."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Iterable, Optional, Tuple

import yaml

DEFAULT_FILE = Path(__file__).with_name("teams.yml")
LANGUAGES = ("en", "fr")


class TeamsError(ValueError):
    """The teams file is malformed."""


ASSIGNMENTS = ("auto", "manual")
# Actions on orders that cost money, with a limit per team (`limits` in teams.yml, in euros):
# an agent grants up to it at once; above it, a supervisor approves (`handoff.orders.approvals`).
LIMITED_ACTIONS = ("refund", "voucher")


@dataclass(frozen=True)
class Team:
    """A team: its label in each language, what it handles and how work reaches it."""

    id: str
    label: Dict[str, str]
    topics: Tuple[str, ...] = ()
    slots: Tuple[str, ...] = ()
    assignment: str = "auto"
    first_reply_sla: int = 300
    limits: Tuple[Tuple[str, int], ...] = ()  # (action, cents): what its agents grant alone

    def limit(self, action: str) -> int:
        """The most (cents) an agent of this team grants alone in one `action`; 0 if unset."""
        return dict(self.limits).get(action, 0)

    def public(self) -> Dict[str, Any]:
        """The JSON shape of the agent API."""
        return {"id": self.id, "label": dict(self.label), "assignment": self.assignment,
                "first_reply_sla": self.first_reply_sla,
                "limits": {action: self.limit(action) for action in LIMITED_ACTIONS}}


def limit_for(teams: Dict[str, "Team"], action: str, conversation_team: Optional[str],
              agent_teams: Iterable[str]) -> int:
    """What an agent may grant alone on a conversation (cents).

    The limit of the team the conversation is with, when the agent is in it; else the highest
    of the agent's own teams (a conversation with no team); 0 for an agent in no team.
    """
    own = [teams[t] for t in agent_teams if t in teams]
    if conversation_team and any(team.id == conversation_team for team in own):
        return teams[conversation_team].limit(action)
    return max((team.limit(action) for team in own), default=0)


def load(path: Path = DEFAULT_FILE) -> Dict[str, Team]:
    """Reads and checks the file: every team needs an identifier-like id and both labels."""
    raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if not isinstance(raw, dict):
        raise TeamsError(f"{path}: expected a mapping of team id -> labels")
    teams: Dict[str, Team] = {}
    for team_id, label in raw.items():
        if not isinstance(team_id, str) or not team_id.isidentifier():
            raise TeamsError(f"{path}: team id {team_id!r} must be letters, digits and _")
        if not isinstance(label, dict) or any(
                not isinstance(label.get(lang), str) or not label[lang].strip()
                for lang in LANGUAGES):
            raise TeamsError(f"{path}: team {team_id} needs a label in {' and '.join(LANGUAGES)}")
        assignment = label.get("assignment", "auto")
        if assignment not in ASSIGNMENTS:
            raise TeamsError(f"{path}: team {team_id}: assignment is auto or manual")
        sla = label.get("first_reply_sla", 300)
        if not isinstance(sla, int) or sla <= 0:
            raise TeamsError(f"{path}: team {team_id}: first_reply_sla is a number of seconds")
        teams[team_id] = Team(team_id, {lang: label[lang] for lang in LANGUAGES},
                              tuple(label.get("topics") or ()), tuple(label.get("slots") or ()),
                              assignment, sla, _limits(path, team_id, label.get("limits")))
    return teams


def _limits(path: Path, team_id: str, raw: Any) -> Tuple[Tuple[str, int], ...]:
    """`limits: {refund: 50, voucher: 20}` (euros, cents allowed) -> ((action, cents), ...)."""
    if raw is None:
        return ()
    if not isinstance(raw, dict) or any(action not in LIMITED_ACTIONS for action in raw):
        raise TeamsError(f"{path}: team {team_id}: limits are "
                         f"{' and '.join(LIMITED_ACTIONS)}, in euros")
    found = []
    for action, euros in raw.items():
        if isinstance(euros, bool) or not isinstance(euros, (int, float)) or euros < 0:
            raise TeamsError(f"{path}: team {team_id}: the {action} limit is an amount in euros")
        found.append((action, round(euros * 100)))
    return tuple(found)

