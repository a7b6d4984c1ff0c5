"""Rasa's test stories (tests/stories) against the trained model, with `rasa test core`."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from stack.model import ROOT, ensure_model

STORIES = ROOT / "tests" / "stories"
RASA_TIMEOUT = 540  # seconds, within the test's own 600 s
OUTPUT_TAIL = 80  # lines


def _story_files() -> list:
    return sorted(p for p in STORIES.rglob("*") if p.suffix in (".yml", ".yaml") and p.is_file())


@pytest.mark.assistant
@pytest.mark.timeout(600)
def test_stories_pass(tmp_path: Path) -> None:
    # `rasa test core` falls back to data/ when the folder is missing: check first.
    files = _story_files()
    assert files, f"no test stories in {STORIES} (expected YAML files with `stories:`)"
    model = ensure_model(say=lambda line: None)
    out = tmp_path / "results"
    rasa = Path(sys.executable).with_name("rasa")
    cmd = [str(rasa), "test", "core", "--stories", str(STORIES), "--model", str(model),
           "--fail-on-prediction-errors", "--out", str(out)]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "RASA_TELEMETRY_ENABLED": "false",
           "TF_CPP_MIN_LOG_LEVEL": "2"}
    try:
        proc = subprocess.run(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True, timeout=RASA_TIMEOUT)
    except subprocess.TimeoutExpired as exc:
        output = exc.stdout if isinstance(exc.stdout, str) else (exc.stdout or b"").decode()
        pytest.fail(f"rasa test core took over {RASA_TIMEOUT} s\n{_tail(output)}")

    if proc.returncode != 0:
        failed = out / "failed_test_stories.yml"
        shown = (failed.read_text(errors="replace") if failed.exists() else
                 "(not written: with --fail-on-prediction-errors Rasa stops at the first "
                 "wrong prediction; the failed story is in the output below)")
        pytest.fail(f"rasa test core exited with {proc.returncode}\n"
                    f"--- {failed.name} ---\n{shown}\n"
                    f"--- last {OUTPUT_TAIL} lines of the output ---\n{_tail(proc.stdout)}",
                    pytrace=False)

    # A run that read no story at all also exits with 0: make sure some were tested.
    report = out / "story_report.json"
    assert report.exists(), f"no {report.name} written\n{_tail(proc.stdout)}"
    conversations = json.loads(report.read_text()).get("conversation_accuracy") or {}
    assert conversations.get("total", 0) > 0, (
        f"rasa test core evaluated no story in {STORIES}\n{_tail(proc.stdout)}")
    assert conversations.get("correct") == conversations.get("total"), conversations


def _tail(output: str) -> str:
    """The end of Rasa's output, without colour codes."""
    plain = re.sub(r"\x1b\[[0-9;]*m", "", output or "")
    return "\n".join(plain.splitlines()[-OUTPUT_TAIL:])
