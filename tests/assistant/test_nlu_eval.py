"""The trained NLU model on held-out messages (tests/nlu_heldout), human path first.

Run alone, with the report shown: `.venv/bin/python -m pytest tests/assistant/test_nlu_eval.py -s`.
The report is also written to tests/artifacts/nlu_report.txt.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import List, Sequence, Tuple

import pytest

from stack.model import ROOT, ensure_model
from tests.assistant.nlu_eval import Evaluation, evaluate, heldout_files, load_heldout

# Thresholds (issue 3), on the English and French held-out messages together:
# - a request for a person, a complaint or frustration must reach a person (another
#   human-path intent counts; nlu_fallback does not): at least 97 % of them;
MIN_HUMAN_RECALL = 0.97
# - a simple question (order status, returns...) wrongly sent to a person: at most 3 %;
MAX_FALSE_TRANSFER_RATE = 0.03
# - the exact intent of a simple question (everything but request_human, complaint,
#   frustration and out_of_scope): at least 85 % right.
MIN_SIMPLE_ACCURACY = 0.85

REPORT = ROOT / "tests" / "artifacts" / "nlu_report.txt"
WRAPPED_REPORT = ROOT / "tests" / "artifacts" / "nlu_wrapped_report.txt"

# The assistant's intent set; every one has held-out examples in every language.
INTENTS = {
    "greet", "goodbye", "thank", "affirm", "deny", "order_status", "inform", "delivery_times",
    "returns", "cancel_order", "change_address", "payment_methods", "opening_hours", "contact",
    "account_reset", "capabilities", "out_of_scope", "request_human", "complaint", "frustration",
    "sensitive_topic",
}
MIN_EXAMPLES = {"request_human": 30, "complaint": 15, "frustration": 15}
MIN_EXAMPLES_DEFAULT = 8
LANGUAGES = {"en", "fr"}


@pytest.mark.assistant
def test_heldout_data_is_complete() -> None:
    """Every intent, in every language, with enough examples; no duplicates."""
    files = heldout_files()
    assert {Path(f).stem.rsplit("_", 1)[-1] for f in files} == LANGUAGES, files
    examples = load_heldout(files)
    counts = Counter((e.language, e.intent) for e in examples)
    short = {
        (lang, intent): counts[(lang, intent)]
        for lang in LANGUAGES for intent in INTENTS
        if counts[(lang, intent)] < MIN_EXAMPLES.get(intent, MIN_EXAMPLES_DEFAULT)
    }
    assert not short, f"too few held-out examples: {short}"
    assert {e.intent for e in examples} == INTENTS
    duplicates = [k for k, n in Counter((e.language, e.text.lower()) for e in examples).items()
                  if n > 1]
    assert not duplicates, duplicates


@pytest.mark.assistant
# pykwalify (Rasa's YAML schema check) calls the deprecated SourceFileLoader.load_module().
@pytest.mark.filterwarnings("ignore:the load_module:DeprecationWarning")
def test_heldout_data_reads_as_rasa_nlu_data() -> None:
    """Rasa's own reader sees the same examples as the evaluation does."""
    from rasa.shared.nlu.training_data.loading import load_data

    for path in heldout_files():
        rasa_examples = [(m.get("intent"), m.get("text"))
                         for m in load_data(str(path)).intent_examples]
        ours = [(e.intent, e.text) for e in load_heldout([path])]
        assert rasa_examples == ours, path


@pytest.fixture(scope="module")
def evaluation() -> Evaluation:
    return evaluate(ensure_model(say=lambda line: None))


@pytest.fixture(scope="module")
def wrapped_evaluation() -> Evaluation:
    return evaluate(ensure_model(say=lambda line: None), wrap=True)


def _verdicts(evaluation: Evaluation) -> List[Tuple[str, float, bool, str]]:
    """(figure, value, met, bound) for the three thresholds, on every language together."""
    overall = evaluation.overall
    return [
        ("human-path recall", overall.human_recall, overall.human_recall >= MIN_HUMAN_RECALL,
         f">= {MIN_HUMAN_RECALL:.2f}"),
        ("false-transfer rate", overall.false_transfer_rate,
         overall.false_transfer_rate <= MAX_FALSE_TRANSFER_RATE,
         f"<= {MAX_FALSE_TRANSFER_RATE:.2f}"),
        ("simple-intent accuracy", overall.simple_accuracy,
         overall.simple_accuracy >= MIN_SIMPLE_ACCURACY, f">= {MIN_SIMPLE_ACCURACY:.2f}"),
    ]


def _judge(evaluation: Evaluation, report_path: Path, heading: str,
           figures: Sequence[str]) -> None:
    """Prints and writes the report with every verdict; fails if one of `figures` is not met."""
    verdicts = _verdicts(evaluation)
    summary = "\n".join(f"{'ok  ' if ok else 'FAIL'} {name}: {value:.3f} (required {bound})"
                        for name, value, ok, bound in verdicts)
    text = f"{heading}\n{evaluation.report()}\n\nThresholds (overall):\n{summary}\n"
    report_path.parent.mkdir(parents=True, exist_ok=True)
    report_path.write_text(text, encoding="utf-8")
    print(f"\n{text}\n(report written to {report_path})")
    failed = [name for name, _, ok, _ in verdicts if not ok and name in figures]
    assert not failed, (f"NLU below the thresholds: {', '.join(failed)}\n{summary}\n"
                        f"See {report_path}")


@pytest.mark.assistant
@pytest.mark.timeout(600)
# Raised inside third-party code while the model loads (pykwalify, TensorFlow's use of random).
@pytest.mark.filterwarnings("ignore:the load_module:DeprecationWarning")
@pytest.mark.filterwarnings("ignore:non-integer arguments to randrange:DeprecationWarning")
def test_nlu_meets_the_thresholds(evaluation: Evaluation) -> None:
    _judge(evaluation, REPORT, "Held-out files",
           [name for name, _, _, _ in _verdicts(evaluation)])


@pytest.mark.assistant
@pytest.mark.timeout(600)
@pytest.mark.filterwarnings("ignore:the load_module:DeprecationWarning")
@pytest.mark.filterwarnings("ignore:non-integer arguments to randrange:DeprecationWarning")
@pytest.mark.parametrize("figure", [
    # Not met yet: a strict xfail turns into a failure once met.
    pytest.param("human-path recall", marks=pytest.mark.xfail(
        strict=True, raises=AssertionError,
        reason="issue 15: measured 2026-12-07 with model b2b8142f3950142f: 0.947 (144/152; "
               "0.954 before NLU++'s requests for a person, 0.678 before "
               "bot/pleasantries.py): greetings the linear reading "
               "does not know as such (\"Dear Sir or Madam\", \"j'espère que vous allez "
               "bien\") stay with the request")),
    "false-transfer rate",
    "simple-intent accuracy",
])
def test_a_greeting_and_a_sign_off_around_a_request_change_nothing(
        wrapped_evaluation: Evaluation, figure: str) -> None:
    """The same thresholds, every message between "Bonjour," and "Merci d'avance." (issue 15).

    Customers write the way they write e-mails; bot/pleasantries.py has the NLU read the
    request without them.
    """
    assert len(wrapped_evaluation.overall.human) >= 100
    _judge(wrapped_evaluation, WRAPPED_REPORT,
           "Held-out files, each message between a greeting and a sign-off "
           "(tests/assistant/nlu_eval.py, wrapped)", [figure])
