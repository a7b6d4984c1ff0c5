"""Every notice to customers exists in French and English."""

import pytest

from handoff.notices import TEXTS, notice_event


@pytest.mark.parametrize("kind", sorted(TEXTS))
def test_notice_in_both_languages(kind):
    assert set(TEXTS[kind]) == {"en", "fr"}
    fields = {"link": "https://m.me/1?ref=HF-ABCDEFGH", "code": "HF-ABCDEFGH", "order": "10235",
              "address": "5 rue Neuve, 59000 Lille", "amount": "80", "what": "x",
              "phone": "06 12 34 56 78", "when": "x"}
    french = notice_event(kind, "fr", "Marie", team="Facturation", **fields)
    english = notice_event(kind, "en", "Marie", team="Billing", **fields)
    assert french["text"] != english["text"]
    assert french["metadata"]["handoff_notice"] == kind


def test_unknown_language_falls_back_to_english():
    assert notice_event("agent_joined", "de", "Marie")["text"] == (
        "Marie from our team has joined the conversation.")


@pytest.mark.parametrize("cents, en, fr", [(8000, "€80.00", "80,00 €"), (5, "€0.05", "0,05 €"),
                                           (123456, "€1,234.56", "1\u202f234,56 €")])
def test_amounts_as_each_language_writes_them(cents, en, fr):
    from handoff.notices import amount_text
    assert amount_text(cents) == {"en": en, "fr": fr}
