"""`python -m bench.suggestions`: what suggesting replies costs per customer message.

The agent API's `GET /api/conversations/{id}/suggestions` reads the latest customer message and
the good answers from Redis, then ranks every candidate in Python
(`handoff/service/insights/suggestions.py`). This measures, in one run, on the held-out
questions of tests/nlu_heldout/:
- the ranking alone, with the assistant's FAQ and the canned responses, and with 0, 200 and
  2,000 good answers marked (the knowledge grows as agents mark replies);
- a raw Redis round trip (PING) to a redis-server started for the run: the baseline.
Each figure is the median and the 95th percentile per message, and the median's ratio to the
Redis round trip. The report goes to stdout (`--out FILE` writes it too).
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Callable, List, Tuple

import yaml
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError

from handoff.service.api import canned
from handoff.service.insights import faq
from handoff.service.insights.knowledge import GoodAnswer
from handoff.service.insights.suggestions import candidates, rank
from stack.model import ROOT
from stack.services import free_port

HELDOUT = ROOT / "tests" / "nlu_heldout"
ROUNDS = 3


def questions() -> List[Tuple[str, str]]:
    """(message, language) of every held-out message."""
    found = []
    for language in ("en", "fr"):
        data = yaml.safe_load((HELDOUT / f"heldout_{language}.yml").read_text(encoding="utf-8"))
        found += [(line.strip()[2:].strip(), language) for block in data["nlu"]
                  for line in (block.get("examples") or "").splitlines()
                  if line.strip().startswith("- ")]
    return found


def good_answers(count: int) -> List[GoodAnswer]:
    """Marked pairs as agents write them, varied enough not to collapse into one."""
    topics = ["parcel", "refund", "invoice", "voucher", "size", "colour", "warranty", "login"]
    return [GoodAnswer(f"c{n}", f"q{n}", f"my {topics[n % 8]} question number {n} about item "
                       f"{n * 7 % 1000}", f"a{n}", f"Here is the answer {n} for the "
                       f"{topics[n % 8]}.", "marie", "marie", float(n)) for n in range(count)]


def per_call(samples: List[float]) -> Tuple[float, float]:
    """Median and 95th percentile, in microseconds."""
    ordered = sorted(samples)
    return (statistics.median(ordered) * 1e6,
            ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))] * 1e6)


def time_ranking(marked: int) -> List[float]:
    """Seconds per message to build the candidates and rank them, as the route does."""
    faq_entries, responses, pairs = faq.load(), canned.load(), good_answers(marked)
    samples: List[float] = []
    for _ in range(ROUNDS):
        for message, language in questions():
            start = time.perf_counter()
            rank(message, candidates(responses, pairs, language, "Marie", faq_entries))
            samples.append(time.perf_counter() - start)
    return samples


async def time_redis(count: int) -> List[float]:
    """Seconds per PING to a redis-server of the run's own."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise SystemExit("redis-server is not installed")
    port = free_port()
    with tempfile.TemporaryDirectory() as data:
        server = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1",
                                   "--dir", data, "--save", "", "--appendonly", "no"],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            client = Redis(host="127.0.0.1", port=port)
            for _ in range(100):
                try:
                    await client.ping()
                    break
                except RedisConnectionError:
                    await asyncio.sleep(0.05)
            samples = []
            for _ in range(count):
                start = time.perf_counter()
                await client.ping()
                samples.append(time.perf_counter() - start)
            await client.close(close_connection_pool=True)
            return samples
        finally:
            server.terminate()
            server.wait(10)


def report(measure: Callable[[int], List[float]], baseline: List[float]) -> str:
    """The report's Markdown table."""
    base = per_call(baseline)[0]
    lines = ["# Suggested replies: cost per customer message (bench/suggestions.py)", "",
             f"{len(questions())} held-out messages × {ROUNDS} rounds; one process, one core.",
             "", "| what | median (µs) | p95 (µs) | median / Redis round trip |",
             "|---|---|---|---|",
             f"| Redis round trip (PING), the baseline | {base:.0f} | "
             f"{per_call(baseline)[1]:.0f} | 1.0 |"]
    for marked in (0, 200, 2000):
        median, p95 = per_call(measure(marked))
        lines.append(f"| ranking: FAQ, canned responses, {marked} good answers | {median:.0f} "
                     f"| {p95:.0f} | {median / base:.1f} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    """Runs the measures and prints the report."""
    parser = argparse.ArgumentParser(prog="python -m bench.suggestions", description=__doc__)
    parser.add_argument("--out", type=Path, help="also write the report to this file")
    args = parser.parse_args()
    baseline = asyncio.run(time_redis(2000))
    text = report(time_ranking, baseline)
    print(text)
    if args.out:
        args.out.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
