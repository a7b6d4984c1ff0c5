"""The date range of a supervisor API request: `?from=&to=&tz=`, read one way everywhere.

Used by the dashboard (`handoff.service.api.dashboard_routes`) and the miner
(`handoff.service.api.miner_routes`); each
says how many days a request without dates covers. Errors are `bad_date`, `bad_range` and
`bad_timezone` (texts in `handoff.service.api.errors`).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any, Dict, List, Mapping
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from handoff.service.api.errors import ApiError

MAX_DAYS = 366
# Only YYYY-MM-DD is a day: newer Pythons' date.fromisoformat also takes 20240502 or 2024-W18-4.
DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


@dataclass(frozen=True)
class Period:
    """[start, end) in seconds, the days it covers in `tz`, and how it was asked."""

    start: float
    end: float
    tz: ZoneInfo
    asked_from: str
    asked_to: str

    def day(self, at: float) -> str:
        """The calendar day (YYYY-MM-DD) of a time, in the period's time zone."""
        return dt.datetime.fromtimestamp(at, self.tz).date().isoformat()

    def days(self) -> List[str]:
        """Every day of the period, in order."""
        first = dt.date.fromisoformat(self.day(self.start))
        last = dt.date.fromisoformat(self.day(self.end - 1e-6))
        return [(first + dt.timedelta(days=n)).isoformat()
                for n in range((last - first).days + 1)]

    def public(self) -> Dict[str, Any]:
        """The period as the API's JSON gives it back."""
        return {"from": self.asked_from, "to": self.asked_to, "tz": self.tz.key,
                "start": self.start, "end": self.end}


def parse_period(query: Mapping[str, str], now: float, default_days: int) -> Period:
    """The period of `?from=&to=&tz=`; `bad_date`, `bad_range` or `bad_timezone` if wrong.

    `from` and `to` are days (YYYY-MM-DD, both included, whole days in `tz`) or ISO 8601 times
    with an offset (`to` excluded). A missing `to` is today; a missing `from` is `default_days`
    days up to `to`, `to` included. `tz` is an IANA name (default UTC). At most MAX_DAYS days.
    """
    try:
        tz = ZoneInfo(query.get("tz") or "UTC")
    except (ZoneInfoNotFoundError, ValueError, OSError) as exc:
        raise ApiError("bad_timezone") from exc
    today = dt.datetime.fromtimestamp(now, tz).date()
    raw_to = query.get("to") or today.isoformat()
    raw_from = query.get("from") or _days_before(raw_to, tz, default_days - 1)
    start = _instant(raw_from, tz, end=False)
    end = _instant(raw_to, tz, end=True)
    # An hour of slack: a period of whole days across a DST change lasts an hour more.
    if end <= start or end - start > MAX_DAYS * 86400 + 3600:
        raise ApiError("bad_range")
    return Period(start, end, tz, raw_from, raw_to)


def _days_before(raw: str, tz: ZoneInfo, days: int) -> str:
    """The day (YYYY-MM-DD) `days` days before the day of `raw`, a day or an ISO time."""
    try:
        day = dt.date.fromisoformat(raw) if DAY.fullmatch(raw) else \
            _aware(raw).astimezone(tz).date()
        return (day - dt.timedelta(days=days)).isoformat()
    except (ValueError, OverflowError) as exc:
        raise ApiError("bad_date") from exc


def _instant(raw: str, tz: ZoneInfo, end: bool) -> float:
    """A day's start (or, for `end`, the next day's start) in `tz`, or an exact ISO time."""
    try:
        if DAY.fullmatch(raw):
            day = dt.date.fromisoformat(raw) + dt.timedelta(days=1 if end else 0)
            return dt.datetime.combine(day, dt.time(), tzinfo=tz).timestamp()
        return _aware(raw).timestamp()
    except (ValueError, OverflowError) as exc:
        raise ApiError("bad_date") from exc


def _aware(raw: str) -> dt.datetime:
    if DAY.match(raw) is None:  # an ISO time starts with its day, written the same way
        raise ValueError("an ISO time starts with YYYY-MM-DD")
    moment = dt.datetime.fromisoformat(raw.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        raise ValueError("an ISO time needs its offset")
    return moment
