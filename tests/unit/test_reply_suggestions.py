"""Suggested replies (`handoff/service/insights/suggestions.py`): ranking on our own knowledge."""

import pytest

from handoff.service.api import canned
from handoff.service.insights.knowledge import GoodAnswer
from handoff.service.insights.suggestions import candidates, latest_question, rank, words

CANNED = canned.load()


def good_answer(question: str, answer: str, answer_id: str = "a1") -> GoodAnswer:
    return GoodAnswer("c1", "q1", question, answer_id, answer, "marie", "marie", 1.0)


def ids(question, language="en", answers=()):
    return [s.candidate.id for s in rank(question, candidates(CANNED, answers, language,
                                                              "Marie"))]


@pytest.mark.parametrize("question, language, first", [
    ("How do I return an item?", "en", "returns"),
    ("I want a refund for my order", "en", "refund"),
    ("Comment retourner un article ?", "fr", "returns"),
    ("je veux être remboursé", "fr", "refund"),
])
def test_the_canned_response_that_answers_comes_first(question, language, first):
    assert ids(question, language)[0] == first


def test_at_most_three_and_none_without_a_shared_word():
    answers = [good_answer(f"refund question {n}", f"Refund answer number {n}", f"a{n}")
               for n in range(6)]
    assert len(ids("refund", answers=answers)) == 3
    assert ids("hello") == [] and ids("") == []


def test_texts_are_in_the_customers_language_with_the_agents_name():
    found = rank("bonjour je voudrais de l'aide", candidates(CANNED, [], "fr", "Marie"))
    english = rank("return item", candidates(CANNED, [], "en", "Marie"))
    assert english[0].candidate.text.startswith("You can return it free of charge")
    greeting = [c for c in candidates(CANNED, [], "fr", "Marie") if c.id == "greeting"][0]
    assert greeting.text.startswith("Bonjour, je suis Marie.")
    assert all("{agent}" not in s.candidate.text for s in found)


def test_a_good_answer_is_found_by_the_question_it_answered_in_that_language():
    gift = good_answer("Can I pay with a gift card?",
                       "Yes, gift cards work at checkout, in the payment step.")
    french = good_answer("Puis-je payer avec une carte cadeau ?",
                         "Oui, les cartes cadeaux s'utilisent au paiement.", "a2")
    found = rank("do you take gift cards?", candidates(CANNED, [gift, french], "en", "Marie"))
    assert [s.candidate.text for s in found] == [gift.answer]
    found = rank("carte cadeau acceptée ?", candidates(CANNED, [gift, french], "fr", "Marie"))
    assert [s.candidate.text for s in found] == [french.answer]


def test_the_same_reply_is_suggested_once():
    twice = [good_answer("gift card?", "Yes, gift cards work.", "a1"),
             good_answer("a gift card?", "Yes, gift cards  work.", "a2")]
    assert len(rank("gift card", candidates([], twice, "en", "Marie"))) == 1


def test_words_are_folded_and_common_ones_dropped():
    assert words("Où est mon COLIS ? Remboursé, remboursement") == ["coli", "rembours",
                                                                 "rembours"]


def test_the_latest_written_customer_message():
    turns = [{"kind": "customer", "text": "first"}, {"kind": "bot", "text": "?"},
             {"kind": "customer", "text": "second"},
             {"kind": "customer", "text": "/affirm", "payload": "/affirm"},
             {"kind": "agent", "text": "hi"}]
    assert latest_question(turns) == "second"
    assert latest_question([]) is None
