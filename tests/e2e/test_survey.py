"""The satisfaction survey at the end of a conversation (issue 8), on the real stack.

An agent closes, or the bot does (the customer says goodbye): the customer is asked CSAT (1–5),
NPS (0–10) and for an optional comment, in their language, with buttons on the web chat and
quick replies on Messenger. Answers are stored with the conversation, agent, team and handoff
reason, and never reach Rasa's NLU.
"""

from __future__ import annotations

import time
import uuid
from typing import Any, Dict, List

import pytest
from redis.asyncio import Redis

from handoff.journal import Journal
from handoff.keys import Keys
from handoff.survey import SurveyStore, parse_payload
from tests.e2e.conftest import MessengerCustomer, rasa_tracker, with_an_agent

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]


async def _surveys_of(stack, conversation_id: str) -> List[Dict[str, str]]:
    redis = Redis.from_url(stack.env()["REDIS_URL"], decode_responses=True)
    try:
        rows = await SurveyStore(redis, Keys()).between(0, time.time() + 60)
    finally:
        await redis.close(close_connection_pool=True)
    return [row for row in rows if row["conversation_id"] == conversation_id]


async def _conversation_hash(stack, conversation_id: str) -> Dict[str, str]:
    redis = Redis.from_url(stack.env()["REDIS_URL"], decode_responses=True)
    try:
        return await redis.hgetall(Keys().conversation(conversation_id))
    finally:
        await redis.close(close_connection_pool=True)


def _choices(message: Dict[str, Any]) -> Dict[str, str]:
    """title -> payload of a web message's buttons."""
    return {q["title"]: q["payload"] for q in message.get("quick_replies") or []}


def _is_question(message: Dict[str, Any]) -> bool:
    return any(parse_payload(q.get("payload")) for q in message.get("quick_replies") or [])


async def _user_texts(stack, conversation_id: str) -> List[str]:
    return [e.get("text") or "" for e in (await rasa_tracker(stack, conversation_id))["events"]
            if e["event"] == "user"]


async def test_web_customer_answers_the_survey_after_an_agent_closes(stack, agents,
                                                                      customer_factory):
    marie = agents["marie"]
    customer = await customer_factory()
    cid = customer.session_id
    await with_an_agent(customer, marie)
    status, _ = await marie.post(f"/api/conversations/{cid}/close", {})
    assert status == 200
    await customer.reply(lambda m: m.get("notice") == "closed")
    csat = await customer.reply(_is_question)
    assert csat["text"].startswith("Before you go: how satisfied are you")
    assert list(_choices(csat)) == ["1", "2", "3", "4", "5", "No thanks"]

    ack = await customer.say(_choices(csat)["4"])
    assert ack["ok"] is True
    nps = await customer.reply(_is_question)
    assert "recommend us" in nps["text"]
    assert list(_choices(nps)) == [str(n) for n in range(11)] + ["No thanks"]
    # The same tap sent twice (two clicks, a new message id): recorded once, asked once.
    await customer.say(_choices(csat)["2"])
    await customer.say(_choices(nps)["9"])
    offer = await customer.reply(_is_question)
    assert list(_choices(offer)) == ["Add a comment", "No thanks"]
    await customer.say(_choices(offer)["Add a comment"])
    prompt = await customer.reply()
    assert prompt["text"] == "Please write your comment in one message."
    await customer.say("Marie was quick and kind.")
    thanks = await customer.reply()
    assert thanks["text"].startswith("Thank you for your answers")
    assert [m for m in customer.history if "recommend us" in (m.get("text") or "")] == [nps]

    [row] = await _surveys_of(stack, cid)
    conversation = await _conversation_hash(stack, cid)
    assert {k: row[k] for k in ("channel", "language", "closed_by", "agent", "agent_name",
                                "reason", "intent", "csat", "nps", "comment", "declined")} == {
        "channel": "web", "language": "en", "closed_by": "agent", "agent": "marie",
        "agent_name": "Marie", "reason": "asked", "intent": "request_human", "csat": "4",
        "nps": "9", "comment": "Marie was quick and kind.", "declined": "0"}
    assert row["team"] == conversation.get("team", "")
    assert row["ticket_id"] == conversation["ticket_id"] != ""
    # The answers never reached Rasa: the tracker has none of them.
    user_texts = await _user_texts(stack, cid)
    assert not [t for t in user_texts if t.startswith("survey:") or "quick and kind" in t]
    # The page's record (journal) has the questions with their buttons, and the choices as
    # the customer saw them, for a page that reconnects.
    redis = Redis.from_url(stack.env()["REDIS_URL"], decode_responses=True)
    try:
        journal = await Journal(redis, Keys()).since(cid, None)
    finally:
        await redis.close(close_connection_pool=True)
    customer_lines = [p["text"] for _, kind, p in journal if kind == "customer"]
    assert customer_lines[-5:] == ["4", "2", "9", "Add a comment", "Marie was quick and kind."]
    assert any(p.get("quick_replies") and "recommend us" in p["text"] for _, kind, p in journal
               if kind == "bot")


