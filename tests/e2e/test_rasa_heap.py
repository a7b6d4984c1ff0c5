"""The Rasa process leaves its loaded model out of the garbage collector's walks (bot.heap)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(60)]

LOADED = "Rasa server is up and running."  # rasa.core.run, once the model is loaded
FROZEN = re.compile(r"rasa\.heap\.frozen objects=(\d+)")


def test_the_heap_is_frozen_once_after_the_model_is_loaded(stack):
    log = (Path(stack.run_dir) / "rasa.log").read_text(errors="replace")
    frozen = list(FROZEN.finditer(log))
    # Once, though every channel of ours asks (web chat, Messenger, REST, tracker writes).
    assert len(frozen) == 1, log[-3000:]
    loaded_at = log.find(LOADED)
    # Frozen before the model was there, the model's objects would still be walked.
    assert 0 <= loaded_at < frozen[0].start()
    # Measured: about 480,000 objects once Rasa and TensorFlow are imported, 1.2 million
    # with the model loaded; what was frozen includes the model.
    assert int(frozen[0].group(1)) > 700_000
