"""The relay's figures: latency versus load at chat rates, and one process's sustained rate.

Both drive the conversations handed off before (`Bench.handoffs`) from the shards, open loop,
and measure beside them, on the same Redis and at the same time, a raw Redis round trip (the
floor of any relay through Redis), the CPU of every process, and, at the level the target
names, py-spy profiles of the handoff service and Rasa.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Tuple

from bench.baselines import redis_round_trips
from bench.shards import split
from bench.stats import summarise

if TYPE_CHECKING:
    from bench.runner import Bench

TARGET_LEVEL = 500  # live conversations at which the relay target is set (issue 13)
PROFILED_LEVEL = TARGET_LEVEL
CUSTOMER_MIN_INTERVAL = 3.0  # s: the chat's 15 messages / 30 s, with ±20 % jitter
# Agent messages per agent per 10 s at most: the API allows 120 (handoff/ratelimit.py); the
# margin covers the jitter and the console's other calls.
AGENT_MESSAGES_PER_WINDOW = 80
ROUND_TRIPS_PER_PHASE = 200
# Before a phase, how long the previous phases' stragglers may take to arrive (the product's
# backlog clearing): the next phase must not measure the last one's queue.
SETTLE_BEFORE = 120.0
SETTLE_AT_END = 90.0


def step_intervals(rate: float, conversations: int) -> Tuple[float, float]:
    """Per-conversation intervals (customer, agent) that offer `rate` messages/s in all.

    Half each way, as far as the chat's limit lets customers write; agents carry the rest.
    """
    customer_rate = min(rate / 2, conversations / CUSTOMER_MIN_INTERVAL)
    agent_rate = max(1e-6, rate - customer_rate)
    return conversations / customer_rate, conversations / agent_rate


def step_possible(rate: float, conversations: int, per_agent: int) -> bool:
    """Whether the step stays under the product's own limits (else it measures refusals)."""
    _, agent = step_intervals(rate, conversations)
    return agent >= per_agent * 10 / AGENT_MESSAGES_PER_WINDOW


async def settle(bench: "Bench", timeout: float) -> Dict[str, Any]:
    """Waits for earlier phases' messages that have not arrived yet (bounded); seconds waited."""
    started = time.monotonic()
    answers = await bench.call("settle", [{"timeout": timeout}] * len(bench.shards),
                               timeout + 60)
    return {"seconds": round(time.monotonic() - started, 1),
            "still_waiting": sum(a["waiting"] for a in answers), "answers": answers}


def apply_late(bench: "Bench", answers: List[Dict[str, Any]], prefix: str = "") -> None:
    """Counts messages that arrived after their phase's drain as late, not lost.

    Their latencies join their phase's (so its percentiles include them); those that never
    arrived by the end of the run are the lost ones. Only the phases whose label starts with
    `prefix` (each phase once).
    """
    for label, figure in bench.phases.items():
        if not label.startswith(prefix) or figure.get("late_counted"):
            continue
        figure["late_counted"] = True
        for direction in ("to_agent", "to_customer"):
            late = [x for a in answers for x in a["late"].get(f"{label}|{direction}", [])]
            never = sum(a["never"].get(label, {}).get(direction, 0) for a in answers)
            d = figure[direction]
            d["late"] = len(late)
            d["late_max_ms"] = max(late, default=0) * 1000 or None
            d["received"] += len(late)
            d["lost"] = never
            if late:
                d["summary"] = _as_dict(summarise(bench.raw[label][direction] + late))


async def _phase(bench: "Bench", label: str, conversations: int, customer_interval: float,
                 agent_interval: float, seconds: float, profile: Optional[str]) -> Dict[str, Any]:
    """One open-loop phase over the first `conversations` conversations of every shard."""
    plan = bench.plan
    backlog = await settle(bench, SETTLE_BEFORE if plan.name == "full" else 20)
    shares = split(conversations, len(bench.shards))
    recorders = bench.profile(profile, max(1.0, seconds - 2)) if profile else None
    cpu = bench.cpu()
    load = asyncio.ensure_future(bench.call("open_loop", [
        {"conversations": n, "customer_interval": customer_interval,
         "agent_interval": agent_interval, "jitter": plan.jitter, "duration": seconds,
         "drain": plan.drain, "label": label} for n in shares], seconds + plan.drain + 120))
    trips = max(20, ROUND_TRIPS_PER_PHASE if plan.name == "full" else 40)
    under_load = await redis_round_trips(bench.redis_url, trips, pause=seconds / trips)
    used = cpu.percent()  # the sending part, before the drain
    answers = await load
    figure = directions(answers)
    bench.raw[label] = {d: [x for a in answers for x in a[d]["latencies"]]
                        for d in ("to_agent", "to_customer")}
    bench.phases[label] = figure
    sent = figure["to_agent"]["sent"] + figure["to_customer"]["sent"]
    figure.update({
        "conversations": sum(shares), "seconds": seconds, "cpu_percent": used,
        "customer_interval": customer_interval, "agent_interval": agent_interval,
        "offered_per_second": sum(shares) * (1 / customer_interval + 1 / agent_interval),
        "accepted_per_second": sent / seconds,
        "redis_round_trip": _as_dict(summarise(under_load)),
        "backlog_wait_seconds": backlog["seconds"],
        "profiles": bench.profiles_done(recorders) if recorders else {}})
    return figure


