"""The trained Rasa model, keyed by a hash of what training reads."""

from __future__ import annotations

import fcntl
import hashlib
import os
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterable, Iterator, List

ROOT = Path(__file__).resolve().parent.parent
MODELS = ROOT / "models"
# How often a process waiting for another's training says so and looks again.
LOCK_POLL_SECONDS = 15.0
# Everything that changes the trained model: config, domain, training data and the custom
# NLU components' code (the language detector's scoring is in the shared core).
TRAINING_INPUTS = ("config.yml", "domain.yml", "data", "bot/language.py", "handoff/language.py",
                   "bot/order_numbers.py", "bot/novelty.py", "bot/sentence_encoder.py",
                   "bot/human_path.py", "bot/neighbours.py", "bot/linear_intents.py",
                   "bot/pleasantries.py", "bot/names.py")


class TrainingFailed(RuntimeError):
    """`rasa train` exited with an error."""


def _files(root: Path, inputs: Iterable[str]) -> List[Path]:
    found: List[Path] = []
    for name in inputs:
        path = root / name
        if path.is_dir():
            # Rasa trains on YAML only: a folder's notes (data/README.md) change no model.
            found.extend(sorted(p for p in path.rglob("*") if p.is_file() and p.suffix != ".md"))
        elif path.exists():
            found.append(path)
    return found


def model_hash(root: Path = ROOT) -> str:
    """A hash of the training inputs (file names and contents)."""
    digest = hashlib.sha256()
    for path in _files(root, TRAINING_INPUTS):
        digest.update(str(path.relative_to(root)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


@contextmanager
def _training_lock(key: str, say: Callable[[str], None]) -> Iterator[None]:
    """Held while the model `key` is looked for and trained.

    Two processes that need the same model (./test.sh training the designer test's second model
    ahead, and that test) train it once, the second waiting for the first.
    """
    MODELS.mkdir(exist_ok=True)
    with open(MODELS / f"{key}.lock", "w") as lock:
        started = time.monotonic()
        while True:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                say(f"  ... another process is training model {key}, waited "
                    f"{time.monotonic() - started:.0f} s")
                time.sleep(LOCK_POLL_SECONDS)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def ensure_model(say: Callable[[str], None] = print, root: Path = ROOT) -> Path:
    """The model for the current data, trained first if none matches."""
    key = model_hash(root)
    model = MODELS / f"{key}.tar.gz"
    with _training_lock(key, say):
        if model.exists():
            say(f"Model {model.name} matches the data (no training needed).")
            return model
        return _train(key, model, say, root)


def _train(key: str, model: Path, say: Callable[[str], None], root: Path) -> Path:
    log = MODELS / f"{key}.train.log"
    # Renamed once whole: a training cut short leaves no file that looks like a model. (Rasa
    # keeps a name ending in .tar.gz as it is, and replaces any other suffix with it.)
    partial = MODELS / f"{key}-partial.tar.gz"
    say(f"Training the Rasa model ({key}); this takes about 5 minutes on 2 cores. Log: {log}")
    started = time.monotonic()
    rasa = Path(sys.executable).with_name("rasa")
    cmd = [str(rasa), "train", "--config", "config.yml", "--domain", "domain.yml", "--data",
           "data", "--out", str(MODELS), "--fixed-model-name", partial.name]
    env = {**os.environ, "RASA_TELEMETRY_ENABLED": "false", "TF_CPP_MIN_LOG_LEVEL": "2",
           "PYTHONPATH": str(root)}
    with open(log, "w") as out:
        proc = subprocess.Popen(cmd, cwd=root, env=env, stdout=out, stderr=subprocess.STDOUT)
        while proc.poll() is None:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                say(f"  ... still training, {time.monotonic() - started:.0f} s")
    if proc.returncode != 0 or not partial.exists():
        tail = log.read_text(errors="replace").splitlines()[-30:]
        raise TrainingFailed("rasa train failed:\n" + "\n".join(tail))
    os.replace(partial, model)
    say(f"Model trained in {time.monotonic() - started:.0f} s: {model}")
    return model
