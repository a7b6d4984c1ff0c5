"""The report: benchmarks.md (tables, ratios, targets, profiles) and benchmarks.png."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List, Optional

from bench.profiling import top_lines

TARGET_BOT_RATIO = 1.10
TARGET_HANDOFF_P95_MS = 150.0
TARGET_RELAY_P99_MS = 50.0
PERCENTILES = ("p50", "p95", "p99")


def _ms(value: Optional[float]) -> str:
    return "n/a" if value is None else (f"{value:.0f}" if value >= 100 else f"{value:.1f}")


def _ratio(measured: Optional[Dict[str, float]], base: Optional[Dict[str, float]],
           which: str) -> Optional[float]:
    if not measured or not base or not base.get(which):
        return None
    return measured[which] / base[which]


def _x(value: Optional[float]) -> str:
    return "n/a" if value is None else f"{value:.2f}×"


def _pcts(summary: Optional[Dict[str, float]]) -> str:
    if not summary:
        return "n/a | n/a | n/a"
    return " | ".join(_ms(summary[p]) for p in PERCENTILES)


def _ratios(summary: Optional[Dict[str, float]], base: Optional[Dict[str, float]]) -> str:
    return " | ".join(_x(_ratio(summary, base, p)) for p in PERCENTILES)


def _mib(value: float) -> str:
    return f"{value / 2 ** 20:.1f} MiB"


def _verdict(ok: Optional[bool]) -> str:
    return "n/a" if ok is None else ("**met**" if ok else "**missed**")


def targets(r: Dict[str, Any]) -> List[List[str]]:
    """Rows: target, measured, verdict."""
    rows = []
    for level, figure in r["bot_turns"].items():
        product, plain = figure.get("project", {}), figure.get("plain")
        worst = None
        if plain:
            worst = _ratio(product.get("summary"), plain.get("summary"), "p50")
        rows.append([f"bot turn, {level} customer(s): p50 ≤ {TARGET_BOT_RATIO:.2f}× plain Rasa",
                     _x(worst), _verdict(None if worst is None else worst <= TARGET_BOT_RATIO)])
    handoff = r["handoffs"]["one_at_a_time"]["summary"]
    rows.append([f"handoff p95 ≤ {TARGET_HANDOFF_P95_MS:.0f} ms (one at a time)",
                 f"{_ms(handoff and handoff['p95'])} ms",
                 _verdict(None if not handoff else handoff["p95"] <= TARGET_HANDOFF_P95_MS)])
    held = r["handoffs"]["held"]
    for direction, label in (("to_agent", "customer→agent"), ("to_customer", "agent→customer")):
        summary = r["relay"][direction]["summary"]
        rows.append([f"relay {label} p99 ≤ {TARGET_RELAY_P99_MS:.0f} ms at {held} conversations",
                     f"{_ms(summary and summary['p99'])} ms",
                     _verdict(None if not summary else summary["p99"] <= TARGET_RELAY_P99_MS)])
    return rows


def _table(header: List[str], rows: List[List[str]]) -> List[str]:
    return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header),
            *("| " + " | ".join(row) + " |" for row in rows), ""]


def _counts(d: Dict[str, Any]) -> str:
    return (f"{d['sent']} accepted, {d['received']} arrived, {d['lost']} not arrived, "
            f"{d['duplicates']} duplicates, {d['refused']} refused by the rate limit, "
            f"{d['errors']} request errors")


def _profile_lines(profiles: Dict[str, Any], phase: str) -> List[str]:
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


def markdown(measured: Dict[str, Any]) -> str:
    """The whole report."""
    m, r, plan = measured["machine"], measured["results"], measured["plan"]
    rtt = r["redis_round_trip"]
    plain_one = (r["bot_turns"].get("1") or {}).get("plain", {}).get("summary")
    out = [
        "# Benchmarks",
        "",
        "Written by `./bench/run.sh` (bench/); do not edit by hand: run it again. Every number "
        "comes from one run on a **shared, noisy machine**; compare ratios (measured in the same "
        "run) rather than absolute times.",
        "",
        f"- date: {m['date']}; commit `{m['commit']}`"
        + (" (with uncommitted changes)" if m["tree_dirty"] else ""),
        f"- machine: {m['cores']} cores ({m['cpu']}), {m['memory_gib']} GiB; load average at "
        f"start {', '.join(f'{x:.2f}' for x in m['load_average'])}; Python {m['python']}",
        f"- plan: `{plan['name']}`; {len(plan['bot_turns'])} bot-turn levels, "
        f"{plan['relay_conversations']} relay conversations for {plan['relay_seconds']:.0f} s, "
        f"{plan['memory_conversations']} open conversations for memory; "
        f"{plan['shards']} load-generator processes on loopback; run took "
        f"{measured['seconds'] / 60:.1f} min",
        "- the machine is shared: CPU that processes other than the bench's used meanwhile, % of "
        "one core (2 cores = 200 %): relay "
        f"{r['relay']['cpu_percent'].get('other processes on the machine', 'not measured')}, "
        f"burst {r['throughput']['cpu_percent'].get('other processes on the machine', 'n/a')}",
        "- every process is the product's own (stack/services.py: redis-server with AOF "
        "`everysec`, action server, `rasa run`, handoff service), started for the run on free "
        "ports and stopped at its end; `HANDOFF_ALWAYS_OPEN=1`, `HANDOFF_AUTO_ASSIGN=0` (agents "
        "claim from their console's `ticket.queued` frames).",
        "",
        "## Targets",
        "",
        *_table(["target (2 cores)", "measured", ""], targets(r)),
        *before_and_after(measured),
        "Latencies below are in milliseconds (nearest-rank percentiles over every sample).",
        "",
        "## 1. Bot turn",
        "",
        "A web customer's message to the first `bot_uttered` (answers that need no handoff: "
        "opening hours, delivery times, greeting), closed loop: each customer sends its next "
        "message when the reply and the acknowledgement are in. Baseline: the same model under a "
        "plain `rasa run` with Rasa's own `socketio` channel and only the action endpoint "
        "(trackers and locks in memory, no event broker, no project channel). Rounds run A-B "
        "then B-A so that drift falls on both. Each customer rotates over conversations of "
        f"{plan['turns_per_session']} turns so that the chat limit (15 messages / 30 s per "
        "conversation) never triggers; the first message of each conversation (session start) "
        "is not measured.",
        "",
    ]
    rows = []
    for level, figure in r["bot_turns"].items():
        product, plain = figure.get("project", {}), figure.get("plain", {})
        rows.append([level, str((product.get("summary") or {}).get("count", 0)),
                     _pcts(product.get("summary")), _pcts(plain.get("summary")),
                     _ratios(product.get("summary"), plain.get("summary")),
                     f"{product.get('errors', 0)} / {plain.get('errors', 0)}",
                     f"{product.get('rasa_cpu_percent', 'n/a')} / "
                     f"{plain.get('rasa_cpu_percent', 'n/a')}"])
    out += _table(["customers", "turns", "product p50", "p95", "p99", "plain p50", "p95", "p99",
                   "ratio p50", "p95", "p99", "errors (product / plain)",
                   "Rasa CPU % of a core (product / plain)"], rows)

    handoffs = r["handoffs"]
    out += [
        "## 2. Handoff",
        "",
        "The customer's \"I want to talk to a human\" (after a greeting) to the first "
        "`ticket.queued` frame on an agent's console WebSocket. Path: Rasa (NLU, policies) → "
        "action server (`action_handoff`: ticket, `bot → queued` transaction, stream entry) → "
        "handoff service router → pub/sub → console hub → WebSocket. Baseline: a plain-Rasa "
        "bot turn at 1 customer (the same model answering without any handoff part).",
        "",
    ]
    rows = []
    for key, label in (("one_at_a_time", "one at a time"),
                       ("bulk", f"{handoffs['bulk'].get('concurrent', '?')} at once")):
        figure = handoffs[key]
        rows.append([label, str((figure["summary"] or {}).get("count", 0)), str(figure["failed"]),
                     _pcts(figure["summary"]), _ratios(figure["summary"], plain_one)])
    out += _table(["handoffs", "count", "failed", "p50", "p95", "p99", "÷ plain turn p50",
                   "p95", "p99"], rows)
    for key in ("one_at_a_time", "bulk"):
        for example in handoffs[key]["failure_examples"]:
            out.append(f"- failure ({key}): `{example[:300]}`")

    relay = r["relay"]
    agents = -(-plan["relay_conversations"] // plan["conversations_per_agent"])
    achieved = sum(relay[d]["received"] for d in ("to_agent", "to_customer")) / max(
        1.0, plan["relay_seconds"])
    out += [
        "",
        "## 3. Relay",
        "",
        f"{handoffs['held']} conversations held by {agents} agents"
        f" ({plan['conversations_per_agent']} each, under the agent API limit of 120 "
        f"requests / 10 s). For {plan['relay_seconds']:.0f} s each customer writes every "
        f"{plan['customer_interval']} s (the chat limit allows 0.5 messages/s) and each agent "
        f"every {plan['agent_interval']} s in each conversation (±10 %), closed loop: a side "
        "writes next only once its last message has arrived, so an overloaded stack slows the "
        f"senders instead of building a backlog. Offered: {relay['offered_per_second']:.0f} "
        f"messages/s; achieved: {achieved:.1f} messages/s arrived. Customer→agent: "
        "`user_uttered` to the console's `message` frame; agent→customer: the agent's "
        "`POST …/messages` to the customer's `bot_uttered`. Baseline: a raw Redis round trip "
        "(XADD, then the return of a blocking XREAD on another connection) on the same Redis.",
        "",
    ]
    rows = []
    for direction, label in (("to_agent", "customer→agent"), ("to_customer", "agent→customer")):
        figure = relay[direction]
        rows.append([label, _pcts(figure["summary"]), _ratios(figure["summary"], rtt),
                     _counts(figure)])
    rows.append(["Redis round trip, idle (baseline)", _pcts(rtt), "1.00× | 1.00× | 1.00×",
                 f"{(rtt or {}).get('count', 0)} round trips"])
    under = relay.get("redis_round_trip_under_load")
    rows.append(["Redis round trip during the relay", _pcts(under), _ratios(under, rtt),
                 f"{(under or {}).get('count', 0)} round trips"])
    out += _table(["", "p50", "p95", "p99", "÷ Redis p50", "p95", "p99", "messages"], rows)
    out.append("CPU during the relay, % of one core (2 cores = 200 %): " + ", ".join(
        f"{k} {v}" for k, v in relay["cpu_percent"].items()))

    burst, memory = r["throughput"], r["memory"]
    rate = burst.get("messages_per_second")
    out += [
        "",
        "## 4. Throughput and memory",
        "",
        f"Throughput: from the start of a fresh rate-limit window, every one of the "
        f"{handoffs['held']} conversations sends {plan['burst_per_conversation']} messages each "
        "way as fast as acknowledgements allow (one handoff-service process, one Rasa process); "
        "rate = messages arrived / (last arrival − first send).",
        "",
        f"- **{rate:.1f} relayed messages/s** over {burst['seconds']:.1f} s" if rate else
        "- no messages arrived",
        f"- customer→agent: {_counts(burst['to_agent'])}; p50/p95/p99 "
        f"{_pcts(burst['to_agent']['summary']).replace(' | ', ' / ')} ms",
        f"- agent→customer: {_counts(burst['to_customer'])}; p50/p95/p99 "
        f"{_pcts(burst['to_customer']['summary']).replace(' | ', ' / ')} ms",
        "- CPU during the burst, % of one core: " + ", ".join(
            f"{k} {v}" for k, v in burst["cpu_percent"].items()),
        "",
        f"Memory at **{memory['open_conversations']} open conversations** (each held by an "
        f"agent; the {memory['new_conversations']} beyond the relay's were made through the "
        "real path: greeting, \"I want to talk to a human\", ticket, claim with its "
        f"\"agent joined\" message; {memory['failed']} failed):",
        "",
    ]
    keys_new, keys_relay = memory["conversation_keys"], memory["relay_conversation_keys"]
    out += _table(["", "value"], [
        ["Redis bytes per conversation, its own keys (MEMORY USAGE), just handed off",
         f"{keys_new['mean_bytes']:.0f} (max {keys_new['max_bytes']}) over "
         f"{keys_new['conversations']} conversations"],
        ["… after the relay minute (long transcript)",
         f"{keys_relay['mean_bytes']:.0f} (max {keys_relay['max_bytes']}) over "
         f"{keys_relay['conversations']} conversations"],
        ["Redis `used_memory` growth per new conversation (streams, indexes included)",
         f"{memory['redis_used_per_new_conversation']:.0f}"],
        ["Redis `used_memory` at the end", _mib(memory["after"]["redis_used"])],
        ["shared streams (events, tickets, outbox) at the end",
         ", ".join(f"{k} {_mib(v)}" for k, v in memory["streams"].items())],
        ["handoff service RSS: idle with agents signed in / before / at the end",
         f"{_mib(r['rss_idle']['handoff'])} / {_mib(memory['before']['handoff_rss'])} / "
         f"{_mib(memory['after']['handoff_rss'])}"],
        ["Rasa server RSS: idle / before / at the end",
         f"{_mib(r['rss_idle']['rasa'])} / {_mib(memory['before']['rasa_rss'])} / "
         f"{_mib(memory['after']['rasa_rss'])}"],
    ])
    out.append("Bytes per conversation by key (just handed off / after the relay):")
    out.append("")
    kinds = list(dict.fromkeys([*keys_new["by_kind"], *keys_relay["by_kind"]]))
    out += _table(["key", "just handed off", "after the relay"], [
        [f"`{k}`", f"{keys_new['by_kind'].get(k, 0):.0f}", f"{keys_relay['by_kind'].get(k, 0):.0f}"]
        for k in kinds])
    for example in memory["failures"]:
        out.append(f"- failure: `{example[:300]}`")

    out += _findings(r, plan)
    out += [
        "## Where the time goes (py-spy)",
        "",
        "Sampled with py-spy (50 Hz) on the handoff service and the Rasa server during the relay "
        "and during the burst. Shares are of samples; Rasa's Sanic runs on uvloop, whose native "
        "loop (waiting included) shows as `serve (runners.py)`, so CPU use is taken from /proc "
        "above, not from the samples.",
        "",
        *_profile_lines(relay["profiles"], "relay"),
        *_profile_lines(burst["profiles"], "burst"),
        "",
    ]
    return "\n".join(out) + "\n"


def _step(profiles: Dict[str, Any], name: str, label_start: str) -> Optional[float]:
    """The inclusive share (%) of the first profile step whose label starts so, if sampled."""
    for label, pct in (profiles.get(name) or {}).get("by_step") or []:
        if label.strip().startswith(label_start):
            return pct
    return None


def _share(profiles: Dict[str, Any], name: str, label_start: str) -> str:
    pct = _step(profiles, name, label_start)
    return "n/a" if pct is None else f"{pct:.0f} %"


def _findings(r: Dict[str, Any], plan: Dict[str, Any]) -> List[str]:
    """What the numbers say, with the mechanisms behind them (profiles and code, cited)."""
    relay = r["relay"]
    cpu = relay["cpu_percent"]
    held = r["handoffs"]["held"]
    achieved = sum(relay[d]["received"] for d in ("to_agent", "to_customer")) / max(
        1.0, plan["relay_seconds"])
    rasa_ms = 10 * cpu.get("rasa", 0.0) / achieved if achieved else None
    offered = relay["offered_per_second"]
    ratios = {level: _ratio((f.get("project") or {}).get("summary"),
                            (f.get("plain") or {}).get("summary"), "p50")
              for level, f in r["bot_turns"].items()}
    profiles = relay.get("profiles") or {}
    lines = [
        "## Reading the numbers",
        "",
        "- **Bot turns**: the p50 ratios ("
        + ", ".join(f"{level} customer(s) {_x(x)}" for level, x in ratios.items())
        + ") compare the same model answering the same messages, in alternating rounds. What the "
        "project adds to a turn: the Redis tracker and lock stores (synchronous redis-py calls in "
        "Sanic's loop), the event broker (and the tracker load it costs, below), the channel's "
        "journal, message-id and rate checks. A ratio below 1.00× means the product answered "
        "faster than plain Rasa in this run; the bench does not explain such a difference.",
        "- **Handoff** is one bot turn plus `action_handoff` (action server round trip, one "
        "Redis transaction) and the router's frame: see its ratio to a plain turn above.",
        f"- **Relay**: messages wait in front of the one Rasa process. During the relay Rasa "
        f"used {cpu.get('rasa')} % of a core (its event loop runs on one core), the handoff "
        f"service {cpu.get('handoff')} %, Redis {cpu.get('redis')} %, the load generators "
        f"{cpu.get('load generators')} %, and other processes on the machine (not the "
        f"bench's: it is shared) {cpu.get('other processes on the machine', 'n/a')} %, of "
        "200 %. "
        f"{held} conversations offered {offered:.0f} messages/s; {achieved:.1f} messages/s "
        "arrived"
        + (f", about {rasa_ms:.0f} ms of Rasa CPU per relayed message" if rasa_ms else "")
        + ". Closed loop, every writer waits for its last message, so latency ≈ writers "
        f"({2 * held}) ÷ throughput ≈ "
        + (f"{2 * held / achieved:.0f} s" if achieved else "n/a")
        + ": the queue in front of Rasa, not the handoff path (Redis "
        "round trips during the relay stay near idle, see ÷ Redis above). Every customer "
        "message of a paused conversation still goes through Rasa's whole NLU pipeline (Rasa "
        "logs it with NLU while paused), and every agent message loads and saves the tracker. "
        "In the relay profile of Rasa: customer messages "
        f"{_share(profiles, 'rasa', 'Rasa: customer messages')} of samples (NLU "
        f"{_share(profiles, 'rasa', 'NLU')}, of which spaCy's French names "
        f"{_share(profiles, 'rasa', 'spaCy')} — the bench's messages (`bench c2a-…`) carry no "
        "clear language, so the French name finder runs on each — and DIET "
        f"{_share(profiles, 'rasa', 'DIET')}); agent messages "
        f"{_share(profiles, 'rasa', 'Rasa: agent messages')}; tracker loads "
        f"{_share(profiles, 'rasa', 'Rasa: tracker loads')} and saves "
        f"{_share(profiles, 'rasa', 'Rasa: tracker saves')} (trackers from JSON "
        f"{_share(profiles, 'rasa', 'Rasa: trackers from JSON')}).",
        "  - Rasa's `RedisTrackerStore.save` (rasa/core/tracker_store.py) loads the stored "
        "tracker twice: once in `stream_events` to find the new events for the event broker, "
        "once to merge; each load rebuilds every event of the transcript from JSON "
        "(`Event.from_parameters`, which walks all `Event` subclasses for each event). Plain "
        "Rasa (in-memory store, no broker) does neither. The cost grows with the transcript.",
        "  - The relay target (p99 ≤ 50 ms at this offered load) needs the offered load times "
        "Rasa's CPU per message to fit the cores Rasa processes have: "
        + (f"{offered:.0f} × {rasa_ms:.0f} ms ≈ {offered * rasa_ms / 1000:.1f} cores of Rasa "
           "work per second, on a 2-core machine. " if rasa_ms else "")
        + "Not reachable with one Rasa process here; what would move it: several Rasa "
        "processes (principle 5: state is in Redis, locks per conversation), a tracker store "
        "that loads the stored tracker once per save, and skipping NLU components that a "
        "paused conversation does not need.",
        *_anomalies(r),
    ]
    if any(r[phase].get("sockets_dropped") for phase in ("relay", "throughput")):
        lines += [
            "- **Customers' sockets that went down** (a limit of the load generator, seen "
            "when Rasa is saturated): the bench's customers use python-engineio 4.8.2's "
            "client, whose write loop gives up when it has had nothing to send for "
            "max(ping interval, ping timeout) + 5 s = 30 s (`engineio/async_client.py`, "
            "`_write_loop`: \"packet queue is empty, aborting\", printed by the run). A "
            "client sends only when it writes or answers the server's PING (every 25 s); "
            "when a saturated Rasa sends its PING more than 5 s late, the client's writer "
            "stops, it cannot answer PINGs any more, and Rasa closes the socket 20 s later "
            "(Rasa's log then shows `Task was destroyed but it is pending` for the "
            "socket's reader). Upstream: miguelgrinberg/python-engineio#454 (the client "
            "now at least disconnects). Browsers' socket.io client waits ping interval + "
            "ping timeout (45 s) and the chat page reconnects and replays what it missed "
            "(docs/channels.md); the bench does not reconnect, so those customers' later "
            "messages fail and the agents' messages to them do not arrive.",
        ]
    lines += [
        f"- **Memory**: the tracker (the transcript) is the biggest per-conversation key and "
        f"grows with it; the handoff service holds no per-conversation state (RSS barely moves "
        f"from {_mib(r['rss_idle']['handoff'])} idle), as designed: state is in Redis.",
        "",
    ]
    return lines


def _anomalies(r: Dict[str, Any]) -> List[str]:
    """Duplicates, messages that did not arrive and failed requests, phase by phase."""
    lines = []
    for phase, label in (("relay", "relay"), ("throughput", "burst")):
        for direction in ("to_agent", "to_customer"):
            d = r[phase][direction]
            if d["duplicates"] or d["lost"] or d["errors"]:
                examples = "; ".join(f"`{e}`" for e in d.get("error_examples") or [])
                copies = ", ".join(f"{first:.0f} s / +{gap:.1f} s"
                                   for first, gap in d.get("duplicate_times") or [])
                lines.append(f"  - {label}, {direction.replace('_', ' ')}: {d['duplicates']} "
                             f"delivered twice, {d['lost']} not arrived, {d['errors']} requests "
                             f"failed" + (f" (e.g. {examples})" if examples else "")
                             + (f"; copies (first arrival after sending / copy after the first): "
                                f"{copies}" if copies else ""))
        dropped = r[phase].get("sockets_dropped")
        if dropped:
            lines.append(f"  - {label}: {len(dropped)} customers' sockets went down without the "
                         f"bench asking, {dropped[0]:.0f}–{dropped[-1]:.0f} s after the phase "
                         "began (the bench does not reconnect them: their later messages fail "
                         "and the agents' messages to them do not arrive)")
    if not lines:
        return ["- **No anomaly**: every accepted message arrived once."]
    return ["- **Anomalies in this run**:", *lines]


def earlier(measured: Dict[str, Any]) -> Dict[str, Any]:
    """What the report keeps of an earlier run to compare with (its profiles left out)."""
    results = {k: v for k, v in measured["results"].items()}
    for phase in ("relay", "throughput"):
        results[phase] = {k: v for k, v in results[phase].items() if k != "profiles"}
    return {"machine": measured["machine"], "plan": measured["plan"], "results": results}


def _pair(before: Optional[float], after: Optional[float], unit: str = "") -> List[str]:
    def show(v: Optional[float]) -> str:
        if v is None:
            return "n/a"
        if unit == "×":
            return _x(v)
        return _ms(v) if unit == "ms" else (f"{v:.1f}" if v != int(v) else f"{v:.0f}")
    change = "n/a"
    if before and after is not None:
        change = f"{after / before:.2f}× the before"
    return [show(before), show(after), change]


def _get(r: Dict[str, Any], *path: str) -> Optional[float]:
    value: Any = r
    for key in path:
        if not isinstance(value, dict) or key not in value:
            return None
        value = value[key]
    return value if isinstance(value, (int, float)) else None


def handoff_ratio(r: Dict[str, Any]) -> Optional[float]:
    """One-at-a-time handoff p50 ÷ a plain-Rasa turn p50 at 1 customer, in one run."""
    return _ratio(r["handoffs"]["one_at_a_time"]["summary"],
                  ((r["bot_turns"].get("1") or {}).get("plain") or {}).get("summary"), "p50")


def before_and_after(measured: Dict[str, Any]) -> List[str]:
    """The same figures in an earlier run and in this one, side by side."""
    before = measured.get("before")
    if not before:
        return []
    b, a = before["results"], measured["results"]
    rows = []
    for level in a["bot_turns"]:
        for which in ("p50", "p95"):
            ratios = [_ratio((r["bot_turns"].get(level) or {}).get("project", {}).get("summary"),
                             (r["bot_turns"].get(level) or {}).get("plain", {}).get("summary"),
                             which) for r in (b, a)]
            rows.append([f"bot turn, {level} customer(s), {which} ÷ plain Rasa (same run)",
                         *_pair(ratios[0], ratios[1], "×")])
        for system, name in (("project", "product"), ("plain", "plain Rasa")):
            rows.append([f"bot turn, {level} customer(s), {name} p50 (ms)",
                         *_pair(_get(b, "bot_turns", level, system, "summary", "p50"),
                                _get(a, "bot_turns", level, system, "summary", "p50"), "ms")])
    for which in PERCENTILES:
        rows.append([f"handoff one at a time, {which} (ms)",
                     *_pair(_get(b, "handoffs", "one_at_a_time", "summary", which),
                            _get(a, "handoffs", "one_at_a_time", "summary", which), "ms")])
    rows.append(["handoffs 16 at once, p95 (ms)",
                 *_pair(_get(b, "handoffs", "bulk", "summary", "p95"),
                        _get(a, "handoffs", "bulk", "summary", "p95"), "ms")])
    for direction, label in (("to_agent", "customer→agent"), ("to_customer", "agent→customer")):
        for which in PERCENTILES:
            rows.append([f"relay {label}, {which} (ms)",
                         *_pair(_get(b, "relay", direction, "summary", which),
                                _get(a, "relay", direction, "summary", which), "ms")])
        for count in ("received", "duplicates", "lost"):
            rows.append([f"relay {label}, messages {count}",
                         *_pair(_get(b, "relay", direction, count),
                                _get(a, "relay", direction, count))])
    rows.append(["burst throughput (relayed messages/s)",
                 *_pair(_get(b, "throughput", "messages_per_second"),
                        _get(a, "throughput", "messages_per_second"))])
    for direction, label in (("to_agent", "customer→agent"), ("to_customer", "agent→customer")):
        rows.append([f"burst {label}, p99 (ms)",
                     *_pair(_get(b, "throughput", direction, "summary", "p99"),
                            _get(a, "throughput", direction, "summary", "p99"), "ms")])
        rows.append([f"burst {label}, not arrived + request errors",
                     *_pair(sum(_get(b, "throughput", direction, k) or 0
                                for k in ("lost", "errors")),
                            sum(_get(a, "throughput", direction, k) or 0
                                for k in ("lost", "errors")))])
    for name in ("rasa", "handoff"):
        rows.append([f"{name} CPU during the relay (% of a core)",
                     *_pair(_get(b, "relay", "cpu_percent", name),
                            _get(a, "relay", "cpu_percent", name))])
    m = before["machine"]
    dup_before = _get(b, "relay", "to_customer", "duplicates")
    dup_after = _get(a, "relay", "to_customer", "duplicates")
    return [
        "## Before and after",
        "",
        f"The same plan (`{before['plan']['name']}`) run on {m['date']} (commit `{m['commit']}`"
        + (" with uncommitted changes" if m.get("tree_dirty") else "") + f", load average at "
        f"start {', '.join(f'{x:.2f}' for x in m['load_average'])}) and in this run. Bot-turn "
        "ratios are each against the plain Rasa measured in its own run; absolute times move "
        "with the machine's load, so read them with care.",
        "",
        *_table(["figure", "before", "after", "change"], rows),
        "What changed in between (`git log`), and what it explains:",
        "",
        "- **Relay and burst** (latencies down, more messages through): Rasa's lock store "
        "looks again at a busy conversation after 10 ms instead of 1 s (`bot/lock_store.py`, "
        "23a36db), and agent messages of different conversations "
        "are delivered at the same time, each conversation's in order (lanes in "
        "`handoff/streams.py`, eedd54f). The two landed together; one run each cannot "
        "separate their shares. The targets stay far off: see Reading the numbers.",
        "- **Bot turns**: the likely cause is `LocalFirstRedisManager` (`bot/web.py`, 86e1ec8): "
        "a reply to a socket of the same Rasa process is emitted at once; before, python-"
        "socketio's Redis manager sent every emit through Redis pub/sub and back through its "
        "listener task, in the same busy loop. Not isolated by a run of its own; compare the "
        "plain Rasa rows (the machine's own drift).",
        "- **Handoff one at a time**: p95 "
        f"{_ms(_get(b, 'handoffs', 'one_at_a_time', 'summary', 'p95'))} → "
        f"{_ms(_get(a, 'handoffs', 'one_at_a_time', 'summary', 'p95'))} ms, p50 ÷ a plain "
        f"turn p50 {_x(handoff_ratio(b))} → {_x(handoff_ratio(a))}. No change on its path "
        "(Rasa turn, `action_handoff`, router, console push) aims at it; read it with the CPU "
        "other processes took from the machine during the run (header).",
        "- **Duplicates**: the agent-message door (`bot/agent_messages.py`, 25989e9) makes a "
        "retried delivery a no-op once the first attempt appended the message: "
        + (f"{dup_after} agent message(s) delivered twice in this run's relay, against "
           f"{dup_before} before" if dup_after is not None else "n/a")
        + (" (see Anomalies below)." if dup_after else "."),
        "- **Burst failures**: customers' sockets dropped by the load generator's socket.io "
        "client when Rasa is saturated (explained below); not a product change.",
        "",
    ]


def plot(measured: Dict[str, Any], path: Path) -> None:
    """Three panels: bot turns vs plain Rasa, handoff/relay vs targets and Redis, CPU."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    r = measured["results"]
    fig, axes = plt.subplots(1, 3, figsize=(16, 4.8))
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

    bars = {"handoff (1 at a time)": r["handoffs"]["one_at_a_time"]["summary"],
            "relay cust→agent": r["relay"]["to_agent"]["summary"],
            "relay agent→cust": r["relay"]["to_customer"]["summary"],
            "Redis round trip": r["redis_round_trip"]}
    width = 0.25
    for i, which in enumerate(PERCENTILES):
        values = [max(0.01, (s or {}).get(which) or 0.01) for s in bars.values()]
        axes[1].bar([x + (i - 1) * width for x in range(len(bars))], values, width, label=which)
    axes[1].axhline(TARGET_HANDOFF_P95_MS, color="gray", linestyle=":",
                    label="150 ms (handoff p95)")
    axes[1].axhline(TARGET_RELAY_P99_MS, color="black", linestyle=":", label="50 ms (relay p99)")
    axes[1].set_xticks(range(len(bars)))
    axes[1].set_xticklabels(list(bars), fontsize=8, rotation=10)
    axes[1].set_yscale("log")
    axes[1].set(title=f"2-3. Handoff and relay ({r['handoffs']['held']} conversations)",
                ylabel="ms (log)")
    axes[1].legend(fontsize=7)

    phases = {"relay": r["relay"]["cpu_percent"], "burst": r["throughput"]["cpu_percent"]}
    names = list(next(iter(phases.values())))
    for i, (phase, cpu) in enumerate(phases.items()):
        axes[2].bar([x + (i - 0.5) * 0.4 for x in range(len(names))],
                    [cpu[n] for n in names], 0.4, label=phase)
    axes[2].set_xticks(range(len(names)))
    axes[2].set_xticklabels(names, fontsize=8, rotation=10)
    axes[2].set(title="CPU, % of one core (2 cores = 200 %)", ylabel="%")
    axes[2].legend(fontsize=7)
    fig.suptitle(f"{measured['machine']['date']}, {measured['machine']['cores']} cores, "
                 f"commit {measured['machine']['commit']} ({measured['plan']['name']} run)")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def write(measured: Dict[str, Any], out: Path) -> None:
    """Writes benchmarks.md and benchmarks.png into `out`."""
    (out / "benchmarks.md").write_text(markdown(measured))
    plot(measured, out / "benchmarks.png")
