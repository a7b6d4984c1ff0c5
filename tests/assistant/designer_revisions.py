"""The two revisions the designer report's test compares, and the training of the second.

A git repository with two commits: today's data, then every second example of `request_human`
dropped in every data file (the simulated regression the report must show). The "before"
model is the one ./test.sh trained (same data, same hash); the "after" model is trained once
and kept in models/ under its own hash.

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

# Of the test stories, the human path's file only: the report runs them on both models, and
# every story file more is a few minutes more of `rasa test core` on a busy machine.
COPIED = ("config.yml", "domain.yml", "data", "bot", "actions", "handoff",
          "tests/stories/test_handoff.yml", "tests/nlu_heldout", "tests/assistant/nlu_eval.py")


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), "-c", "user.name=designer-test",
                           "-c", "user.email=designer-test@example.com", *args],
                          check=True, capture_output=True, text=True).stdout


def drop_half_of_request_human(path: Path) -> List[str]:
    """Removes every second example of the request_human block; returns the removed ones."""
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    kept, removed, inside, index = [], [], False, 0
    for line in lines:
        stripped = line.strip()
        if stripped.startswith("- intent:"):
            inside = stripped == "- intent: request_human"
        elif inside and stripped.startswith("- ") and line.startswith("      "):
            index += 1
            if index % 2 == 0:
                removed.append(stripped[2:])
                continue
        kept.append(line)
    path.write_text("".join(kept), encoding="utf-8")
    return removed


def build(repo: Path) -> List[str]:
    """Makes the two-commit repository at `repo`; returns the examples the second dropped."""
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
    # requests.yml), and halving one file's alone no longer moves the held-out figures.
    removed = [text for path in sorted((repo / "data" / "nlu").glob("*.yml"))
               for text in drop_half_of_request_human(path)]
    _git(repo, "commit", "-qam", "half of request_human's examples dropped")
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
