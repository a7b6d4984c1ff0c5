"""The report's relay sections: latency versus load, sustained throughput, memory, findings."""

from __future__ import annotations

from typing import Any, Dict, List, Optional

from bench.profiling import top_lines
from bench.report_format import counts, mib, ms, pcts, ratio, table, x

OTHERS = "other processes on the machine"
DIRECTIONS = (("to_agent", "customer→agent"), ("to_customer", "agent→customer"))


def _cpu(phase: Dict[str, Any], name: str) -> str:
    value = (phase.get("cpu_percent") or {}).get(name)
    return "n/a" if value is None else f"{value:.0f}"


def _connections(phase: Dict[str, Any]) -> str:
    dropped, consoles = phase.get("sockets_dropped") or [], phase.get("consoles_dropped") or []
    return (f"{len(dropped)} / {phase.get('customer_reconnects', 0)}; "
            f"{len(consoles)} / {phase.get('console_reconnects', 0)}")


def curve_section(r: Dict[str, Any], plan: Dict[str, Any]) -> List[str]:
    """Section 3: the relay at 50 … 1,000 live conversations."""
    curve = r["relay_curve"]
    out = [
        "## 3. Relay: latency versus load at chat rates",
        "",
        f"{r['handoffs']['held']} conversations handed off through the bot and claimed by "
        f"{-(-r['handoffs']['held'] // plan['conversations_per_agent'])} agents "
        f"({plan['conversations_per_agent']} each). At each level, in the first N of them, the "
        f"customer (web chat, socket.io) and the agent (as the console: `message.send` on its "
        "WebSocket, `POST …/messages` if the socket does not answer) each write every "
        f"{plan['chat_interval']:.0f} s ± {plan['jitter']:.0%} for "
        f"{plan['level_seconds']:.0f} s, **open loop**: send times are drawn before the level "
        "starts and nobody waits for an answer, so a slow product meets the offered load. "
        "Customer→agent: `user_uttered` to the console's `message` frame; agent→customer: the "
        "agent's send to the customer's `bot_uttered`. Beside each level, a raw Redis round "
        "trip (XADD, then the return of a blocking XREAD on another connection) measured on the "
        "same Redis during the level; ratios are against it. Latencies in ms.",
        "",
    ]
    rows = []
    for level, phase in curve.items():
        rtt = phase.get("redis_round_trip")
        row = [level, f"{phase['offered_per_second']:.0f}"]
        for direction, _ in DIRECTIONS:
            summary = phase[direction]["summary"]
            row += [pcts(summary), f"{x(ratio(summary, rtt, 'p50'))} / "
                                   f"{x(ratio(summary, rtt, 'p99'))}"]
        row += [pcts(rtt, " / "), _cpu(phase, "rasa"), _cpu(phase, "handoff"),
                _cpu(phase, "redis"), _cpu(phase, "load generators"), _cpu(phase, OTHERS)]
        rows.append(row)
    out += table(["live conversations", "offered msg/s", "cust→agent p50", "p95", "p99",
                  "÷ Redis p50 / p99", "agent→cust p50", "p95", "p99", "÷ Redis p50 / p99",
                  "Redis round trip p50 / p95 / p99", "Rasa CPU %", "handoff CPU %",
                  "Redis CPU %", "load generators CPU %", "others' CPU %"], rows)
    out += ["Messages, connections and the load generator's own lateness (how late it sent "
            "against its drawn schedule, p99; a late sender understates the offered load):", ""]
    rows = []
    for level, phase in curve.items():
        rows.append([level, *(counts(phase[d]) for d, _ in DIRECTIONS), _connections(phase),
                     " / ".join(ms((phase[d].get("send_lag") or {}).get("p99"))
                                for d, _ in DIRECTIONS),
                     str(phase.get("backlog_wait_seconds", "n/a"))])
    out += table(["live conversations", "customer→agent", "agent→customer",
                  "customers' sockets dropped / reconnected; consoles dropped / reconnected",
                  "generator lateness p99, ms (cust / agent)",
                  "s waited before the level for earlier messages"], rows)
    out += ["A message is lost only if it never arrived, live or replayed, by the end of the "
            f"run (whose end waited {r.get('final_wait_seconds', 'n/a')} s for the last ones, "
            "up to 90 s); "
            "one that arrived after its level's drain is late, and its latency is in the "
            "level's percentiles. Before each level the bench waits (up to 120 s) for earlier "
            "levels' messages, so that a level does not measure the last one's queue.", ""]
    out.append("CPU is % of one core (2 cores = 200 %) over the level's sending time, from "
               "/proc; \"others\" is every process on this shared machine that is not the "
               "bench's.")
    out.append("")
    return out


