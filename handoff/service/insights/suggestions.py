"""Suggested replies for the customer's latest message, drawn from the team's own knowledge.

Candidates are the assistant's FAQ answers (`faq.py`: matched by the questions the bot was
taught for them), the canned responses (`handoff/service/api/canned.yml`), both in the
customer's language, and the replies agents marked as good answers (`knowledge.GoodAnswers`:
matched by the customer question they answered, kept when written in the customer's language).
Each is scored by its best-matching text, with BM25 over accent-folded words without the
commonest ones, computed here, on our own data: no external service, no model. The agent
inserts one with a click and edits it before sending; nothing is sent by itself.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Dict, List, Optional, Sequence, Tuple

from handoff.language import detect
from handoff.pii import mask
from handoff.service.api.canned import Canned
from handoff.service.insights.faq import FaqEntry
from handoff.service.insights.knowledge import GoodAnswer

SHOWN = 3
K1, B = 1.2, 0.75  # BM25's usual constants
_WORD = re.compile(r"[a-z0-9]+")
# Words too common to tell questions apart, in both languages (after folding accents).
_STOP = frozenset("""
a an and are as at be but by can could do does did for from had has have hello hi how i if in
is it its me my no not of on or our please so that the their them then there this to was we
what when where which who why will with would you your yours am im ive id dont cant thanks thank
don doesn didn isn won ve ll re
au aux avec ce ces cela ca comment dans de des du elle en est et etre il ils je j la le les leur
lui ma mais me mes moi mon ne nous on ou par pas pour qu que qui quoi sa se ses son sur ta te
toi ton tu un une vos votre vous y bonjour merci sil plait c d l m n s t suis ai as avez
""".split())


@dataclass(frozen=True)
class Candidate:
    """Something an agent could send: what a question is compared with, and the reply."""

    source: str  # "faq" | "canned" | "good_answer" | "resolved"
    id: str
    title: str
    matched: Tuple[str, ...]  # what a question is compared with: its best match counts
    text: str


@dataclass(frozen=True)
class Suggestion:
    """A ranked candidate."""

    candidate: Candidate
    score: float

    def public(self) -> Dict[str, Any]:
        """The JSON shape of the agent API."""
        c = self.candidate
        return {"source": c.source, "id": c.id, "title": c.title, "text": c.text,
                "score": round(self.score, 3)}


# Each text is read once per process: the knowledge changes little between two messages, and
# reading it again for every message grew the cost with the number of good answers
# (bench/suggestions.py: 122 ms a message at 2,000 of them without these caches).
CACHED_TEXTS = 50_000


@lru_cache(maxsize=CACHED_TEXTS)
def _document(text: str) -> Tuple[Tuple[str, int], ...]:
    return tuple(Counter(words(text)).items())


@lru_cache(maxsize=CACHED_TEXTS)
def _written_in(question: str, answer: str) -> Optional[str]:
    found = detect(question) or detect(answer)
    return found.language if found else None


@lru_cache(maxsize=CACHED_TEXTS)
def _masked(text: str) -> str:
    return mask(text)


def words(text: str) -> List[str]:
    """Folded words that carry meaning ("Où est mon colis ?" -> ["colis"] with crude stems)."""
    folded = unicodedata.normalize("NFKD", text.lower().replace("’", "'"))
    plain = "".join(c for c in folded if not unicodedata.combining(c))
    return [_stem(w) for w in _WORD.findall(plain) if w not in _STOP]


def _stem(word: str) -> str:
    # Plurals and the commonest endings alike in both languages: "orders"/"order",
    # "remboursement"/"rembourser", "livraison"/"livre" stay apart, which is fine.
    for ending in ("ements", "ement", "ing", "es", "s", "x", "e"):
        if len(word) > len(ending) + 3 and word.endswith(ending):
            return word[: -len(ending)]
    return word


def candidates(canned: Sequence[Canned], answers: Sequence[GoodAnswer], language: str,
               agent_name: str, faq: Sequence[FaqEntry] = (),
               resolved: Sequence[GoodAnswer] = ()) -> List[Candidate]:
    """The team's knowledge in the customer's language.

    `answers`: marked as good answers; `resolved`: replies of conversations closed as
    resolved (`resolved.py`), the same shape.
    """
    found = [Candidate("faq", entry.intent, entry.title[language],
                       (*entry.questions[language], entry.answer[language]),
                       entry.answer[language]) for entry in faq]
    found += [Candidate("canned", item.id, item.title.get(language) or item.title["en"],
                        (f"{item.title.get(language, '')} {item.text.get(language, '')}",),
                        (item.text.get(language) or item.text["en"]).replace("{agent}",
                                                                            agent_name))
              for item in canned]
    for source, pairs in (("good_answer", answers), ("resolved", resolved)):
        for pair in pairs:
            written_in = _written_in(pair.question, pair.answer)
            if written_in is not None and written_in != language:
                continue
            # Another customer's conversation: what could name them is masked before anyone
            # sees it.
            question = _masked(pair.question)
            found.append(Candidate(source, pair.id, question, (question,),
                                   _masked(pair.answer)))
    return found


def rank(question: str, found: Sequence[Candidate], shown: int = SHOWN) -> List[Suggestion]:
    """The best `shown` candidates for `question` by BM25; none that shares no word with it.

    Every text a candidate is matched by is a document; a candidate scores its best one.
    """
    asked = set(words(question))
    if not asked or not found:
        return []
    owners = tuple(index for index, candidate in enumerate(found) for _ in candidate.matched)
    index = _Index.of(tuple(text for candidate in found for text in candidate.matched))
    sums: Dict[int, float] = {}
    best: Dict[int, float] = {}
    for word in asked:
        postings = index.postings.get(word, ())
        if not postings:
            continue
        idf = math.log(1 + (len(owners) - len(postings) + 0.5) / (len(postings) + 0.5))
        for document, tf in postings:
            norm = K1 * (1 - B + B * index.lengths[document] / index.average)
            score = idf * tf * (K1 + 1) / (tf + norm)
            sums[document] = sums.get(document, 0.0) + score
    for document, score in sums.items():
        owner = owners[document]
        if score > best.get(owner, 0.0):
            best[owner] = score
    scored = [Suggestion(found[owner], score) for owner, score in best.items()]
    scored.sort(key=lambda s: (-s.score, s.candidate.source, s.candidate.id))
    return _distinct(scored)[:shown]


@dataclass
class _Index:
    """Postings (word -> documents holding it, with counts) of one set of documents."""

    postings: Dict[str, List[Tuple[int, int]]]
    lengths: List[int]
    average: float

    @staticmethod
    @lru_cache(maxsize=8)
    def of(texts: Tuple[str, ...]) -> "_Index":
        """Built once per set of texts: the same knowledge answers many messages."""
        postings: Dict[str, List[Tuple[int, int]]] = {}
        lengths = []
        for number, text in enumerate(texts):
            document = _document(text)
            lengths.append(sum(tf for _, tf in document))
            for word, tf in document:
                postings.setdefault(word, []).append((number, tf))
        return _Index(postings, lengths, (sum(lengths) / len(lengths) if lengths else 0) or 1.0)


def _distinct(ranked: List[Suggestion]) -> List[Suggestion]:
    """One suggestion per reply text (a good answer marked twice, a canned text reused)."""
    seen, kept = set(), []
    for suggestion in ranked:
        key = " ".join(suggestion.candidate.text.split()).lower()
        if key not in seen:
            seen.add(key)
            kept.append(suggestion)
    return kept


def latest_question(turns: Sequence[Dict[str, Any]]) -> Optional[str]:
    """The customer's latest written message in these turns (buttons are not questions)."""
    for turn in reversed(turns):
        if turn.get("kind") == "customer" and not turn.get("payload") and turn.get("text"):
            return str(turn["text"])
    return None
