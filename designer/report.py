"""The before/after report for a data change: what moved between two models.

    .venv/bin/python -m designer report [--before HEAD] [--after WORKTREE]
                                        [--before-model M] [--after-model M]
                                        [--set NAME=GLOB ...] [--no-stories] [--out DIR]

Each side is trained from its revision (or given as a model), both are run on the same held-out
sets (from the current checkout: the same messages for both) and on the after side's test
stories, and the report shows the headline figures, per-intent figures, the messages whose
outcome changed (handed off / answered / fallback) and the stories whose result changed, as
Markdown and as an HTML page.
"""

from __future__ import annotations

import asyncio
import math
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence

from designer import check as designer_check
from designer.compare import Figure, IntentRow, Move, describe, figures, moves, per_intent
from designer.render import BETTER, WORSE, Block, Cell, Heading, Paragraph, Table
from designer.revisions import WORKTREE, materialise, model_for
from designer.stories import StoryResults, run_stories
from tests.assistant.nlu_eval import HUMAN, Example, Prediction, Scores, load_heldout, predict_async

# The held-out sets, each a list of file patterns under the project root. A new independent
# set is one more entry (or `--set NAME=GLOB` on the command line); the language of a file is
# the end of its name (`*_fr.yml`), as in tests/assistant/nlu_eval.py.
HELDOUT_SETS: Dict[str, Sequence[str]] = {
    "nlu_heldout": ("tests/nlu_heldout/heldout_*.yml",),
}


@dataclass
class Side:
    """One of the two models: its label, model archive and (if any) its project files."""

    label: str
    model: Path
    directory: Optional[Path] = None
    predictions: Dict[str, List[Prediction]] = field(default_factory=dict)
    stories: Optional[StoryResults] = None


@dataclass
class Comparison:
    """Everything the report shows; also what the tests look at."""

    before: Side
    after: Side
    sets: Dict[str, List[Path]]
    check_findings: Optional[int] = None

    def scores(self, side: Side, name: str, language: Optional[str] = None) -> Scores:
        """The figures of one side on one set (and language)."""
        return Scores([p for p in side.predictions[name]
                       if language is None or p.example.language == language])

    def figures(self, name: str, language: Optional[str] = None) -> List[Figure]:
        """Headline figures before and after."""
        return figures(self.scores(self.before, name, language),
                       self.scores(self.after, name, language))

    def moves(self, name: str) -> List[Move]:
        """Messages predicted differently, the human path's losses first."""
        return moves(self.before.predictions[name], self.after.predictions[name])

    def per_intent(self, name: str) -> List[IntentRow]:
        """Per-intent rows."""
        return per_intent(self.before.predictions[name], self.after.predictions[name])


def resolve_sets(root: Path, patterns: Dict[str, Sequence[str]]) -> Dict[str, List[Path]]:
    """Set name -> its files (each set must have some)."""
    sets = {name: sorted({p for g in globs for p in root.glob(g)})
            for name, globs in patterns.items()}
    empty = [name for name, files in sets.items() if not files]
    if empty:
        raise ValueError(f"no held-out files for {', '.join(empty)} under {root}")
    return sets


def predict(side: Side, sets: Dict[str, List[Path]]) -> None:
    """Parses every held-out message of every set with the side's model (loaded once)."""
    examples: Dict[str, List[Example]] = {name: load_heldout(files) for name, files in
                                          sets.items()}
    flat = [e for name in sets for e in examples[name]]
    predictions, _ = asyncio.run(predict_async(side.model, flat))
    start = 0
    for name in sets:
        side.predictions[name] = predictions[start:start + len(examples[name])]
        start += len(examples[name])


def compare(root: Path, before: Side, after: Side, sets: Dict[str, List[Path]],
            stories: Optional[Path], work: Path, say: Callable[[str], None]) -> Comparison:
    """Evaluates both sides: held-out sets, then the test stories (when `stories` is given)."""
    for key, side in (("before", before), ("after", after)):
        if key == "after" and after.model == before.model:
            # Same model (same training inputs): same predictions (the model is fixed-seed and
            # deterministic at inference), no need to run it twice.
            say(f"{after.label} has the same model as {before.label}: nothing can move.")
            after.predictions, after.stories = before.predictions, before.stories
            break
        say(f"Held-out sets on {side.label} ({side.model.name}) ...")
        predict(side, sets)
        if stories is not None:
            say(f"Test stories on {side.label} ...")
            side.stories = run_stories(side.model, stories, work / f"stories_{key}", root)
    found = None
    if after.directory is not None:
        found = len(designer_check.run(after.directory))
    return Comparison(before, after, sets, found)