async def curve(bench: "Bench") -> Dict[str, Any]:
    """Each level: both sides of every live conversation write every chat interval."""
    plan = bench.plan
    figures: Dict[str, Any] = {}
    for level in plan.curve:
        bench.say(f"  relay curve: {level} live conversations, a message each way every "
                  f"{plan.chat_interval:.0f} s ± {plan.jitter:.0%}")
        profile = "relay" if level == min(plan.curve, key=lambda x: abs(x - PROFILED_LEVEL)) \
            else None
        figures[str(level)] = await _phase(bench, f"curve-{level}", level, plan.chat_interval,
                                           plan.chat_interval, plan.level_seconds, profile)
    return figures


def _held(figure: Dict[str, Any], p99_ms: float) -> bool:
    for direction in ("to_agent", "to_customer"):
        d = figure[direction]
        summary = d["summary"]
        if not summary or summary["p99"] > p99_ms or d["lost"] or d["duplicates"] or d["errors"]:
            return False
    return True


async def sustained(bench: "Bench", rates: Optional[Tuple[int, ...]] = None,
                    label: str = "step") -> Dict[str, Any]:
    """Offered rate stepped up over every live conversation until p99 passes the bound.

    A step holds when p99 stays within `step_p99_ms` each way with nothing lost, duplicated
    or failed; the figure is the rate that arrived in the last step that held.
    """
    plan = bench.plan
    conversations = plan.conversations
    rates = plan.steps if rates is None else rates
    steps: List[Dict[str, Any]] = []
    for rate in rates:
        if not step_possible(rate, conversations, plan.conversations_per_agent):
            bench.say(f"  throughput: {rate}/s would pass the agent API limit: not run")
            break
        customer, agent = step_intervals(rate, conversations)
        bench.say(f"  throughput: {rate} messages/s offered over {conversations} conversations")
        figure = await _phase(bench, f"{label}-{rate}", conversations, customer, agent,
                              plan.step_seconds, f"{label}s" if rate == rates[-1] else None)
        figure["rate"] = rate
        figure["held"] = _held(figure, plan.step_p99_ms)
        steps.append(figure)
        if not figure["held"]:
            break
    held = [s for s in steps if s["held"]]
    return {"steps": steps, "p99_bound_ms": plan.step_p99_ms,
            "sustained_offered": held[-1]["rate"] if held else None,
            "sustained_per_second": held[-1]["arrived_per_second"] if held else None,
            "stopped_by": None if len(held) == len(steps) else steps[-1]["rate"]}


def directions(answers: List[Dict[str, Any]]) -> Dict[str, Any]:
    """The shards' counts and latencies, pooled per direction."""
    figure: Dict[str, Any] = {}
    for direction in ("to_agent", "to_customer"):
        parts = [a[direction] for a in answers]
        firsts = [p["first_send"] for p in parts if p["first_send"] is not None]
        lasts = [p["last_arrival"] for p in parts if p["last_arrival"] is not None]
        figure[direction] = {
            **{k: sum(p[k] for p in parts)
               for k in ("sent", "received", "recovered", "lost", "refused", "errors",
                         "duplicates", "same_frame_again")},
            "summary": _as_dict(summarise([x for p in parts for x in p["latencies"]])),
            "send_lag": _as_dict(summarise([x for p in parts for x in p["send_lag"]])),
            "error_examples": [e for p in parts for e in p.get("error_examples", [])][:3],
            "duplicate_times": [t for p in parts for t in p.get("duplicate_times", [])],
            "first_send": min(firsts, default=None), "last_arrival": max(lasts, default=None)}
    arrived = figure["to_agent"]["received"] + figure["to_customer"]["received"]
    first = min((figure[d]["first_send"] for d in ("to_agent", "to_customer")
                 if figure[d]["first_send"] is not None), default=None)
    last = max((figure[d]["last_arrival"] for d in ("to_agent", "to_customer")
                if figure[d]["last_arrival"] is not None), default=None)
    figure["arrived_per_second"] = arrived / (last - first) if first and last and last > first \
        else None
    for key in ("sockets_dropped", "consoles_dropped"):
        figure[key] = sorted(t for a in answers for t in a.get(key, []))
    for key in ("customer_reconnects", "console_reconnects"):
        figure[key] = sum(a.get(key, 0) for a in answers)
    return figure


def _as_dict(summary: Any) -> Optional[Dict[str, float]]:
    return summary.as_dict() if summary is not None else None
