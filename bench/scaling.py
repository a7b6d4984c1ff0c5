"""How the live path scales with processes (issue 17): `python -m bench --plan scaling`.

The same throughput steps as section 4 of the main report (open loop over every live
conversation, customers on the web chat and agents on their consoles, a step holds while p99
stays within the bound each way with nothing lost, duplicated or failed), run on several layouts
of the product behind HAProxy (`stack.balanced`, as `./run.sh --rasa N --handoff M`): 1, 2 and 4
handoff-service processes with one Rasa process, and 2 Rasa processes with one handoff process.
Each layout is a stack of its own on a fresh Redis, with its own agents and conversations; the
single layout goes through HAProxy too, so that every ratio is against the same path. Each
layout runs on each Redis topology of the plan: a single Redis (the stack's own), and a Redis
Cluster of 3 primaries and 3 replicas the bench starts on free ports (`tests.redis_cluster`).
Customers connect to HAProxy's public address and are kept on their Rasa process by its cookie
(socket.io over WebSocket), agents' consoles are spread over the handoff processes.

On a machine whose cores are already taken by the load generators, Redis and the processes,
more processes cannot give more: the report says how many cores there were.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import time
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional

from bench import relay
from bench.plan import Plan
from bench.report_format import ms, ratio, table, x
from bench.runner import OTHERS, STACK_ENV, Bench, machine, time_limit
from bench.shards import Shards
from stack.balanced import BalancedStack
from stack.model import ensure_model
from stack.services import Ports

SINGLE, CLUSTER = "single", "cluster"
TOPOLOGIES = {SINGLE: "a single Redis", CLUSTER: "a Redis Cluster"}
TOPOLOGY_NOTES = {
    SINGLE: "single: one redis-server (the stack's own, `appendfsync no`)",
    CLUSTER: "Cluster: 3 primaries and 3 replicas started by the bench on this machine "
             "(tests/redis_cluster.py, `appendfsync no` as the single one), every process "
             "given `REDIS_URL=redis+cluster://…`"}


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
    """Every layout of `plan.layouts` on each topology of `plan.topologies`; their figures.

    Layout by layout, each topology in turn (1 × 1 on a single Redis, then on the Cluster,
    then 2 × 1...): a drift of the shared machine's load falls on both topologies alike.
    """
    started = time.monotonic()
    about = {**machine(), "plan": plan.name}
    model = ensure_model(say=say)
    topologies: Dict[str, Dict[str, Any]] = {topology: {} for topology in plan.topologies}
    with time_limit(plan.time_limit):
        for handoff, rasa in plan.layouts:
            for topology, figure in _layout(plan, model, run_dir, handoff, rasa, say).items():
                topologies[topology][layout_name(handoff, rasa)] = figure
    about["load_average_end"] = os.getloadavg()
    return {"machine": about, "plan": plan.__dict__, "results": {"topologies": topologies},
            "seconds": time.monotonic() - started}


@dataclass
class _Running:
    """One layout's stack on one topology, its Cluster, and what stops them (stack first)."""

    topology: str
    stack: BalancedStack
    cluster: Any  # tests.redis_cluster.ClusterGroup, or None on a single Redis
    stopping: ExitStack


def _layout(plan: Plan, model: Path, run_dir: Path, handoff: int, rasa: int,
            say: Callable[[str], None]) -> Dict[str, Dict[str, Any]]:
    """One layout's figures on each topology in turn, each on a stack and a Redis of its own.

    Each stack is stopped once measured, and every process whatever happens. With the plan's
    `start_together` (a check of the harness), every topology's stack is started first, so
    that their Rasa processes load the model side by side: that start is most of a quick
    run's time.
    """
    name = layout_name(handoff, rasa)
    figures: Dict[str, Dict[str, Any]] = {}
    with ExitStack() as cleanup:
        running: Dict[str, _Running] = {}
        if plan.start_together:
            say(f"Layout: {name}, started on " +
                " and on ".join(TOPOLOGIES[t] for t in plan.topologies) + " at once")
            for topology in plan.topologies:
                running[topology] = _launch(model, run_dir, handoff, rasa, topology, say,
                                            cleanup.enter_context(ExitStack()))
            for layout in running.values():
                layout.stack.wait_ready()
        for topology in plan.topologies:
            say(f"Layout: {name}, {TOPOLOGIES[topology]}")
            if topology not in running:
                running[topology] = _launch(model, run_dir, handoff, rasa, topology, say,
                                            cleanup.enter_context(ExitStack()))
                running[topology].stack.wait_ready()
            figures[topology] = _measured(plan, running[topology], handoff, rasa, run_dir, say)
            running[topology].stopping.close()  # before the next topology's measurement
    return figures


