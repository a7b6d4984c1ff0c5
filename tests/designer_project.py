"""A copy of what the designer's check reads, for tests that break it on purpose."""

from __future__ import annotations

import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def copy_project(tmp_path: Path) -> Path:
    """A copy of what the check reads: the assistant's YAML and the code that names things."""
    copy = tmp_path / "project"
    copy.mkdir(parents=True)
    shutil.copy(ROOT / "domain.yml", copy / "domain.yml")
    shutil.copy(ROOT / "config.yml", copy / "config.yml")
    shutil.copytree(ROOT / "data", copy / "data")
    shutil.copytree(ROOT / "tests" / "stories", copy / "tests" / "stories")
    (copy / "tests" / "assistant").mkdir()
    shutil.copy(ROOT / "tests" / "assistant" / "nlu_eval.py", copy / "tests" / "assistant")
    for code in ("actions", "handoff", "bot"):
        shutil.copytree(ROOT / code, copy / code,
                        ignore=lambda d, names: [n for n in names if not (
                            n.endswith((".py", ".yml")) or (Path(d) / n).is_dir())
                            or n in ("static", "__pycache__", "data")])
    return copy
