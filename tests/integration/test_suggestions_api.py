"""Suggested replies through the agent API (`GET /api/conversations/{id}/suggestions`).

Real Redis, the service's app, no Rasa: the latest customer message is the live path's
(`Keys.last_customer_turn`, as the channels write it), else the ticket's.
"""

from __future__ import annotations

import json

import pytest

from handoff.accounts import AccountStore
from handoff.keys import RASA_KEYS
from handoff.service.insights.knowledge import GoodAnswers
from handoff.ticket import Reason, build_ticket
from tests import events as ev
from tests.conftest import PASSWORD
from tests.integration.service import agents, running_service, settings_for

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]


async def _held(store, redis, keys, language="en"):
    await AccountStore(redis, keys).create("marie", "Marie", PASSWORD)
    await AccountStore(redis, keys).create("paul", "Paul", PASSWORD)
    events = ev.order_conversation()
    await store.enqueue(build_ticket("c1", events, {"language": language},
                                     events[-1]["parse_data"], Reason.ASKED))
    await store.claim("c1", "marie", "Marie")


async def _customer_says(redis, keys, text):
    await redis.hset(keys.last_customer_turn("c1"), mapping={
        "event": json.dumps(ev.user(text, "", ts=9.0)), "answered": "0"})


async def test_suggestions_for_the_latest_message_in_the_customers_language(
        redis_server, redis, keys, store):
    await _held(store, redis, keys, language="fr")
    await GoodAnswers(redis, keys).mark(
        "old", {"id": "q", "text": "Puis-je payer avec une carte cadeau ?"},
        {"id": "a", "text": "Oui, les cartes cadeaux s'utilisent au paiement.",
         "agent_username": "paul"}, "paul")
    async with running_service(settings_for(redis_server)) as server, \
            agents(server, 2) as (marie, paul):
        await marie.login("marie", PASSWORD)
        # Before any message of the live path, the ticket's last one was the request for a
        # person: nothing to answer yet.
        status, body = await marie.get("/api/conversations/c1/suggestions")
        assert status == 200 and body["question"] is None
        assert body["suggestions"] == []

        await _customer_says(redis, keys, "Comment retourner un article abîmé ?")
        status, body = await marie.get("/api/conversations/c1/suggestions")
        assert body["language"] == "fr"
        # The bot's answer on returns and the agents' canned one, in French.
        assert {(s["source"], s["id"]) for s in body["suggestions"][:2]} == {
            ("faq", "returns"), ("canned", "returns")}
        assert all(s["text"].startswith("Vous pouvez") for s in body["suggestions"][:2])

        await _customer_says(redis, keys, "je peux payer par carte cadeau ?")
        status, body = await marie.get("/api/conversations/c1/suggestions")
        # An agent's good answer to the same question comes first (then the bot's on payment).
        assert body["suggestions"][0]["text"] == "Oui, les cartes cadeaux s'utilisent au paiement."

        # The assistant's FAQ: what the bot answers, offered to the agent in the same words.
        await _customer_says(redis, keys, "vous livrez en Belgique en combien de jours ?")
        status, body = await marie.get("/api/conversations/c1/suggestions")
        first = body["suggestions"][0]
        assert (first["source"], first["id"]) == ("faq", "delivery_times")
        assert first["text"].startswith("La livraison standard prend 2 à 4 jours ouvrés")

        await paul.login("paul", PASSWORD)  # not his conversation: not even its suggestions
        assert (await paul.get("/api/conversations/c1/suggestions"))[0] == 404


