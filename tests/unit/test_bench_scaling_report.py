"""benchmarks-scaling.md as `bench.scaling.report` writes it from a run's figures.

The figures are made up here (no stack runs); the report's ratios must be computed from them:
each layout against 1 handoff × 1 Rasa on the same Redis, and the Cluster against the single
Redis for the same layout.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional

from bench.plan import QUICK_SCALING, SCALING
from bench.scaling import CLUSTER, SINGLE, layout_name, report

PLAN = {**SCALING.__dict__, "steps": (200, 400, 700)}
MACHINE = {"date": "2026-12-05 04:00 UTC", "commit": "abc1234", "cores": 2, "cpu": "a CPU",
           "memory_gib": 23.5, "python": "3.10.13"}


def _direction(p99: float) -> Dict[str, Any]:
    return {"sent": 10, "received": 10, "lost": 0, "duplicates": 0, "errors": 0,
            "summary": {"p50": p99 / 2, "p95": p99 * 0.9, "p99": p99, "count": 10}}


def _step(rate: int, held: bool, p99_to_agent: float, p99_to_customer: float,
          round_trip_p99: float) -> Dict[str, Any]:
    return {"rate": rate, "held": held, "to_agent": _direction(p99_to_agent),
            "to_customer": _direction(p99_to_customer),
            "redis_round_trip": {"p50": round_trip_p99 / 3, "p95": round_trip_p99 / 2,
                                 "p99": round_trip_p99, "count": 40},
            "cpu_percent": {"handoff": 51.0, "rasa": 32.0, "redis": 14.0, "balancer": 6.0,
                            "load generators": 37.0, "other processes on the machine": 3.0}}


def _layout(handoff: int, topology: str, sustained: Optional[float],
            steps: List[Dict[str, Any]]) -> Dict[str, Any]:
    held = [s for s in steps if s["held"]]
    return {"handoff_processes": handoff, "rasa_processes": 1, "topology": topology,
            "handed_off": 1000, "handoff_failures": 0, "sustained_per_second": sustained,
            "sustained_offered": held[-1]["rate"] if held else None,
            "stopped_by": None if len(held) == len(steps) else steps[-1]["rate"],
            "served": {f"handoff/handoff{n + 1}": 100 for n in range(handoff)}, "steps": steps}


def _measured() -> Dict[str, Any]:
    single = {
        layout_name(1, 1): _layout(1, SINGLE, 400.0, [
            _step(200, True, 20.0, 30.0, 1.5), _step(400, True, 50.0, 80.0, 2.0),
            _step(700, False, 900.0, 950.0, 9.0)]),
        layout_name(2, 1): _layout(2, SINGLE, 200.0, [
            _step(200, True, 21.5, 27.0, 1.6), _step(400, False, 300.0, 200.0, 4.0)])}
    cluster = {
        layout_name(1, 1): _layout(1, CLUSTER, 300.0, [
            _step(200, True, 40.0, 60.0, 3.0), _step(400, False, 120.0, 160.0, 5.0)]),
        layout_name(2, 1): _layout(2, CLUSTER, 300.0, [
            _step(200, True, 35.0, 45.0, 2.5), _step(400, False, 101.0, 99.0, 6.0)])}
    return {"machine": MACHINE, "plan": PLAN, "seconds": 2400.0,
            "results": {"topologies": {SINGLE: single, CLUSTER: cluster}}}


def _rows(text: str, heading: str) -> Dict[str, List[str]]:
    """The rows of the first table under `heading`, by their first cell."""
    section = text.split(heading, 1)[1]
    rows: Dict[str, List[str]] = {}
    for line in section.splitlines():
        if line.startswith("## ") and rows:
            break
        if line.startswith("| ") and not line.startswith("| layout"):
            cells = [c.strip() for c in line.strip("|").split("|")]
            rows[cells[0]] = cells[1:]
        elif rows and not line.strip():
            break
    return rows


def test_each_topology_has_its_table_with_ratios_to_its_own_single_layout() -> None:
    text = report(_measured())

    single = _rows(text, "## On a single Redis")
    assert single[layout_name(1, 1)][:4] == ["1000", "400", "1.00×", "50.0 / 80.0"]
    assert single[layout_name(2, 1)][1:4] == ["200", "0.50×", "21.5 / 27.0"]
    # p99 at the first step (200 msg/s on every layout) ÷ 1 × 1's: 21.5 / 20, 27 / 30.
    assert single[layout_name(2, 1)][4] == "1.07× / 0.90×"
    assert single[layout_name(1, 1)][-1] == "700"  # first step not held

    cluster = _rows(text, "## On a Redis Cluster")
    assert cluster[layout_name(1, 1)][1:4] == ["300", "1.00×", "40.0 / 60.0"]
    # 2 × 1 on the Cluster against 1 × 1 on the Cluster, not on the single Redis.
    assert cluster[layout_name(2, 1)][1:5] == ["300", "1.00×", "35.0 / 45.0", "0.88× / 0.75×"]
    assert cluster[layout_name(2, 1)][6] == "handoff/handoff1 100, handoff/handoff2 100"


def test_side_by_side_gives_the_cluster_over_the_single_redis_per_layout() -> None:
    text = report(_measured())

    rows = _rows(text, "## Redis Cluster against a single Redis")
    assert list(rows) == [layout_name(1, 1), layout_name(2, 1)]
    # sustained single, sustained Cluster, Cluster ÷ single, p99 at the first step on each and
    # their ratio, the raw round trip's p99 at the first step on each.
    assert rows[layout_name(1, 1)] == ["400", "300", "0.75×", "20.0 / 30.0", "40.0 / 60.0",
                                       "2.00× / 2.00×", "1.5 / 3.0"]
    assert rows[layout_name(2, 1)] == ["200", "300", "1.50×", "21.5 / 27.0", "35.0 / 45.0",
                                       "1.63× / 1.67×", "1.6 / 2.5"]
    assert "p99 at 200 msg/s, Cluster" in text
    assert "3 primaries and 3 replicas" in text


def test_a_layout_that_held_no_step_has_no_ratio() -> None:
    measured = _measured()
    measured["results"]["topologies"][CLUSTER][layout_name(2, 1)] = _layout(
        2, CLUSTER, None, [_step(200, False, 150.0, 90.0, 2.0)])
    text = report(measured)

    assert _rows(text, "## On a Redis Cluster")[layout_name(2, 1)][1:4] == \
        ["none held", "n/a", "n/a"]
    side = _rows(text, "## Redis Cluster against a single Redis")[layout_name(2, 1)]
    # The first step still has its p99, measured under the same load as the single Redis's.
    assert side[:6] == ["200", "n/a", "n/a", "21.5 / 27.0", "150 / 90.0", "6.98× / 3.33×"]


def test_a_run_from_before_the_cluster_is_still_written() -> None:
    measured = _measured()
    single = measured["results"]["topologies"][SINGLE]
    measured["results"] = {"layouts": single}
    text = report(measured)

    assert _rows(text, "## On a single Redis")[layout_name(2, 1)][1:3] == ["200", "0.50×"]
    assert "## On a Redis Cluster" not in text
    assert "## Redis Cluster against a single Redis" not in text


def test_only_the_quick_plan_starts_a_layouts_stacks_together_and_its_report_says_so() -> None:
    # The full plan starts each stack once the last one has stopped: nothing else of the
    # bench's runs while a layout is measured. The quick one (a check of the harness) starts
    # both topologies' stacks at once, and says so.
    assert not SCALING.start_together and QUICK_SCALING.start_together
    assert "started at once" not in report(_measured())
    quick = {**_measured(), "plan": {**PLAN, "start_together": True}}
    assert "each layout's stacks on every Redis were started at once" in report(quick)
