"""A revision of the assistant, as a directory, and its model.

A revision is a git revision of the project (`HEAD`, `main`, a commit) or `WORKTREE`, the files
as they are now. Only what training, the test stories and the designer's check read is taken:
config.yml, domain.yml, data/, bot/ (the custom NLU components), tests/stories/, and the code
whose names the check compares with the domain (actions/, handoff/, the evaluation). The
model comes from stack/model.py: keyed by the hash of the training inputs and kept in this
checkout's models/, so a revision whose data matches one already trained (the current model,
or an earlier report) is not trained again.
"""

from __future__ import annotations

import io
import shutil
import subprocess
import tarfile
from pathlib import Path
from typing import Callable

from stack.model import ensure_model, model_hash

WORKTREE = "WORKTREE"
PARTS = ("config.yml", "domain.yml", "data", "bot", "tests/stories", "actions", "handoff",
         "tests/assistant/nlu_eval.py")


class RevisionError(RuntimeError):
    """The revision cannot be read (unknown to git, or missing the assistant's files)."""


def materialise(root: Path, revision: str, into: Path) -> Path:
    """The assistant's files of `revision` of the project at `root`, copied under `into`."""
    into.mkdir(parents=True, exist_ok=True)
    if revision == WORKTREE:
        for part in PARTS:
            source = root / part
            if source.is_dir():
                shutil.copytree(source, into / part, ignore=shutil.ignore_patterns(
                    "__pycache__", "*.pyc", "*.db"))
            elif source.exists():
                (into / part).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(source, into / part)
    else:
        _extract(root, revision, into)
    if not (into / "domain.yml").exists() or not (into / "config.yml").exists():
        raise RevisionError(f"{revision}: no domain.yml or config.yml")
    return into


def _extract(root: Path, revision: str, into: Path) -> None:
    present = subprocess.run(["git", "-C", str(root), "ls-tree", "--name-only", revision, "--",
                              *PARTS], capture_output=True, text=True)
    if present.returncode != 0:
        raise RevisionError(f"git does not know {revision!r}: {present.stderr.strip()}")
    parts = present.stdout.split()
    archive = subprocess.run(["git", "-C", str(root), "archive", "--format=tar", revision, "--",
                              *parts], capture_output=True)
    if archive.returncode != 0:
        raise RevisionError(archive.stderr.decode(errors="replace").strip())
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        tar.extractall(into)  # our own repository's files, not an untrusted archive


def model_for(directory: Path, say: Callable[[str], None]) -> Path:
    """The trained model of a materialised revision (trained now if its hash is new)."""
    say(f"{directory.name}: training inputs hash {model_hash(directory)}")
    return ensure_model(say=say, root=directory)