async def test_the_knowledge_search_box(redis_server, redis, keys, store):
    await _held(store, redis, keys)
    await GoodAnswers(redis, keys).mark(
        "old", {"id": "q", "text": "Can I pay with a gift card? I'm tom.baker@example.com"},
        {"id": "a", "text": "Yes: write to gifts@example.com with order 10235.",
         "agent_username": "paul"}, "paul")
    async with running_service(settings_for(redis_server)) as server, \
            agents(server, 1) as (marie,):
        await marie.login("marie", PASSWORD)
        status, body = await marie.get("/api/knowledge", params={"q": "gift card"})
        assert status == 200, body
        marked = [r for r in body["results"] if r["source"] == "good_answer"]
        # Another customer's words: their e-mail address and order number are masked.
        assert [(r["title"], r["text"]) for r in marked] == [
            ("Can I pay with a gift card? I'm [email]",
             "Yes: write to [email] with order [order].")]
        assert {r["source"] for r in body["results"]} >= {"faq", "good_answer"}
        status, body = await marie.get("/api/knowledge", params={"q": "livraison délai",
                                                                "language": "fr"})
        assert body["results"][0]["id"] == "delivery_times"
        assert (await marie.get("/api/knowledge", params={"q": "x", "language": "de"}))[0] == 400
        assert (await marie.get("/api/knowledge", params={"q": "x" * 201}))[0] == 400
        assert (await marie.get("/api/knowledge"))[1]["results"] == []


async def test_a_question_the_bot_did_not_understand_gets_suggestions_at_once(
        redis_server, redis, keys, store):
    await AccountStore(redis, keys).create("marie", "Marie", PASSWORD)
    events = [ev.user("hi", "greet", ts=1.0), ev.bot("Hello!", ts=1.1),
              ev.user("my parcel takes ages, how long does shipping take to Belgium",
                      "nlu_fallback", ts=2.0)]
    await store.enqueue(build_ticket("c2", events, {"language": "en"}, events[-1]["parse_data"],
                                     Reason.NOT_UNDERSTOOD))
    await store.claim("c2", "marie", "Marie")
    async with running_service(settings_for(redis_server)) as server, \
            agents(server, 1) as (marie,):
        await marie.login("marie", PASSWORD)
        status, body = await marie.get("/api/conversations/c2/suggestions")
        assert status == 200 and body["question"].startswith("my parcel takes ages")
        assert body["suggestions"][0]["id"] == "delivery_times"


async def test_replies_that_resolved_past_questions_are_searched_masked(
        redis_server, redis, keys, store):
    await _held(store, redis, keys)
    # A past conversation closed as resolved, as the tracker store and the dashboard keep it.
    events = [ev.user("Can I change the colour of my sofa order? I'm ana@example.com", "",
                      ts=5.0, message_id="q9"),
              ev.bot("Yes, the fabric can be changed until it is cut: write to "
                     "atelier@example.com with order 20411.", ts=6.0,
                     metadata={"handoff_agent": "paul", "agent": "Paul", "message_id": "a9"})]
    await redis.set(RASA_KEYS.tracker("past-1"), json.dumps({"name": "past-1", "events": events}))
    await redis.zadd(keys.metrics_handoffs, {"t-past": 4.0})
    await redis.hset(keys.metrics_handoff("t-past"), mapping={
        "conversation_id": "past-1", "outcome": "closed", "resolution": "resolved",
        "ended_at": "7.0"})
    async with running_service(settings_for(redis_server)) as server, \
            agents(server, 1) as (marie,):
        await marie.login("marie", PASSWORD)
        status, body = await marie.get("/api/knowledge", params={"q": "change fabric colour"})
        assert status == 200, body
        assert [(r["source"], r["title"], r["text"]) for r in body["results"]
                if r["source"] == "resolved"] == [(
                    "resolved", "Can I change the colour of my sofa order? I'm [email]",
                    "Yes, the fabric can be changed until it is cut: write to [email] with "
                    "order [order].")]
        # An erasure (or a retention pass) makes what was read stale at once.
        await redis.delete(RASA_KEYS.tracker("past-1"))
        await redis.incr(keys.data_removed)
        status, body = await marie.get("/api/knowledge", params={"q": "change fabric colour"})
        assert [r for r in body["results"] if r["source"] == "resolved"] == []
