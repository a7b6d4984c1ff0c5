"""Order numbers only where the shop's format and the context say so.

The shop's order numbers are exactly five digits (`actions/order_store.py`). Five digits are
also a French postcode ("33000 Bordeaux"), part of a phone number ("01234 567890"), an amount
("12000 €") or a piece of a longer figure ("12345.50", "10234-2"). RegexEntityExtractor finds
every five-digit run (the `order_number` regex in data/nlu/orders.yml, which DIET also uses as a
feature); `OrderNumberGuard`, placed after it, drops the ones whose context says they are
something else. The order form asks for the number when none is left.

An order cue right before the digits ("order", "commande", "n°", "#", "ref") keeps them whatever
follows ("commande 10234 Merci").
"""

from __future__ import annotations

import re
from typing import Any, Dict, List, Text

ENTITY = "order_number"

_CUE_BEFORE = re.compile(
    r"(?:order|commande|cde|cmd|colis|parcel|package|ref|réf|reference|référence|n°|no\.?|nº"
    r"|num(?:é|e)ro|number|#)\s*[:#]?\s*$", re.IGNORECASE)
# Digits glued to the run: a longer figure, a decimal amount, a date, a time, a phone group.
_GLUED_BEFORE = re.compile(r"(?:\d[ .\-/]?|[+$€£]\s?|[.,/:-])$")
_GLUED_AFTER = re.compile(r"^(?:[ .\-/]?\d|[.,/:]\d)")
_AMOUNT_AFTER = re.compile(
    r"^\s?(?:€|eur\b|euros?\b|\$|£|usd\b|gbp\b|dollars?\b|pounds?\b|livres?\b|%|k\b|ttc\b|ht\b)",
    re.IGNORECASE)
_PHONE_BEFORE = re.compile(
    r"(?:phone|tel|tél|téléphone|telephone|mobile|portable|fax|call me|appelez|appeler)"
    r"[\w\s:.'’]{0,20}$", re.IGNORECASE)
_POSTCODE_BEFORE = re.compile(
    r"\b(?:code postal|postcode|post code|postal code|zip(?: code)?|cp|cedex)\b"
    r"(?:\s*(?::|is|est|c'est|=))?\s*$",
    re.IGNORECASE)
# A street earlier in the message: the five digits are the postcode of that address.
_STREET_BEFORE = re.compile(
    r"\b\d{1,4}\s*(?:bis|ter)?,?\s+(?:rue|avenue|av\.?|bd|boulevard|allée|allee|chemin|impasse"
    r"|place|quai|route|cours|square|street|st\.?|road|rd\.?|lane|avenue|drive|way)\b",
    re.IGNORECASE)
# A town right after: "33000 Bordeaux", "75011 PARIS", "69003 lyon cedex".
_TOWN_AFTER = re.compile(r"^,?\s+(?:[A-ZÀ-Ý][A-Za-zà-ÿ'’-]{2,}|cedex\b)")
# Capitalised words that may follow a number without being a town.
_NOT_TOWNS = {"please", "thanks", "thank", "merci", "svp", "stp", "okay", "sorry", "pardon",
              "where", "when", "what", "can", "could", "est", "and", "but", "the", "it's",
              "et", "mais", "oui", "yes", "non", "no"}


def plausible_order_number(text: str, start: int, end: int) -> bool:
    """Whether `text[start:end]` (five digits) reads as an order number in its context."""
    number = text[start:end]
    if not re.fullmatch(r"\d{5}", number):
        return False
    before, after = text[:start], text[end:]
    if _GLUED_BEFORE.search(before) or _GLUED_AFTER.search(after):
        return False
    if _AMOUNT_AFTER.search(after) or _PHONE_BEFORE.search(before):
        return False
    if _POSTCODE_BEFORE.search(before):
        return False
    if _CUE_BEFORE.search(before):
        return True
    if _STREET_BEFORE.search(before):
        return False
    town = _TOWN_AFTER.match(after)
    if town and town.group(0).strip(" ,").lower() not in _NOT_TOWNS:
        return False
    return True


def keep_plausible(text: str, entities: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    """The entities, without the order numbers whose context says they are something else."""
    return [e for e in entities
            if e.get("entity") != ENTITY
            or plausible_order_number(text, int(e.get("start", 0)), int(e.get("end", 0)))]


try:  # Rasa is only needed for the graph component, not for the functions above.
    from rasa.engine.graph import ExecutionContext, GraphComponent
    from rasa.engine.recipes.default_recipe import DefaultV1Recipe
    from rasa.engine.storage.resource import Resource
    from rasa.engine.storage.storage import ModelStorage
    from rasa.shared.nlu.constants import ENTITIES, TEXT
    from rasa.shared.nlu.training_data.message import Message
except ImportError:  # pragma: no cover
    DefaultV1Recipe = None  # type: ignore[assignment]


if DefaultV1Recipe is not None:

    @DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR], is_trainable=False)
    class OrderNumberGuard(GraphComponent):
        """Drops implausible `order_number` entities; place it after RegexEntityExtractor."""

        @classmethod
        def create(cls, config: Dict[Text, Any], model_storage: ModelStorage,
                   resource: Resource, execution_context: ExecutionContext
                   ) -> "OrderNumberGuard":
            """Creates the component (nothing to train or persist)."""
            return cls()

        def process(self, messages: List[Message]) -> List[Message]:
            """Removes the order numbers that are postcodes, amounts, phone parts..."""
            for message in messages:
                text = message.get(TEXT)
                entities = message.get(ENTITIES, []) or []
                if isinstance(text, str) and entities:
                    kept = keep_plausible(text, list(entities))
                    if len(kept) != len(entities):
                        message.set(ENTITIES, kept, add_to_output=True)
            return messages

        def process_training_data(self, training_data: Any) -> Any:
            """Leaves training data as it is: there is nothing to learn."""
            return training_data
