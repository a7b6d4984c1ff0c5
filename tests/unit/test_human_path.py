"""HumanPathTotal: a fallback split between human-path intents goes to a person.

The rankings are written by hand, the way DIET and the FallbackClassifier leave a message, so
that each case says what the component does with one ranking; the component is the one Rasa
builds from config.yml.
"""

from __future__ import annotations

import pytest
import yaml
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.nlu.constants import INTENT, INTENT_RANKING_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message

from actions.orders import HUMAN_PATH_INTENTS as FORMS_HUMAN_PATH
from bot.human_path import HUMAN_PATH_INTENTS, HumanPathTotal, human_path_guess
from stack.model import ROOT


def _fallback(text: str, *ranked: tuple) -> Message:
    """A message the FallbackClassifier fell back on, DIET's ranking after its entry."""
    ranking = [{"name": "nlu_fallback", "confidence": 0.4},
               *({"name": name, "confidence": confidence} for name, confidence in ranked)]
    return Message({TEXT: text, INTENT: dict(ranking[0]), INTENT_RANKING_KEY: ranking})


@pytest.fixture
def total(tmp_path) -> HumanPathTotal:
    config = yaml.safe_load((ROOT / "config.yml").read_text(encoding="utf-8"))
    [settings] = [c for c in config["pipeline"] if c["name"] == "bot.human_path.HumanPathTotal"]
    (tmp_path / "storage").mkdir()
    return HumanPathTotal.create(
        {k: v for k, v in settings.items() if k != "name"}, LocalModelStorage(tmp_path / "storage"),
        Resource("human_path_total"), ExecutionContext(GraphSchema({}), "test"))


def test_a_complaint_split_between_two_human_intents_goes_to_a_person(total):
    # Complaint 0.22 and sensitive topic 0.20: each below the fallback's 0.4, together 0.42.
    message = _fallback("je ne suis pas satisfait de la qualité", ("complaint", 0.22),
                        ("sensitive_topic", 0.20), ("returns", 0.15), ("deny", 0.10))
    total.process([message])
    assert message.get(INTENT) == {"name": "complaint", "confidence": pytest.approx(0.42)}
    names = [r["name"] for r in message.get(INTENT_RANKING_KEY)]
    assert names == ["complaint", "sensitive_topic", "returns", "deny"]


def test_a_request_for_a_person_barely_ahead_of_contact_goes_to_a_person(total):
    # The ambiguity fallback (ahead by less than 0.1): "contact / chat with somebody" reaches
    # a person (issue 15).
    message = _fallback("can I get in touch with someone from customer service",
                        ("request_human", 0.45), ("contact", 0.40), ("opening_hours", 0.05))
    total.process([message])
    assert message.get(INTENT)["name"] == "request_human"


@pytest.mark.parametrize("ranked", [
    # A shop intent first: the buttons ask, even with much of the human path behind it.
    (("returns", 0.35), ("complaint", 0.30), ("frustration", 0.10)),
    # The human path first but, all of it together, below the threshold.
    (("frustration", 0.20), ("chitchat", 0.18), ("complaint", 0.10), ("greet", 0.09)),
])
def test_the_fallback_stays_when_the_human_path_is_not_the_likely_reading(total, ranked):
    message = _fallback("hmm i dunno", *ranked)
    total.process([message])
    assert message.get(INTENT)["name"] == "nlu_fallback"
    assert message.get(INTENT_RANKING_KEY)[0]["name"] == "nlu_fallback"


def test_a_message_the_fallback_did_not_touch_is_left_alone(total):
    message = Message({TEXT: "where is my order", INTENT: {"name": "order_status",
                                                           "confidence": 0.55},
                       INTENT_RANKING_KEY: [{"name": "order_status", "confidence": 0.55},
                                            {"name": "complaint", "confidence": 0.44}]})
    total.process([message])
    assert message.get(INTENT) == {"name": "order_status", "confidence": 0.55}


def test_the_guess_needs_a_ranking():
    assert human_path_guess([], 0.4) == {}
    assert human_path_guess([{"name": "nlu_fallback", "confidence": 0.4}], 0.4) == {}


def test_it_names_the_same_human_path_as_the_forms():
    assert HUMAN_PATH_INTENTS == FORMS_HUMAN_PATH


def test_it_runs_after_the_fallback_and_before_the_novelty_guard():
    config = yaml.safe_load((ROOT / "config.yml").read_text(encoding="utf-8"))
    names = [c["name"] for c in config["pipeline"]]
    assert (names.index("FallbackClassifier") < names.index("bot.human_path.HumanPathTotal")
            < names.index("bot.novelty.NoveltyGuard"))
    fallback = next(c for c in config["pipeline"] if c["name"] == "FallbackClassifier")
    total = next(c for c in config["pipeline"] if c["name"] == "bot.human_path.HumanPathTotal")
    assert total["threshold"] == fallback["threshold"]
