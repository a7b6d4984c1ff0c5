"""The satisfaction survey's storage and answer flow against a real Redis (`handoff.survey`)."""

import pytest

from handoff.survey import (
    FIELDS,
    SurveyError,
    SurveyResponder,
    SurveyStore,
    parse_payload,
    payload,
)

pytestmark = pytest.mark.integration

CONTEXT = {"conversation_id": "c1", "channel": "web", "language": "en", "agent": "marie",
           "agent_name": "Marie", "team": "orders", "reason": "complaint",
           "intent": "complaint", "ticket_id": "t1"}


async def test_a_survey_is_stored_with_its_context_and_answers(redis, keys):
    surveys = SurveyStore(redis, keys)
    sid = await surveys.start(closed_by="agent", asked_at=100.5, **CONTEXT)
    assert await surveys.answer(sid, "csat", 4) is True
    assert await surveys.answer(sid, "nps", "9") is True
    assert await surveys.answer(sid, "comment", "  Quick and kind.  ") is True
    [row] = await surveys.between(100.0, 101.0)
    assert set(row) == set(FIELDS)
    assert row == {**CONTEXT, "survey_id": sid, "closed_by": "agent", "asked_at": "100.5",
                   "csat": "4", "nps": "9", "comment": "Quick and kind.", "declined": "0",
                   "answered_at": row["answered_at"]}
    assert float(row["answered_at"]) > 100.5
    assert await redis.hget(keys.survey(sid), "step") == "done"


async def test_between_is_half_open_and_oldest_first(redis, keys):
    surveys = SurveyStore(redis, keys)
    late = await surveys.start(closed_by="bot", asked_at=300.0, **CONTEXT)
    early = await surveys.start(closed_by="bot", asked_at=100.0, **CONTEXT)
    middle = await surveys.start(closed_by="bot", asked_at=200.0, **CONTEXT)
    assert [r["survey_id"] for r in await surveys.between(100.0, 300.0)] == [early, middle]
    assert [r["survey_id"] for r in await surveys.between(0, 1000)] == [early, middle, late]
    assert await surveys.between(400.0, 500.0) == []


@pytest.mark.parametrize("question, value", [
    ("csat", 0), ("csat", 6), ("csat", "4.5"), ("csat", "four"), ("csat", True), ("csat", ""),
    ("nps", -1), ("nps", 11), ("nps", "10 "), ("comment", ""), ("comment", "x" * 1001),
    ("comment", 5), ("mood", 3)])
async def test_a_bad_value_is_refused_and_nothing_is_stored(redis, keys, question, value):
    surveys = SurveyStore(redis, keys)
    sid = await surveys.start(closed_by="agent", **CONTEXT)
    before = await redis.hgetall(keys.survey(sid))
    if (question, value) == ("nps", "10 "):
        # Surrounding blanks are not a different value: accepted.
        assert await surveys.answer(sid, question, value) is True
        return
    with pytest.raises(SurveyError) as error:
        await surveys.answer(sid, question, value)
    assert error.value.code == "bad_value"
    assert await redis.hgetall(keys.survey(sid)) == before


async def test_an_unknown_survey_is_refused_and_nothing_is_stored(redis, keys):
    with pytest.raises(SurveyError) as error:
        await SurveyStore(redis, keys).answer("no-such-survey", "csat", 3)
    assert error.value.code == "unknown_survey"
    assert await redis.keys("*") == []


async def test_a_repeated_answer_is_recorded_once_the_first_one_counts(redis, keys):
    surveys = SurveyStore(redis, keys)
    sid = await surveys.start(closed_by="agent", **CONTEXT)
    assert await surveys.answer(sid, "csat", 2) is True
    assert await surveys.answer(sid, "csat", 2) is False
    assert await surveys.answer(sid, "csat", 5) is False
    assert (await surveys.get(sid))["csat"] == "2"


async def test_a_declined_survey_takes_no_more_answers(redis, keys):
    surveys = SurveyStore(redis, keys)
    sid = await surveys.start(closed_by="agent", **CONTEXT)
    assert await surveys.decline(sid) is True
    assert await surveys.decline(sid) is False
    with pytest.raises(SurveyError) as error:
        await surveys.answer(sid, "nps", 7)
    assert error.value.code == "finished"
    [row] = await surveys.between(0, 1e12)
    assert (row["declined"], row["csat"], row["nps"]) == ("1", "", "")


