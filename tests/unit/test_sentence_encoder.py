"""The multilingual sentence encoder: offline, one vector per text, meaning across languages."""

import socket

import numpy as np
import pytest

from bot.sentence_encoder import DIMENSIONS, encode


@pytest.fixture
def no_network(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("the sentence encoder tried to reach the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


def _cosine(a, b):
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def test_vectors_come_from_the_installed_weights_alone(no_network):
    vectors = encode(["where is my parcel?", "où est mon colis ?", ""])
    assert vectors.shape == (3, DIMENSIONS) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors[:2], axis=1), 1.0, atol=1e-3)
    assert not vectors[2].any()  # an empty text means nothing
    # Alone (as the bot parses a message) as in a batch (as training encodes): the same vector,
    # up to float round-off.
    assert np.allclose(encode(["where is my parcel?"])[0], vectors[0], atol=1e-5)


def test_the_same_request_in_other_words_or_french_is_nearer_than_another_request():
    refund, reimburse, rembourse, parcel, peru = encode([
        "I want a refund", "can I be reimbursed for this", "je voudrais être remboursé",
        "where is my parcel", "what is the capital of Peru"])
    for same in (reimburse, rembourse):
        assert _cosine(refund, same) > _cosine(refund, parcel) + 0.1
        assert _cosine(refund, same) > _cosine(refund, peru) + 0.1
