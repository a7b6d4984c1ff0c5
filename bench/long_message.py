"""`python -m bench.long_message`: what the longest message a customer may send costs Rasa.

One 100,000-character message once froze Rasa for 48 s and took it from 1.35 GB to 15.5 GB
(issue 14): DIET's attention grows with the square of the number of tokens. Now every door
refuses more than `MAX_MESSAGE_CHARS` and the NLU reads no more than that (bot/limits.py). In
one run, on one stack, this measures Rasa's time and memory for:
- a short message (the baseline), through the web chat (time to the acknowledgement, which
  comes once Rasa has handled the message);
- the longest message allowed, in words ("where is my order " repeated) and at the worst
  density of tokens for that length ("a a a …": one token every two characters);
- a 100,000-character text given straight to the NLU (`/model/parse`, the HTTP API: a door no
  customer has, where only the NLU's own guard stands).
Memory is Rasa's resident set after each phase and its peak (VmHWM) so far. The report goes to
`docs/long-message.md` (`--out` to change it).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional

import aiohttp

from bench.clients import Customer
from bench.memory import rss_bytes
from bench.stats import summarise
from handoff.customer_text import MAX_MESSAGE_CHARS
from stack.model import ROOT, ensure_model
from stack.services import Ports, Stack

SAMPLES = 8
MIB = 1024 * 1024
SHORT = "where is my order?"
WORDS = ("where is my order " * MAX_MESSAGE_CHARS)[:MAX_MESSAGE_CHARS]
DENSE = ("a " * MAX_MESSAGE_CHARS)[:MAX_MESSAGE_CHARS]
HUGE = "a " * 50_000


def peak_rss_bytes(pid: int) -> int:
    """VmHWM (the resident set's peak so far) of a process, from /proc/PID/status."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmHWM for process {pid}")


async def _chat(stack: Stack, text: str, samples: int) -> List[float]:
    """Seconds from sending `text` on the web chat to its acknowledgement, one per customer."""
    times = []
    for _ in range(samples):
        customer = Customer(stack.rasa_url)
        await customer.connect()
        await customer.ready()
        try:
            started = time.monotonic()
            ack = await customer.send(text, timeout=120)
            times.append(time.monotonic() - started)
            if not (isinstance(ack, dict) and ack.get("ok")):
                raise RuntimeError(f"message refused: {ack}")
        finally:
            await customer.close()
    return times


async def _parse(stack: Stack, text: str, samples: int) -> List[float]:
    """Seconds `/model/parse` takes for `text`."""
    times = []
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=300)) as http:
        for _ in range(samples):
            started = time.monotonic()
            async with http.post(f"{stack.rasa_url}/model/parse", json={"text": text},
                                 params={"token": stack.rasa_token}) as resp:
                resp.raise_for_status()
                parsed = await resp.json()
            times.append(time.monotonic() - started)
    if len(parsed["text"]) > MAX_MESSAGE_CHARS:
        raise RuntimeError("the NLU read more than the limit: is bot.limits in config.yml?")
    return times


async def measure(stack: Stack, samples: int, say: Callable[[str], None]) -> Dict[str, Any]:
    """Every phase, in order (short first: peaks only grow)."""
    pid = stack.processes["rasa"].popen.pid
    await _chat(stack, SHORT, 2)  # warm-up: the first message loads what Rasa loads lazily
    phases: Dict[str, Any] = {}
    for name, run, text in (
            ("short message (web chat)", _chat, SHORT),
            (f"{MAX_MESSAGE_CHARS:,} chars of words (web chat)", _chat, WORDS),
            (f"{MAX_MESSAGE_CHARS:,} chars, one token every 2 (web chat)", _chat, DENSE),
            ("short message (/model/parse)", _parse, SHORT),
            (f"{len(HUGE):,} chars (/model/parse, cut by the NLU guard)", _parse, HUGE)):
        say(f"  {name}")
        seconds = await run(stack, text, samples)
        summary = summarise(seconds)
        assert summary is not None
        phases[name] = {"chars": len(text), "ms": summary.as_dict(),
                        "rss_mib": rss_bytes(pid) / MIB, "peak_rss_mib": peak_rss_bytes(pid) / MIB}
    return phases


def report(phases: Dict[str, Any]) -> str:
    """A Markdown table, each time also as a ratio to the short message of the same door."""
    lines = ["| message | chars | p50 ms | max ms | × short (p50) | Rasa RSS after (MiB) | "
             "Rasa peak RSS so far (MiB) |", "|---|---:|---:|---:|---:|---:|---:|"]
    base = {"web chat": phases["short message (web chat)"]["ms"]["p50"],
            "/model/parse": phases["short message (/model/parse)"]["ms"]["p50"]}
    for name, phase in phases.items():
        door = "web chat" if "web chat" in name else "/model/parse"
        ms = phase["ms"]
        lines.append(f"| {name} | {phase['chars']:,} | {ms['p50']:.0f} | {ms['max']:.0f} | "
                     f"{ms['p50'] / base[door]:.1f} | {phase['rss_mib']:.0f} | "
                     f"{phase['peak_rss_mib']:.0f} |")
    return "\n".join(lines)


def main(argv: Optional[List[str]] = None) -> int:
    """Starts a stack of its own, measures, stops it, writes the report."""
    parser = argparse.ArgumentParser(prog="python -m bench.long_message", description=__doc__)
    parser.add_argument("--samples", type=int, default=SAMPLES)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "long-message.md")
    args = parser.parse_args(argv)
    run_dir = Path(tempfile.mkdtemp(prefix="bench-long-"))
    stack = Stack(model=ensure_model(), run_dir=run_dir, ports=Ports.free(),
                  extra_env={"HANDOFF_ALWAYS_OPEN": "1", "HANDOFF_AUTO_ASSIGN": "0"})
    try:
        stack.start()
        load = os.getloadavg()[0]
        phases = asyncio.run(measure(stack, args.samples, print))
        load_end = os.getloadavg()[0]
    finally:
        stack.stop()
    table = report(phases)
    args.out.write_text(
        f"# The longest message a customer may send (bench/long_message.py)\n\n"
        f"{args.samples} samples each, one stack, "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {os.cpu_count()} CPUs, load "
        f"average {load:.1f} at the start and {load_end:.1f} at the end (other work was running "
        f"on the machine: compare the rows with each other, not with other runs).\n\n"
        f"{table}\n")
    args.out.with_suffix(".json").write_text(json.dumps(phases, indent=1))
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
