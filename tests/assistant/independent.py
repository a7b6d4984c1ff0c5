"""The second held-out evaluation: public data nobody on this project wrote (issue 15).

The messages come from public sources listed in `tests/nlu_independent/sources.yml`, with their
licence and what each file or label means in our terms (independent_sources.py reads them): a
package installed from PyPI (`chatterbot-corpus`), a package from the npm registry
(`generator-botbuilder-assistant`, Microsoft's utterance files), and data files committed
compressed (the Bitext customer-support CSV, NLP.js's small-talk "Corpus 50", HWU64's
"general" intents). They are never copied into `data/` and never trained on
(`training_overlap` checks it). Each message is mapped to the behaviour we expect:

- an intent the bot answers itself (a "simple" intent, e.g. `greet`, `order_status`): it must
  get that intent;
- `out_of_scope`: nothing the shop can answer. It is *handled honestly* when the model gives
  `nlu_fallback` (the two-stage fallback asks), `out_of_scope` (the honest "I can't help with
  that"), `capabilities` (what I can do) or a human-path intent (a person); any other intent
  is a wrong answer given with confidence;
- a human-path intent (`request_human`, `complaint`): it must reach a person (as in `nlu_eval`);
- `contact_or_person`: "I need to talk to customer service", "what time can I call customer
  service": our contact details or opening hours (which both offer a person in one tap), or a
  person, are right; these are kept out of the simple intents and of the human path;
- `small_talk` ("how are you", "I'm sorry", "haha"): a simple message that must not reach a
  person nor get a shop answer; a greeting, thanks, yes or no, `out_of_scope`, `capabilities`
  or the fallback are right.

In an accepted other answer (`a|b`), `person` stands for every human-path intent.

The messages are split once, by a hash of their text, into a *dev* part (30 %), which a
designer may look at while changing the data or the pipeline, and a *test* part (70 %), which
the test suite judges and nobody tunes on; a source with `dev_share: 0` is all test. A source
with `split_by: label` is split by the hash of its labels instead, so a group of paraphrases
and its translation land in the same part; its `test_labels` stay whole in the test part. A source
with `remove_training_matches` leaves out its messages found in data/nlu (`training_matches`).
A source may cap its test split per label (the Bitext set has about 170 messages per label; the
cap keeps the test's run time reasonable).

Run it by hand from the repository root:

    .venv/bin/python -m tests.assistant.independent [--split dev|test|all] [--source NAME]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import re
import sys
import unicodedata
from collections import Counter, defaultdict
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable, Dict, FrozenSet, List, Optional, Sequence, Tuple

from tests.assistant.independent_sources import (
    DEV_SHARE,
    DataFileChanged,
    DataFileMissing,
    Source,
    SourceMissing,
    first_turns,
    load_sources,
    source_named,
)
from tests.assistant.nlu_eval import (
    FALLBACK,
    HUMAN,
    OUT_OF_SCOPE,
    ROOT,
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

__all__ = ["DataFileChanged", "DataFileMissing", "SourceMissing", "first_turns", "load_sources"]

# What counts as an honest answer to a question the shop cannot answer. `chitchat`'s answer
# (domain.yml, utter_chitchat) is a short capabilities answer: it claims nothing, says
# what the bot can do and offers a person. Since it counts, a report of the figure says how
# many `chitchat` answers it holds (docs/bot-designers.md gives both readings).
CHITCHAT = "chitchat"
HONEST = frozenset({FALLBACK, OUT_OF_SCOPE, "capabilities", CHITCHAT}) | HUMAN
# "Contact customer service": our contact details, our opening hours, or a person.
CONTACT_OR_PERSON = "contact_or_person"
CONTACT_ANSWERS = frozenset({"contact", "opening_hours"}) | HUMAN
# Small talk: anything but a person or a shop answer.
SMALL_TALK = "small_talk"
SMALL_TALK_ANSWERS = frozenset({"greet", "goodbye", "thank", "affirm", "deny", OUT_OF_SCOPE,
                                FALLBACK, "capabilities", CHITCHAT})
# Behaviours that name a set of answers, not one intent.
ANSWER_SETS = {"person": HUMAN, SMALL_TALK: SMALL_TALK_ANSWERS}
CHATTERBOT = "chatterbot-corpus"
BITEXT = "bitext-customer-support"
BOTBUILDER = "botbuilder-assistant"
NLPJS_CORPUS = "nlpjs-corpus50"
HWU64 = "hwu64-general"


def _digest(text: str) -> str:
    return hashlib.sha256(normalise(text).encode()).hexdigest()


def split_of(text: str, dev_share: int = DEV_SHARE) -> str:
    """`dev` or `test`, fixed by the text itself (the same message always lands the same)."""
    bucket = int(_digest(text)[:8], 16) % 100
    return "dev" if bucket < dev_share else "test"


def _splits(source: Source, messages: Sequence[Tuple[str, str, str, str]]
            ) -> Callable[[str, str], str]:
    """The split of (text, label), given the source's `messages()`. Split by label, a text that
    several groups share (Microsoft has "what's up" in two) is test if any of its groups is: no
    dev message is ever judged."""
    def of(text: str, label: str) -> str:
        key = source.split_key(text, label)
        return "test" if key is None else split_of(key, source.dev_share)

    if not source.split_by_label:
        return of
    judged = {normalise(text) for _, text, _, label in messages if of(text, label) == "test"}
    return lambda text, label: "test" if normalise(text) in judged else of(text, label)


def bare(text: str) -> str:
    """Lowercase, accents and punctuation stripped: "Ça va ?" and "ca va" are one message."""
    letters = unicodedata.normalize("NFKD", text.lower())
    letters = "".join(c for c in letters if not unicodedata.combining(c))
    return " ".join(re.sub(r"[\W_]+", " ", letters).split())


def training_matches(examples: Sequence[Example], data_dir: Path = ROOT / "data" / "nlu"
                     ) -> List[Example]:
    """The examples that are also in the training data, once stripped bare."""
    return training_overlap(examples, data_dir, key=bare)


@dataclass(frozen=True)
class Selection:
    """The examples of one split of one source, as evaluated."""

    examples: List[Example]
    # Other answers accepted for some examples (see load_with_alternatives).
    alternatives: Dict[Example, FrozenSet[str]]
    # Left out because data/nlu has them (sources with remove_training_matches).
    removed: List[Example] = field(default_factory=list)


def load_independent(split: str = "test", source: str = CHATTERBOT) -> List[Example]:
    """The examples of one split (`dev`, `test` or `all`) of one source, every language."""
    return load_with_alternatives(split, source).examples


def _accepted(behaviour: str) -> Tuple[str, FrozenSet[str]]:
    """`capabilities|person` -> ("capabilities", {"request_human", "complaint", ...})."""
    expected, *others = behaviour.split("|")
    accepted = set(ANSWER_SETS.get(expected, ()))
    for other in others:
        accepted.update(ANSWER_SETS.get(other, {other}))
    return expected, frozenset(accepted - {expected})


def load_with_alternatives(split: str = "test", source: str = CHATTERBOT) -> Selection:
    """The examples of one split of one source, and the other answers accepted for some.

    A behaviour written `delivery_times|order_status` in sources.yml expects `delivery_times`
    and also accepts `order_status` ("when will my package arrive": our delivery times or the
    order's status both answer it). In the test split, a source with `test_cap_per_label`
    keeps that many messages per label at most, chosen by the hash of their text (always the
    same ones).
    """
    chosen = source_named(source)
    alternatives: Dict[Example, FrozenSet[str]] = {}
    per_label: Dict[str, List[Tuple[str, Example]]] = defaultdict(list)
    seen = set()
    messages = list(chosen.messages())
    split_of_message = _splits(chosen, messages)
    for language, text, behaviour, label in messages:
        key = (language, normalise(text))
        if key in seen or (split != "all" and split_of_message(text, label) != split):
            continue
        seen.add(key)
        expected, others = _accepted(behaviour)
        example = Example(text=text, intent=expected, language=language)
        if others:
            alternatives[example] = others
        per_label[label].append((_digest(text), example))
    cap = chosen.test_cap_per_label if split == "test" else None
    examples: List[Example] = []
    for found in per_label.values():
        kept = sorted(found, key=lambda pair: pair[0])[:cap] if cap else found
        examples.extend(example for _, example in kept)
    removed = training_matches(examples) if chosen.remove_training_matches else []
    examples = [e for e in examples if e not in set(removed)]
    return Selection(examples, {e: alternatives[e] for e in examples if e in alternatives},
                     removed)


def _accepting(prediction: Prediction, others: FrozenSet[str]) -> Prediction:
    """An accepted other answer counts as the expected intent (the report counts them)."""
    if prediction.intent in others:
        return replace(prediction, intent=prediction.example.intent)
    return prediction


@dataclass
class IndependentEvaluation(Evaluation):
    """An Evaluation whose `contact_or_person` messages are scored apart."""

    source: str = CHATTERBOT
    contact: List[Prediction] = field(default_factory=list)
    # How many predictions were an accepted other answer (see load_with_alternatives).
    alternatives_accepted: int = 0
    # Messages of the source left out because data/nlu has them.
    removed: List[Example] = field(default_factory=list)

    @property
    def contact_right(self) -> int:
        return sum(p.intent in CONTACT_ANSWERS for p in self.contact)

    @property
    def contact_rate(self) -> float:
        return _ratio(self.contact_right, len(self.contact))


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
    name = getattr(evaluation, "source", CHATTERBOT)
    source = source_named(name)
    langs = evaluation.languages
    slices = [(lang, evaluation.scores(lang)) for lang in langs] + [("all", evaluation.overall)]
    lines = [f"Independent held-out evaluation ({split} split; source: {source.name} "
             f"{source.version}, {source.licence})",
             " " * 26 + "".join(f"{lang:>18}" for lang, _ in slices)]
    cells = []
    for _, scores in slices:
        part, whole = honest(scores)
        cells.append(f"{_pct(_ratio(part, whole))} ({part}/{whole})".rjust(18))
    lines.append(f"{'out-of-scope honest':<26}" + "".join(cells))
    small_talk_answers = sum(p.intent == CHITCHAT for p in evaluation.overall.out_of_scope)
    if small_talk_answers:
        part, whole = honest(evaluation.overall)
        lines.append(f"({small_talk_answers} of the honest answers are chitchat, the small-talk "
                     "answer; not counting them: "
                     f"{_pct(_ratio(part - small_talk_answers, whole))})")
    contact: List[Prediction] = getattr(evaluation, "contact", [])
    if contact:
        right = [p for p in contact if p.intent in CONTACT_ANSWERS]
        lines.append(f"{'contact or a person':<26}"
                     + f"{_pct(_ratio(len(right), len(contact)))} "
                       f"({len(right)}/{len(contact)})".rjust(18 * len(slices)))
    accepted = getattr(evaluation, "alternatives_accepted", 0)
    if accepted:
        lines.append(f"({accepted} simple messages got an accepted other answer, counted as "
                     "right: see `|` and small_talk in tests/nlu_independent/sources.yml)")
    removed: List[Example] = getattr(evaluation, "removed", [])
    if removed:
        per_language = ", ".join(f"{lang}: {n}" for lang, n in
                                 sorted(Counter(e.language for e in removed).items()))
        lines.append(f"({len(removed)} messages of the source left out, found in data/nlu once "
                     f"lowercased and stripped of accents and punctuation; {per_language})")
    dishonest = [p for p in evaluation.overall.out_of_scope if not handled_honestly(p)]
    lines.append("")
    lines.append(f"Out-of-scope messages answered as something else ({len(dishonest)}):")
    lines.extend(f"  {p.describe()}" for p in dishonest)
    if not dishonest:
        lines.append("  none")
    if contact:
        wrong = [p for p in contact if p.intent not in CONTACT_ANSWERS]
        lines.append("")
        lines.append("\"Contact customer service\" answered with neither our contact details, "
                     f"the opening hours nor a person ({len(wrong)}):")
        lines.extend(f"  {p.describe()}" for p in wrong)
        if not wrong:
            lines.append("  none")
    lines.append("")
    lines.append(evaluation.report())
    return "\n".join(lines)


def figures(evaluation: Evaluation, split: str) -> str:
    """The report's figures without a single message of the source, nor its confusion."""
    own = report(evaluation, split).split("\n\n")[0]
    return "\n\n".join([own, *evaluation.report().split("\n\n")[:2]])


def evaluate_independent(model_path: Path, split: str = "test", source: str = CHATTERBOT
                         ) -> IndependentEvaluation:
    """Parse every example of one split of one source with the model at `model_path`."""
    return evaluate_sources(model_path, split, [source])[source]


def evaluate_sources(model_path: Path, split: str, sources: Sequence[str]
                     ) -> Dict[str, IndependentEvaluation]:
    """Several sources parsed by one load of the model (a load costs seconds, a parse ms)."""
    selections = {name: load_with_alternatives(split, name) for name in sources}
    for name, selection in selections.items():
        if not selection.examples:
            raise ValueError(f"no independent examples in the {split} split of {name}")
    everything = [e for selection in selections.values() for e in selection.examples]
    parsed, known = asyncio.run(predict_async(Path(model_path), everything))
    found = iter(parsed)
    return {name: _evaluation(Path(model_path), name, selection,
                              [next(found) for _ in selection.examples], known)
            for name, selection in selections.items()}


def _evaluation(model: Path, source: str, selection: Selection, parsed: List[Prediction],
                known: List[str]) -> IndependentEvaluation:
    predictions = [_accepting(p, selection.alternatives.get(p.example, frozenset()))
                   for p in parsed]
    return IndependentEvaluation(
        alternatives_accepted=sum(p != q for p, q in zip(parsed, predictions, strict=True)),
        model=model,
        predictions=[p for p in predictions if p.example.intent != CONTACT_OR_PERSON],
        # small_talk is a behaviour judged by its answers, not an intent the model lacks.
        known_intents=list(known) + [SMALL_TALK], overlap=training_overlap(selection.examples),
        source=source, removed=selection.removed,
        contact=[p for p in predictions if p.example.intent == CONTACT_OR_PERSON])


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, help="model archive (default: the current one)")
    parser.add_argument("--split", choices=("dev", "test", "all"), default="dev",
                        help="dev (default: the part you may look at while tuning), test, all")
    parser.add_argument("--source", choices=[s.name for s in load_sources()], action="append",
                        help="one source (repeatable; default: every source)")
    parser.add_argument("--figures-only", action="store_true",
                        help="no message, only the figures (for sets that must stay unread)")
    args = parser.parse_args(argv)
    model = args.model
    if model is None:
        from stack.model import ensure_model

        model = ensure_model(say=lambda line: print(line, file=sys.stderr))
    for name in args.source or [s.name for s in load_sources()]:
        if args.split == "dev" and source_named(name).dev_share == 0:
            print(f"[{name} skipped] no dev split: all of it is held out for the tests",
                  file=sys.stderr)
            continue
        try:
            evaluation = evaluate_independent(model, args.split, name)
            print(figures(evaluation, args.split) if args.figures_only
                  else report(evaluation, args.split))
        except SourceMissing as missing:
            print(f"[{name} skipped] {missing}", file=sys.stderr)
        print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
