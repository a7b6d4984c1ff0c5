"""The supervisor dashboard's figures over a period.

They come from the records of `handoff.metrics`, the satisfaction surveys (`handoff.survey`) and
the agents' eNPS (`handoff.service.insights.enps`).

Definitions (docs/agent-api.md says them to supervisors):
- conversations: conversation sessions that started in the period (`handoff.metrics`);
- containment: those with no handoff / all of them (settled by the bot);
- handoff rate: sessions with a handoff / all; by reason: handoffs queued in the period with that
  reason / conversations; by intent: of the sessions where the customer expressed the intent,
  the share that had a handoff;
- waiting time to first agent reply: first_reply_at − queued_at of handoffs queued in the period
  that got a reply; `waited`: the wait of every handoff of the period, answered or not, and the
  share answered within the team's target (`handoff.service.insights.dashboard_now`); handling time:
  ended_at − claimed_at of those claimed and ended;
  median and p90 by linear interpolation between closest ranks (numpy's default);
- abandonment: handoffs queued in the period whose customer left the queue (`abandoned`) / all
  handoffs queued in the period; `cancelled` (went back to the assistant) is counted apart;
- CSAT: mean of the 1–5 answers, and the share of 4–5; NPS: % of 9–10 − % of 0–6, of the surveys
  asked in the period;
- days are calendar days in the time zone asked for.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import math
import time
from collections import Counter, defaultdict
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence

from redis.asyncio import Redis

from handoff.keys import Keys
from handoff.metrics import Records
from handoff.service.insights.dashboard_now import answered_within, waited
from handoff.service.insights.enps import MIN_ANSWERS, EnpsStore, net_promoter_score
from handoff.service.insights.periods import Period
from handoff.survey import SurveyStore

DEFAULT_DAYS = 7  # a dashboard asked without dates shows the last week, today included
BOT_TEAM = "bot"  # surveys of conversations the bot closed


def percentile(values: Sequence[float], q: float) -> Optional[float]:
    """The q-th quantile (0–1) by linear interpolation between closest ranks; None if empty."""
    ordered = sorted(values)
    if not ordered:
        return None
    position = (len(ordered) - 1) * q
    low, high = math.floor(position), math.ceil(position)
    value = ordered[low] + (ordered[high] - ordered[low]) * (position - low)
    return round(value, 3)


def durations(values: Sequence[float]) -> Dict[str, Any]:
    """Count, median, p90 and mean of durations in seconds."""
    return {"count": len(values), "median": percentile(values, 0.5),
            "p90": percentile(values, 0.9),
            "mean": round(sum(values) / len(values), 3) if values else None}


def rate(part: int, whole: int) -> Optional[float]:
    """Part / whole rounded to 0.0001; None when there is nothing to divide."""
    return round(part / whole, 4) if whole else None


def csat(answers: Iterable[int]) -> Dict[str, Any]:
    """Mean of the 1–5 answers and the share of 4–5."""
    found = list(answers)
    return {"answers": len(found),
            "average": round(sum(found) / len(found), 2) if found else None,
            "satisfied_rate": rate(sum(1 for a in found if a >= 4), len(found))}


def nps(answers: Iterable[int]) -> Dict[str, Any]:
    """% promoters (9–10) − % detractors (0–6), with both shares."""
    found = list(answers)
    promoters = sum(1 for a in found if a >= 9)
    detractors = sum(1 for a in found if a <= 6)
    return {"answers": len(found), "score": net_promoter_score(Counter(found)),
            "promoters": promoters, "passives": len(found) - promoters - detractors,
            "detractors": detractors}




async def figures(redis: Redis, keys: Keys, period: Period,
                  targets: Optional[Mapping[str, int]] = None,
                  at: Optional[float] = None) -> Dict[str, Any]:
    """Every figure of the dashboard for the period, as JSON.

    `targets`: first-reply target (s) by team, for the share answered within it; `at`: now.
    """
    at = time.time() if at is None else at
    records = Records(redis, keys)
    sessions = await records.sessions(period.start, period.end)
    handoffs = await records.handoffs(period.start, period.end)
    surveys = await SurveyStore(redis, keys).between(period.start, period.end)
    contained = [s for s in sessions if not s.handed_off]

    by_intent: Dict[str, List[int]] = defaultdict(lambda: [0, 0])
    for session in sessions:
        for intent in session.intents:
            by_intent[intent][0] += 1
            by_intent[intent][1] += int(session.handed_off)
    reasons = Counter(h.get("reason") or "unknown" for h in handoffs)
    outcomes = Counter(h.get("outcome") or "open" for h in handoffs)
    waits = [_between(h, "queued_at", "first_reply_at") for h in handoffs]
    handling = [_between(h, "claimed_at", "ended_at") for h in handoffs]
    csat_answers, nps_answers = _answers(surveys)

    return {
        "period": period.public(),
        "conversations": {
            "total": len(sessions), "contained": len(contained),
            "handed_off": len(sessions) - len(contained),
            "containment": rate(len(contained), len(sessions)),
            "by_channel": dict(sorted(Counter(s.channel or "unknown" for s in sessions).items())),
        },
        "handoffs": {
            "total": len(handoffs),
            "rate": rate(len(sessions) - len(contained), len(sessions)),
            "by_reason": [{"reason": r, "count": n, "rate": rate(n, len(sessions))}
                          for r, n in sorted(reasons.items(), key=lambda i: (-i[1], i[0]))],
            "by_intent": [{"intent": i, "conversations": c, "handed_off": h, "rate": rate(h, c)}
                          for i, (c, h) in sorted(by_intent.items(),
                                                  key=lambda i: (-i[1][1], -i[1][0], i[0]))],
            "by_team": dict(sorted(Counter(h.get("team") or "" for h in handoffs).items())),
            "by_channel": dict(sorted(Counter(h.get("channel") or "unknown"
                                              for h in handoffs).items())),
            "outcomes": dict(sorted(outcomes.items())),
        },
        "first_reply_wait": durations([w for w in waits if w is not None]),
        # Everyone who waited, answered or not (`handoff.service.insights.dashboard_now`).
        "waited": {**durations([w for w in (waited(h, at) for h in handoffs) if w is not None]),
                   "answered_within_target": answered_within(handoffs, targets or {}, at)},
        "handling_time": durations([d for d in handling if d is not None]),
        "queue": {"handoffs": len(handoffs), "abandoned": outcomes.get("abandoned", 0),
                  "abandonment_rate": rate(outcomes.get("abandoned", 0), len(handoffs)),
                  "cancelled": outcomes.get("cancelled", 0)},
        "satisfaction": _satisfaction(surveys, csat_answers, nps_answers),
        "series": _series(period, sessions, handoffs, surveys),
        "enps": {"min_answers": MIN_ANSWERS, "periods": [
            p.public() for p in await EnpsStore(redis, keys).scores(*_enps_months(period))]},
    }


def _enps_months(period: Period) -> "tuple[str, str]":
    """The months of the period, and at least the 12 months up to its last one.

    eNPS is asked once a month, so a week alone would show one point.
    """
    last = dt.date.fromisoformat(period.day(period.end - 1e-6))
    year_before = f"{last.year:04d}-01" if last.month == 12 else \
        f"{last.year - 1:04d}-{last.month + 1:02d}"
    return min(period.day(period.start)[:7], year_before), last.isoformat()[:7]


def _between(record: Mapping[str, str], first: str, then: str) -> Optional[float]:
    if not record.get(first) or not record.get(then):
        return None
    return max(0.0, float(record[then]) - float(record[first]))


def _answers(surveys: List[Dict[str, str]]) -> "tuple[List[tuple], List[tuple]]":
    """(team, answer) pairs of CSAT and of NPS answers."""
    csats, npss = [], []
    for survey in surveys:
        team = survey.get("team") or (BOT_TEAM if survey.get("closed_by") == "bot" else "")
        if str(survey.get("csat") or "").isdigit():
            csats.append((team, int(survey["csat"])))
        if str(survey.get("nps") or "").isdigit():
            npss.append((team, int(survey["nps"])))
    return csats, npss


def _satisfaction(surveys: List[Dict[str, str]], csats: List[tuple],
                  npss: List[tuple]) -> Dict[str, Any]:
    teams = sorted({t for t, _ in csats} | {t for t, _ in npss})
    return {
        "surveys": len(surveys),
        "answered": sum(1 for s in surveys if s.get("csat") or s.get("nps")),
        "csat": csat(a for _, a in csats), "nps": nps(a for _, a in npss),
        "by_team": [{"team": team, "csat": csat(a for t, a in csats if t == team),
                     "nps": nps(a for t, a in npss if t == team)} for team in teams],
    }


def _series(period: Period, sessions: List[Any], handoffs: List[Dict[str, str]],
            surveys: List[Dict[str, str]]) -> List[Dict[str, Any]]:
    """One row per day: conversations, containment, handoffs, abandoned, waits, CSAT, NPS."""
    rows: Dict[str, Dict[str, Any]] = {day: {"conversations": 0, "contained": 0, "handoffs": 0,
                                             "abandoned": 0, "waits": [], "csat": [], "nps": []}
                                       for day in period.days()}
    for session in sessions:
        row = rows.get(period.day(session.started_at))
        if row is not None:
            row["conversations"] += 1
            row["contained"] += int(not session.handed_off)
    for handoff in handoffs:
        row = rows.get(period.day(float(handoff["queued_at"])))
        if row is None:
            continue
        row["handoffs"] += 1
        row["abandoned"] += int(handoff.get("outcome") == "abandoned")
        wait = _between(handoff, "queued_at", "first_reply_at")
        if wait is not None:
            row["waits"].append(wait)
    for survey in surveys:
        row = rows.get(period.day(float(survey.get("asked_at") or 0)))
        if row is None:
            continue
        if str(survey.get("csat") or "").isdigit():
            row["csat"].append(int(survey["csat"]))
        if str(survey.get("nps") or "").isdigit():
            row["nps"].append(int(survey["nps"]))
    return [{"date": day, "conversations": row["conversations"], "contained": row["contained"],
             "containment": rate(row["contained"], row["conversations"]),
             "handoffs": row["handoffs"], "abandoned": row["abandoned"],
             "first_reply_median": percentile(row["waits"], 0.5),
             "csat": csat(row["csat"])["average"], "nps": nps(row["nps"])["score"]}
            for day, row in rows.items()]


def to_csv(found: Dict[str, Any]) -> str:
    """The figures as CSV, one figure per line: `section,name,group,value`."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["section", "name", "group", "value"])
    period = found["period"]
    for name in ("from", "to", "tz"):
        writer.writerow(["period", name, "", period[name]])
    conv = found["conversations"]
    for name in ("total", "contained", "handed_off", "containment"):
        writer.writerow(["conversations", name, "", _cell(conv[name])])
    for channel, n in conv["by_channel"].items():
        writer.writerow(["conversations", "by_channel", channel, n])
    hand = found["handoffs"]
    writer.writerow(["handoffs", "total", "", hand["total"]])
    writer.writerow(["handoffs", "rate", "", _cell(hand["rate"])])
    for row in hand["by_reason"]:
        writer.writerow(["handoffs", "count_by_reason", row["reason"], row["count"]])
        writer.writerow(["handoffs", "rate_by_reason", row["reason"], _cell(row["rate"])])
    for row in hand["by_intent"]:
        writer.writerow(["handoffs", "conversations_by_intent", row["intent"],
                         row["conversations"]])
        writer.writerow(["handoffs", "handed_off_by_intent", row["intent"], row["handed_off"]])
        writer.writerow(["handoffs", "rate_by_intent", row["intent"], _cell(row["rate"])])
    for group in ("by_team", "by_channel", "outcomes"):
        for key, n in hand[group].items():
            writer.writerow(["handoffs", group, key, n])
    for section in ("first_reply_wait", "waited", "handling_time"):
        for name in ("count", "median", "p90", "mean"):
            writer.writerow([section, name + ("_seconds" if name != "count" else ""), "",
                             _cell(found[section][name])])
    writer.writerow(["waited", "answered_within_target_rate", "",
                     _cell(found["waited"]["answered_within_target"]["rate"])])
    for name in ("handoffs", "abandoned", "abandonment_rate", "cancelled"):
        writer.writerow(["queue", name, "", _cell(found["queue"][name])])
    sat = found["satisfaction"]
    writer.writerow(["satisfaction", "surveys", "", sat["surveys"]])
    writer.writerow(["satisfaction", "answered", "", sat["answered"]])
    for scope, csat_, nps_ in [("", sat["csat"], sat["nps"])] + [
            (t["team"] or "-", t["csat"], t["nps"]) for t in sat["by_team"]]:
        writer.writerow(["satisfaction", "csat_answers", scope, csat_["answers"]])
        writer.writerow(["satisfaction", "csat_average", scope, _cell(csat_["average"])])
        writer.writerow(["satisfaction", "nps_answers", scope, nps_["answers"]])
        writer.writerow(["satisfaction", "nps", scope, _cell(nps_["score"])])
    for row in found["series"]:
        for name, value in row.items():
            if name != "date":
                writer.writerow(["daily", name, row["date"], _cell(value)])
    for row in found["enps"]["periods"]:
        writer.writerow(["enps", "answers", row["period"], row["answers"]])
        writer.writerow(["enps", "score", row["period"], _cell(row["score"])])
    return out.getvalue()


def _cell(value: Any) -> Any:
    return "" if value is None else value