async def test_french_customer_declines_and_nothing_else_happens(stack, agents,
                                                                 customer_factory):
    marie = agents["marie"]
    customer = await customer_factory()
    cid = customer.session_id
    await customer.say("Bonjour, je voudrais parler à un conseiller s'il vous plaît")
    await customer.reply()
    status, body = await marie.post(f"/api/conversations/{cid}/claim", {})
    assert status == 200, body
    await customer.reply(lambda m: m.get("notice") == "agent_joined")
    status, _ = await marie.post(f"/api/conversations/{cid}/close", {})
    assert status == 200
    csat = await customer.reply(_is_question)
    assert csat["text"].startswith("Avant de partir : êtes-vous satisfait")
    assert list(_choices(csat)) == ["1", "2", "3", "4", "5", "Non merci"]
    events_before = len((await rasa_tracker(stack, cid))["events"])

    await customer.say(_choices(csat)["Non merci"])
    declined = await customer.reply()
    assert declined["text"].startswith("Pas de souci, merci")
    [row] = await _surveys_of(stack, cid)
    assert (row["declined"], row["csat"], row["nps"], row["language"]) == ("1", "", "", "fr")
    # Declining changed nothing in the conversation: no event, and the bot answers as before.
    assert len((await rasa_tracker(stack, cid))["events"]) == events_before
    await customer.say("quels sont vos horaires d'ouverture ?")
    answer = await customer.reply()
    assert "lundi" in answer["text"].lower() and not _is_question(answer)
    # A late tap on the closed survey: told politely, in French; nothing stored.
    await customer.say(_choices(csat)["5"])
    late = await customer.reply()
    assert late["text"].startswith("Ce questionnaire est terminé")
    [row] = await _surveys_of(stack, cid)
    assert row["csat"] == ""


async def test_a_customer_who_ignores_the_survey_gets_the_bot_as_usual(stack, agents,
                                                                       customer_factory):
    marie = agents["marie"]
    customer = await customer_factory()
    cid = customer.session_id
    await with_an_agent(customer, marie)
    status, _ = await marie.post(f"/api/conversations/{cid}/close", {})
    assert status == 200
    await customer.reply(_is_question)
    await customer.say("what are your opening hours?")
    answer = await customer.reply()
    assert answer["text"].startswith("Our customer service is open Monday to Friday")
    [row] = await _surveys_of(stack, cid)
    assert (row["csat"], row["nps"], row["comment"], row["declined"]) == ("", "", "", "0")
    assert "what are your opening hours?" in await _user_texts(stack, cid)


async def test_the_bot_asks_when_the_customer_says_goodbye(stack, customer_factory):
    customer = await customer_factory()
    cid = customer.session_id
    await customer.say("hello")
    await customer.reply()
    await customer.say("goodbye")
    await customer.reply(lambda m: m.get("text") == "Goodbye, and have a nice day!")
    csat = await customer.reply(_is_question)
    await customer.say(_choices(csat)["5"])
    nps = await customer.reply(_is_question)
    [row] = await _surveys_of(stack, cid)
    assert (row["closed_by"], row["agent"], row["reason"], row["channel"], row["csat"]) == (
        "bot", "", "", "web", "5")
    # Goodbye said again within the hour: the bot says goodbye, and asks no second survey.
    await customer.say("bye")
    await customer.reply(lambda m: m.get("text") == "Goodbye, and have a nice day!")
    await customer.say("what are your opening hours?")
    await customer.reply(lambda m: "Monday to Friday" in (m.get("text") or ""))
    questions = [m for m in customer.history if _is_question(m)]
    assert questions == [csat, nps]
    assert len(await _surveys_of(stack, cid)) == 1