# --- the document --------------------------------------------------------------------------
def _pct(value: float) -> str:
    return "n/a" if math.isnan(value) else f"{value * 100:.1f}%"


def _change(figure: Figure) -> Cell:
    if math.isnan(figure.before) or math.isnan(figure.after):
        return Cell("n/a")
    delta = figure.after - figure.before
    text = (f"{delta:+.0f}" if figure.higher_is_better is None
            else f"{delta * 100:+.1f} pts")
    if abs(delta) < 1e-9 or figure.higher_is_better is None:
        return Cell(text if abs(delta) >= 1e-9 else "=")
    better = (delta > 0) == figure.higher_is_better
    return Cell(text, BETTER if better else WORSE)


def _figure_cells(figure: Figure) -> List[object]:
    if figure.higher_is_better is None:
        return [figure.detail_before, figure.detail_after, _change(figure)]
    return [f"{_pct(figure.before)} ({figure.detail_before})",
            f"{_pct(figure.after)} ({figure.detail_after})", _change(figure)]


def document(c: Comparison) -> List[Block]:
    """The report as blocks (render.markdown / render.page)."""
    blocks: List[Block] = [
        Heading(f"Before/after: {c.before.label} → {c.after.label}", 1),
        Paragraph(f"Before: `{c.before.model.name}`. After: `{c.after.model.name}`. "
                  "Held-out sets (the same messages for both): " + ", ".join(
                      f"{name} ({len(c.before.predictions[name])} messages)" for name in c.sets)
                  + "."),
        Paragraph("Outcome of a message: handed off (a human-path intent: "
                  f"{', '.join(sorted(HUMAN))}), fallback (nlu_fallback: \"could you "
                  "rephrase?\"), or answered (any other intent). \"Right\" means a person when "
                  "the customer wanted one (any human-path intent), else the exact intent."),
    ]
    if c.check_findings is not None:
        blocks.append(Paragraph("Designer's check on the after side: " + (
            "passed." if c.check_findings == 0 else
            f"{c.check_findings} problem(s): run `python -m designer check`.")))
    summary = Table(["figure", "set", "before", "after", "change"])
    for name in c.sets:
        for figure in c.figures(name):
            summary.rows.append([figure.name, name, *_figure_cells(figure)])
    if c.before.stories and c.after.stories:
        for label, human in (("test stories passing", False),
                             ("human-path test stories passing", True)):
            b, a = c.before.stories.count(human), c.after.stories.count(human)
            mood = _count_mood(b, a)
            summary.rows.append([label, "tests/stories", b, a, Cell("=" if b == a else "moved",
                                                                    mood)])
    blocks += [Heading("Summary"), summary]
    for name in c.sets:
        blocks += _set_sections(c, name)
    if c.before.stories and c.after.stories:
        blocks += _story_section(c.before.stories, c.after.stories)
    return blocks


def _count_mood(before: str, after: str) -> Optional[str]:
    b, a = int(before.split("/")[0]), int(after.split("/")[0])
    return None if a == b else (BETTER if a > b else WORSE)


