"""`rasa data validate` passes, and every warning it gives is one we know to be harmless."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# Code that sends responses by name (actions, forms); a response used there is used.
SENDERS = [*ROOT.glob("actions/*.py"), *ROOT.glob("handoff/*.py")]

pytestmark = [pytest.mark.assistant, pytest.mark.timeout(300)]


def test_rasa_data_validate_has_no_warning_that_matters():
    rasa = Path(sys.executable).with_name("rasa")
    env = {**os.environ, "RASA_TELEMETRY_ENABLED": "false", "PYTHONPATH": str(ROOT)}
    run = subprocess.run([str(rasa), "data", "validate", "--domain", "domain.yml", "--data",
                          "data"], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=280)
    output = run.stdout + run.stderr
    assert run.returncode == 0, output[-3000:]
    code = "\n".join(path.read_text() for path in SENDERS)
    unexplained = []
    for line in output.splitlines():
        if "UserWarning" not in line:
            continue
        external = re.search(r"The intent '(EXTERNAL_\w+)' is listed in the domain file, but is "
                             r"not found in the NLU training data", line)
        unused = re.search(r"The utterance '(\w+)' is not used in any story or rule", line)
        if external:
            continue  # triggered by the handoff service, never said by customers
        if unused and (f'"{unused.group(1)}"' in code or _asked_by_a_form(unused.group(1))
                       or unused.group(1).startswith(_dynamic_prefixes(code))):
            continue  # sent by a custom action or asked by a form
        unexplained.append(line)
    assert unexplained == [], "\n".join(unexplained)


def _dynamic_prefixes(code: str) -> tuple:
    # Responses picked by name at run time, e.g. f"utter_order_{order.status}".
    return tuple(re.findall(r'f"(utter_\w+?)\{', code)) or ("\0",)


def _asked_by_a_form(response: str) -> bool:
    # Forms ask for slot X with `utter_ask_X` (or `utter_ask_<form>_X`) by convention.
    return response.startswith("utter_ask_")
