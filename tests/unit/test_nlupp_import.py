"""NLU++'s requests for a person, as scripts/import_nlupp.py maps them, and their translation."""

from __future__ import annotations

import importlib.util
from collections import Counter
from pathlib import Path

import pytest

from tests.assistant.nlu_eval import load_examples

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("import_nlupp", ROOT / "scripts" / "import_nlupp.py")
import_nlupp = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(import_nlupp)


@pytest.mark.parametrize("text, labels, intent", [
    ("Pass me to a human please", ["handoff"], "request_human"),
    ("I demand a refund, put me through with a real person!", ["refund", "handoff"],
     "request_human"),
    ("I don't feel comfortable sharing my personal details with a machine", ["handoff"],
     "request_human"),
    ("How can I speak with one of your non-robotic agents?", ["how", "handoff"], "request_human"),
    # Says only that the chat is failing: frustration, which leads to a person too.
    ("this conversation is not working at all", ["handoff"], "frustration"),
    # Refuses a person, though labelled handoff.
    ("No, you don't need to transfer me to a real person", ["deny", "handoff"], ""),
    # A hotel's department is not a shop's person.
    ("could you transfer me to the spa team please", ["spa", "handoff"], ""),
    ("yeah, I want to speak to the reception.", ["affirm", "handoff"], ""),
    # Not a request for a person at all.
    ("I forgot my pin, can you help me?", ["pin", "dont_know"], ""),
])
def test_only_requests_for_a_shop_person_are_taken(text, labels, intent):
    assert import_nlupp.our_intent(text, labels) == intent


def test_the_french_file_translates_each_english_message():
    english = load_examples(ROOT / "data" / "nlu" / "nlupp.yml", "en")
    french = load_examples(ROOT / "data" / "nlu" / "nlupp_fr.yml", "fr")
    assert Counter(e.intent for e in english) == Counter(e.intent for e in french)
    assert len(english) == 65
    assert "NLU++" in (ROOT / "data" / "nlu" / "nlupp.yml").read_text(encoding="utf-8")
    assert "CC BY 4.0" in (ROOT / "data" / "nlu" / "nlupp_fr.yml").read_text(encoding="utf-8")
