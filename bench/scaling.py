"""How the live path scales with processes (issue 17): `python -m bench --plan scaling`.

The same throughput steps as section 4 of the main report (open loop over every live
conversation, customers on the web chat and agents on their consoles, a step holds while p99
stays within the bound each way with nothing lost, duplicated or failed), run on several layouts
of the product behind HAProxy (`stack.balanced`, as `./run.sh --rasa N --handoff M`): 1, 2 and 4
handoff-service processes with one Rasa process, and 2 Rasa processes with one handoff process.
Each layout is a stack of its own on a fresh Redis, with its own agents and conversations; the
single layout goes through HAProxy too, so that every ratio is against the same path. Customers
connect to HAProxy's public address and are kept on their Rasa process by its cookie (socket.io
over WebSocket), agents' consoles are spread over the handoff processes.

On a machine whose cores are already taken by the load generators, Redis and the processes,
more processes cannot give more: the report says how many cores there were.
"""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path
from typing import Any, Callable, Dict, Optional

from bench import relay
from bench.plan import Plan
from bench.report_format import ms, table, x
from bench.runner import OTHERS, STACK_ENV, Bench, machine, time_limit
from bench.shards import Shards
from stack.balanced import BalancedStack
from stack.model import ensure_model
from stack.services import Ports


def layout_name(handoff: int, rasa: int) -> str:
    """`2 handoff × 1 Rasa`, the key of a layout's figures."""
    return f"{handoff} handoff × {rasa} Rasa"


async def _measure(bench: Bench) -> Dict[str, Any]:
    await bench.start_agents()
    handoffs = await bench.handoffs()
    bench.say(f"  {handoffs['held']} conversations with agents")
    figure = await relay.sustained(bench, bench.plan.steps, "scale")
    final = await relay.settle(bench, 20)
    relay.apply_late(bench, final["answers"], prefix="scale")
    return {**figure, "handed_off": handoffs["held"],
            "handoff_failures": handoffs["bulk"]["failed"] + handoffs["one_at_a_time"]["failed"]}


def run_scaling(plan: Plan, run_dir: Path, say: Callable[[str], None] = print) -> Dict[str, Any]:
    """Every layout of `plan.layouts`, one after the other; their figures."""
    started = time.monotonic()
    about = {**machine(), "plan": plan.name}
    model = ensure_model(say=say)
    layouts: Dict[str, Any] = {}
    with time_limit(plan.time_limit):
        for handoff, rasa in plan.layouts:
            layouts[layout_name(handoff, rasa)] = _layout(plan, model, run_dir, handoff, rasa,
                                                          say)
    about["load_average_end"] = os.getloadavg()
    return {"machine": about, "plan": plan.__dict__, "results": {"layouts": layouts},
            "seconds": time.monotonic() - started}


def _layout(plan: Plan, model: Path, run_dir: Path, handoff: int, rasa: int,
            say: Callable[[str], None]) -> Dict[str, Any]:
    """One layout's figures, on a stack of its own (stopped, whatever happens)."""
    name = layout_name(handoff, rasa)
    say(f"Layout: {name}")
    stack = BalancedStack(model=model, run_dir=run_dir / f"h{handoff}-r{rasa}",
                          ports=Ports.free(), say=say, extra_env=dict(STACK_ENV),
                          rasa_count=rasa, handoff_count=handoff)
    shards = None
    try:
        stack.start()
        shards = Shards(plan.shards)
        bench = Bench(plan, stack, None, shards, run_dir, say)
        figure = asyncio.run(_measure(bench))
        return {"handoff_processes": handoff, "rasa_processes": rasa,
                "served": stack.sessions(), **figure}
    finally:
        if shards is not None:
            shards.stop()
        stack.stop()


def _held_step(figure: Dict[str, Any]) -> Optional[Dict[str, Any]]:
    held = [step for step in figure["steps"] if step["held"]]
    return held[-1] if held else None


def report(measured: Dict[str, Any]) -> str:
    """benchmarks-scaling.md: each layout's sustained rate, as a ratio to the single layout."""
    about, layouts = measured["machine"], measured["results"]["layouts"]
    plan = measured["plan"]
    lines = [
        "# Benchmarks: how the live path scales with processes",
        "",
        "Written by `python -m bench --plan scaling` (bench/scaling.py); do not edit by hand: "
        "run it again. Every number comes from one run on a **shared, noisy machine**; compare "
        "the ratios, measured in the same run.",
        "",
        f"- date: {about['date']}; commit `{about['commit']}`"
        + (" with uncommitted changes" if about.get("tree_dirty") else ""),
        f"- machine: {about['cores']} cores ({about['cpu']}), {about['memory_gib']} GiB; "
        f"Python {about['python']}; run took {measured['seconds'] / 60:.1f} min",
        f"- each layout: a stack of its own behind HAProxy on a fresh single Redis, "
        f"{plan['conversations_per_agent']} conversations per agent, steps of "
        f"{plan['step_seconds']:.0f} s ({', '.join(str(s) for s in plan['steps'])} messages/s "
        f"offered, both ways together), open loop; a step holds when p99 stays ≤ "
        f"{plan['step_p99_ms']:.0f} ms each way with nothing lost, duplicated or failed; "
        f"{plan['shards']} load-generator processes on the same machine",
        "",
    ]
    base = layouts.get(layout_name(1, 1))
    base_rate = base["sustained_per_second"] if base else None
    rows = []
    for name, figure in layouts.items():
        step = _held_step(figure)
        rate = figure["sustained_per_second"]
        cpu = step["cpu_percent"] if step else {}
        rows.append([
            name, f"{figure['handed_off']}", f"{rate:.0f}" if rate else "none held",
            x(rate / base_rate) if rate and base_rate else "n/a",
            (f"{ms(step['to_agent']['summary']['p99'])} / "
             f"{ms(step['to_customer']['summary']['p99'])}") if step else "n/a",
            " / ".join(f"{cpu.get(kind, 0):.0f}" for kind in
                       ("handoff", "rasa", "redis", "balancer", "load generators",
                        OTHERS)) if step else "n/a",
            ", ".join(f"{k} {v}" for k, v in sorted(figure["served"].items())),
            str(figure["stopped_by"] or "none")])
    lines += table(["layout", "live conversations", "sustained msg/s", "÷ 1 handoff × 1 Rasa",
                    "p99 at that step, ms (c→a / a→c)",
                    "CPU at that step, % of a core: handoff / Rasa / Redis / HAProxy / "
                    "load generators / others", "sessions HAProxy gave each process",
                    "first step not held"], rows)
    lines += [
        "CPU is summed over the processes of a kind, from /proc, over the step's sending time "
        "(2 cores = 200 %). A layout whose processes and load generators together already "
        "fill the cores cannot hold more with more processes: read the ratios with the CPU "
        "columns.", ""]
    return "\n".join(lines)