def _launch(model: Path, run_dir: Path, handoff: int, rasa: int, topology: str,
            say: Callable[[str], None], stopping: ExitStack) -> _Running:
    """Starts the layout's processes on a Redis of its own; `stopping` stops them.

    `wait_ready` on its stack waits until they answer.
    """
    here = run_dir / f"{topology}-h{handoff}-r{rasa}"
    cluster = None
    if topology == CLUSTER:
        # Imported here: only this topology needs the tests' Cluster (and redis-cli).
        from tests.redis_cluster import ClusterGroup

        # `appendfsync no`, as the single stack's own redis-server (stack.services).
        cluster = ClusterGroup(here / "redis-cluster", password=secrets.token_hex(16),
                               appendfsync="no")
        stopping.callback(cluster.stop)
        cluster.start()
    stack = BalancedStack(model=model, run_dir=here, ports=Ports.free(), say=say,
                          extra_env=dict(STACK_ENV), rasa_count=rasa, handoff_count=handoff,
                          redis_url=cluster.url if cluster is not None else None)
    stopping.callback(stack.stop)
    stack.launch()
    return _Running(topology, stack, cluster, stopping)


def _measured(plan: Plan, running: _Running, handoff: int, rasa: int, run_dir: Path,
              say: Callable[[str], None]) -> Dict[str, Any]:
    """The layout's figures on its running stack, from load generators of its own."""
    shards = Shards(plan.shards)
    try:
        cluster = running.cluster
        redis_pids = [proc.pid for proc in cluster.procs.values()] if cluster else []
        bench = Bench(plan, running.stack, None, shards, run_dir, say, redis_pids=redis_pids)
        figure = asyncio.run(_measure(bench))
        return {"handoff_processes": handoff, "rasa_processes": rasa,
                "topology": running.topology, "served": running.stack.sessions(), **figure}
    finally:
        shards.stop()


def _held_step(figure: Dict[str, Any]) -> Optional[Dict[str, Any]]:
    held = [step for step in figure["steps"] if step["held"]]
    return held[-1] if held else None


def by_topology(results: Dict[str, Any]) -> Dict[str, Dict[str, Any]]:
    """Each topology's layouts; a run from before the Cluster had the single Redis only."""
    if "topologies" in results:
        return results["topologies"]
    return {SINGLE: results["layouts"]}


def _rate(figure: Optional[Dict[str, Any]]) -> Optional[float]:
    return figure["sustained_per_second"] if figure else None


def _over(value: Optional[float], base: Optional[float]) -> str:
    return x(value / base) if value and base else "n/a"


def _p99s(step: Optional[Dict[str, Any]]) -> str:
    if not step or not step["to_agent"]["summary"] or not step["to_customer"]["summary"]:
        return "n/a"
    return (f"{ms(step['to_agent']['summary']['p99'])} / "
            f"{ms(step['to_customer']['summary']['p99'])}")


def _p99_ratios(step: Optional[Dict[str, Any]], base: Optional[Dict[str, Any]]) -> str:
    """Each direction's p99 ÷ the same direction's in `base` (c→a / a→c)."""
    if not step or not base:
        return "n/a"
    return " / ".join(x(ratio(step[d]["summary"], base[d]["summary"], "p99"))
                      for d in ("to_agent", "to_customer"))


def _first_step(figure: Optional[Dict[str, Any]]) -> Optional[Dict[str, Any]]:
    return figure["steps"][0] if figure and figure["steps"] else None


def _round_trip_p99(step: Optional[Dict[str, Any]]) -> str:
    summary = step.get("redis_round_trip") if step else None
    return ms(summary["p99"]) if summary else "n/a"