async def test_the_bot_asks_a_conversation_once_an_hour(redis, keys):
    surveys = SurveyStore(redis, keys)
    context = {"conversation_id": "c9", "channel": "messenger", "language": "fr"}
    first = await surveys.start_for_bot_close(**context)
    assert first is not None
    assert await surveys.start_for_bot_close(**context) is None
    assert 0 < await redis.ttl(keys.survey_recent("c9")) <= 3600
    assert (await surveys.get(first))["closed_by"] == "bot"


async def test_the_responder_walks_through_the_questions(redis, keys):
    surveys = SurveyStore(redis, keys)
    responder = SurveyResponder(surveys)
    sid = await surveys.start(closed_by="agent", **{**CONTEXT, "language": "fr"})
    # A message that is not about the survey is not the responder's.
    assert await responder.respond("c1", "what are your opening hours?") is None

    reply = await responder.respond("c1", payload(sid, "csat", "5"))
    assert reply.shown == "5"
    [nps] = reply.messages
    assert "recommandiez" in nps["text"]
    assert [q["title"] for q in nps["quick_replies"]] == [str(n) for n in range(11)] + [
        "Non merci"]
    assert all(parse_payload(q["payload"])[0] == sid for q in nps["quick_replies"])
    # The same tap again: recorded once, nothing asked twice.
    assert (await responder.respond("c1", payload(sid, "csat", "5"))).messages == []

    [offer] = (await responder.respond("c1", payload(sid, "nps", "8"))).messages
    assert [q["title"] for q in offer["quick_replies"]] == ["Commenter", "Non merci"]
    [prompt] = (await responder.respond("c1", payload(sid, "comment", "add"))).messages
    assert prompt["text"].startswith("Écrivez votre commentaire")
    [thanks] = (await responder.respond("c1", "Très bien, merci")).messages
    assert thanks["text"].startswith("Merci pour vos réponses")
    # The comment was taken once: the next text is for the bot again.
    assert await responder.respond("c1", "encore une question") is None
    record = await surveys.get(sid)
    assert (record["csat"], record["nps"], record["comment"]) == ("5", "8", "Très bien, merci")
    # A late tap on a finished survey: told, nothing stored.
    [closed] = (await responder.respond("c1", payload(sid, "comment", "add"))).messages
    assert "questionnaire est terminé" in closed["text"]
    assert await responder.respond("c1", "une autre question") is None


async def test_the_responder_refuses_what_is_not_a_survey_of_this_conversation(redis, keys):
    surveys = SurveyStore(redis, keys)
    responder = SurveyResponder(surveys)
    sid = await surveys.start(closed_by="agent", **CONTEXT)
    for message in [payload("0" * 32, "csat", "3"), payload(sid, "csat", "3").replace(
            "csat", "mood"), "survey:garbage"]:
        reply = await responder.respond("c1", message)
        assert "not recorded" in reply.messages[0]["text"], message
    # Another conversation's survey is not this customer's to answer.
    other = await responder.respond("c2", payload(sid, "csat", "3"))
    assert "not recorded" in other.messages[0]["text"]
    bad = await responder.respond("c1", payload(sid, "csat", "9"))
    assert bad.messages[0]["text"].startswith("That answer is not one of the choices")
    assert (await surveys.get(sid))["csat"] == ""


async def test_a_too_long_comment_is_refused_and_the_next_text_is_the_comment(redis, keys):
    surveys = SurveyStore(redis, keys)
    responder = SurveyResponder(surveys)
    sid = await surveys.start(closed_by="agent", **CONTEXT)
    await responder.respond("c1", payload(sid, "comment", "add"))
    [too_long] = (await responder.respond("c1", "x" * 1001)).messages
    assert "longer than 1,000 characters" in too_long["text"]
    assert (await surveys.get(sid))["comment"] == ""
    await responder.respond("c1", "Shorter.")
    assert (await surveys.get(sid))["comment"] == "Shorter."
