"""The model loaded by one prediction (bot/model_load.py) is the model Rasa's own load gives.

Rasa's own load runs in a subprocess (this process has the faster one installed by
nlu_eval.load_agent): every weight of DIET and TED, the labels' embeddings their predictions
start from, and the parse of every held-out message must be the same.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, List

import numpy as np
import pytest

from stack.model import ROOT, ensure_model
from tests.assistant.nlu_eval import load_agent, load_heldout

pytestmark = [pytest.mark.assistant, pytest.mark.timeout(600),
              pytest.mark.filterwarnings("ignore:the load_module:DeprecationWarning"),
              pytest.mark.filterwarnings("ignore:non-integer arguments to randrange:"
                                         "DeprecationWarning")]


def model_parts(agent: Any) -> Dict[str, Any]:
    """The agent's TensorFlow model parts (DIET, TED) by graph node name."""
    from rasa.utils.tensorflow.models import RasaModel

    nodes = agent.processor.graph_runner._instantiated_nodes
    return {name: node._component.model for name, node in nodes.items()
            if isinstance(getattr(node._component, "model", None), RasaModel)}


def dump(agent: Any, texts: List[str], out: Path) -> None:
    """Writes the parts' weights and labels' embeddings (npz) and the parses (JSON)."""
    async def parse() -> List[Dict[str, Any]]:
        return [await agent.parse_message(text) for text in texts]

    parses = asyncio.run(parse())  # first: the labels' embeddings are computed on a prediction
    arrays = {}
    for name, model in model_parts(agent).items():
        for index, weight in enumerate(model.get_weights()):
            arrays[f"{name}/weight{index}"] = weight
        arrays[f"{name}/labels"] = np.asarray(model.all_labels_embed)
    np.savez(out / "arrays.npz", **arrays)
    (out / "parses.json").write_text(json.dumps(parses, ensure_ascii=False), encoding="utf-8")


@pytest.fixture(scope="module")
def texts() -> List[str]:
    return [example.text for example in load_heldout()]


def test_the_model_loaded_by_a_prediction_is_rasas(texts: List[str], tmp_path: Path) -> None:
    model = ensure_model(say=lambda line: None).resolve()
    (tmp_path / "rasa").mkdir()
    (tmp_path / "ours").mkdir()
    (tmp_path / "texts.json").write_text(json.dumps(texts), encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "2"}
    done = subprocess.run([sys.executable, "-m", "tests.assistant.test_model_load", str(model),
                           str(tmp_path)], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=540)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    dump(load_agent(model), texts, tmp_path / "ours")

    rasa, ours = (np.load(tmp_path / side / "arrays.npz") for side in ("rasa", "ours"))
    assert sorted(rasa.files) == sorted(ours.files)
    parts = {name.split("/")[0] for name in rasa.files}
    assert len(parts) == 2, parts  # DIET and TED
    for name in rasa.files:
        np.testing.assert_allclose(ours[name], rasa[name], rtol=0, atol=1e-6, err_msg=name)

    rasa_parses, our_parses = (
        json.loads((tmp_path / side / "parses.json").read_text(encoding="utf-8"))
        for side in ("rasa", "ours"))
    assert len(our_parses) == len(texts) > 400
    for theirs, mine in zip(rasa_parses, our_parses, strict=True):
        assert mine["intent"]["name"] == theirs["intent"]["name"], mine["text"]
        assert [r["name"] for r in mine["intent_ranking"]] == \
            [r["name"] for r in theirs["intent_ranking"]], mine["text"]
        assert mine["intent"]["confidence"] == pytest.approx(theirs["intent"]["confidence"],
                                                             abs=1e-6), mine["text"]
        assert mine["entities"] == theirs["entities"], mine["text"]


if __name__ == "__main__":
    # Rasa's own load, in a process where bot/model_load.py was never installed.
    from rasa.core.agent import Agent

    model_path, work = Path(sys.argv[1]), Path(sys.argv[2])
    dump(Agent.load(str(model_path)), json.loads((work / "texts.json").read_text()),
         work / "rasa")