def _set_sections(c: Comparison, name: str) -> List[Block]:
    languages = sorted({p.example.language for p in c.before.predictions[name]})
    by_language = Table(["figure", "language", "before", "after", "change"])
    for language in languages:
        for figure in c.figures(name, language):
            by_language.rows.append([figure.name, language, *_figure_cells(figure)])
    intents = Table(["intent", "language", "messages", "right before", "right after",
                     "change", "exact intent before → after"])
    for row in c.per_intent(name):
        delta = row.right_after - row.right_before
        mood = None if delta == 0 else (BETTER if delta > 0 else WORSE)
        label = row.intent + (" (human path)" if row.intent in HUMAN else "")
        intents.rows.append([label, row.language, str(row.total), str(row.right_before),
                             str(row.right_after), Cell(f"{delta:+d}" if delta else "=", mood),
                             f"{row.exact_before} → {row.exact_after}"])
    moved = c.moves(name)
    changed = [m for m in moved if m.outcome_changed]
    same = [m for m in moved if not m.outcome_changed]
    return [Heading(f"Held-out set {name}: by language"), by_language,
            Heading(f"Held-out set {name}: per intent"), intents,
            Heading(f"Held-out set {name}: messages whose outcome changed ({len(changed)})"),
            _moves_table(changed) if changed else Paragraph("None."),
            Heading(f"Held-out set {name}: messages whose intent changed, same outcome "
                    f"({len(same)})"),
            _moves_table(same) if same else Paragraph("None.")]


def _moves_table(found: List[Move]) -> Table:
    table = Table(["language", "message", "wanted", "before", "after"])
    for move in found:
        mood = {"better": BETTER, "worse": WORSE}.get(move.verdict or "")
        table.rows.append([move.before.example.language, move.before.example.text,
                           move.before.example.intent, describe(move.before),
                           Cell(describe(move.after), mood)])
    return table


def _story_section(before: StoryResults, after: StoryResults) -> List[Block]:
    changed = [n for n in after.passed if before.passed.get(n) != after.passed[n]]
    table = Table(["story", "human path", "before", "after", "first wrong prediction"])
    for name in changed:
        was, now = before.passed.get(name), after.passed[name]
        table.rows.append([name, "yes" if after.human_path.get(name) else "",
                           "passed" if was else "failed" if was is not None else "(new)",
                           Cell("passed" if now else "failed", BETTER if now else WORSE),
                           after.first_error.get(name) or before.first_error.get(name, "")])
    text = (f"Passing: {before.count()} before, {after.count()} after; on the human path "
            f"(stories that reach action_handoff): {before.count(True)} before, "
            f"{after.count(True)} after. Both models ran the after side's stories.")
    return [Heading(f"Test stories whose result changed ({len(changed)})"), Paragraph(text),
            table if changed else Paragraph("None.")]


def prepare(root: Path, revision: Optional[str], model: Optional[Path], work: Path,
            say: Callable[[str], None]) -> Side:
    """A side from a revision (materialised and trained, or reused by hash) or a model."""
    if model is not None:
        return Side(f"model {model.name}", Path(model).resolve())
    revision = revision or WORKTREE
    directory = materialise(root, revision, work / ("rev_" + revision.replace("/", "_")))
    label = revision if revision == WORKTREE else f"{revision} ({_short(root, revision)})"
    return Side(label, model_for(directory, say), directory)


def _short(root: Path, revision: str) -> str:
    out = subprocess.run(["git", "-C", str(root), "rev-parse", "--short", revision],
                         capture_output=True, text=True)
    return out.stdout.strip() or revision


def run(root: Path, before: Optional[str], after: Optional[str], out: Path,
        before_model: Optional[Path] = None, after_model: Optional[Path] = None,
        sets: Optional[Dict[str, Sequence[str]]] = None, with_stories: bool = True,
        say: Callable[[str], None] = print) -> Comparison:
    """Builds the comparison and writes `out`/report.md and `out`/report.html."""
    from designer.render import markdown, page

    resolved = resolve_sets(root, sets or HELDOUT_SETS)
    with tempfile.TemporaryDirectory(prefix="designer-report-") as tmp:
        work = Path(tmp)
        sides = [prepare(root, before or "HEAD", before_model, work / "before", say),
                 prepare(root, after, after_model, work / "after", say)]
        stories = None
        if with_stories:
            stories = (sides[1].directory or root) / "tests" / "stories"
        comparison = compare(root, sides[0], sides[1], resolved, stories, work, say)
    blocks = document(comparison)
    out.mkdir(parents=True, exist_ok=True)
    (out / "report.md").write_text(markdown(blocks), encoding="utf-8")
    (out / "report.html").write_text(page(blocks, blocks[0].text), encoding="utf-8")
    say(f"Report written to {out / 'report.md'} and {out / 'report.html'}")
    return comparison
