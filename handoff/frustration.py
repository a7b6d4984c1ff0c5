"""Signs that a customer is frustrated, read from what they wrote to the bot.

Rule-based on purpose: the signals are few and must be explainable to an agent ("wrote in
capitals", "asked the same thing twice"), and the French and English word lists are easy for a
support team to extend. The `frustration` intent of the NLU model covers the phrasings these
rules miss.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Dict, Iterable, List, Tuple

# Whole words or phrases, compared without accents and case.
INSULTS = (
    "stupid", "idiot", "idiots", "dumb", "moron", "crap", "shit", "fuck", "fucking", "wtf",
    "useless", "rubbish", "garbage", "pathetic", "ridiculous", "scam", "joke",
    "nul", "nulle", "nuls", "con", "conne", "cons", "debile", "stupide", "idiote", "merde",
    "putain", "arnaque", "arnaqueurs", "inutile", "ridicule", "honteux", "honte", "escroc",
    "escrocs", "n'importe quoi", "foutage de gueule",
)
PHRASES = (
    "doesn't work", "does not work", "not working", "still waiting", "fed up", "sick of",
    "waste of time", "third time", "again and again", "for the last time",
    "ca ne marche pas", "ca marche pas", "marche pas", "toujours rien", "j'en ai marre",
    "ras le bol", "perte de temps", "troisieme fois", "encore une fois", "pour la derniere fois",
)
FRUSTRATION_INTENTS = ("frustration", "complaint")


@dataclass(frozen=True)
class Frustration:
    """What was detected: a score (0 = none) and the signals behind it."""

    score: int = 0
    signals: List[str] = field(default_factory=list)

    def public(self) -> Dict[str, Any]:
        """The JSON shape in the ticket."""
        return {"score": self.score, "signals": list(self.signals)}


def detect(events: Iterable[Dict[str, Any]]) -> Frustration:
    """Scores the customer's messages of a conversation (tracker events, in order)."""
    texts, intents = _customer_messages(events)
    signals: List[str] = []
    if any(_shouting(text) for text in texts):
        signals.append("capitals")
    if any(_contains(text, INSULTS) for text in texts):
        signals.append("insult")
    if any(_contains(text, PHRASES) for text in texts):
        signals.append("exasperation")
    if any(text.count("!") >= 3 for text in texts):
        signals.append("exclamations")
    if _repeated(texts):
        signals.append("repeated_question")
    if any(intent in FRUSTRATION_INTENTS for intent in intents):
        signals.append("frustration_intent")
    if intents.count("nlu_fallback") >= 2:
        signals.append("not_understood_twice")
    return Frustration(score=len(signals), signals=signals)


def _customer_messages(events: Iterable[Dict[str, Any]]) -> Tuple[List[str], List[str]]:
    texts, intents = [], []
    for event in events:
        if event.get("event") != "user":
            continue
        text = event.get("text") or ""
        if text and not text.startswith("/"):
            texts.append(text)
        intents.append(((event.get("parse_data") or {}).get("intent") or {}).get("name") or "")
    return texts, intents


def _normalise(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.lower().replace("’", "'"))
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def _contains(text: str, words: Tuple[str, ...]) -> bool:
    return _pattern(words).search(_normalise(text)) is not None


@lru_cache(maxsize=None)
def _pattern(words: Tuple[str, ...]) -> "re.Pattern[str]":
    # One search for the whole list, not one per word: the live path runs this on every message.
    return re.compile(rf"(?<![\w'])(?:{'|'.join(map(re.escape, words))})(?![\w'])")


def _shouting(text: str) -> bool:
    letters = [c for c in text if c.isalpha()]
    words = [w for w in re.findall(r"[^\W\d_]{2,}", text)]
    upper = sum(c.isupper() for c in letters)
    return len(letters) >= 8 and len(words) >= 2 and upper >= 0.8 * len(letters)


def _repeated(texts: List[str]) -> bool:
    seen = set()
    for text in texts:
        key = re.sub(r"[\W_]+", " ", _normalise(text)).strip()
        if len(key) >= 6 and key in seen:
            return True
        seen.add(key)
    return False