async def test_messenger_customer_answers_with_quick_replies(stack, graph, agents):
    marie = agents["marie"]
    psid = str(uuid.uuid4().int)[:16]
    person = MessengerCustomer(stack, psid)
    await person.say("I want to talk to a human")
    await graph.wait_for(lambda _: len(graph.messages(psid)) >= 1)
    status, body = await marie.post(f"/api/conversations/{psid}/claim", {})
    assert status == 200, body
    status, _ = await marie.post(f"/api/conversations/{psid}/close", {})
    assert status == 200

    def questions() -> List[Dict[str, Any]]:
        return [m["message"] for m in graph.messages(psid)
                if any(parse_payload(q.get("payload"))
                       for q in m["message"].get("quick_replies") or [])]

    await graph.wait_for(lambda _: len(questions()) >= 1)
    csat = questions()[0]
    assert csat["text"].startswith("Before you go")
    replies = {q["title"]: q["payload"] for q in csat["quick_replies"]}
    assert list(replies) == ["1", "2", "3", "4", "5", "No thanks"]
    assert all(q["content_type"] == "text" for q in csat["quick_replies"])

    await person.say("3", quick_reply=replies["3"])
    await graph.wait_for(lambda _: len(questions()) >= 2)
    nps = questions()[1]
    assert len(nps["quick_replies"]) == 12  # 0–10 and "No thanks": within Messenger's 13
    nps_replies = {q["title"]: q["payload"] for q in nps["quick_replies"]}
    # A repeated tap (Facebook sends a new event): recorded once, nothing asked twice.
    await person.say("3", quick_reply=replies["3"])
    await person.say("10", quick_reply=nps_replies["10"])
    await graph.wait_for(lambda _: len(questions()) >= 3)
    offer = {q["title"]: q["payload"] for q in questions()[2]["quick_replies"]}
    await person.say("No thanks", quick_reply=offer["No thanks"])
    await graph.wait_for(lambda _: any(m["message"].get("text", "").startswith(
        "Thank you for your answers") for m in graph.messages(psid)))
    assert len(questions()) == 3

    [row] = await _surveys_of(stack, psid)
    assert {k: row[k] for k in ("channel", "closed_by", "agent", "reason", "csat", "nps",
                                "comment", "declined")} == {
        "channel": "messenger", "closed_by": "agent", "agent": "marie", "reason": "asked",
        "csat": "3", "nps": "10", "comment": "", "declined": "0"}
    assert not [t for t in await _user_texts(stack, psid) if t.startswith("survey:")]


@pytest.mark.browser
def test_the_chat_page_shows_the_survey_buttons_and_a_click_records_the_answer(stack):
    # Launched as tests/e2e/test_browser.py does (Debian's chromium, nothing from outside).
    import re as _re

    import redis as sync_redis
    from playwright.sync_api import expect, sync_playwright

    from tests.e2e.test_browser import CHROMIUM, CHROMIUM_ARGS

    if not CHROMIUM.exists():
        pytest.fail("Debian's chromium is missing: ./test.sh installs it")
    started = time.time()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS,
                                             headless=True)
        try:
            page = browser.new_context(locale="en-US").new_page()
            page.route(_re.compile(r"^https?://(?!127\.0\.0\.1|localhost)"), lambda r: r.abort())
            page.goto(f"{stack.handoff_url}/chat")
            page.get_by_test_id("chat-input").fill("goodbye")
            page.get_by_test_id("chat-send").click()
            question = page.locator('[data-testid="chat-message"][data-from="bot"]').filter(
                has_text="how satisfied are you")
            expect(question).to_be_visible(timeout=30_000)
            buttons = question.get_by_test_id("chat-button")
            expect(buttons).to_have_text(["1", "2", "3", "4", "5", "No thanks"])
            buttons.filter(has_text="4").click()
            # The page shows the choice as the button read, then the next question.
            expect(page.locator('[data-testid="chat-message"][data-from="customer"]').last
                   ).to_have_text("4")
            nps = page.locator('[data-testid="chat-message"][data-from="bot"]').filter(
                has_text="recommend us")
            expect(nps).to_be_visible(timeout=30_000)
            expect(nps.get_by_test_id("chat-button")).to_have_count(12)
        finally:
            browser.close()
    store = sync_redis.Redis.from_url(stack.env()["REDIS_URL"], decode_responses=True)
    try:
        ids = store.zrangebyscore(Keys().surveys(), started, "+inf")
        rows = [store.hgetall(Keys().survey(i)) for i in ids]
    finally:
        store.close()
    mine = [r for r in rows if r["closed_by"] == "bot" and r["channel"] == "web"
            and r["csat"] == "4"]
    assert len(mine) == 1, rows
