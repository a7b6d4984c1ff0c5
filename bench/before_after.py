"""The report's "Before and after": an earlier run's figures beside this run's.

The earlier run may come from the harness before issue 13 (`docs/benchmarks-before-issue13
.json`), whose relay was one closed-loop level (`results.relay`) and whose throughput was a
burst (`results.throughput`); the rows compare what both runs measured, and say how the load
differed.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Tuple

from bench.report_format import PERCENTILES, get, ms, ratio, table, x


def earlier(measured: Dict[str, Any]) -> Dict[str, Any]:
    """What the report keeps of an earlier run to compare with (its profiles left out)."""
    def strip(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: strip(v) for k, v in value.items() if k != "profiles"}
        if isinstance(value, list):
            return [strip(v) for v in value]
        return value
    return {"machine": measured["machine"], "plan": measured["plan"],
            "results": strip(measured["results"])}


def relay_near(r: Dict[str, Any], plan: Dict[str, Any],
               conversations: int) -> Tuple[Optional[Dict[str, Any]], str]:
    """A run's relay figure nearest `conversations` live ones, and how it was loaded."""
    if "relay_curve" in r:
        level = min(r["relay_curve"], key=lambda lv: abs(int(lv) - conversations))
        return (r["relay_curve"][level],
                f"{level} conversations, open loop, each side every {plan['chat_interval']:.0f} s")
    if "relay" in r:
        return (r["relay"], f"{r['handoffs']['held']} conversations, closed loop, customers "
                            f"every {plan['customer_interval']} s, agents every "
                            f"{plan['agent_interval']} s")
    return None, "n/a"


def throughput(r: Dict[str, Any]) -> Tuple[Optional[float], str]:
    """A run's relayed messages/s, and what was measured."""
    if "sustained" in r:
        return r["sustained"].get("sustained_per_second"), "sustained with p99 ≤ 100 ms"
    return get(r, "throughput", "messages_per_second"), "burst, whatever the latency"


def _pair(before: Optional[float], after: Optional[float], unit: str = "") -> List[str]:
    def show(v: Optional[float]) -> str:
        if v is None:
            return "n/a"
        if unit == "×":
            return x(v)
        return ms(v) if unit == "ms" else (f"{v:.1f}" if v != int(v) else f"{v:.0f}")
    change = "n/a"
    if before and after:
        factor = after / before
        change = f"{factor:.2f}× the before" if factor >= 0.1 else f"{1 / factor:,.0f}× lower"
    elif before and after == 0:
        change = "none left"
    return [show(before), show(after), change]


def _bot_rows(b: Dict[str, Any], a: Dict[str, Any]) -> List[List[str]]:
    rows = []
    for level in a["bot_turns"]:
        for which in ("p50", "p95"):
            both = [ratio((r["bot_turns"].get(level) or {}).get("project", {}).get("summary"),
                          (r["bot_turns"].get(level) or {}).get("plain", {}).get("summary"),
                          which) for r in (b, a)]
            rows.append([f"bot turn, {level} customer(s), {which} ÷ plain Rasa (same run)",
                         *_pair(both[0], both[1], "×")])
    for which in PERCENTILES:
        rows.append([f"handoff one at a time, {which} (ms)",
                     *_pair(get(b, "handoffs", "one_at_a_time", "summary", which),
                            get(a, "handoffs", "one_at_a_time", "summary", which), "ms")])
    return rows


def _relay_rows(before: Dict[str, Any], measured: Dict[str, Any]) -> List[List[str]]:
    b, a = before["results"], measured["results"]
    held = int(get(b, "handoffs", "held") or 200)
    old, old_load = relay_near(b, before["plan"], held)
    new, new_load = relay_near(a, measured["plan"], held)
    rows = [["relay load", old_load, new_load, ""]]
    for direction, label in (("to_agent", "customer→agent"), ("to_customer", "agent→customer")):
        for which in PERCENTILES:
            rows.append([f"relay {label}, {which} (ms)",
                         *_pair(get(old or {}, direction, "summary", which),
                                get(new or {}, direction, "summary", which), "ms")])
        for count in ("lost", "duplicates"):
            rows.append([f"relay {label}, messages {count}",
                         *_pair(get(old or {}, direction, count),
                                get(new or {}, direction, count))])
    rows.append(["relay, offered messages/s",
                 *_pair(get(old or {}, "offered_per_second"),
                        get(new or {}, "offered_per_second"))])
    rows.append(["relay, sockets dropped by the load generator",
                 *_pair(len((old or {}).get("sockets_dropped") or []),
                        len((new or {}).get("sockets_dropped") or []))])
    for name in ("rasa", "handoff"):
        rows.append([f"{name} CPU during the relay (% of a core)",
                     *_pair(get(old or {}, "cpu_percent", name),
                            get(new or {}, "cpu_percent", name))])
    (rate_b, how_b), (rate_a, how_a) = throughput(b), throughput(a)
    rows.append([f"relayed messages/s (before: {how_b}; after: {how_a})",
                 *_pair(rate_b, rate_a)])
    return rows


def before_and_after(measured: Dict[str, Any]) -> List[str]:
    """The same figures in an earlier run and in this one, side by side."""
    before = measured.get("before")
    if not before:
        return []
    m = before["machine"]
    rows = _bot_rows(before["results"], measured["results"]) + _relay_rows(before, measured)
    return [
        "## Before and after",
        "",
        f"The earlier run: plan `{before['plan']['name']}` on {m['date']} (commit "
        f"`{m['commit']}`" + (" with uncommitted changes" if m.get("tree_dirty") else "")
        + f", load average at start {', '.join(f'{v:.2f}' for v in m['load_average'])}), "
        "when every message of a conversation in human hands went through Rasa. Its relay was "
        "a closed loop at a higher rate per conversation (row \"relay load\"), so its "
        "latencies were capped by the senders' waiting, not by the offered load; bot-turn "
        "ratios are each against the plain Rasa of their own run; absolute times move with "
        "the machine's load.",
        "",
        *table(["figure", "before", "after", "change"], rows),
        "Issue 13 also measured main (bed6717) at chat rates, each side every 10 s, with real "
        "customers and agents on a stack started by `./run.sh`: at 100 live conversations "
        "(20 messages/s) customer→agent p99 2,953–3,873 ms and agent→customer p99 "
        "1,900–3,323 ms, Rasa at 60 % of a core; compare with section 3's 50- and 200-"
        "conversation levels.",
        "",
    ]
