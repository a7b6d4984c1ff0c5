"""What the customer asks, read without the greeting and the sign-off around it.

Customers write the way they write e-mails: "Bonjour, je voudrais parler à un conseiller.
Merci d'avance, cordialement". Our examples are mostly the request alone, so the greeting and the
thanks weigh on every reading of such a message, and the request loses: our own held-out
requests for a person, each between a greeting and a sign-off, reached one 103 times out of
152 instead of 151 (docs/bot-designers.md, "Greetings around a request").

`PleasantryTrim` runs first: it cuts a message into its parts (sentences and comma-separated
clauses) and reads each one with a linear reading of the sentence encoder's space, fitted on
our examples at training time (`bot.linear_intents`). A short part read as a greeting, thanks
or goodbye is a pleasantry; when the message also holds something else, the NLU reads only
that (the featurizers, DIET, the nearest examples' vote). `WholeTextRestore`, right after the
vote, gives the message its whole text back, so the entity extractors, the language detector,
the name extractor (signatures: "Cordialement, Paul") and the parse output see what the
customer wrote. A message that is nothing but pleasantries ("Bonjour, merci !") is read whole.

Training examples are trimmed the same way (not those of the pleasantry intents themselves,
nor those with annotated entities, whose offsets refer to the whole text).
"""

from __future__ import annotations

import hashlib
import logging
import re
import sys
from importlib.metadata import version
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Text

import numpy as np

from bot import names
from bot.linear_intents import DEFAULT_C, LinearIntents
from bot.names import is_a_name
from bot.sentence_encoder import DISTRIBUTION, encode

logger = logging.getLogger(__name__)

PLEASANTRY_INTENTS = frozenset({"greet", "thank", "goodbye"})
DEFAULTS: Dict[str, Any] = {
    # How sure the linear reading must be that a part is a pleasantry (its greeting, thanks
    # and goodbye probabilities together)...
    "min_probability": 0.5,
    # ... and how short it must be: a long part holds more than manners.
    "max_words": 8,
}
# Longer messages are read whole: they are mostly content, and each part costs an encoding.
MAX_CHARS = 500
# So are messages of more parts: a greeting, a request and a sign-off make a handful, while 160
# comma-separated scraps in 500 characters would cost 60 ms of encoding for nothing.
MAX_PARTS = 12
# The whole text while the NLU reads the content (not output).
WHOLE_TEXT = "whole_text"
# A part ends after . ! ? ; or a comma followed by a space, or at a line break.
_BOUNDARY = re.compile(r"(?<=[.!?;,])\s+|\s*\n+\s*")


def parts(text: str) -> List[str]:
    """The sentences and clauses of a message, each with its punctuation."""
    return [part.strip() for part in _BOUNDARY.split(text) if part.strip(" .!?,;:")]


def content(text: str, reading: LinearIntents, min_probability: float = 0.5,
            max_words: int = 8) -> Optional[str]:
    """The message without its pleasantries, or None when there is nothing to take away."""
    if len(text) > MAX_CHARS or text.startswith("/"):
        return None
    pieces = parts(text)
    if not 2 <= len(pieces) <= MAX_PARTS:
        return None
    # "Good afternoon" is a greeting or a goodbye, unsure which, sure it is one of them.
    columns = [i for i, name in enumerate(reading.classes) if str(name) in PLEASANTRY_INTENTS]
    pleasant = reading.probabilities(encode(pieces))[:, columns].sum(axis=1)
    pleasantries = [float(p) >= min_probability and len(piece.split()) <= max_words
                    for piece, p in zip(pieces, pleasant, strict=True)]
    # A name right after a sign-off signs it: "Cordialement, Sophie Martin".
    for i in range(1, len(pieces)):
        pleasantries[i] = pleasantries[i] or (pleasantries[i - 1] and is_a_name(pieces[i]))
    kept = [piece for piece, pleasantry in zip(pieces, pleasantries, strict=True)
            if not pleasantry]
    if not kept or len(kept) == len(pieces):
        return None
    return " ".join(kept)


try:  # Rasa is only needed for the graph components, not for the functions above.
    from rasa.engine.graph import ExecutionContext, GraphComponent
    from rasa.engine.recipes.default_recipe import DefaultV1Recipe
    from rasa.engine.storage.resource import Resource
    from rasa.engine.storage.storage import ModelStorage
    from rasa.shared.nlu.constants import ENTITIES, INTENT, TEXT
    from rasa.shared.nlu.training_data.message import Message
    from rasa.shared.nlu.training_data.training_data import TrainingData
except ImportError:  # pragma: no cover
    DefaultV1Recipe = None  # type: ignore[assignment]