def sustained_section(r: Dict[str, Any], plan: Dict[str, Any]) -> List[str]:
    """Section 4: the offered rate stepped up until p99 passes the bound."""
    s = r["sustained"]
    rate = s.get("sustained_per_second")
    out = [
        "## 4. Sustained throughput of one handoff-service process",
        "",
        f"Over all {plan['curve'][-1]} live conversations (one handoff process, one Rasa "
        f"process), open loop, {plan['step_seconds']:.0f} s per step: the offered rate "
        "(both ways together) goes up step by step; customers carry half of it as far as the "
        "chat's limit allows (15 messages / 30 s per conversation), agents the rest (8 "
        "conversations each, under the agent API's 120 requests / 10 s). A step holds when p99 "
        f"stays ≤ {s['p99_bound_ms']:.0f} ms each way with nothing lost, duplicated or failed; "
        "the run stops at the first step that does not hold.",
        "",
        f"- **Sustained: {rate:.0f} relayed messages/s** (arrived, in the last step that held: "
        f"{s['sustained_offered']} offered)" if rate else
        "- **No step held**: the first step already passed the bound",
        "",
    ]
    cost = _cost_per_message(s["steps"])
    if cost is not None:
        step, per_message = cost
        out += [
            f"- CPU per relayed message, from the highest step that held (else the first): "
            f"handoff service {per_message['handoff']:.2f} ms, Rasa {per_message['rasa']:.2f} ms "
            f"(at {step['rate']} offered). At that cost, one handoff process on a core of its own "
            f"would carry about **{1000 / per_message['handoff']:.0f} messages/s**: an estimate "
            "of its ceiling, not a measurement (on two shared cores the load generators, Rasa "
            "and Redis take the rest).",
            ""]
    return out + _steps_table(s["steps"])


def _steps_table(steps: List[Dict[str, Any]]) -> List[str]:
    rows = []
    for step in steps:
        arrived = step.get("arrived_per_second")
        rows.append([str(step["rate"]), f"{step['accepted_per_second']:.0f}",
                     "n/a" if arrived is None else f"{arrived:.0f}",
                     pcts(step["to_agent"]["summary"]), pcts(step["to_customer"]["summary"]),
                     pcts(step.get("redis_round_trip"), " / "),
                     "; ".join(f"{step[d]['lost']} / {step[d]['duplicates']} / "
                               f"{step[d]['refused']} / {step[d]['errors']}"
                               for d, _ in DIRECTIONS),
                     _cpu(step, "handoff"), _cpu(step, "rasa"), _cpu(step, "redis"),
                     _cpu(step, "load generators"), _cpu(step, OTHERS),
                     "held" if step["held"] else "**not held**"])
    return table(["offered msg/s", "accepted msg/s", "arrived msg/s", "cust→agent p50", "p95",
                  "p99", "agent→cust p50", "p95", "p99", "Redis round trip p50 / p95 / p99",
                  "lost / duplicated / refused / failed (c→a; a→c)", "handoff CPU %",
                  "Rasa CPU %", "Redis CPU %", "load generators CPU %", "others' CPU %",
                  ""], rows)


