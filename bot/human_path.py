"""Unsure which human-path intent a message is, but sure it is one: it goes to a person.

The `FallbackClassifier` falls back when DIET's best intent is below its threshold or barely
ahead of the second. For the four human-path intents that question is the wrong one: they all
lead to a person (data/rules/handoff.yml), so "je ne suis pas satisfait de la qualité", split
between complaint (0.37) and sensitive_topic (0.30), is not unclear at all. `HumanPathTotal`
runs after the fallback: when DIET's best guess is a human-path intent and the human-path
intents' confidences add up to the fallback's own threshold, the message takes that best guess
instead of the two-stage fallback, with the sum as its confidence.

Chosen on the dev splits and our own held-out files with three seeds (docs/bot-designers.md):
it only turns fallbacks into a person, never a shop answer into one.
"""

from __future__ import annotations

import logging
from typing import Any, Dict, List, Text

logger = logging.getLogger(__name__)

FALLBACK = "nlu_fallback"
# Every intent that leads straight to a person (designer/checks/handoff.py keeps the lists of
# the forms, the ticket, the evaluation and this one the same).
HUMAN_PATH_INTENTS = frozenset({"request_human", "complaint", "frustration", "sensitive_topic"})
DEFAULTS: Dict[str, Any] = {
    # The FallbackClassifier's threshold in config.yml: the bar one intent must clear, here
    # cleared by the human path as a whole.
    "threshold": 0.4,
}


def human_path_guess(ranking: List[Dict[str, Any]], threshold: float) -> Dict[str, Any]:
    """DIET's best human-path intent, with the human path's total confidence, or {}.

    `ranking`: Rasa's intent ranking, best first (an `nlu_fallback` entry is skipped).
    """
    guesses = [r for r in ranking if r.get("name") != FALLBACK]
    if not guesses or guesses[0].get("name") not in HUMAN_PATH_INTENTS:
        return {}
    total = sum(float(r.get("confidence") or 0.0) for r in guesses
                if r.get("name") in HUMAN_PATH_INTENTS)
    if total < threshold:
        return {}
    return {"name": guesses[0]["name"], "confidence": min(total, 1.0)}


try:  # Rasa is only needed for the graph component, not for the function above.
    from rasa.engine.graph import ExecutionContext, GraphComponent
    from rasa.engine.recipes.default_recipe import DefaultV1Recipe
    from rasa.engine.storage.resource import Resource
    from rasa.engine.storage.storage import ModelStorage
    from rasa.shared.nlu.constants import INTENT, INTENT_NAME_KEY, INTENT_RANKING_KEY
    from rasa.shared.nlu.training_data.message import Message
    from rasa.shared.nlu.training_data.training_data import TrainingData
except ImportError:  # pragma: no cover
    DefaultV1Recipe = None  # type: ignore[assignment]


if DefaultV1Recipe is not None:

    @DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER],
                              is_trainable=False)
    class HumanPathTotal(GraphComponent):
        """Turns a fallback whose every likely reading is the human path into that path."""

        @staticmethod
        def get_default_config() -> Dict[Text, Any]:
            """The threshold the human path's total confidence must reach."""
            return dict(DEFAULTS)

        def __init__(self, config: Dict[Text, Any]) -> None:
            self._threshold = float({**DEFAULTS, **config}["threshold"])

        @classmethod
        def create(cls, config: Dict[Text, Any], model_storage: ModelStorage,
                   resource: Resource, execution_context: ExecutionContext) -> "HumanPathTotal":
            """Nothing to train: the component only reads DIET's ranking."""
            return cls(config)

        def process_training_data(self, training_data: TrainingData) -> TrainingData:
            """Leaves the training data as it is."""
            return training_data

        def process(self, messages: List[Message]) -> List[Message]:
            """Replaces the fallback by the human path where the sum says so."""
            for message in messages:
                if (message.get(INTENT) or {}).get(INTENT_NAME_KEY) != FALLBACK:
                    continue
                ranking = message.get(INTENT_RANKING_KEY) or []
                guess = human_path_guess(ranking, self._threshold)
                if guess:
                    logger.debug("nlu.human_path_total intent=%s total=%.2f",
                                 guess["name"], guess["confidence"])
                    message.set(INTENT, guess, add_to_output=True)
                    message.set(INTENT_RANKING_KEY,
                                [r for r in ranking if r.get("name") != FALLBACK],
                                add_to_output=True)
            return messages