def report(measured: Dict[str, Any]) -> str:
    """benchmarks-scaling.md: each layout's sustained rate and p99, as ratios.

    Each layout against 1 handoff × 1 Rasa on the same Redis, and the Cluster's figures
    against the single Redis's for the same layout.
    """
    about, plan = measured["machine"], measured["plan"]
    topologies = by_topology(measured["results"])
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
        f"- each layout: a stack of its own behind HAProxy on a fresh Redis, "
        f"{plan['conversations_per_agent']} conversations per agent, steps of "
        f"{plan['step_seconds']:.0f} s ({', '.join(str(s) for s in plan['steps'])} messages/s "
        f"offered, both ways together), open loop; a step holds when p99 stays ≤ "
        f"{plan['step_p99_ms']:.0f} ms each way with nothing lost, duplicated or failed; "
        f"{plan['shards']} load-generator processes on the same machine",
        "- Redis: " + "; ".join(TOPOLOGY_NOTES[t] for t in topologies) + "; layout by layout, "
        "each Redis in turn, so that a drift of the machine's load falls on both alike",
        *(["- a check of the harness: each layout's stacks on every Redis were started at "
           "once (their Rasa processes loading side by side), the one measured later waiting "
           "idle beside the first"] if plan.get("start_together") else []),
        "",
    ]
    for topology, layouts in topologies.items():
        lines += [f"## On {TOPOLOGIES[topology]}", ""]
        lines += _layouts_table(layouts, plan)
    lines += [
        "CPU is summed over the processes of a kind, from /proc, over the step's sending time "
        "(2 cores = 200 %); on the Cluster, Redis is its six nodes. A layout whose processes "
        "and load generators together already fill the cores cannot hold more with more "
        "processes: read the ratios with the CPU columns.", ""]
    if SINGLE in topologies and CLUSTER in topologies:
        lines += _side_by_side(topologies[SINGLE], topologies[CLUSTER], plan)
    return "\n".join(lines)


def _layouts_table(layouts: Dict[str, Any], plan: Dict[str, Any]) -> List[str]:
    """One topology's layouts, each against 1 handoff × 1 Rasa on the same Redis."""
    base = layouts.get(layout_name(1, 1))
    base_rate, base_first = _rate(base), _first_step(base)
    rows = []
    for name, figure in layouts.items():
        step = _held_step(figure)
        rate = figure["sustained_per_second"]
        cpu = step["cpu_percent"] if step else {}
        rows.append([
            name, f"{figure['handed_off']}", f"{rate:.0f}" if rate else "none held",
            _over(rate, base_rate), _p99s(step),
            _p99_ratios(_first_step(figure), base_first),
            " / ".join(f"{cpu.get(kind, 0):.0f}" for kind in
                       ("handoff", "rasa", "redis", "balancer", "load generators",
                        OTHERS)) if step else "n/a",
            ", ".join(f"{k} {v}" for k, v in sorted(figure["served"].items())),
            str(figure["stopped_by"] or "none")])
    return table(["layout", "live conversations", "sustained msg/s", "÷ 1 handoff × 1 Rasa",
                  "p99 at that step, ms (c→a / a→c)",
                  f"p99 at {_first_rate(plan)} msg/s ÷ 1 handoff × 1 Rasa's (c→a / a→c)",
                  "CPU at that step, % of a core: handoff / Rasa / Redis / HAProxy / "
                  "load generators / others", "sessions HAProxy gave each process",
                  "first step not held"], rows)


def _first_rate(plan: Dict[str, Any]) -> Optional[int]:
    """The first step's offered rate: every layout on every Redis ran it."""
    return plan["steps"][0] if plan["steps"] else None


def _side_by_side(single: Dict[str, Any], cluster: Dict[str, Any],
                  plan: Dict[str, Any]) -> List[str]:
    """Each layout on both topologies: the Cluster's figures ÷ the single Redis's."""
    first = _first_rate(plan)
    rows = []
    for name in [*single, *(n for n in cluster if n not in single)]:
        one, many = single.get(name), cluster.get(name)
        rows.append([
            name, f"{_rate(one):.0f}" if _rate(one) else "n/a",
            f"{_rate(many):.0f}" if _rate(many) else "n/a", _over(_rate(many), _rate(one)),
            _p99s(_first_step(one)), _p99s(_first_step(many)),
            _p99_ratios(_first_step(many), _first_step(one)),
            f"{_round_trip_p99(_first_step(one))} / {_round_trip_p99(_first_step(many))}"])
    return [
        "## Redis Cluster against a single Redis", "",
        "The same layout, the same steps, in the same run. p99 at the first step "
        f"({first} messages/s offered) compares the same load on both.", "",
        *table(["layout", "sustained msg/s, single Redis", "sustained msg/s, Cluster",
                "Cluster ÷ single", f"p99 at {first} msg/s, single, ms (c→a / a→c)",
                f"p99 at {first} msg/s, Cluster, ms (c→a / a→c)",
                "Cluster ÷ single, p99 at that rate (c→a / a→c)",
                f"raw Redis round trip p99 at {first} msg/s, ms: single / Cluster (XADD to a "
                "blocked XREAD, on the stream's node)"], rows)]