def alone_section(r: Dict[str, Any], plan: Dict[str, Any]) -> List[str]:
    """Section 6: the same steps on the handoff process alone, on a core of its own."""
    s = r.get("alone")
    if not s:
        return []
    rate = s.get("sustained_per_second")
    held = [step for step in s["steps"] if step.get("held")]
    top = (held or s["steps"])[-1]
    cost = top["cpu_percent"].get("handoff", 0) * 10 / (top.get("arrived_per_second") or 1)
    return [
        "## 6. One handoff-service process alone",
        "",
        "Section 4 measures the whole stack on two cores, where the load generators, Rasa and "
        "Redis take most of the CPU. Here the same conversations and agents go on without Rasa: "
        "each customer message is the web channel's own step on Redis (`bot.web_admission`, "
        "as Rasa's channel runs it for a live conversation) and the agents' messages are read "
        "off `customer-out` as a Rasa process reads it (`bench.clients.DoorCustomer`"
        + ("; one load generator reads it for all, as one Rasa process, and hands each reply "
           "to its customer's load generator by a datagram on loopback" if s.get("one_reader")
           else "") + "); Rasa and the action server are stopped; "
        + ("the handoff process runs alone on one core (CPU affinity), Redis, the load "
           "generators and the orchestrator on the other. " if s.get("pinned") else
           "the machine has one core: nothing could be pinned. ")
        + "Agents are the same consoles (message.send on their WebSocket); the steps are "
        f"{plan['step_seconds']:.0f} s each, split between customers and agents as in "
        "section 4, and a step holds on the same terms.",
        "",
        f"- **Sustained: {rate:.0f} relayed messages/s** (arrived, in the last step that held: "
        f"{s['sustained_offered']} offered)" if rate else
        "- **No step held**: the first step already passed the bound",
        f"- handoff CPU per relayed message at {top['rate']} offered: {cost:.2f} ms",
        "",
        *_steps_table(s["steps"]),
    ]


def _cost_per_message(steps: List[Dict[str, Any]]) -> Optional[tuple]:
    """(step, {process: CPU ms per arrived message}) of the highest step that held, else the first.

    CPU time per message does not depend on how busy the machine was as much as latency does.
    """
    held = [step for step in steps if step.get("held")]
    for step in (held[-1:] or steps[:1]):
        arrived, cpu = step.get("arrived_per_second"), step.get("cpu_percent") or {}
        if arrived and cpu.get("handoff") and cpu.get("rasa"):
            return step, {name: cpu[name] * 10 / arrived for name in ("handoff", "rasa")}
    return None


def memory_section(r: Dict[str, Any]) -> List[str]:
    """Section 5: Redis bytes per conversation and the processes' RSS."""
    memory = r["memory"]
    keys_new, keys_relay = memory["conversation_keys"], memory["relay_conversation_keys"]
    out = [
        "## 5. Memory",
        "",
        f"At **{memory['open_conversations']} open conversations**, each held by an agent, "
        "after the relay (their transcripts hold its messages):",
        "",
    ]
    out += table(["", "value"], [
        ["Redis bytes per conversation, its own keys (MEMORY USAGE), just handed off",
         f"{keys_new.get('mean_bytes', 0):.0f} (max {keys_new.get('max_bytes', 0)}) over "
         f"{keys_new.get('conversations', 0)} conversations"],
        ["… after the relay",
         f"{keys_relay['mean_bytes']:.0f} (max {keys_relay['max_bytes']}) over "
         f"{keys_relay['conversations']} conversations"],
        ["Redis `used_memory` growth per conversation, handoffs and relay (streams included)",
         f"{memory['redis_used_per_conversation']:.0f}"],
        ["Redis `used_memory` at the end", mib(memory["after"]["redis_used"])],
        ["shared streams at the end",
         ", ".join(f"{k} {mib(v)}" for k, v in memory["streams"].items())],
        ["handoff service RSS: idle with agents signed in / before the handoffs / at the end",
         f"{mib(r['rss_idle']['handoff'])} / {mib(memory['before']['handoff_rss'])} / "
         f"{mib(memory['after']['handoff_rss'])}"],
        ["Rasa server RSS: idle / before the handoffs / at the end",
         f"{mib(r['rss_idle']['rasa'])} / {mib(memory['before']['rasa_rss'])} / "
         f"{mib(memory['after']['rasa_rss'])}"],
    ])
    kinds = list(dict.fromkeys([*keys_new.get("by_kind", {}), *keys_relay["by_kind"]]))
    out += ["Bytes per conversation by key (just handed off / after the relay):", ""]
    out += table(["key", "just handed off", "after the relay"], [
        [f"`{k}`", f"{keys_new.get('by_kind', {}).get(k, 0):.0f}",
         f"{keys_relay['by_kind'].get(k, 0):.0f}"] for k in kinds])
    return out


