"""A linear reading of a message's meaning: intent probabilities from its sentence vector.

DIET reads words and character n-grams from scratch, and the nearest examples' vote reads
only the handful of examples closest to a message. Between the two, a multinomial logistic
regression on the sentence encoder's vectors (`bot.sentence_encoder`) weighs every example of
every intent at once: it learns which directions of the encoder's space make a refund or a
request for a person, rather than which few examples a message happens to resemble. It is
fitted at training time (under a second for our 2,082 examples) with no random seed (L-BFGS
from zeros): the same data gives the same weights, up to floating-point rounding between
machines.

It is kept as three arrays (weights, bias, intent names), not as a pickled estimator: loading
a model never runs code from it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

# Inverse regularisation strength (scikit-learn's C). Chosen on the independent set's dev
# splits and our own held-out files (docs/bot-designers.md, "A linear reading").
DEFAULT_C = 16.0
_WEIGHTS = "linear_weights.npy"
_BIAS = "linear_bias.npy"
_CLASSES = "linear_classes.npy"


@dataclass(frozen=True)
class LinearIntents:
    """Fitted weights: one row per intent over the encoder's dimensions."""

    weights: np.ndarray
    bias: np.ndarray
    classes: np.ndarray

    @classmethod
    def fit(cls, vectors: np.ndarray, intents: np.ndarray, c: float = DEFAULT_C
            ) -> "LinearIntents":
        """Fits the regression on the examples' vectors and intents (at least two intents)."""
        from sklearn.linear_model import LogisticRegression

        model = LogisticRegression(C=c, max_iter=3000).fit(vectors, intents)
        weights, bias = model.coef_, model.intercept_
        if len(model.classes_) == 2:  # one row for the second class: softmax([0, z]) = sigmoid(z)
            weights = np.vstack([np.zeros_like(weights), weights])
            bias = np.concatenate([[0.0], bias])
        return cls(weights.astype(np.float32), bias.astype(np.float32),
                   model.classes_.astype(str))

    def probabilities(self, vectors: np.ndarray) -> np.ndarray:
        """One row of intent probabilities (in `classes`' order) per vector."""
        scores = vectors @ self.weights.T + self.bias
        scores -= scores.max(axis=1, keepdims=True)
        exp = np.exp(scores)
        return exp / exp.sum(axis=1, keepdims=True)

    def of(self, vector: np.ndarray) -> dict:
        """One message's probabilities by intent name."""
        row = self.probabilities(vector[None, :])[0]
        return {str(name): float(p) for name, p in zip(self.classes, row, strict=True)}

    def save(self, directory: Path) -> None:
        """Writes the three arrays into a model's directory."""
        np.save(directory / _WEIGHTS, self.weights)
        np.save(directory / _BIAS, self.bias)
        np.save(directory / _CLASSES, self.classes)

    @classmethod
    def load(cls, directory: Path) -> "LinearIntents":
        """The saved weights; FileNotFoundError when the model was trained without them."""
        return cls(np.load(directory / _WEIGHTS), np.load(directory / _BIAS),
                   np.load(directory / _CLASSES))
