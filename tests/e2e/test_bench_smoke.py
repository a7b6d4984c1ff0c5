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

from bench.plan import QUICK
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
    assert handoffs["held"] == plan.relay_conversations

    for phase in ("relay", "throughput"):
        for direction in ("to_agent", "to_customer"):
            counts = results[phase][direction]
            assert counts["sent"] > 0, (phase, direction, counts)
            assert counts["received"] == counts["sent"], (phase, direction, counts)
            assert counts["lost"] == counts["duplicates"] == counts["errors"] == 0, counts
            assert counts["summary"]["count"] == counts["received"]
    for direction in ("to_agent", "to_customer"):
        burst = results["throughput"][direction]
        assert burst["sent"] + burst["refused"] == \
            plan.relay_conversations * plan.burst_per_conversation
    assert results["throughput"]["messages_per_second"] > 0

    memory = results["memory"]
    assert memory["failed"] == 0, memory["failures"]
    assert memory["open_conversations"] == plan.memory_conversations
    assert memory["conversation_keys"]["mean_bytes"] > 0
    assert memory["after"]["handoff_rss"] > 0

    report = (tmp_path / "benchmarks.md").read_text()
    for heading in ("## Targets", "## 1. Bot turn", "## 2. Handoff", "## 3. Relay",
                    "## 4. Throughput and memory"):
        assert heading in report
    assert (tmp_path / "benchmarks.png").stat().st_size > 0