def anomalies(r: Dict[str, Any]) -> List[str]:
    """Duplicates, lost messages, failed requests and dropped connections, phase by phase."""
    phases = [(f"relay at {level}", p) for level, p in r["relay_curve"].items()]
    phases += [(f"step {s['rate']}/s", s) for s in r["sustained"]["steps"]]
    lines = []
    for label, phase in phases:
        for direction, name in DIRECTIONS:
            d = phase[direction]
            if d.get("late"):
                lines.append(f"  - {label}, {name}: {d['late']} arrived after the drain "
                             f"(up to {d['late_max_ms'] / 1000:.0f} s after sending)")
            if d["duplicates"] or d["lost"] or d["errors"]:
                examples = "; ".join(f"`{e}`" for e in d.get("error_examples") or [])
                copies = ", ".join(f"{first:.0f} s / +{gap:.1f} s"
                                   for first, gap in d.get("duplicate_times") or [])
                lines.append(f"  - {label}, {name}: {d['duplicates']} delivered twice, "
                             f"{d['lost']} never arrived, {d['errors']} requests failed"
                             + (f" (e.g. {examples})" if examples else "")
                             + (f"; copies (first arrival after sending / copy after the "
                                f"first): {copies}" if copies else ""))
        dropped, consoles = phase.get("sockets_dropped") or [], phase.get("consoles_dropped") or []
        if dropped or consoles:
            lines.append(f"  - {label}: {len(dropped)} customers' sockets and {len(consoles)} "
                         "console WebSockets went down without the bench asking; "
                         f"{phase.get('customer_reconnects', 0)} and "
                         f"{phase.get('console_reconnects', 0)} came back (the customer with "
                         "its token and `last_seen`, the console reading its transcripts): "
                         "what they missed counts as arrived only if the replay or the "
                         "transcript brought it")
    if not lines:
        return ["- **No anomaly**: every accepted message arrived once, live, and no "
                "connection went down."]
    return ["- **Anomalies in this run**:", *lines]


def profile_lines(profiles: Dict[str, Any], phase: str) -> List[str]:
    """py-spy shares of one phase, by package, function and named step."""
    lines = []
    for name in ("handoff", "rasa"):
        summary = profiles.get(name)
        if not summary:
            lines.append(f"- {phase}, {name}: no profile (py-spy missing or failed)")
            continue
        lines.append(f"- {phase}, **{name}** ({summary['samples']} samples over "
                     f"{summary['seconds']:.0f} s), inclusive by package: "
                     + "; ".join(top_lines(summary, "by_package")[:10]))
        lines.append("  - innermost functions: " + "; ".join(top_lines(summary, "by_function")[:8]))
        for label, pct in summary.get("by_step") or []:
            depth = (len(label) - len(label.lstrip())) // 2
            lines.append("  " * (depth + 1) + f"- {label.strip()}: {pct} %")
    return lines


def profiled(r: Dict[str, Any]) -> List[str]:
    """Profile lines of every phase that was profiled."""
    lines = []
    for level, phase in r["relay_curve"].items():
        if phase.get("profiles"):
            lines += profile_lines(phase["profiles"], f"relay at {level} conversations")
    for step in r["sustained"]["steps"]:
        if step.get("profiles"):
            lines += profile_lines(step["profiles"], f"step {step['rate']}/s")
    for step in (r.get("alone") or {}).get("steps") or []:
        if step.get("profiles"):
            lines += profile_lines(step["profiles"], f"handoff alone, step {step['rate']}/s")
    return lines or ["- no phase was profiled"]


def worst_p99(r: Dict[str, Any]) -> Optional[float]:
    """The highest p99 of the curve, either way."""
    values = [p[d]["summary"]["p99"] for p in r["relay_curve"].values()
              for d, _ in DIRECTIONS if p[d]["summary"]]
    return max(values, default=None)
