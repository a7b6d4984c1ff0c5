"""The second held-out evaluation: public data nobody on this project wrote (issue 15).

The messages come from packages installed from PyPI (`tests/nlu_independent/sources.yml` lists
them, with their licence and what each file means in our terms); they are read from
site-packages at run time, never copied into `data/` and never trained on
(`training_overlap` checks it). Each message is mapped to the behaviour we expect:

- an intent the bot answers itself (a "simple" intent, e.g. `greet`): it must get that intent;
- `out_of_scope`: nothing the shop can answer. It is *handled honestly* when the model gives
  `nlu_fallback` (the two-stage fallback asks), `out_of_scope` (the honest "I can't help with
  that"), `capabilities` (what I can do) or a human-path intent (a person); any other intent
  is a wrong answer given with confidence;
- a human-path intent: it must reach a person (as in `nlu_eval`).

The messages are split once, by a hash of their text, into a *dev* part (30 %), which a
designer may look at while changing the data or the pipeline, and a *test* part (70 %), which
the test suite judges and nobody tunes on.

Run it by hand from the repository root:

    .venv/bin/python -m tests.assistant.independent [--split dev|test|all] [--model ...]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import importlib.util
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

import yaml

from tests.assistant.nlu_eval import (
    FALLBACK,
    HUMAN,
    OUT_OF_SCOPE,
    Evaluation,
    Example,
    Prediction,
    Scores,
    _pct,
    _ratio,
    normalise,
    predict_async,
    training_overlap,
)

ROOT = Path(__file__).resolve().parents[2]
SOURCES = ROOT / "tests" / "nlu_independent" / "sources.yml"
# What counts as an honest answer to a question the shop cannot answer.
HONEST = frozenset({FALLBACK, OUT_OF_SCOPE, "capabilities"}) | HUMAN
DEV_SHARE = 30  # percent of the messages in the dev split


class SourceMissing(RuntimeError):
    """A package named in sources.yml is not installed (see requirements.lock)."""


@dataclass(frozen=True)
class Source:
    """One package of public data and the meaning of its files."""

    name: str
    package: str
    version: str
    licence: str
    root: str
    files: Dict[str, Dict[str, str]]  # language -> file -> expected intent

    def directory(self) -> Path:
        spec = importlib.util.find_spec(self.package)
        if spec is None or not spec.submodule_search_locations:
            raise SourceMissing(
                f"the package {self.package} ({self.name}=={self.version}) is not installed: "
                "it is pinned in requirements.lock (./test.sh installs it)")
        return Path(list(spec.submodule_search_locations)[0]) / self.root


def load_sources(path: Path = SOURCES) -> List[Source]:
    """The sources listed in sources.yml."""
    content = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    return [Source(name=s["name"], package=s["package"], version=str(s["version"]),
                   licence=s["licence"], root=s.get("root", ""), files=s["files"])
            for s in content.get("sources") or []]


def first_turns(path: Path) -> List[str]:
    """The opening message of each conversation of a chatterbot-corpus file, once each."""
    content = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    seen: Dict[str, str] = {}
    for conversation in content.get("conversations") or []:
        if isinstance(conversation, list) and conversation:
            text = " ".join(str(conversation[0]).split())
            if text and normalise(text) and normalise(text) not in seen:
                seen[normalise(text)] = text
    return list(seen.values())


def split_of(text: str) -> str:
    """`dev` or `test`, fixed by the text itself (the same message always lands the same)."""
    bucket = int(hashlib.sha256(normalise(text).encode()).hexdigest()[:8], 16) % 100
    return "dev" if bucket < DEV_SHARE else "test"


def load_independent(split: str = "test", sources: Optional[Iterable[Source]] = None
                     ) -> List[Example]:
    """The examples of one split (`dev`, `test` or `all`), every source and language."""
    examples: List[Example] = []
    seen = set()
    for source in sources if sources is not None else load_sources():
        directory = source.directory()
        for language, files in source.files.items():
            for name, intent in files.items():
                for text in first_turns(directory / name):
                    key = (language, normalise(text))
                    if key in seen or (split != "all" and split_of(text) != split):
                        continue
                    seen.add(key)
                    examples.append(Example(text=text, intent=intent, language=language))
    return examples


def handled_honestly(prediction: Prediction) -> bool:
    """For an out_of_scope message: a fallback, an honest answer or a person."""
    return prediction.intent in HONEST


def honest(scores: Scores) -> Tuple[int, int]:
    """(handled honestly, out_of_scope messages) in one slice."""
    oos = scores.out_of_scope
    return sum(handled_honestly(p) for p in oos), len(oos)


def honest_rate(scores: Scores) -> float:
    part, whole = honest(scores)
    return _ratio(part, whole)


def report(evaluation: Evaluation, split: str) -> str:
    """The held-out report of nlu_eval, headed by the independent set's own figures."""
    langs = evaluation.languages
    slices = [(lang, evaluation.scores(lang)) for lang in langs] + [("all", evaluation.overall)]
    lines = [f"Independent held-out evaluation ({split} split; sources: "
             + ", ".join(f"{s.name}=={s.version}" for s in load_sources()) + ")",
             " " * 26 + "".join(f"{lang:>18}" for lang, _ in slices)]
    cells = []
    for _, scores in slices:
        part, whole = honest(scores)
        cells.append(f"{_pct(_ratio(part, whole))} ({part}/{whole})".rjust(18))
    lines.append(f"{'out-of-scope honest':<26}" + "".join(cells))
    dishonest = [p for p in evaluation.overall.out_of_scope if not handled_honestly(p)]
    lines.append("")
    lines.append(f"Out-of-scope messages answered as something else ({len(dishonest)}):")
    lines.extend(f"  {p.describe()}" for p in dishonest)
    if not dishonest:
        lines.append("  none")
    lines.append("")
    lines.append(evaluation.report())
    return "\n".join(lines)


def evaluate_independent(model_path: Path, split: str = "test") -> Evaluation:
    """Parse every example of one split with the model at `model_path`."""
    examples = load_independent(split)
    if not examples:
        raise ValueError(f"no independent examples in the {split} split")
    predictions, known = asyncio.run(predict_async(Path(model_path), examples))
    return Evaluation(model=Path(model_path), predictions=predictions, known_intents=known,
                      overlap=training_overlap(examples))


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, help="model archive (default: the current one)")
    parser.add_argument("--split", choices=("dev", "test", "all"), default="dev",
                        help="dev (default: the part you may look at while tuning), test, all")
    args = parser.parse_args(argv)
    model = args.model
    if model is None:
        from stack.model import ensure_model

        model = ensure_model(say=lambda line: print(line, file=sys.stderr))
    print(report(evaluate_independent(model, args.split), args.split))
    return 0


if __name__ == "__main__":
    sys.exit(main())
