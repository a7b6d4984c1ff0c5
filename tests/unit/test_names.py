"""Names found in customer messages, with spaCy's French pipeline and introduction patterns."""

import pytest

from bot.names import find_names


def _values(text, language):
    return [e["value"] for e in find_names(text, language)]


@pytest.mark.parametrize("text,language,expected", [
    ("Hi, my name is John Smith and my order is late", "en", ["John Smith"]),
    ("I'm Sarah, order 10234", "en", ["Sarah"]),
    ("je m'appelle Marie Dupont", "fr", ["Marie Dupont"]),
    ("Bonjour, ici Jean-Pierre Martin, ma commande n'est pas arrivée", "fr",
     ["Jean-Pierre Martin"]),
    ("Bonjour, Camille Lefèvre à l'appareil, ma commande 10234 est en retard", "fr",
     ["Camille Lefèvre"]),
])
def test_names_are_found(text, language, expected):
    assert _values(text, language) == expected


@pytest.mark.parametrize("text,language", [
    ("where is my order 10234?", "en"),
    ("I'm very angry", "en"),
    ("Bonjour, où en est ma commande ?", "fr"),
    ("je suis très déçu", "fr"),
    ("Merci beaucoup !", "fr"),
])
def test_no_name_where_there_is_none(text, language):
    assert _values(text, language) == []


def test_entity_offsets_point_at_the_name():
    text = "je m'appelle Marie Dupont"
    [entity] = find_names(text, "fr")
    assert text[entity["start"]:entity["end"]] == "Marie Dupont"


def test_the_french_pipeline_loads_with_the_component_not_on_the_first_message():
    # Loaded lazily, spaCy's pipeline held Rasa's event loop for seconds under traffic.
    from bot.names import NameExtractor, _french_pipeline

    _french_pipeline.cache_clear()
    NameExtractor.create({}, None, None, None)  # what Rasa calls when it loads the model
    assert _french_pipeline.cache_info().currsize == 1
    assert _french_pipeline.cache_info().misses == 1
    find_names("Bonjour, ici Jean-Pierre Martin", "fr")
    assert _french_pipeline.cache_info().misses == 1
