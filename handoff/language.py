"""The customer's language (English / French), message by message, without Rasa.

The assistant is one model for both languages. Each message is scored against two small word
lists (function words and the domain's everyday words); when one language clearly wins, that is
the message's language. When the evidence is weak ("10234", "ok", "agent"), there is none and the
customer's language stays what it was.

Used by the NLU component `bot.language.LanguageDetector` (a `language` entity, so that the
`language` slot follows the customer while the bot answers) and by the live path
(`handoff.relay.consoles`: the conversation record's `language` while a person answers), so both
follow the customer the same way.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Any, Dict, List, Optional

ENTITY_NAME = "language"
SUPPORTED = ("en", "fr")

# Words that are (almost) only ever French or only ever English in a customer
# service chat. Words common to both languages ("agent", "service", "stop",
# "ok", "bot", "client", "on", "a", "as", "me", "son") are deliberately absent:
# they carry no signal. Weight 2 for highly distinctive words, 1 otherwise.
_FR_WORDS: Dict[str, int] = {
    **dict.fromkeys(
        """
    je j tu il elle nous vous ils elles moi toi le la les l un une des du de d au aux
    mon ma mes ton ta tes votre vos notre nos ce cet cette ces ça ca c qu que qui quoi
    et ou mais donc avec sans pour par chez sur dans est sont suis es ai avez avons ont
    ne n pas plus y en si très tres bien aussi encore
        """.split(),
        1,
    ),
    **dict.fromkeys(
        """
    où quand comment pourquoi quel quelle quels quelles bonjour bonsoir salut coucou
    merci oui ouais non revoir bonne journée soirée svp stp plaît plait veux voudrais
    aimerais peux pouvez puis faut parler conseiller conseillère humain vraie vrai
    personne quelqu commande colis livraison livré livrée reçu retour retourner
    rembourser remboursement horaires ouvert ouverts fermé heure heures numéro mettre
    aide aidez besoin marche rien d'accord daccord nul être était avoir fait faire
    combien délai délais jours semaine magasin boutique échange est-ce c'est j'ai n'est
    qu'il
        """.split(),
        2,
    ),
}

_EN_WORDS: Dict[str, int] = {
    **dict.fromkeys(
        """
    i you he she we they it the an my your our their this that these those is are am was
    were be been do does did have has had and or but with without for of to from in at
    by not can could would will should there just some any get got still yet very too
        """.split(),
        1,
    ),
    **dict.fromkeys(
        """
    where when how why what which who hello hi hey thanks thank thx cheers yes yeah yep
    no nope bye goodbye please pls plz want wanna need talk speak human real someone
    somebody order parcel package delivery deliver delivered shipping shipped arrive
    return refund hours open opening closed help don't dont can't cant i'm im it's
    what's where's doesn't isn't won't number track tracking status morning evening
    afternoon good great sure nothing else useless person representative rep store shop
    days long take much send back money
        """.split(),
        2,
    ),
}

# Letters that do not occur in English words.
_FRENCH_LETTERS = set("àâçéèêëîïôûùüÿœæ")
_TOKEN = re.compile(r"[^\W\d_]+(?:['’-][^\W\d_]+)*", re.UNICODE)


@dataclass(frozen=True)
class Detection:
    """Result of a confident detection."""

    language: str
    confidence: float
    scores: Dict[str, float]


def _normalise(text: str) -> str:
    return unicodedata.normalize("NFC", text).lower().replace("’", "'")


def _tokens(text: str) -> List[str]:
    """Words of ``text``, with elided/compound forms also split into parts.

    "j'ai" gives "j'ai", "j", "ai"; "est-ce" gives "est-ce", "est", "ce". The
    whole form and its parts are scored once each (see ``score``).
    """
    out: List[str] = []
    for match in _TOKEN.finditer(_normalise(text)):
        word = match.group(0)
        out.append(word)
        if "'" in word or "-" in word:
            out.extend(p for p in re.split(r"['-]", word) if p)
    return out


def score(text: str) -> Dict[str, float]:
    """Evidence for each supported language in ``text`` (higher = more evidence)."""
    scores = {"en": 0.0, "fr": 0.0}
    for token in _tokens(text):
        fr = _FR_WORDS.get(token, 0)
        en = _EN_WORDS.get(token, 0)
        if not fr and not en and _FRENCH_LETTERS.intersection(token):
            fr = 1  # an unknown word with French diacritics
        scores["fr"] += fr
        scores["en"] += en
    return scores


def detect(
    text: Optional[str], min_score: float = 2.0, min_ratio: float = 0.7
) -> Optional[Detection]:
    """The message's language, or ``None`` when the evidence is too weak.

    Confident means: the winner has at least ``min_score`` points and at least
    ``min_ratio`` of all points. A single distinctive word ("merci", "hello")
    is worth 2 and is enough; one ambiguous-ish function word is not.
    """
    if not text:
        return None
    scores = score(text)
    total = scores["en"] + scores["fr"]
    if total <= 0:
        return None
    winner = max(SUPPORTED, key=lambda lang: scores[lang])
    ratio = scores[winner] / total
    if scores[winner] < min_score or ratio < min_ratio:
        return None
    return Detection(language=winner, confidence=round(ratio, 3), scores=scores)


def language_entity(text: Optional[str], **kwargs: Any) -> Optional[Dict[str, Any]]:
    """The ``language`` entity dict for ``text`` (spanning it), or ``None``."""
    found = detect(text, **kwargs)
    if found is None:
        return None
    return {
        "entity": ENTITY_NAME,
        "value": found.language,
        "start": 0,
        "end": len(text or ""),
        "confidence": found.confidence,
        "extractor": "LanguageDetector",
    }
