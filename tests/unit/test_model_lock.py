"""Two processes that need the same model train it once: the second waits for the first."""

from __future__ import annotations

import threading
import time

import stack.model as model


def test_a_second_process_waits_for_the_training_under_way(tmp_path, monkeypatch):
    monkeypatch.setattr(model, "MODELS", tmp_path)
    monkeypatch.setattr(model, "LOCK_POLL_SECONDS", 0.05)
    said, entered = [], []

    def second():
        with model._training_lock("k", said.append):
            entered.append(time.monotonic())

    with model._training_lock("k", lambda line: None):
        waiting = threading.Thread(target=second)
        waiting.start()
        time.sleep(0.3)
        assert entered == []  # still held by the first
        released = time.monotonic()
    waiting.join(5)
    assert entered and entered[0] >= released
    assert any("another process is training model k" in line for line in said)
