"""Two or more trained models' parse times, measured in one process, turn by turn.

A pipeline change is judged by its cost per message beside the pipeline it replaces. Parsing
both models' messages alternately in one process, on the same texts (our own held-out files),
puts whatever else the machine does on both sides alike; the report gives each model's p50
and p95 and their ratio to the first model's.

    .venv/bin/python -m bench.parse_latency models/BEFORE.tar.gz models/AFTER.tar.gz [--rounds 3]
        [--wrapped]

`--wrapped` puts each message between a greeting and a sign-off (tests.assistant.nlu_eval's
`wrapped`): what bot/pleasantries.py costs on the messages it trims.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import time
from pathlib import Path
from typing import Dict, List, Optional, Sequence

from bench.stats import summarise


async def latencies(models: Sequence[Path], texts: Sequence[str], rounds: int
                    ) -> Dict[Path, List[float]]:
    """Seconds per parse for each model, the models taking turns on each text."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from rasa.core.agent import Agent
    from rasa.utils.log_utils import configure_structlog

    configure_structlog(logging.WARNING)
    agents = {model: Agent.load(str(model)) for model in models}
    for agent in agents.values():
        await agent.parse_message("warm up")
    times: Dict[Path, List[float]] = {model: [] for model in models}
    for round_ in range(rounds):
        # Each round starts with another model, so that none always parses a text first.
        order = list(models[round_ % len(models):]) + list(models[:round_ % len(models)])
        for text in texts:
            for model in order:
                started = time.perf_counter()
                await agents[model].parse_message(text)
                times[model].append(time.perf_counter() - started)
    return times


def table(times: Dict[Path, List[float]]) -> str:
    """Markdown: p50 and p95 per model, and each as a ratio to the first model's."""
    summaries = {model: summarise(values) for model, values in times.items()}
    first = next(iter(summaries.values()))
    lines = ["| model | parses | p50 | p95 | p50 ÷ first | p95 ÷ first |",
             "|---|---|---|---|---|---|"]
    for model, s in summaries.items():
        lines.append(f"| {model.name} | {s.count} | {s.p50:.1f} ms | {s.p95:.1f} ms "
                     f"| {s.p50 / first.p50:.2f}× | {s.p95 / first.p95:.2f}× |")
    return "\n".join(lines)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Parses our held-out messages with every model given and prints the table."""
    from tests.assistant.nlu_eval import load_heldout, wrapped

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="+", type=Path, help="model archives; the first is the "
                        "reference of the ratios")
    parser.add_argument("--rounds", type=int, default=3, help="passes over the texts")
    parser.add_argument("--wrapped", action="store_true", help="each message between a "
                        "greeting and a sign-off, as tests.assistant.nlu_eval wraps them")
    args = parser.parse_args(argv)
    missing = [str(m) for m in args.models if not m.is_file()]
    if missing:
        parser.error(f"no such model archive: {', '.join(missing)}")
    examples = wrapped(load_heldout()) if args.wrapped else load_heldout()
    texts = [example.text for example in examples]
    print(f"{len(texts)} held-out messages{' (wrapped)' if args.wrapped else ''}, "
          f"{args.rounds} rounds, models taking turns", flush=True)
    print(table(asyncio.run(latencies(args.models, texts, args.rounds))))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
