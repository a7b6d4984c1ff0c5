"""The test stories (tests/stories) against one model, story by story, with `rasa test core`.

Unlike the build's test (tests/assistant/test_stories.py), this one does not stop at the first
wrong prediction: the report wants every story's result for both models.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List

import yaml

from designer.project import HANDOFF

TIMEOUT = 540  # seconds
_PREDICTED = re.compile(r"^\s*-\s*(\w+):\s*(\S+)\s*#\s*predicted:\s*(.+)$")


class StoriesFailed(RuntimeError):
    """`rasa test core` could not run (not: a story failed)."""


@dataclass
class StoryResults:
    """Every test story's name -> passed; for failed ones, the first wrong prediction."""

    passed: Dict[str, bool] = field(default_factory=dict)
    first_error: Dict[str, str] = field(default_factory=dict)
    human_path: Dict[str, bool] = field(default_factory=dict)  # story reaches action_handoff

    def count(self, human_only: bool = False) -> str:
        """`passed/total`, of every story or of those that reach action_handoff."""
        names = [n for n in self.passed if self.human_path.get(n) or not human_only]
        return f"{sum(self.passed[n] for n in names)}/{len(names)}"


def run_stories(model: Path, stories: Path, out: Path, root: Path) -> StoryResults:
    """Runs every story in `stories` against `model`; results written under `out`."""
    rasa = Path(sys.executable).with_name("rasa")
    cmd = [str(rasa), "test", "core", "--stories", str(stories), "--model", str(model),
           "--out", str(out), "--successes", "--no-plot"]
    env = {**os.environ, "PYTHONPATH": str(root), "RASA_TELEMETRY_ENABLED": "false",
           "TF_CPP_MIN_LOG_LEVEL": "2"}
    try:
        proc = subprocess.run(cmd, cwd=root, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True, timeout=TIMEOUT)
    except subprocess.TimeoutExpired as exc:
        raise StoriesFailed(f"rasa test core took over {TIMEOUT} s") from exc
    if proc.returncode != 0:
        raise StoriesFailed(f"rasa test core exited with {proc.returncode}:\n"
                            + "\n".join(proc.stdout.splitlines()[-30:]))
    return _results(stories, out)


def _story_steps(stories: Path) -> Dict[str, List[dict]]:
    found: Dict[str, List[dict]] = {}
    for path in sorted(stories.rglob("*.y*ml")):
        for story in (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("stories") or []:
            found[str(story.get("story"))] = story.get("steps") or []
    return found


def _results(stories: Path, out: Path) -> StoryResults:
    results = StoryResults()
    for name, steps in _story_steps(stories).items():
        results.passed[name] = True
        results.human_path[name] = any(s.get("action") == HANDOFF for s in steps)
    failed = out / "failed_test_stories.yml"
    if failed.exists():
        for written, error in _failures(failed.read_text(encoding="utf-8")).items():
            # Rasa writes the name followed by its source (`name (path)`): the longest known
            # name it starts with is the story.
            known = [n for n in results.passed if written == n or written.startswith(n + " (")]
            name = max(known, key=len) if known else written
            results.passed[name] = False
            results.first_error[name] = error
    return results


def _failures(text: str) -> Dict[str, str]:
    """Story name -> first `expected  # predicted: x` line of Rasa's failed stories file."""
    failures: Dict[str, str] = {}
    for block in re.split(r"^- story: ", text, flags=re.MULTILINE)[1:]:
        lines = block.splitlines()
        name = lines[0].strip()
        error = next((f"expected {m.group(2)}, predicted {m.group(3).strip()}"
                      for line in lines if (m := _PREDICTED.match(line))), "failed")
        failures[name] = error
    return failures
