"""Percentiles of latency samples, and ratios against a baseline."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Dict, Optional, Sequence


@dataclass(frozen=True)
class Summary:
    """Latency percentiles in milliseconds over `count` samples."""

    count: int
    p50: float
    p95: float
    p99: float
    mean: float
    max: float

    def as_dict(self) -> Dict[str, float]:
        """JSON-friendly form."""
        return asdict(self)


def percentile(sorted_values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile of already sorted values (no interpolation: a real sample)."""
    if not sorted_values:
        return math.nan
    rank = max(1, math.ceil(fraction * len(sorted_values)))
    return sorted_values[rank - 1]


def summarise(seconds: Sequence[float]) -> Optional[Summary]:
    """Percentiles of latencies given in seconds, reported in ms; None when there are none."""
    if not seconds:
        return None
    ms = sorted(value * 1000 for value in seconds)
    return Summary(count=len(ms), p50=percentile(ms, 0.50), p95=percentile(ms, 0.95),
                   p99=percentile(ms, 0.99), mean=sum(ms) / len(ms), max=ms[-1])


def ratio(measured: Optional[Summary], baseline: Optional[Summary],
          which: str) -> Optional[float]:
    """Measured / baseline for one percentile (`p50`, `p95`, `p99`), None if either is missing."""
    if measured is None or baseline is None:
        return None
    base = getattr(baseline, which)
    return getattr(measured, which) / base if base > 0 else None