if DefaultV1Recipe is not None:
    from bot.neighbours import examples_of

    def _trimmable(messages: Sequence[Message]) -> List[Message]:
        return [m for m in messages
                if isinstance(m.get(TEXT), str) and m.get(TEXT).strip()
                and m.get(WHOLE_TEXT) is None]

    @DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.MESSAGE_TOKENIZER],
                              is_trainable=True)
    class PleasantryTrim(GraphComponent):
        """Has the NLU read a message without its greetings, thanks and goodbyes."""

        @staticmethod
        def get_default_config() -> Dict[Text, Any]:
            """How sure, and how short, a part must be to count as a pleasantry."""
            return dict(DEFAULTS)

        def __init__(self, config: Dict[Text, Any], model_storage: ModelStorage,
                     resource: Resource, reading: Optional[LinearIntents] = None) -> None:
            self._config = {**DEFAULTS, **config}
            self._storage, self._resource = model_storage, resource
            self._reading = reading

        @classmethod
        def create(cls, config: Dict[Text, Any], model_storage: ModelStorage,
                   resource: Resource, execution_context: ExecutionContext
                   ) -> "PleasantryTrim":
            """Untrained: it reads every message whole."""
            return cls(config, model_storage, resource)

        @classmethod
        def load(cls, config: Dict[Text, Any], model_storage: ModelStorage,
                 resource: Resource, execution_context: ExecutionContext,
                 **kwargs: Any) -> "PleasantryTrim":
            """The component with the reading it was trained with."""
            try:
                with model_storage.read_from(resource) as directory:
                    return cls(config, model_storage, resource, LinearIntents.load(directory))
            except (ValueError, FileNotFoundError):
                logger.warning("nlu.pleasantry_trim.untrained: messages are read whole")
                return cls.create(config, model_storage, resource, execution_context)

        @classmethod
        def fingerprint_addon(cls, config: Dict[str, Any]) -> Optional[str]:
            """The encoder's, scikit-learn's and the rules' versions, in Rasa's cache key.

            Other vectors make another reading; without the rules' code, Rasa's cache would
            keep the examples trimmed by older rules.
            """
            rules = hashlib.sha256(b"".join(Path(module.__file__).read_bytes()
                                            for module in (sys.modules[__name__], names)))
            return (f"{version(DISTRIBUTION)} scikit-learn {version('scikit-learn')} "
                    f"rules {rules.hexdigest()[:16]}")

        def train(self, training_data: TrainingData) -> Resource:
            """Fits the reading of a part on every example's vector and intent."""
            examples = examples_of(training_data)
            intents = np.array([e.get(INTENT) for e in examples])
            if len(set(intents.tolist())) > 1:
                self._reading = LinearIntents.fit(encode([e.get(TEXT) for e in examples]),
                                                  intents, DEFAULT_C)
                with self._storage.write_to(self._resource) as directory:
                    self._reading.save(directory)
            return self._resource

        def process_training_data(self, training_data: TrainingData) -> TrainingData:
            """Trims the examples of the other intents, as the messages will be."""
            examples = [e for e in _trimmable(examples_of(training_data))
                        if e.get(INTENT) not in PLEASANTRY_INTENTS and not e.get(ENTITIES)]
            self._trim(examples)
            return training_data

        def process(self, messages: List[Message]) -> List[Message]:
            """Has the NLU read each message's content, keeping its whole text aside."""
            self._trim(_trimmable(messages))
            return messages

        def _trim(self, messages: List[Message]) -> None:
            if self._reading is None:
                return
            for message in messages:
                text = message.get(TEXT)
                found = content(text, self._reading, float(self._config["min_probability"]),
                                int(self._config["max_words"]))
                if found is not None:
                    logger.debug("nlu.pleasantry_trim parts=%d kept_chars=%d",
                                 len(parts(text)), len(found))
                    message.set(WHOLE_TEXT, text)
                    message.set(TEXT, found)

    @DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER],
                              is_trainable=False)
    class WholeTextRestore(GraphComponent):
        """Gives a trimmed message its whole text back, once the intent has been read."""

        @classmethod
        def create(cls, config: Dict[Text, Any], model_storage: ModelStorage,
                   resource: Resource, execution_context: ExecutionContext
                   ) -> "WholeTextRestore":
            """Nothing to train: it only puts the text back."""
            return cls()

        @staticmethod
        def _restore(messages: Sequence[Message]) -> None:
            for message in messages:
                whole = message.get(WHOLE_TEXT)
                if isinstance(whole, str):
                    message.set(TEXT, whole)
                    message.data.pop(WHOLE_TEXT, None)

        def process_training_data(self, training_data: TrainingData) -> TrainingData:
            """The examples' whole texts, for the entity extractors trained after it."""
            self._restore(training_data.training_examples)
            return training_data

        def process(self, messages: List[Message]) -> List[Message]:
            """The whole text, for the entities, the language, the name and the output."""
            self._restore(messages)
            return messages
