"""The model's load, Rasa's own against bot/model_load.py's, each in a fresh process, in turns.

    .venv/bin/python -m bench.model_load [models/MODEL.tar.gz] [--rounds 3]

Every Rasa start and every test that loads the model pays this. Each round loads the model
once each way, in new processes taking turns (so that whatever else the machine does falls on
both alike), and the report gives each way's median wall and CPU seconds of `Agent.load` and
their ratio to Rasa's own (TensorFlow's import, the same for both, not counted).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, List

from stack.model import ROOT, ensure_model

WAYS = ("rasa", "by_prediction")


def load_once(model: Path, way: str) -> Dict[str, float]:
    """One load in this process: its wall and CPU seconds."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import logging

    from rasa.core.agent import Agent
    from rasa.utils.log_utils import configure_structlog

    configure_structlog(logging.WARNING)
    if way == "by_prediction":
        from bot import model_load

        model_load.install()
    wall, cpu = time.perf_counter(), time.process_time()
    Agent.load(str(model))
    return {"wall": time.perf_counter() - wall, "cpu": time.process_time() - cpu}


def measure(model: Path, rounds: int) -> Dict[str, List[Dict[str, float]]]:
    """Each way's loads, `rounds` of each, in new processes taking turns."""
    runs: Dict[str, List[Dict[str, float]]] = {way: [] for way in WAYS}
    for round_ in range(rounds):
        order = WAYS if round_ % 2 == 0 else WAYS[::-1]
        for way in order:
            done = subprocess.run([sys.executable, "-m", "bench.model_load", "--one", way,
                                   str(model)], cwd=ROOT, capture_output=True, text=True,
                                  check=True, timeout=900)
            runs[way].append(json.loads(done.stdout.strip().splitlines()[-1]))
            print(f"round {round_ + 1}/{rounds}: {way} {runs[way][-1]['wall']:.1f} s",
                  file=sys.stderr, flush=True)
    return runs


def report(runs: Dict[str, List[Dict[str, float]]]) -> str:
    """A Markdown table: each way's medians, and the wall ratio to Rasa's own load."""
    base = {kind: statistics.median(r[kind] for r in runs["rasa"]) for kind in ("wall", "cpu")}
    lines = ["| load | wall (median) | CPU (median) | ratio to Rasa's own (wall) |",
             "|---|---|---|---|"]
    for way in WAYS:
        wall = statistics.median(r["wall"] for r in runs[way])
        cpu = statistics.median(r["cpu"] for r in runs[way])
        lines.append(f"| {way} | {wall:.1f} s | {cpu:.1f} s | {wall / base['wall']:.2f} |")
    return "\n".join(lines)


def main() -> None:
    """Measures and prints the table (or, with --one, one load's figures as JSON)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", nargs="?", type=Path)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--one", choices=WAYS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    model = args.model or ensure_model(say=print)
    if args.one:
        print(json.dumps(load_once(model, args.one)))
        return
    print(report(measure(model, args.rounds)))


if __name__ == "__main__":
    main()
