"""Unit tests for the language detector: its scoring (handoff.language, pure Python), its Rasa
component (bot.language) and bilingual responses."""

import re
from pathlib import Path

import pytest
import yaml

from handoff.language import detect, language_entity, score

ROOT = Path(__file__).resolve().parents[2]

ENGLISH = [
    "I want to talk to a human",
    "real person please",
    "where is my order 10234",
    "where's my parcel??",
    "how long does delivery take",
    "what are your opening hours",
    "can I get a refund",
    "hello",
    "hi there",
    "thanks a lot",
    "thx",
    "yes",
    "nope",
    "bye",
    "this bot is useless, get me someone",
    "i wanna talk to a humn",
    "Bonjour, where is my order?",  # mostly English
]

FRENCH = [
    "je veux parler à un conseiller",
    "un humain",
    "une vraie personne",
    "conseiller svp",
    "où en est ma commande 10234 ?",
    "ou est ma commande",
    "quels sont vos délais de livraison",
    "vous êtes ouverts le dimanche ?",
    "je voudrais être remboursé",
    "bonjour",
    "salut",
    "merci beaucoup",
    "oui",
    "non merci",
    "au revoir",
    "jveux parler a qqn stp",
    "c'est nul, passez-moi quelqu'un",
    "j'ai pas reçu mon colis",
    "Hello, j'ai une question sur ma commande",  # mostly French
]

UNSURE = [
    "10234",
    "#45678",
    "ok",
    "OK!",
    "agent",
    "stop bot",
    "?",
    "",
    "   ",
    "👍",
    "/affirm",  # button payloads are handled by the component, but score nothing
]


@pytest.mark.parametrize("text", ENGLISH)
def test_english_messages(text):
    found = detect(text)
    assert found is not None and found.language == "en", (text, score(text))


@pytest.mark.parametrize("text", FRENCH)
def test_french_messages(text):
    found = detect(text)
    assert found is not None and found.language == "fr", (text, score(text))


@pytest.mark.parametrize("text", UNSURE)
def test_no_decision_without_evidence(text):
    assert detect(text) is None
    assert language_entity(text) is None


def test_none_text():
    assert detect(None) is None


def test_mixed_message_without_a_clear_winner_is_left_alone():
    # One distinctive word each side: not confident.
    assert detect("merci hello") is None


def test_accented_unknown_words_count_as_french():
    assert score("éléphant")["fr"] == 1
    assert detect("éléphant rosé") is not None
    assert detect("éléphant rosé").language == "fr"


def test_case_and_apostrophes_do_not_matter():
    assert detect("MERCI BEAUCOUP").language == "fr"
    assert detect("J’AI UNE QUESTION").language == "fr"
    assert detect("WHERE'S MY ORDER").language == "en"


def test_entity_shape():
    text = "où est mon colis ?"
    entity = language_entity(text)
    assert entity == {
        "entity": "language",
        "value": "fr",
        "start": 0,
        "end": len(text),
        "confidence": entity["confidence"],
        "extractor": "LanguageDetector",
    }
    assert 0.7 <= entity["confidence"] <= 1.0


def test_thresholds_are_configurable():
    assert detect("merci") is not None
    assert detect("merci", min_score=3) is None
    assert detect("Bonjour, where is my order?", min_ratio=0.9) is None


# --- the Rasa component ------------------------------------------------------


def _component():
    from bot.language import LanguageDetector

    return LanguageDetector({})


def test_component_appends_entity_and_keeps_existing_ones():
    from rasa.shared.nlu.training_data.message import Message

    existing = {
        "entity": "order_number",
        "value": "10234",
        "start": 22,
        "end": 27,
        "extractor": "RegexEntityExtractor",
    }
    message = Message(data={"text": "où en est ma commande 10234", "entities": [existing]})
    (out,) = _component().process([message])
    entities = out.get("entities")
    assert entities[0] == existing
    assert entities[1]["entity"] == "language" and entities[1]["value"] == "fr"
    assert "entities" in out.output_properties


@pytest.mark.parametrize("text", ["10234", "ok", "/request_human", "/affirm"])
def test_component_adds_nothing_when_unsure_or_for_payloads(text):
    from rasa.shared.nlu.training_data.message import Message

    message = Message(data={"text": text})
    (out,) = _component().process([message])
    assert not out.get("entities")


def test_component_is_registered_as_an_untrainable_entity_extractor():
    from rasa.engine.recipes.default_recipe import DefaultV1Recipe

    from bot.language import LanguageDetector

    # (_registered_components rather than _from_registry: the latter imports
    # all of Rasa's default components, which is slow and noisy.)
    registered = DefaultV1Recipe._registered_components[LanguageDetector.__name__]
    assert registered.clazz is LanguageDetector
    assert DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR in registered.types
    assert registered.is_trainable is False


# --- the domain: one assistant, two languages --------------------------------


def _domain():
    return yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))


def test_language_slot_follows_the_detector():
    slot = _domain()["slots"]["language"]
    assert slot["initial_value"] == "en"
    assert slot["influence_conversation"] is False
    assert slot["mappings"] == [{"type": "from_entity", "entity": "language"}]
    assert "bot.language.LanguageDetector" in (ROOT / "config.yml").read_text()


def _variables(text):
    return set(re.findall(r"{(\w+)}", text))


def _prose(text):
    """The response text without its {variables}."""
    return re.sub(r"{\w+}", " ", text)


def test_every_response_exists_in_english_and_french():
    fr_condition = [{"type": "slot", "name": "language", "value": "fr"}]
    for name, variants in _domain()["responses"].items():
        defaults = [v for v in variants if "condition" not in v]
        french = [v for v in variants if v.get("condition") == fr_condition]
        assert len(defaults) == 1, f"{name}: needs exactly one English default"
        assert len(french) == 1, f"{name}: needs exactly one French variant"
        assert len(variants) == 2, name
        assert detect(_prose(defaults[0]["text"])).language == "en", name
        assert detect(_prose(french[0]["text"])).language == "fr", name

        assert _variables(defaults[0]["text"]) == _variables(french[0]["text"]), name
        # Same button payloads in both languages.
        assert [b["payload"] for b in defaults[0].get("buttons", [])] == [
            b["payload"] for b in french[0].get("buttons", [])
        ], name


def test_handoff_responses_for_action_handoff():
    responses = _domain()["responses"]
    for variant in responses["utter_handoff_queued"]:
        assert "{position}" in variant["text"]
    assert "utter_handoff_failed" in responses
