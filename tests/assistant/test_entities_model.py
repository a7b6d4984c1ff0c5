"""The trained model's entities (issue 15): the guard and the name rules are in the pipeline.

bot/order_numbers.py and bot/names.py have their own unit tests; this checks that the model the
product runs applies them, in both languages.
"""

from __future__ import annotations

import asyncio
from typing import Dict, List

import pytest

from stack.model import ensure_model
from tests.assistant.nlu_eval import load_agent

MESSAGES = {
    "where is my order 10234?": {"order_number": ["10234"]},
    "où en est ma commande 10235 ?": {"order_number": ["10235"]},
    "33000 Bordeaux": {"order_number": []},
    "j'habite au 3 avenue Foch, 33000 Bordeaux": {"order_number": []},
    "call me on 01234 567890": {"order_number": []},
    "ça m'a coûté 15000 euros": {"order_number": []},
    "I'm Marie, my parcel is late": {"name": ["Marie"]},
    "je m'appelle Paul": {"name": ["Paul"]},
    "stupid bot": {"name": []},
    "Stupid Bot": {"name": []},
    # Read without its greeting and sign-off (bot/pleasantries.py), then given back whole: the
    # order number and the signature's name are still found.
    "Bonjour, où en est ma commande 10235 ? Cordialement, Sophie Martin": {
        "order_number": ["10235"], "name": ["Sophie Martin"]},
}


def _parse_all(texts: List[str]) -> Dict[str, dict]:
    agent = load_agent(ensure_model(say=lambda line: None).resolve())

    async def parse():
        return {text: await agent.parse_message(text) for text in texts}

    return asyncio.run(parse())


@pytest.fixture(scope="module")
def parsed() -> Dict[str, dict]:
    return _parse_all(list(MESSAGES))


@pytest.mark.assistant
@pytest.mark.timeout(600)
@pytest.mark.filterwarnings("ignore:the load_module:DeprecationWarning")
@pytest.mark.filterwarnings("ignore:non-integer arguments to randrange:DeprecationWarning")
@pytest.mark.parametrize("text", list(MESSAGES))
def test_entities_of_the_trained_model(parsed, text):
    for entity, expected in MESSAGES[text].items():
        found = [e["value"] for e in parsed[text]["entities"] if e["entity"] == entity]
        assert found == expected, (text, parsed[text]["entities"])


@pytest.mark.assistant
@pytest.mark.timeout(600)
@pytest.mark.filterwarnings("ignore:the load_module:DeprecationWarning")
@pytest.mark.filterwarnings("ignore:non-integer arguments to randrange:DeprecationWarning")
def test_a_trimmed_message_keeps_its_whole_text_and_its_request(parsed):
    text = "Bonjour, où en est ma commande 10235 ? Cordialement, Sophie Martin"
    assert parsed[text]["text"] == text
    assert parsed[text]["intent"]["name"] == "order_status", parsed[text]["intent"]
