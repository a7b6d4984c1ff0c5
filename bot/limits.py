"""Bounds on what reaches the Rasa server: request bodies, and the text the NLU reads.

Every customer channel refuses a message over `MAX_MESSAGE_CHARS` before Rasa sees it
(`handoff.customer_text`). Two guards stand behind those doors:
- `cap_request_size`: each customer channel lowers the Sanic server's `REQUEST_MAX_SIZE`
  (100 MB by default) to `REQUEST_MAX_BYTES`; a larger body gets 413 before it is read. The
  largest legitimate body is the handoff service's batch of turns (`handoff.relay.tracker`
  sends at most `handoff.relay.tracker.CALL_BYTES` of events per call);
- `MessageLengthGuard`, first in the NLU pipeline: whatever door a text came through (Rasa's
  HTTP API included), the NLU reads at most `MAX_MESSAGE_CHARS` characters of it, so that no
  message can make DIET allocate more than that length allows (its attention grows with the
  square of the number of tokens).
"""

from __future__ import annotations

import logging
from typing import Any, Dict, List, Text

from sanic import Blueprint

from handoff.customer_text import MAX_MESSAGE_CHARS
from handoff.relay.tracker import CALL_BYTES

logger = logging.getLogger(__name__)

REQUEST_MAX_BYTES = 2 * CALL_BYTES


def cap_request_size(blueprint: Blueprint, limit: int = REQUEST_MAX_BYTES) -> None:
    """Makes the server that mounts `blueprint` refuse bodies over `limit` bytes (413)."""

    @blueprint.listener("before_server_start")
    async def cap(app: Any, _: Any) -> None:
        if app.config.REQUEST_MAX_SIZE > limit:
            app.config.REQUEST_MAX_SIZE = limit
            logger.info("rasa.request_max_size bytes=%d", limit)


def cut(text: Any) -> Any:
    """At most `MAX_MESSAGE_CHARS` characters of a text (anything else as it is)."""
    if isinstance(text, str) and len(text) > MAX_MESSAGE_CHARS:
        return text[:MAX_MESSAGE_CHARS]
    return text


try:  # Rasa is only needed for the graph component, not for the functions above.
    from rasa.engine.graph import ExecutionContext, GraphComponent
    from rasa.engine.recipes.default_recipe import DefaultV1Recipe
    from rasa.engine.storage.resource import Resource
    from rasa.engine.storage.storage import ModelStorage
    from rasa.shared.nlu.constants import TEXT
    from rasa.shared.nlu.training_data.message import Message
    from rasa.shared.nlu.training_data.training_data import TrainingData
except ImportError:  # pragma: no cover
    DefaultV1Recipe = None  # type: ignore[assignment]


if DefaultV1Recipe is not None:

    @DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.MESSAGE_TOKENIZER],
                              is_trainable=False)
    class MessageLengthGuard(GraphComponent):
        """Cuts a message's text to `MAX_MESSAGE_CHARS` before any other NLU component."""

        @classmethod
        def create(cls, config: Dict[Text, Any], model_storage: ModelStorage,
                   resource: Resource, execution_context: ExecutionContext
                   ) -> "MessageLengthGuard":
            """Creates the component (nothing to train or persist)."""
            return cls()

        def process(self, messages: List[Message]) -> List[Message]:
            """Cuts texts over the limit (the channels refuse them: this is the last guard)."""
            for message in messages:
                text = message.get(TEXT)
                if cut(text) is not text:
                    logger.warning("nlu.message.cut chars=%d kept=%d", len(text),
                                   MAX_MESSAGE_CHARS)
                    message.set(TEXT, cut(text))
            return messages

        def process_training_data(self, training_data: TrainingData) -> TrainingData:
            """Training examples are the designers' own: left as they are."""
            return training_data
