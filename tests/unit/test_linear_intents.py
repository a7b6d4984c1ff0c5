"""LinearIntents: the same probabilities as scikit-learn's, from three saved arrays."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from bot.linear_intents import LinearIntents


def _points(classes: int) -> tuple:
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(classes, 8)) * 3
    labels = np.repeat([f"intent_{i}" for i in range(classes)], 20)
    vectors = np.repeat(centres, 20, axis=0) + rng.normal(size=(classes * 20, 8))
    return vectors.astype(np.float32), labels


@pytest.mark.parametrize("classes", [2, 5])
def test_probabilities_match_scikit_learn_after_a_save_and_a_load(tmp_path, classes):
    vectors, labels = _points(classes)
    fitted = LinearIntents.fit(vectors, labels, c=4.0)
    fitted.save(tmp_path)
    loaded = LinearIntents.load(tmp_path)
    reference = LogisticRegression(C=4.0, max_iter=3000).fit(vectors, labels)
    assert list(loaded.classes) == list(reference.classes_)
    assert loaded.probabilities(vectors) == pytest.approx(reference.predict_proba(vectors),
                                                          abs=1e-5)
    one = loaded.of(vectors[0])
    assert max(one, key=one.get) == "intent_0" and sum(one.values()) == pytest.approx(1.0)


def test_a_model_without_the_arrays_says_so(tmp_path):
    with pytest.raises(FileNotFoundError):
        LinearIntents.load(tmp_path)
