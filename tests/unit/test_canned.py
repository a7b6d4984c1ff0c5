"""Canned responses: both languages required, searchable without accents."""

import pytest

from handoff.service.api.canned import CannedError, load, search


def test_shipped_responses_are_bilingual_and_searchable():
    responses = load()
    assert len(responses) >= 5
    assert [r.id for r in search(responses, "rembourse")] == ["refund", "returns"]
    assert [r.id for r in search(responses, "REFUND")] == ["refund", "returns"]
    # A customer returning an item: the agent finds the answer by the word, in either language.
    assert [r.id for r in search(responses, "retour")] == ["returns"]
    assert [r.id for r in search(responses, "return label")] == ["returns"]
    assert "greeting" in [r.id for r in search(responses, "")]
    assert search(responses, "verifie") and search(responses, "no such words here") == []


def test_a_response_missing_a_language_is_refused(tmp_path):
    path = tmp_path / "canned.yml"
    path.write_text("- id: x\n  title: {en: X, fr: X}\n  text: {en: Hello}\n")
    with pytest.raises(CannedError, match="x: text needs en and fr"):
        load(path)
