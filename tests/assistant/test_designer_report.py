"""The before/after report (`python -m designer report`) on two revisions of the data.

The "after" revision keeps one `request_human` example in KEEP_ONE_IN of each of our data files
and removes NLU++'s requests for a person (data/nlu/nlupp*.yml). The
"before" revision is today's data, so its model is the one ./test.sh trained (reused by hash);
the "after" model is trained once and kept in models/ under its own hash, so later runs train
nothing; ./test.sh trains it ahead while the other tests run (tests/assistant/
designer_revisions.py). The report is built once for the module and every test reads it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest

from designer.compare import HANDED_OFF, outcome
from designer.report import Comparison, run
from stack.model import MODELS, ROOT, model_hash
from tests.assistant.designer_revisions import build

pytestmark = [pytest.mark.assistant, pytest.mark.timeout(1800),
              # Raised inside third-party code while a model loads (pykwalify, TensorFlow).
              pytest.mark.filterwarnings("ignore:the load_module:DeprecationWarning"),
              pytest.mark.filterwarnings("ignore:non-integer arguments to randrange:"
                                         "DeprecationWarning")]


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A git repository with two commits: today's data, then most of request_human gone."""
    repo = tmp_path_factory.mktemp("designer_report") / "project"
    removed = build(repo)
    assert len(removed) > 40, removed
    return repo


@pytest.fixture(scope="module")
def comparison(repo: Path) -> Iterator[Comparison]:
    yield run(repo, "HEAD~1", "HEAD", repo / "out", say=print)


def test_the_before_side_reuses_the_current_model_by_hash(comparison: Comparison) -> None:
    assert comparison.before.model == MODELS / f"{model_hash(ROOT)}.tar.gz"
    assert comparison.after.model != comparison.before.model
    assert comparison.after.model.exists()


def test_the_human_path_drop_appears(comparison: Comparison, repo: Path) -> None:
    recall = next(f for f in comparison.figures("nlu_heldout") if f.name == "human-path recall")
    assert recall.after < recall.before, recall
    rows = [r for r in comparison.per_intent("nlu_heldout") if r.intent == "request_human"]
    assert sum(r.right_after for r in rows) < sum(r.right_before for r in rows), rows
    markdown = (repo / "out" / "report.md").read_text(encoding="utf-8")
    line = next(line for line in markdown.splitlines() if line.startswith("| human-path recall"))
    assert "▼" in line and f"({recall.detail_after})" in line, line


def test_the_moved_messages_appear(comparison: Comparison, repo: Path) -> None:
    moved = comparison.moves("nlu_heldout")
    lost = [m for m in moved if m.before.wants_human and outcome(m.before) == HANDED_OFF
            and outcome(m.after) != HANDED_OFF]
    assert lost, [(m.before.example.text, m.before.intent, m.after.intent) for m in moved]
    assert moved[0] in lost  # the human path's losses come first
    markdown = (repo / "out" / "report.md").read_text(encoding="utf-8")
    section = markdown[markdown.index("messages whose outcome changed"):]
    for move in lost:
        assert move.before.example.text.replace("|", "\\|") in section
    html = (repo / "out" / "report.html").read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>") and 'class="worse"' in html
    assert "<script" not in html and "http" not in html.split("<body>")[1]


def test_both_models_ran_the_test_stories(comparison: Comparison, repo: Path) -> None:
    before, after = comparison.before.stories, comparison.after.stories
    assert before is not None and after is not None
    assert set(before.passed) == set(after.passed) and len(before.passed) > 20
    # Today's model passes every test story (tests/assistant/test_stories.py holds it to that).
    assert all(before.passed.values()), before.first_error
    markdown = (repo / "out" / "report.md").read_text(encoding="utf-8")
    assert "| test stories passing | tests/stories |" in markdown
    # The copy keeps only the human path's story file, so the check finds the forms' missing
    # test stories (request_human, complaint, frustration mid-form): the report must say so.
    assert comparison.check_findings and comparison.check_findings > 0
    assert (f"Designer's check on the after side: {comparison.check_findings} problem(s)"
            in markdown)
