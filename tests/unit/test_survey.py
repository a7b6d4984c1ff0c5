"""The survey's payloads, questions and texts (`handoff.survey`), without Redis."""

from handoff.messenger_api import QUICK_REPLIES_MAX, QUICK_REPLY_TITLE_MAX
from handoff.survey import CHOICES, TEXTS, parse_payload, payload, question_message


def test_payloads_round_trip_and_other_messages_are_not_survey_answers():
    assert parse_payload(payload("abc123", "csat", "4")) == ("abc123", "csat", "4")
    assert parse_payload(payload("abc123", "decline")) == ("abc123", "decline", "")
    assert parse_payload("what are your opening hours?") is None
    assert parse_payload("/affirm") is None
    assert parse_payload(None) is None
    # Anything that looks like ours but is malformed is kept from the bot, as unknown.
    assert parse_payload("survey:") == ("", "", "")
    assert parse_payload("survey:abc:mood:3") == ("", "", "")


def test_every_question_fits_messenger_and_speaks_both_languages():
    for language in ("en", "fr"):
        for step in ("csat", "nps", "comment"):
            message = question_message("s1", step, language)
            assert len(message["quick_replies"]) <= QUICK_REPLIES_MAX
            assert all(len(q["title"]) <= QUICK_REPLY_TITLE_MAX and
                       parse_payload(q["payload"])[0] == "s1"
                       for q in message["quick_replies"])
    assert question_message("s1", "csat", "fr")["text"] != question_message(
        "s1", "csat", "en")["text"]
    for texts in [*TEXTS.values(), *CHOICES.values()]:
        assert set(texts) == {"en", "fr"} and all(texts.values())
