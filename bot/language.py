"""Per-message language detection (English / French): the Rasa 3.6 graph component.

When one language clearly wins in a user message (`handoff.language.detect`, the scoring shared
with the live path), a ``language`` entity is added to the message so that the ``language`` slot
(mapped ``from_entity``) follows the customer. When the evidence is weak ("10234", "ok",
"agent"), nothing is added and the slot keeps its previous value.
"""

from __future__ import annotations

from typing import Any, Dict, Iterable, List, Text

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.extractors.extractor import EntityExtractorMixin
from rasa.shared.nlu.constants import ENTITIES, TEXT
from rasa.shared.nlu.training_data.message import Message

from handoff.language import language_entity


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR], is_trainable=False)
class LanguageDetector(GraphComponent, EntityExtractorMixin):
    """Adds a ``language`` entity (``en``/``fr``) when the message's language is clear."""

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        """Thresholds of ``detect``: minimum winning score and share of all points."""
        return {"min_score": 2.0, "min_ratio": 0.7}

    def __init__(self, config: Dict[Text, Any]) -> None:
        self._config = {**self.get_default_config(), **config}

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> "LanguageDetector":
        """Creates the component (nothing to train or persist)."""
        return cls(config)

    def process(self, messages: List[Message]) -> List[Message]:
        """Adds a ``language`` entity to each message whose language is clear."""
        for message in messages:
            self._process_one(message)
        return messages

    def process_training_data(self, training_data: Any) -> Any:
        """Leaves training data as it is: there is nothing to learn."""
        return training_data

    def _process_one(self, message: Message) -> None:
        text = message.get(TEXT)
        if not isinstance(text, str) or text.startswith("/"):
            # "/intent{...}" payloads (buttons, triggers) carry no language.
            return
        entity = language_entity(
            text,
            min_score=self._config["min_score"],
            min_ratio=self._config["min_ratio"],
        )
        if entity is None:
            return
        existing: Iterable[Dict[str, Any]] = message.get(ENTITIES, []) or []
        message.set(ENTITIES, [*existing, entity], add_to_output=True)
