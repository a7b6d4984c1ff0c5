"""benchmarks.png: bot turns against plain Rasa, the relay curve, the throughput steps."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict

from bench.report_format import PERCENTILES

TARGET_RELAY_P99_MS = 50.0


def plot(measured: Dict[str, Any], path: Path) -> None:
    """Three panels, each from this run's figures."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    r = measured["results"]
    fig, axes = plt.subplots(1, 3, figsize=(17, 5))
    levels = list(r["bot_turns"])
    for system, style in (("project", "-"), ("plain", "--")):
        for which, color in zip(PERCENTILES, ("tab:blue", "tab:orange", "tab:red"), strict=True):
            values = [(r["bot_turns"][lv].get(system, {}).get("summary") or {}).get(which)
                      for lv in levels]
            if any(v is not None for v in values):
                axes[0].plot(levels, values, style, marker="o", color=color,
                             label=f"{'product' if system == 'project' else 'plain Rasa'} {which}")
    axes[0].set(title="1. Bot turn", xlabel="concurrent customers", ylabel="ms")
    axes[0].legend(fontsize=7)

    curve = r["relay_curve"]
    xs = [int(level) for level in curve]
    for direction, style, name in (("to_agent", "-", "cust→agent"),
                                   ("to_customer", "--", "agent→cust")):
        for which, color in (("p50", "tab:blue"), ("p99", "tab:red")):
            axes[1].plot(xs, [max(0.01, (p[direction]["summary"] or {}).get(which) or 0.01)
                              for p in curve.values()], style, marker="o", color=color,
                         label=f"{name} {which}")
    axes[1].plot(xs, [max(0.01, (p.get("redis_round_trip") or {}).get("p99") or 0.01)
                      for p in curve.values()], ":", marker="x", color="gray",
                 label="Redis round trip p99")
    axes[1].axhline(TARGET_RELAY_P99_MS, color="black", linestyle=":", label="50 ms target")
    axes[1].set_yscale("log")
    axes[1].set(title="3. Relay at chat rates (every 10 s each side)",
                xlabel="live conversations", ylabel="ms (log)")
    axes[1].legend(fontsize=7)

    steps = r["sustained"]["steps"]
    rates = [s["rate"] for s in steps]
    for direction, style, name in (("to_agent", "-", "cust→agent"),
                                   ("to_customer", "--", "agent→cust")):
        axes[2].plot(rates, [max(0.01, (s[direction]["summary"] or {}).get("p99") or 0.01)
                             for s in steps], style, marker="o", label=f"{name} p99")
    axes[2].axhline(r["sustained"]["p99_bound_ms"], color="black", linestyle=":",
                    label=f"{r['sustained']['p99_bound_ms']:.0f} ms bound")
    axes[2].set_yscale("log")
    axes[2].set(title="4. One handoff process: p99 vs offered rate",
                xlabel="offered relayed messages/s", ylabel="ms (log)")
    axes[2].legend(fontsize=7)
    fig.suptitle(f"{measured['machine']['date']}, {measured['machine']['cores']} cores, "
                 f"commit {measured['machine']['commit']} ({measured['plan']['name']} run)")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
