"""The benchmark harness in quick mode: it runs end to end and its counts add up.

No timing is asserted (timings belong to bench/, docs/benchmarks.md): only that every message
the harness sent arrived once, that each figure has the samples it planned, and that the
report is written. The harness starts and stops a stack of its own, so this test leaves the
session's stack (its agents, queue and presence) alone.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bench.plan import QUICK, QUICK_SCALING
from stack.model import ROOT

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]


def test_quick_bench_counts_add_up(tmp_path: Path) -> None:
    # A subprocess: the harness bounds itself with SIGALRM, which pytest-timeout also uses.
    done = subprocess.run([sys.executable, "-m", "bench", "--quick", "--out", str(tmp_path)],
                          cwd=ROOT, capture_output=True, text=True, timeout=840)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    measured = json.loads((tmp_path / "benchmarks.json").read_text())
    results, plan = measured["results"], QUICK

    for level in plan.levels:
        figure = results["bot_turns"][str(level)]
        per_customer = max(1, (plan.bot_turns[level] // 2) // level)
        for system in ("project", "plain"):
            assert figure[system]["errors"] == 0, figure[system]["error_examples"]
            assert figure[system]["summary"]["count"] == 2 * level * per_customer
        assert figure["unexpected_notices"] == 0

    handoffs = results["handoffs"]
    assert handoffs["one_at_a_time"]["failed"] == 0, handoffs["one_at_a_time"]
    assert handoffs["bulk"]["failed"] == 0, handoffs["bulk"]
    assert handoffs["one_at_a_time"]["summary"]["count"] == plan.handoffs_one_at_a_time
    assert handoffs["held"] == plan.conversations

    # Every relay phase: each side wrote, and every accepted message arrived once (live, or
    # through the product's replay after a reconnect), nothing refused by the product's limits.
    curve = results["relay_curve"]
    assert sorted(int(level) for level in curve) == sorted(plan.curve)
    steps = results["sustained"]["steps"]
    assert steps and steps[0]["rate"] == plan.steps[0]
    # The handoff process alone (customers at the channel's door, Rasa stopped): same counts.
    alone = results["alone"]["steps"]
    assert alone and alone[0]["rate"] == plan.alone_steps[0]
    assert all("rasa" not in step["cpu_percent"] for step in alone)
    for phase in [*curve.values(), *steps, *alone]:
        assert phase["conversations"] in (*plan.curve, plan.conversations)
        for direction in ("to_agent", "to_customer"):
            counts = phase[direction]
            assert counts["sent"] > 0, (direction, counts)
            assert counts["received"] == counts["sent"], (direction, counts)
            assert counts["lost"] == counts["duplicates"] == counts["errors"] == 0, counts
            assert counts["refused"] == 0, counts
            assert counts["summary"]["count"] == counts["received"] - counts["recovered"]
        assert phase["redis_round_trip"]["count"] > 0

    memory = results["memory"]
    assert memory["open_conversations"] == plan.conversations
    assert memory["conversation_keys"]["mean_bytes"] > 0
    assert memory["relay_conversation_keys"]["mean_bytes"] > 0
    assert memory["after"]["handoff_rss"] > 0

    report = (tmp_path / "benchmarks.md").read_text()
    for heading in ("## Targets", "## 1. Bot turn", "## 2. Handoff", "## 3. Relay",
                    "## 4. Sustained throughput", "## 5. Memory",
                    "## 6. One handoff-service process alone"):
        assert heading in report
    assert (tmp_path / "benchmarks.png").stat().st_size > 0


@pytest.mark.timeout(1700)
def test_quick_scaling_bench_runs_each_layout_through_haproxy(tmp_path: Path) -> None:
    """`--plan quick-scaling`: each layout behind HAProxy, on a single Redis and on a Cluster,
    its counts adding up."""
    done = subprocess.run([sys.executable, "-m", "bench", "--plan", QUICK_SCALING.name,
                           "--out", str(tmp_path)],
                          cwd=ROOT, capture_output=True, text=True, timeout=1600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    results = json.loads((tmp_path / "benchmarks-scaling.json").read_text())["results"]
    topologies = results["topologies"]
    assert list(topologies) == list(QUICK_SCALING.topologies) == ["single", "cluster"]
    for topology, layouts in topologies.items():
        assert [(f["handoff_processes"], f["rasa_processes"]) for f in layouts.values()] == \
            list(QUICK_SCALING.layouts)
        for figure in layouts.values():
            assert figure["topology"] == topology
            assert figure["handed_off"] == QUICK_SCALING.conversations, figure
            assert figure["handoff_failures"] == 0
            # HAProxy gave work to every process of the layout (consoles, customers' sockets).
            served = figure["served"]
            for n in range(1, figure["handoff_processes"] + 1):
                assert served.get(f"handoff/handoff{n}", 0) > 0, served
            assert [step["rate"] for step in figure["steps"]][:1] == [QUICK_SCALING.steps[0]]
            for step in figure["steps"]:
                for direction in ("to_agent", "to_customer"):
                    counts = step[direction]
                    assert counts["sent"] > 0, (direction, counts)
                    assert counts["received"] == counts["sent"], (direction, counts)
                    assert counts["lost"] == counts["duplicates"] == counts["errors"] == 0, \
                        counts
                # Several processes of a kind are metered as one figure (their sum); on the
                # Cluster, Redis is its nodes, which the stack did not start.
                assert step["cpu_percent"]["handoff"] > 0 and "balancer" in step["cpu_percent"]
                assert step["cpu_percent"]["redis"] > 0, step["cpu_percent"]
                assert step["redis_round_trip"]["count"] > 0
    report = (tmp_path / "benchmarks-scaling.md").read_text()
    assert "| 2 handoff × 1 Rasa |" in report
    assert "## Redis Cluster against a single Redis" in report
