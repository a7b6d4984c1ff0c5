"""Counting messages one way, and open-loop send schedules drawn in advance.

A message is counted once it is accepted (the chat's acknowledgement, the agent API's 202);
it arrives live (a frame on the other side's connection) or, after that side's connection went
down and came back, through the product's own recovery (the chat's replay, the console's
transcript). It is lost only if it did neither before the phase's drain ends; it is duplicated
if it arrived twice as two different frames (a frame whose id the page already shows is
dropped by the page, so it is counted apart, not as a duplicate).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Set, Tuple


@dataclass
class Direction:
    """Messages one way (customer→agent or agent→customer) during one phase."""

    sent: Dict[str, float] = field(default_factory=dict)  # marker -> send time
    received: Dict[str, float] = field(default_factory=dict)  # marker -> first arrival
    recovered: Set[str] = field(default_factory=set)  # first arrival by replay / transcript
    frame_ids: Dict[str, Set[str]] = field(default_factory=dict)  # marker -> frame ids seen
    refused: int = 0  # refused by the product with a clear error (rate limit): never accepted
    errors: int = 0  # the request itself failed
    duplicates: int = 0
    same_frame_again: int = 0  # a frame id seen again (a replay's overlap): the page drops it
    error_examples: List[str] = field(default_factory=list)
    duplicate_times: List[Tuple[float, float]] = field(default_factory=list)
    send_lag: List[float] = field(default_factory=list)  # the generator's lateness, seconds

    def failed(self, exc: BaseException) -> None:
        """Counts a request that failed, and keeps the first few for the report."""
        self.errors += 1
        if len(self.error_examples) < 3:
            self.error_examples.append(repr(exc)[:200])

    def arrived(self, marker: str, at: float, frame_id: Optional[str] = None,
                recovered: bool = False) -> None:
        """Records an arrival of a message sent in this phase."""
        if marker not in self.sent:
            return  # another phase's straggler, or another shard's conversation
        seen = self.frame_ids.setdefault(marker, set())
        if frame_id is not None and frame_id in seen:
            self.same_frame_again += 1
            return
        if frame_id is not None:
            seen.add(frame_id)
        if marker in self.received:
            if recovered:
                return  # a transcript read after a reconnect shows what arrived live too
            self.duplicates += 1
            # When the copy came: seconds after sending, and after the first arrival.
            self.duplicate_times.append((round(self.received[marker] - self.sent[marker], 1),
                                         round(at - self.received[marker], 1)))
            return
        self.received[marker] = at
        if recovered:
            self.recovered.add(marker)

    def outstanding(self) -> int:
        """Messages accepted and not arrived yet."""
        return len(self.sent) - len(self.received)

    def result(self) -> Dict[str, Any]:
        """Counts and latencies, for the orchestrator.

        Latencies are those of live arrivals; a recovered message's wait includes its
        connection's outage and is counted apart.
        """
        latencies = [self.received[m] - self.sent[m] for m in self.received
                     if m not in self.recovered]
        return {"sent": len(self.sent), "received": len(self.received),
                "recovered": len(self.recovered), "lost": self.outstanding(),
                "refused": self.refused, "errors": self.errors, "duplicates": self.duplicates,
                "same_frame_again": self.same_frame_again, "latencies": latencies,
                "send_lag": self.send_lag,
                "error_examples": self.error_examples, "duplicate_times": self.duplicate_times,
                "first_send": min(self.sent.values(), default=None),
                "last_arrival": max(self.received.values(), default=None)}


def schedule(count: int, interval: Optional[float], jitter: float, start: float,
             duration: float) -> List[Tuple[float, int]]:
    """Send times (open loop) for `count` writers each writing every `interval` s ± `jitter`.

    Drawn in advance: a writer's next message does not wait for the last one's answer. Each
    writer starts at a random point of its first interval, so that writers do not line up.
    Returns (time, writer index) pairs, in time order.
    """
    if not interval:
        return []
    times = []
    for writer in range(count):
        at = start + random.uniform(0, interval)
        while at < start + duration:
            times.append((at, writer))
            at += interval * random.uniform(1 - jitter, 1 + jitter)
    times.sort()
    return times
