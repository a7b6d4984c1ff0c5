"""Set-up errors of the run command say what to do."""

import socket
from pathlib import Path

import pytest

from stack.model import model_hash
from stack.services import Ports, Stack, StackError


def test_a_taken_port_stops_with_a_clear_message(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        ports = Ports.free()
        ports.handoff = port
        stack = Stack(model=Path("unused"), run_dir=tmp_path, ports=ports, say=lambda _: None)
        with pytest.raises(StackError, match=f"Port {port} .*already in use"):
            stack.start()
    assert stack.processes == {}


def test_model_hash_changes_with_training_data(tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "config.yml").write_text("pipeline: []\n")
    (tmp_path / "data" / "nlu.yml").write_text("nlu: []\n")
    before = model_hash(tmp_path)
    assert model_hash(tmp_path) == before
    (tmp_path / "data" / "nlu.yml").write_text("nlu: [x]\n")
    assert model_hash(tmp_path) != before


def test_model_hash_ignores_the_data_folders_notes(tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "nlu.yml").write_text("nlu: []\n")
    before = model_hash(tmp_path)
    (tmp_path / "data" / "README.md").write_text("Where the data comes from.\n")
    assert model_hash(tmp_path) == before
    (tmp_path / "data" / "rules.yml").write_text("rules: []\n")
    assert model_hash(tmp_path) != before


@pytest.mark.parametrize("code", ["bot/language.py", "handoff/language.py", "bot/neighbours.py",
                                  "bot/linear_intents.py"])
def test_model_hash_changes_with_the_code_that_shapes_the_model(tmp_path, code):
    # The detector's component is in bot/, its scoring in the shared core: both shape the model;
    # so do the vote and the linear reading it fits at training time.
    (tmp_path / code).parent.mkdir()
    (tmp_path / code).write_text("WORDS = 1\n")
    before = model_hash(tmp_path)
    (tmp_path / code).write_text("WORDS = 2\n")
    assert model_hash(tmp_path) != before


def test_the_rasa_token_is_never_taken_for_an_option(tmp_path):
    # A token starting with "-" once made `rasa run --auth-token <token>` fail.
    tokens = {Stack(model=Path("unused"), run_dir=tmp_path).rasa_token for _ in range(300)}
    assert len(tokens) == 300
    assert all(len(t) == 48 and all(c in "0123456789abcdef" for c in t) for t in tokens)
