"""The REST channel's refusals (`bot.rest.error`): each in the language asked, else in both."""

from __future__ import annotations

import json

import pytest

from bot.rest import error

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

CODES = ["bad_json", "bad_sender", "unavailable", "empty_message", "bad_text",
         "message_too_long"]


def _message(code: str, language) -> str:
    body = json.loads(error(code, language).body)
    assert body["error"]["code"] == code
    return body["error"]["message"]


@pytest.mark.parametrize("code", CODES)
def test_every_refusal_is_in_french_and_english(code):
    english, french = _message(code, "en"), _message(code, "fr")
    assert english and french and english != french
    assert _message(code, None) == f"{english}\n{french}"
