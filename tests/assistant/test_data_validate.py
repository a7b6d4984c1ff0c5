"""`rasa data validate` passes, and every warning it gives is one we know to be harmless."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

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
        if unused and unused.group(1) == "utter_default" and _core_fallback_is_default():
            continue  # said by Rasa's action_default_fallback when the policies are unsure
        if unused and (f'"{unused.group(1)}"' in code or _asked_by_a_form(unused.group(1))
                       or unused.group(1).startswith(_dynamic_prefixes(code))):
            continue  # sent by a custom action or asked by a form
        unexplained.append(line)
    assert unexplained == [], "\n".join(unexplained)


def _dynamic_prefixes(code: str) -> tuple:
    # Responses picked by name at run time, e.g. f"utter_order_{order.status}".
    return tuple(re.findall(r'f"(utter_\w+?)\{', code)) or ("\0",)


def _core_fallback_is_default() -> bool:
    # The two-stage fallback (action_suggest_intents) answers nlu_fallback; Rasa's own
    # action_default_fallback, which says utter_default, still answers when no policy is sure
    # of the next action (config.yml, RulePolicy's core_fallback_action_name).
    config = yaml.safe_load((ROOT / "config.yml").read_text(encoding="utf-8"))
    return any(p.get("core_fallback_action_name") == "action_default_fallback"
               for p in config.get("policies") or [])


def _asked_by_a_form(response: str) -> bool:
    # Forms ask for slot X with `utter_ask_X` (or `utter_ask_<form>_X`) by convention.
    return response.startswith("utter_ask_")
