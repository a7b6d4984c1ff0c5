"""What moved between two models on the same held-out messages.

A message's outcome follows from its predicted intent and the human-path rules, which every
model of this assistant has (the designer's check makes sure of it):
- handed off: a human-path intent, which a rule sends to `action_handoff`;
- fallback: `nlu_fallback` ("could you rephrase?"; a person on the second one in a row);
- answered: any other intent, which the bot answers itself (out_of_scope included: the bot
  says it cannot help and offers a person).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

from tests.assistant.nlu_eval import FALLBACK, HUMAN, NOT_SIMPLE, Prediction, Scores

HANDED_OFF, FELL_BACK, ANSWERED = "handed off", "fallback", "answered"


def outcome(prediction: Prediction) -> str:
    """What the customer gets for this message."""
    if prediction.intent in HUMAN:
        return HANDED_OFF
    if prediction.intent == FALLBACK:
        return FELL_BACK
    return ANSWERED


def describe(prediction: Prediction) -> str:
    """`handed off (request_human 0.93)`, with the classifier's own guess after a fallback."""
    text = f"{outcome(prediction)} ({prediction.intent} {prediction.confidence:.2f}"
    if prediction.intent != prediction.underlying:
        text += f"; best {prediction.underlying} {prediction.underlying_confidence:.2f}"
    return text + ")"


@dataclass(frozen=True)
class Move:
    """One held-out message predicted differently by the two models."""

    before: Prediction
    after: Prediction

    @property
    def outcome_changed(self) -> bool:
        """Handed off / fallback / answered differs between the two models."""
        return outcome(self.before) != outcome(self.after)

    @property
    def verdict(self) -> Optional[str]:
        """"better", "worse" or None (neither right before nor after, or both)."""
        was, now = _right(self.before), _right(self.after)
        return None if was == now else ("better" if now else "worse")

    def sort_key(self) -> Tuple[int, int, str]:
        """Order of the report's tables."""
        # A request for a person that no longer reaches one first, then other losses.
        lost_person = self.before.wants_human and outcome(self.before) == HANDED_OFF \
            and outcome(self.after) != HANDED_OFF
        return (0 if lost_person else 1, 0 if self.verdict == "worse" else 1,
                self.before.example.intent)


def _right(prediction: Prediction) -> bool:
    """Right for the customer: a person when wanted (any human-path intent), else the intent."""
    if prediction.wants_human:
        return prediction.sent_to_human
    return prediction.correct


def moves(before: Sequence[Prediction], after: Sequence[Prediction]) -> List[Move]:
    """Messages whose predicted intent changed, the human path's losses first."""
    if [p.example for p in before] != [p.example for p in after]:
        raise ValueError("the two evaluations must be on the same messages, in the same order")
    found = [Move(b, a) for b, a in zip(before, after, strict=True) if b.intent != a.intent]
    return sorted(found, key=Move.sort_key)


@dataclass(frozen=True)
class Figure:
    """A headline figure before and after; `higher_is_better` None for neutral counts."""

    name: str
    before: float
    after: float
    detail_before: str
    detail_after: str
    higher_is_better: Optional[bool] = True


def figures(before: Scores, after: Scores) -> List[Figure]:
    """The evaluation's headline figures for one slice (a language, or all)."""
    def fallback(s: Scores) -> int:
        return sum(p.intent == FALLBACK for p in s.predictions)

    return [
        Figure("human-path recall", before.human_recall, after.human_recall,
               f"{before.human_caught}/{len(before.human)}",
               f"{after.human_caught}/{len(after.human)}"),
        Figure("false-transfer rate", before.false_transfer_rate, after.false_transfer_rate,
               f"{len(before.false_transfers)}/{len(before.simple)}",
               f"{len(after.false_transfers)}/{len(after.simple)}", higher_is_better=False),
        Figure("simple-intent accuracy", before.simple_accuracy, after.simple_accuracy,
               f"{before.simple_correct}/{len(before.simple)}",
               f"{after.simple_correct}/{len(after.simple)}"),
        Figure("out_of_scope accuracy", _share(before.out_of_scope_correct,
                                                len(before.out_of_scope)),
               _share(after.out_of_scope_correct, len(after.out_of_scope)),
               f"{before.out_of_scope_correct}/{len(before.out_of_scope)}",
               f"{after.out_of_scope_correct}/{len(after.out_of_scope)}"),
        Figure("fallbacks (nlu_fallback)", fallback(before), fallback(after),
               str(fallback(before)), str(fallback(after)), higher_is_better=None),
    ]


def _share(part: int, whole: int) -> float:
    return part / whole if whole else float("nan")


@dataclass(frozen=True)
class IntentRow:
    """Per true intent and language: how many messages were right before and after.

    For the human path, right means reached a person, whichever human-path intent was predicted.
    """

    intent: str
    language: str
    total: int
    right_before: int
    right_after: int
    exact_before: int
    exact_after: int


def per_intent(before: Sequence[Prediction], after: Sequence[Prediction]) -> List[IntentRow]:
    """One row per (intent, language), the human path first."""
    groups: Dict[Tuple[str, str], List[Tuple[Prediction, Prediction]]] = defaultdict(list)
    for b, a in zip(before, after, strict=True):
        groups[(b.example.intent, b.example.language)].append((b, a))
    rows = [IntentRow(intent, lang, len(pairs), sum(_right(b) for b, _ in pairs),
                      sum(_right(a) for _, a in pairs), sum(b.correct for b, _ in pairs),
                      sum(a.correct for _, a in pairs))
            for (intent, lang), pairs in groups.items()]
    return sorted(rows, key=lambda r: (r.intent not in HUMAN, r.intent in NOT_SIMPLE,
                                       r.intent, r.language))
