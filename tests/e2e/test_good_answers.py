"""An agent marks a reply as a good answer; the pair reaches the miner's store (issue 8)."""

from __future__ import annotations

import pytest
from redis.asyncio import Redis

from handoff.keys import Keys
from handoff.service.insights.knowledge import GoodAnswers
from tests.e2e.conftest import with_an_agent

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]


async def test_an_agent_marks_a_good_answer_to_a_customer_question(stack, agents,
                                                                   customer_factory):
    marie = agents["marie"]
    customer = await customer_factory()
    cid = customer.session_id
    await with_an_agent(customer, marie)
    await customer.say("Can I pay with a gift card bought in a shop?")
    status, sent = await marie.post(f"/api/conversations/{cid}/messages",
                                    {"text": "Yes: enter its code at checkout."})
    assert status == 202
    await customer.reply(lambda m: m.get("agent_message_id") == sent["message"]["id"])

    status, body = await marie.post(f"/api/conversations/{cid}/good-answers",
                                    {"turn_id": sent["message"]["id"]})
    assert status == 201, body
    assert body["good_answer"]["question"] == "Can I pay with a gift card bought in a shop?"
    assert body["good_answer"]["answer"] == "Yes: enter its code at checkout."
    redis = Redis.from_url(stack.env()["REDIS_URL"], decode_responses=True)
    try:
        marked = [p for p in await GoodAnswers(redis, Keys()).list() if p.conversation_id == cid]
    finally:
        await redis.close(close_connection_pool=True)
    assert [(p.question, p.answer, p.agent, p.marked_by) for p in marked] == [
        ("Can I pay with a gift card bought in a shop?", "Yes: enter its code at checkout.",
         "marie", "marie")]

    # Only an agent's reply to a customer message can be marked; the error says so in French.
    customer_turn = next(t for t in (await marie.get(f"/api/conversations/{cid}"))[1]
                         ["conversation"]["transcript"] if t["kind"] == "customer")
    async with marie.http.post(f"{stack.handoff_url}/api/conversations/{cid}/good-answers",
                               json={"turn_id": customer_turn["id"]},
                               headers={"Accept-Language": "fr"}) as resp:
        refused = await resp.json()
        assert resp.status == 400 and refused["error"]["code"] == "not_an_answer"
        assert refused["error"]["message"].startswith("Seule la réponse")
    status, body = await marie.post("/api/conversations/nope/good-answers", {"turn_id": "x"})
    assert status == 404
