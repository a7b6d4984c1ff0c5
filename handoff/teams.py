"""The support teams (`handoff/teams.yml`): who a conversation can be sent to besides one agent."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Tuple

import yaml

DEFAULT_FILE = Path(__file__).with_name("teams.yml")
LANGUAGES = ("en", "fr")


class TeamsError(ValueError):
    """The teams file is malformed."""


ASSIGNMENTS = ("auto", "manual")


@dataclass(frozen=True)
class Team:
    """A team: its label in each language, what it handles and how work reaches it."""

    id: str
    label: Dict[str, str]
    topics: Tuple[str, ...] = ()
    slots: Tuple[str, ...] = ()
    assignment: str = "auto"
    first_reply_sla: int = 300

    def public(self) -> Dict[str, Any]:
        """The JSON shape of the agent API."""
        return {"id": self.id, "label": dict(self.label), "assignment": self.assignment,
                "first_reply_sla": self.first_reply_sla}


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
                              assignment, sla)
    return teams

