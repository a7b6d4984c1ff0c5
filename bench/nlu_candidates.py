"""Compare NLU pipelines (issue 15): training time, parse latency and the held-out figures.

Each candidate is `config.yml` with its NLU pipeline replaced; the NLU alone is trained
(`rasa train nlu`) on data/nlu, then every candidate parses

- the dev split of the independent set (tests/nlu_independent): the only figures to choose by;
- our own held-out files (tests/nlu_heldout): to check that nothing regresses;

and the time of one parse is measured over those messages (p50/p95, in process, one at a
time, the way Rasa parses one customer message). The test split of the independent set is not
looked at here: it is the test suite's.

    .venv/bin/python -m bench.nlu_candidates [--only NAME ...] [--out DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

import yaml

ROOT = Path(__file__).resolve().parent.parent

_DIET = {"name": "DIETClassifier", "random_seed": 42, "epochs": 50,
         "constrain_similarities": True, "entity_recognition": False}
_TAIL = [
    {"name": "RegexEntityExtractor", "use_regexes": True, "use_lookup_tables": False,
     "use_word_boundaries": True},
    {"name": "bot.order_numbers.OrderNumberGuard"},
    {"name": "EntitySynonymMapper"},
    {"name": "FallbackClassifier", "threshold": 0.4, "ambiguity_threshold": 0.1},
    {"name": "bot.language.LanguageDetector"},
]
_COUNTS = [
    {"name": "RegexFeaturizer"},
    {"name": "LexicalSyntacticFeaturizer"},
    {"name": "CountVectorsFeaturizer"},
    {"name": "CountVectorsFeaturizer", "analyzer": "char_wb", "min_ngram": 1, "max_ngram": 4},
]
# The candidates (the names are what --only takes).
CANDIDATES: Dict[str, List[Dict[str, Any]]] = {
    "counts": [{"name": "WhitespaceTokenizer"}, *_COUNTS, _DIET, *_TAIL],
    "spacy-md+counts": [
        {"name": "SpacyNLP", "model": "fr_core_news_md"},
        {"name": "SpacyTokenizer"},
        {"name": "SpacyFeaturizer", "pooling": "mean"},
        *_COUNTS, _DIET, *_TAIL],
}


def write_config(name: str, out: Path) -> Path:
    """config.yml with the candidate's pipeline."""
    config = yaml.safe_load((ROOT / "config.yml").read_text(encoding="utf-8"))
    config["pipeline"] = copy.deepcopy(CANDIDATES[name])
    path = out / f"{name}.yml"
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return path


def train(name: str, out: Path) -> tuple:
    """Train the NLU of one candidate; returns (model path, seconds)."""
    config = write_config(name, out)
    rasa = Path(sys.executable).with_name("rasa")
    cmd = [str(rasa), "train", "nlu", "--config", str(config), "--nlu", "data/nlu",
           "--out", str(out), "--fixed-model-name", name]
    env = {**os.environ, "RASA_TELEMETRY_ENABLED": "false", "TF_CPP_MIN_LOG_LEVEL": "2",
           "PYTHONPATH": str(ROOT)}
    started = time.monotonic()
    with open(out / f"{name}.train.log", "w") as log:
        subprocess.run(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, check=True)
    return out / f"{name}.tar.gz", time.monotonic() - started


async def _latencies(model: Path, texts: Sequence[str]) -> List[float]:
    from rasa.core.agent import Agent

    agent = Agent.load(str(model))
    await agent.parse_message("warm up")
    times = []
    for text in texts:
        started = time.perf_counter()
        await agent.parse_message(text)
        times.append((time.perf_counter() - started) * 1000)
    return times


def measure(name: str, out: Path) -> Dict[str, Any]:
    """Train one candidate and compute its figures."""
    from tests.assistant import independent, nlu_eval

    model, seconds = train(name, out)
    dev = independent.evaluate_independent(model, "dev")
    own = nlu_eval.evaluate(model)
    times = asyncio.run(_latencies(model, [p.example.text for p in own.predictions][:200]))
    return {
        "candidate": name, "train_s": round(seconds),
        "parse_ms_p50": round(statistics.median(times), 1),
        "parse_ms_p95": round(sorted(times)[int(len(times) * 0.95) - 1], 1),
        "independent_dev_honest": independent.honest_rate(dev.overall),
        "independent_dev_simple": dev.overall.simple_accuracy,
        "own_human_recall": own.overall.human_recall,
        "own_false_transfers": own.overall.false_transfer_rate,
        "own_simple": own.overall.simple_accuracy,
        "dev_report": independent.report(dev, "dev"),
    }


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Trains and scores the candidate pipelines; prints the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", choices=sorted(CANDIDATES))
    parser.add_argument("--out", type=Path, default=ROOT / "models" / "candidates")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    rows = [measure(name, args.out) for name in (args.only or CANDIDATES)]
    for row in rows:
        (args.out / f"{row['candidate']}.dev_report.txt").write_text(row.pop("dev_report"))
    keys = [k for k in rows[0]]
    print(" | ".join(keys))
    for row in rows:
        print(" | ".join(f"{row[k]:.3f}" if isinstance(row[k], float) else str(row[k])
                         for k in keys))
    return 0


if __name__ == "__main__":
    sys.exit(main())
