"""Grouping customer messages by meaning, naming the groups and ranking them (pure functions).

Features: TF-IDF over lemmas (`handoff.service.insights.miner.text`), words and pairs of words,
plus character n-grams of the lemmas so that typos ("garentie", "loyality") still meet their word.
Clustering: agglomerative, average linkage on cosine distance, cut at a distance threshold, so
the number of groups is not given in advance: it follows from how far apart the messages are.
Messages are grouped within one language: French and English words share no TF-IDF features,
so a group is one language's phrasing of a topic (a designer exports both into one intent).
"""

from __future__ import annotations

import re
import statistics
from collections import Counter
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
from scipy.sparse import hstack
from sklearn.cluster import AgglomerativeClustering
from sklearn.feature_extraction.text import TfidfVectorizer

from handoff import pii
from handoff.service.insights.miner.text import Analysed, analyse

# Chosen on tests/fixtures/miner_messages.yml (220 messages, 20 known groups; adjusted Rand
# index 0.78 at 0.95 and 0.97, 0.70 at 0.90, 0.38 at 0.99): short chat messages share few
# words, so two messages join when they share any weighty lemma; near 1.0 everything merges.
# A distance threshold rather than a number of groups: k chosen by silhouette scored lower
# (0.68) on the same fixture.
DISTANCE_THRESHOLD = 0.95
# Weight of the character n-grams next to the words: 1.0 scored a little higher at 0.95 (0.81)
# but fell to 0.66 at 0.97; 0.5 is steadier around the threshold.
CHAR_WEIGHT = 0.5
MIN_GROUP_SIZE = 3  # smaller sets are reported as ungrouped, not as a topic
TYPICAL_PHRASES = 3


@dataclass(frozen=True)
class MinedMessage:
    """A customer message the bot did not settle."""

    conversation_id: str
    text: str  # as the customer wrote it (personal data included; masked before showing)
    language: str  # `fr` or `en`
    handling_time: Optional[float] = None  # seconds agents spent on the conversation, if any
    timestamp: Optional[float] = None
    source: str = "handoff"  # `handoff` or `fallback`
    agent_reply: Optional[str] = None  # the first agent reply after it, if any
    agent: Optional[str] = None  # who gave that reply


@dataclass
class Group:
    """One topic customers ask about, in one language."""

    id: str
    language: str
    messages: List[str]  # masked, most typical first
    conversations: List[str]
    typical: List[str]  # masked phrases closest to the group's centre
    terms: List[str]  # the lemmas that weigh most in the centre
    handling_time_total: float  # seconds, over the group's distinct conversations
    handling_time_median: Optional[float]
    agent_replies: List[Tuple[str, int]]  # masked replies agents gave, most frequent first
    good_answers: List[Dict[str, str]] = field(default_factory=list)

    @property
    def volume(self) -> int:
        """How many messages fall in the group."""
        return len(self.messages)

    @property
    def intent_name(self) -> str:
        """A draft intent name from the group's main terms (ASCII, snake case)."""
        words = [re.sub(r"[^a-z0-9]+", "_", t).strip("_") for t in self.terms[:2]]
        return "_".join(["ask", *[w for w in words if w]]) or f"ask_group_{self.id}"


@dataclass
class Mining:
    """Groups and what did not fall into any, with the fitted vocabulary for later matching."""

    groups: List[Group]
    ungrouped: List[str]  # masked messages in no group of MIN_GROUP_SIZE or more
    labels: List[int]  # one per input message: its cluster (-1 when ungrouped)


def mine(messages: Sequence[MinedMessage], threshold: float = DISTANCE_THRESHOLD,
         min_size: int = MIN_GROUP_SIZE, sort: str = "volume") -> Mining:
    """Groups, named and ranked (`sort`: `volume` or `handling`), of `messages`."""
    analysed = analyse([m.text for m in messages], [m.language for m in messages])
    masked = [pii.mask(m.text, a.names) for m, a in zip(messages, analysed, strict=True)]
    labels = [-1] * len(messages)
    groups: List[Group] = []
    next_label = 0
    for language in sorted({m.language for m in messages}):
        index = [i for i, m in enumerate(messages) if m.language == language]
        clusters, vectors, terms = cluster([analysed[i] for i in index], threshold)
        for members in clusters:
            label = next_label
            next_label += 1
            for j in members:
                labels[index[j]] = label
            if len(members) >= min_size:
                groups.append(_group(language, [index[j] for j in members], members, vectors,
                                     terms, messages, masked))
    ranked = rank(groups, sort)
    for position, group in enumerate(ranked, start=1):
        group.id = str(position)
    grouped = {m for g in groups for m in g.messages}
    return Mining(ranked, [t for t in masked if t not in grouped], labels)


