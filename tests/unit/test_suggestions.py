"""The two-stage fallback's first stage: likely intents and "Talk to a person" as buttons."""

import asyncio
from pathlib import Path

import pytest
import yaml
from rasa_sdk.executor import CollectingDispatcher

from actions.suggestions import PERSON_PAYLOAD, TITLES, ActionSuggestIntents, likely_intents
from tests.trackers import action_tracker

ROOT = Path(__file__).resolve().parents[2]
RANKING = [
    {"name": "nlu_fallback", "confidence": 0.4},
    {"name": "returns", "confidence": 0.31},
    {"name": "greet", "confidence": 0.2},
    {"name": "cancel_order", "confidence": 0.18},
    {"name": "chitchat", "confidence": 0.12},
    {"name": "out_of_scope", "confidence": 0.1},
    {"name": "order_status", "confidence": 0.08},
    {"name": "delivery_times", "confidence": 0.07},
    {"name": "contact", "confidence": 0.01},
]


def _run(ranking, language):
    tracker = action_tracker(text="hmm my thing", intent="nlu_fallback",
                             slots={"language": language})
    tracker.latest_message["intent_ranking"] = ranking
    dispatcher = CollectingDispatcher()
    events = asyncio.run(ActionSuggestIntents().run(dispatcher, tracker, {}))
    [message] = dispatcher.messages
    return message, events


@pytest.mark.parametrize("language,person", [("en", "Talk to a person"),
                                             ("fr", "Parler à une personne")])
def test_likely_intents_then_a_person(language, person):
    message, events = _run(RANKING, language)
    assert events == []
    assert message["response"] == "utter_suggest_intents"
    assert [b["payload"] for b in message["buttons"]] == [
        "/returns", "/cancel_order", "/order_status", PERSON_PAYLOAD]
    assert [b["title"] for b in message["buttons"]] == [
        TITLES["returns"][language], TITLES["cancel_order"][language],
        TITLES["order_status"][language], person]


def test_small_talk_out_of_scope_and_noise_are_never_offered():
    assert likely_intents(RANKING, limit=10) == [
        "returns", "cancel_order", "order_status", "delivery_times"]


def test_a_person_is_offered_even_with_no_likely_intent():
    message, _ = _run([{"name": "nlu_fallback", "confidence": 0.4},
                       {"name": "greet", "confidence": 0.3}], "fr")
    assert message["buttons"] == [{"title": "Parler à une personne", "payload": "/request_human"}]


def test_every_offered_intent_exists_and_the_question_exists_in_both_languages():
    domain = yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))
    intents = {i if isinstance(i, str) else next(iter(i)) for i in domain["intents"]}
    assert set(TITLES) <= intents
    assert all(set(titles) == {"en", "fr"} for titles in TITLES.values())
    variants = domain["responses"]["utter_suggest_intents"]
    assert {v.get("condition", [{}])[0].get("value", "en") for v in variants} == {"en", "fr"}


@pytest.mark.parametrize("response", ["utter_contact", "utter_capabilities",
                                      "utter_out_of_scope", "utter_chitchat",
                                      # The shop's answers: a customer who wanted a person and
                                      # got one of them is one tap from a person.
                                      "utter_delivery_times", "utter_returns",
                                      "utter_opening_hours", "utter_payment_methods",
                                      "utter_account_reset"])
def test_contact_capabilities_and_the_shop_s_answers_offer_a_person_in_one_tap(response):
    domain = yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))
    for variant in domain["responses"][response]:
        assert [b["payload"] for b in variant.get("buttons", [])] == [PERSON_PAYLOAD], variant
