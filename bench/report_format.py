"""How the report writes numbers: milliseconds, ratios, verdicts, tables."""

from __future__ import annotations

from typing import Any, Dict, List, Optional

PERCENTILES = ("p50", "p95", "p99")


def ms(value: Optional[float]) -> str:
    """A latency in ms: whole above 100, one decimal below."""
    return "n/a" if value is None else (f"{value:.0f}" if value >= 100 else f"{value:.1f}")


def ratio(measured: Optional[Dict[str, float]], base: Optional[Dict[str, float]],
          which: str) -> Optional[float]:
    """measured[which] / base[which], None when either is missing."""
    if not measured or not base or not base.get(which):
        return None
    return measured[which] / base[which]


def x(value: Optional[float]) -> str:
    """A ratio."""
    return "n/a" if value is None else f"{value:.2f}×"


def pcts(summary: Optional[Dict[str, float]], sep: str = " | ") -> str:
    """p50, p95, p99 in ms."""
    if not summary:
        return sep.join(["n/a"] * 3)
    return sep.join(ms(summary[p]) for p in PERCENTILES)


def ratios(summary: Optional[Dict[str, float]], base: Optional[Dict[str, float]],
           sep: str = " | ") -> str:
    """p50, p95, p99 each ÷ the baseline's."""
    return sep.join(x(ratio(summary, base, p)) for p in PERCENTILES)


def mib(value: float) -> str:
    """Bytes in MiB."""
    return f"{value / 2 ** 20:.1f} MiB"


def verdict(ok: Optional[bool]) -> str:
    """Met, missed, or not measured."""
    return "n/a" if ok is None else ("**met**" if ok else "**missed**")


def table(header: List[str], rows: List[List[str]]) -> List[str]:
    """A markdown table, then a blank line."""
    return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header),
            *("| " + " | ".join(row) + " |" for row in rows), ""]


def get(r: Dict[str, Any], *path: str) -> Optional[float]:
    """A number deep in the results, None when any step is missing."""
    value: Any = r
    for key in path:
        if not isinstance(value, dict) or key not in value:
            return None
        value = value[key]
    return value if isinstance(value, (int, float)) else None


def counts(d: Dict[str, Any]) -> str:
    """What happened to the messages of one direction in one phase."""
    text = (f"{d['sent']} accepted, {d['received']} arrived, {d['lost']} lost, "
            f"{d['duplicates']} duplicated")
    if d.get("late"):
        text += (f" ({d['late']} of the arrived came after the phase's drain, up to "
                 f"{d['late_max_ms'] / 1000:.0f} s after sending: late, not lost)")
    if d.get("recovered"):
        text += f" ({d['recovered']} of them through a replay after a reconnect)"
    if d.get("refused"):
        text += f", {d['refused']} refused by the rate limit"
    if d.get("errors"):
        text += f", {d['errors']} requests failed"
    return text
