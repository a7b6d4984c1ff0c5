"""Names found in customer messages: only from introductions and signatures, both languages."""

import pytest

from bot.names import find_names, is_a_name


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
    # Introductions and signatures (issue 15), both languages.
    ("I'm Marie", "en", ["Marie"]),
    ("je m'appelle Paul", "fr", ["Paul"]),
    ("Marie here, my parcel never came", "en", ["Marie"]),
    ("Where is my parcel?\nBest regards, John Smith", "en", ["John Smith"]),
    ("Ma commande n'est pas arrivée. Cordialement, Sophie Bernard", "fr", ["Sophie Bernard"]),
    ("moi c'est Léa, j'ai un souci de livraison", "fr", ["Léa"]),
])
def test_names_are_found(text, language, expected):
    assert _values(text, language) == expected


@pytest.mark.parametrize("text,language", [
    ("where is my order 10234?", "en"),
    ("I'm very angry", "en"),
    ("Bonjour, où en est ma commande ?", "fr"),
    ("je suis très déçu", "fr"),
    ("Merci beaucoup !", "fr"),
    # Insults and arbitrary words are nobody's name (issue 15), whatever the language guess.
    ("stupid bot", "en"),
    ("stupid bot", "fr"),
    ("stupid bot", None),
    ("Stupid Bot", "fr"),
    ("Useless Robot", None),
    ("espèce de Bot Stupide", "fr"),
    ("Bot débile", "fr"),
    ("you are a stupid bot", "en"),
    ("t'es nul, Robot", "fr"),
    ("Thanks, Paul", "en"),
    ("Merci Paul", "fr"),
    ("Bordeaux", "fr"),
    ("je voudrais parler à Marie", "fr"),
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


@pytest.mark.parametrize("text, name", [
    ("Sophie Martin", True), ("Luc", True), ("Tom.", True), ("Marie-Claire Dupont", True),
    ("Merci", False), ("Bonjour", False), ("ok", False), ("Thank you", False),
    ("je veux un conseiller", False), ("Paul Martin Durand Dupont", False), ("33000", False),
])
def test_a_signature_s_name_is_told_from_other_words(text, name):
    assert is_a_name(text) is name