def cluster(analysed: Sequence[Analysed], threshold: float
            ) -> Tuple[List[List[int]], np.ndarray, List[str]]:
    """Clusters (lists of positions, largest first), the L2-normalised vectors, the vocabulary."""
    docs = [" ".join(a.lemmas) for a in analysed]
    if len(docs) < 2 or not any(docs):
        return [list(range(len(docs)))] if docs else [], np.zeros((len(docs), 0)), []
    words = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, token_pattern=r"\S+")
    chars = TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5), sublinear_tf=True)
    matrix = hstack([words.fit_transform(docs), CHAR_WEIGHT * chars.fit_transform(docs)]).toarray()
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    vectors = matrix / np.where(norms == 0, 1, norms)
    # A message with no content word at all ("??") has a zero vector; cosine distance needs a
    # direction, so it gets one of its own that is far from every other message.
    empty = norms[:, 0] == 0
    if empty.any():
        vectors = np.hstack([vectors, np.where(empty, 1.0, 0.0)[:, None]])
    vocabulary = list(words.get_feature_names_out())
    labels = AgglomerativeClustering(n_clusters=None, distance_threshold=threshold,
                                     affinity="cosine", linkage="average").fit_predict(vectors)
    by_label: Dict[int, List[int]] = {}
    for position, label in enumerate(labels):
        by_label.setdefault(int(label), []).append(position)
    clusters = sorted(by_label.values(), key=lambda members: (-len(members), members[0]))
    return clusters, vectors[:, :len(vocabulary)], vocabulary


def typical_order(vectors: np.ndarray) -> List[int]:
    """Positions of `vectors`, closest to their centroid (cosine) first."""
    centroid = vectors.mean(axis=0)
    scores = vectors @ centroid
    return sorted(range(len(vectors)), key=lambda i: -scores[i])


def rank(groups: Sequence[Group], sort: str = "volume") -> List[Group]:
    """Groups by volume (then handling time), or by total handling time (then volume)."""
    if sort == "volume":
        return sorted(groups, key=lambda g: (-g.volume, -g.handling_time_total, g.typical))
    if sort == "handling":
        return sorted(groups, key=lambda g: (-g.handling_time_total, -g.volume, g.typical))
    raise ValueError(f"unknown sort {sort!r}: use 'volume' or 'handling'")


def _group(language: str, positions: List[int], members: List[int], vectors: np.ndarray,
           terms: List[str], messages: Sequence[MinedMessage], masked: List[str]) -> Group:
    order = typical_order(vectors[members])
    ordered = [positions[k] for k in order]
    texts = [masked[i] for i in ordered]
    typical: List[str] = []
    for text in texts:
        if text.lower() not in {t.lower() for t in typical}:
            typical.append(text)
        if len(typical) == TYPICAL_PHRASES:
            break
    centroid = vectors[members].mean(axis=0)
    top_terms = [terms[k] for k in np.argsort(-centroid)[:5] if centroid[k] > 0] if terms else []
    handling: Dict[str, float] = {}
    for i in positions:
        if messages[i].handling_time is not None:
            handling[messages[i].conversation_id] = float(messages[i].handling_time or 0.0)
    replies = Counter(pii.mask(messages[i].agent_reply or "") for i in positions
                      if messages[i].agent_reply)
    return Group(
        id="", language=language, messages=texts,
        conversations=sorted({messages[i].conversation_id for i in positions}),
        typical=typical, terms=top_terms,
        handling_time_total=sum(handling.values()),
        handling_time_median=statistics.median(handling.values()) if handling else None,
        agent_replies=replies.most_common(),
    )
