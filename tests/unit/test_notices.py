"""Every notice to customers exists in French and English."""

import pytest

from handoff.notices import TEXTS, notice_event


@pytest.mark.parametrize("kind", sorted(TEXTS))
def test_notice_in_both_languages(kind):
    assert set(TEXTS[kind]) == {"en", "fr"}
    fields = {"link": "https://m.me/1?ref=HF-ABCDEFGH", "code": "HF-ABCDEFGH"}
    french = notice_event(kind, "fr", "Marie", team="Facturation", **fields)
    english = notice_event(kind, "en", "Marie", team="Billing", **fields)
    assert french["text"] != english["text"]
    assert french["metadata"]["handoff_notice"] == kind


def test_unknown_language_falls_back_to_english():
    assert notice_event("agent_joined", "de", "Marie")["text"] == (
        "Marie from our team has joined the conversation.")
