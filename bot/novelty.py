"""The examples' meaning as a second opinion on DIET: its guesses fall back, its doubts resolve.

DIET always picks one of our intents, mostly with a confidence near 1.00, even for "What is the
first element on the Periodic Table?" (frustration, a person) or "Which sea is located in
Israel and Jordan?" (order status). Which wrong intent it picks depends on the training's seed
(docs/bot-designers.md). Whether a message resembles our examples does not: the guard compares
its meaning (`bot.sentence_encoder`, English and French in one space) with every training
example's. When the nearest example is far (cosine below `min_similarity`) *and* none of the
`neighbours` nearest examples has the intent DIET chose, DIET is guessing: the intent becomes
`nlu_fallback`, and the customer gets the likely intents as buttons and "Talk to a person"
(actions/suggestions.py), as for any message the model is unsure of. DIET's ranking is kept
for those buttons.

The other way round, when the `FallbackClassifier` fell back (DIET unsure: "at what time can I
reach customer support", split between opening hours, contact and capabilities) but the message
lies close to our examples (nearest cosine at least `agree_similarity`) and at least `agreeing`
of its `neighbours` nearest examples share the nearest one's intent, the message takes that
intent instead of the buttons.

`inform` is never overridden nor given: it is what a customer answers to the bot's question (an
order number, an address), and the forms validate it. Both rules were chosen on the independent
set's dev splits and our own held-out files, with three seeds (docs/bot-designers.md).
"""

from __future__ import annotations

import logging
from typing import Any, Dict, List, Optional, Text

import numpy as np

from bot.human_path import FALLBACK
from bot.neighbours import JUDGED_CHARS, SIMILARITIES
from bot.sentence_encoder import encode

logger = logging.getLogger(__name__)

DEFAULTS: Dict[str, Any] = {
    "min_similarity": 0.55,
    "neighbours": 5,
    # A fallback the nearest examples resolve: this near, and this many of them agreeing.
    "agree_similarity": 0.6,
    "agreeing": 3,
    # Answers to the bot's own questions: the forms judge them.
    "never_override": ["inform"],
}
__all__ = ["JUDGED_CHARS", "agreed_intent", "is_guess"]


def is_guess(similarities: np.ndarray, intents: np.ndarray, chosen: str,
             min_similarity: float, neighbours: int) -> bool:
    """Whether `chosen` has no support among the examples nearest a message far from them all.

    `similarities`: the message's cosine with each training example; `intents`: theirs.
    """
    if similarities.size == 0:
        return False
    nearest = np.argsort(-similarities, kind="stable")[:neighbours]
    return bool(similarities[nearest[0]] < min_similarity
                and chosen not in set(intents[nearest].tolist()))


def agreed_intent(similarities: np.ndarray, intents: np.ndarray, agree_similarity: float,
                  neighbours: int, agreeing: int) -> Optional[str]:
    """The nearest example's intent, if it is near and enough of the nearest examples share it."""
    if similarities.size == 0:
        return None
    nearest = np.argsort(-similarities, kind="stable")[:neighbours]
    intent = str(intents[nearest[0]])
    if (similarities[nearest[0]] >= agree_similarity
            and int(np.sum(intents[nearest] == intent)) >= agreeing):
        return intent
    return None


try:  # Rasa is only needed for the graph component, not for the function above.
    from rasa.engine.recipes.default_recipe import DefaultV1Recipe
    from rasa.shared.nlu.constants import (
        INTENT,
        INTENT_NAME_KEY,
        INTENT_RANKING_KEY,
        PREDICTED_CONFIDENCE_KEY,
    )
    from rasa.shared.nlu.training_data.message import Message
except ImportError:  # pragma: no cover
    DefaultV1Recipe = None  # type: ignore[assignment]


if DefaultV1Recipe is not None:
    from bot.neighbours import ExampleVectors, judged_text

    @DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER],
                              is_trainable=True)
    class NoveltyGuard(ExampleVectors):
        """DIET's guess far from every example falls back; a fallback near agreeing ones doesn't."""

        @staticmethod
        def get_default_config() -> Dict[Text, Any]:
            """The similarity floor, the neighbours, when they resolve a fallback, `inform`."""
            return dict(DEFAULTS)

        def process(self, messages: List[Message]) -> List[Message]:
            """Falls back on DIET's guesses, resolves fallbacks its examples agree on."""
            judged = [m for m in messages if self._judges(m)]
            if not judged or not len(self._intents):
                return messages
            similarities = [self._similarities(m) for m in judged]
            for message, row in zip(judged, similarities, strict=True):
                if message.get(INTENT)[INTENT_NAME_KEY] == FALLBACK:
                    self._resolve(message, row)
                else:
                    self._doubt(message, row)
            return messages

        def _doubt(self, message: Message, row: np.ndarray) -> None:
            chosen = message.get(INTENT)[INTENT_NAME_KEY]
            if not is_guess(row, self._intents, chosen, float(self._config["min_similarity"]),
                            int(self._config["neighbours"])):
                return
            logger.debug("nlu.novelty_guard.fallback intent=%s nearest=%.2f",
                         chosen, float(row.max()))
            # Its confidence: how near the nearest example is.
            fallback = {INTENT_NAME_KEY: FALLBACK, PREDICTED_CONFIDENCE_KEY: float(row.max())}
            message.set(INTENT, fallback, add_to_output=True)
            ranking = message.get(INTENT_RANKING_KEY) or []
            message.set(INTENT_RANKING_KEY, [dict(fallback), *ranking], add_to_output=True)

        def _resolve(self, message: Message, row: np.ndarray) -> None:
            agreed = agreed_intent(row, self._intents, float(self._config["agree_similarity"]),
                                   int(self._config["neighbours"]), int(self._config["agreeing"]))
            if agreed is None or agreed in self._config["never_override"]:
                return
            logger.debug("nlu.novelty_guard.agreed intent=%s nearest=%.2f",
                         agreed, float(row.max()))
            intent = {INTENT_NAME_KEY: agreed, PREDICTED_CONFIDENCE_KEY: float(row.max())}
            message.set(INTENT, intent, add_to_output=True)
            # DIET's ranking, the fallback's entry replaced by the agreed intent.
            ranking = [r for r in message.get(INTENT_RANKING_KEY) or []
                       if r.get(INTENT_NAME_KEY) not in (FALLBACK, agreed)]
            message.set(INTENT_RANKING_KEY, [dict(intent), *ranking], add_to_output=True)

        def _similarities(self, message: Message) -> np.ndarray:
            # The neighbour vote's row when it ran on the same examples: one encoding a message.
            row = message.get(SIMILARITIES)
            if isinstance(row, np.ndarray) and row.shape == self._intents.shape:
                return row
            return encode([judged_text(message)])[0] @ self._vectors.T

        def _judges(self, message: Message) -> bool:
            name = (message.get(INTENT) or {}).get(INTENT_NAME_KEY)
            return (judged_text(message) is not None
                    and name not in (None, *self._config["never_override"]))
