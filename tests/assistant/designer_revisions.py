"""The two revisions the designer report's test compares, and the training of the second.

A git repository with two commits: today's data, then most of `request_human` gone (one example
in KEEP_ONE_IN kept in each of our data files, the public set's files removed: the simulated
regression the report must show). The "before" model is the one ./test.sh trained (same data,
same hash); the "after" model is trained once and kept in models/ under its own hash.

`python -m tests.assistant.designer_revisions` trains the "after" model ahead: ./test.sh runs
it in the background, at the lowest priority, while the other tests run, and the report's
tests come last (tests/conftest.py). If they get there first, they wait for it (the training
lock of stack/model.py), so the model is trained once either way.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import List

from stack.model import ROOT

# The simulated regression keeps one request_human example in this many, in our own files.
KEEP_ONE_IN = 8

# Of the test stories, the human path's file only: the report runs them on both models, and
# every story file more is a few minutes more of `rasa test core` on a busy machine.
COPIED = ("config.yml", "domain.yml", "data", "bot", "actions", "handoff",
          "tests/stories/test_handoff.yml", "tests/nlu_heldout", "tests/assistant/nlu_eval.py")


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), "-c", "user.name=designer-test",
                           "-c", "user.email=designer-test@example.com", *args],
                          check=True, capture_output=True, text=True).stdout


def drop_most_of_request_human(path: Path, keep_one_in: int = KEEP_ONE_IN) -> List[str]:
    """Keeps one example in `keep_one_in` of the request_human block; returns the removed ones."""
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    kept, removed, inside, index = [], [], False, 0
    for line in lines:
        stripped = line.strip()
        if stripped.startswith("- intent:"):
            inside = stripped == "- intent: request_human"
        elif inside and stripped.startswith("- ") and line.startswith("      "):
            index += 1
            if index % keep_one_in:
                removed.append(stripped[2:])
                continue
        kept.append(line)
    path.write_text("".join(kept), encoding="utf-8")
    return removed


def build(repo: Path) -> List[str]:
    """Makes the two-commit repository at `repo`; returns the examples dropped from our files."""
    for part in COPIED:
        source = ROOT / part
        if source.is_dir():
            shutil.copytree(source, repo / part,
                            ignore=shutil.ignore_patterns("__pycache__", "*.db"))
        else:
            (repo / part).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, repo / part)
    _git(repo, "init", "-q")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", "today's data")
    # In every file: request_human has examples in several (handoff.yml, variety.yml,
    # requests.yml). The human path is robust to a smaller cut, which is good news but no
    # test of the report: with every second example dropped, and NLU++'s 122 removed, the
    # held-out recall still rose by one message (148 -> 149 of 152), the other human-path
    # intents and the neighbours' vote carrying it; one in 4 kept: 148 -> 147; one in 8:
    # 148 -> 135.
    nlu = repo / "data" / "nlu"
    for path in nlu.glob("nlupp*.yml"):
        path.unlink()
    removed = [text for path in sorted(nlu.glob("*.yml"))
               for text in drop_most_of_request_human(path)]
    _git(repo, "commit", "-qam", f"one request_human example in {KEEP_ONE_IN} kept, NLU++'s "
         "files removed")
    return removed


def train_after_model() -> Path:
    """The "after" revision's model, as the report's test will ask for it (same hash)."""
    from designer.report import prepare

    with tempfile.TemporaryDirectory(prefix="designer-after-") as tmp:
        repo = Path(tmp) / "project"
        build(repo)
        return prepare(repo, "HEAD", None, Path(tmp) / "after", print).model


if __name__ == "__main__":
    print(f"The designer report test's second model: {train_after_model()}", flush=True)
