"""Whether anyone can take a customer now, and if not, why: told honestly, at once.

Three reasons, checked in this order when a customer asks for a person:
- `closed`: outside the opening hours of `handoff/hours.yml`;
- `nobody`: no agent who serves the ticket's team and speaks its language is available
  (`handoff.presence`; supervisors count: they can answer);
- `long_wait`: the estimated wait (`handoff.waiting`) is over `max_wait` seconds.
The request is kept either way (no request is dropped): as a follow-up, ahead of the queue, when
nobody can answer now (`closed`, `nobody`), at its normal place for `long_wait`. The customer is
offered to leave an e-mail address or a phone number and a time to call back; what they write
goes into the conversation the agent will open.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Tuple
from zoneinfo import ZoneInfo

import yaml

from handoff.accounts import Agent

DEFAULT_FILE = Path(__file__).with_name("hours.yml")
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DEFAULT_MAX_WAIT = 20 * 60


class HoursError(ValueError):
    """The opening hours file is malformed."""


@dataclass(frozen=True)
class OpeningHours:
    """Weekly opening hours in one time zone."""

    timezone: str
    weekly: Dict[int, List[Tuple[dt.time, dt.time]]]
    always_open: bool = False

    def is_open(self, now: float) -> bool:
        """Whether `now` (a UNIX time) is within the hours."""
        if self.always_open:
            return True
        local = dt.datetime.fromtimestamp(now, ZoneInfo(self.timezone))
        return any(start <= local.time() < end for start, end in
                   self.weekly.get(local.weekday(), []))

    def next_opening(self, now: float) -> Optional[dt.datetime]:
        """The next opening time after `now`, local; None if always open or never."""
        if self.always_open:
            return None
        local = dt.datetime.fromtimestamp(now, ZoneInfo(self.timezone))
        for days in range(8):
            day = (local + dt.timedelta(days=days)).date()
            for start, _ in self.weekly.get(day.weekday(), []):
                opening = dt.datetime.combine(day, start, ZoneInfo(self.timezone))
                if opening > local:
                    return opening
        return None


def load_hours(path: Path = DEFAULT_FILE, always_open: bool = False) -> OpeningHours:
    """Reads and checks `hours.yml` (`always_open` overrides it, e.g. HANDOFF_ALWAYS_OPEN)."""
    raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    try:
        zone = str(raw.get("timezone", "UTC"))
        ZoneInfo(zone)
        weekly: Dict[int, List[Tuple[dt.time, dt.time]]] = {}
        for index, day in enumerate(DAYS):
            spec = str((raw.get("weekly") or {}).get(day, "closed")).strip()
            if spec == "closed":
                continue
            weekly[index] = []
            for span in spec.split(","):
                start, end = (dt.time.fromisoformat(t.strip()) for t in span.split("-"))
                if start >= end:
                    raise ValueError(f"{day}: {span} ends before it starts")
                weekly[index].append((start, end))
    except (ValueError, KeyError) as exc:
        raise HoursError(f"{path}: {exc}") from exc
    return OpeningHours(zone, weekly, always_open or bool(raw.get("always_open", False)))


def opening_text(opening: Optional[dt.datetime], language: str) -> str:
    """The opening time as the customer reads it: "Monday at 09:00", "lundi à 09:00"."""
    if opening is None:
        return "soon" if language != "fr" else "bientôt"
    if language == "fr":
        days = ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche")
        return f"{days[opening.weekday()]} à {opening:%H:%M}"
    return f"{opening:%A} at {opening:%H:%M}"


def unavailable_reason(hours: OpeningHours, now: float, agents: List[Agent],
                       available: List[str], team: Optional[str], language: str,
                       estimated_wait: Optional[float],
                       max_wait: float = DEFAULT_MAX_WAIT) -> Optional[str]:
    """`closed`, `nobody`, `long_wait`, or None when someone should answer soon."""
    if not hours.is_open(now):
        return "closed"
    able = [a for a in agents if a.username in available and a.serves(team)
            and language in a.languages]
    if not able:
        return "nobody"
    if estimated_wait is not None and estimated_wait > max_wait:
        return "long_wait"
    return None
