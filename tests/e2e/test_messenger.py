"""Facebook Messenger against the real stack, with a local server playing the Graph API
(issue 5): webhook verification and signatures, batches, redeliveries and echoes, bot → agent →
bot with every Send API call checked, retries, failures the agent sees, and the 24-hour /
7-day windows.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any, Dict, List

import aiohttp
import pytest
from redis.asyncio import Redis

from handoff.keys import Keys
from tests.e2e.conftest import MESSENGER, MessengerCustomer, rasa_tracker, tracker_with

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]


def _psid() -> str:
    return str(uuid.uuid4().int)[:16]


def _texts(graph, psid: str) -> List[str]:
    return [m["message"].get("text", "") for m in graph.messages(psid)]


def _user_events(tracker: Dict[str, Any]) -> List[Dict[str, Any]]:
    return [e for e in tracker["events"] if e["event"] == "user"]


async def _replies(graph, psid: str, count: int, timeout: float = 30) -> List[str]:
    await graph.wait_for(lambda _: len(graph.messages(psid)) >= count, timeout)
    return _texts(graph, psid)


async def test_webhook_verification_and_signatures(stack, graph):
    url = f"{stack.rasa_url}/webhooks/messenger/webhook"
    async with aiohttp.ClientSession() as http:
        params = {"hub.mode": "subscribe", "hub.verify_token": MESSENGER["MESSENGER_VERIFY_TOKEN"],
                  "hub.challenge": "1158201444"}
        async with http.get(url, params=params) as resp:
            assert resp.status == 200 and await resp.text() == "1158201444"
        async with http.get(url, params={**params, "hub.verify_token": "guess"}) as resp:
            assert resp.status == 403
    psid = _psid()
    customer = MessengerCustomer(stack, psid)
    event = customer.event("hello")
    assert await customer.post(event, signature="") == 403            # missing
    assert await customer.post(event, secret="not-the-secret") == 403  # wrong
    assert await customer.post(event, signature="sha256=" + "0" * 64) == 403
    assert await customer.post(raw=b"{not json") == 400
    # Refused calls changed nothing: no reply, no conversation.
    assert graph.calls(psid) == []
    assert _user_events(await rasa_tracker(stack, psid)) == []
    # The same event, signed: answered.
    assert await customer.post(event) == 200
    await _replies(graph, psid, 1)


async def test_batches_redeliveries_and_echoes(stack, graph):
    first, second = MessengerCustomer(stack, _psid()), MessengerCustomer(stack, _psid())
    batch = [first.event("hello"), second.event("what are your opening hours?")]
    assert await first.post(*batch) == 200
    replies = await _replies(graph, second.psid, 1)
    assert any("Monday to Friday" in text for text in replies), replies
    await _replies(graph, first.psid, 1)
    # Sender actions before the answer; the bot writes with RESPONSE, never a tag.
    calls = graph.calls(second.psid)
    actions = [c["body"].get("sender_action") for c in calls]
    assert actions[:2] == ["mark_seen", "typing_on"]
    assert all(m["messaging_type"] == "RESPONSE" and "tag" not in m
               for m in graph.messages(second.psid))

    # Facebook redelivers the batch, and the page's own echo comes back: neither is taken.
    answered = len(graph.messages(first.psid))
    assert await first.post(*batch, first.event("Hi there", echo=True)) == 200
    await first.say("thanks")  # a new message: once it is answered, the rest was seen too
    await _replies(graph, first.psid, answered + 1)
    tracker = await rasa_tracker(stack, first.psid)
    assert [e["text"] for e in _user_events(tracker)] == ["hello", "thanks"]
    assert len(_user_events(await rasa_tracker(stack, second.psid))) == 1


async def test_bot_agent_bot_with_every_send_api_call_checked(stack, graph, agents):
    marie = agents["marie"]
    await marie.connect_ws()
    customer = MessengerCustomer(stack, _psid())
    psid = customer.psid
    await customer.say("I want to talk to a human please")
    queued = await _replies(graph, psid, 1)
    ticket = (await marie.frame(lambda f: f["type"] == "ticket.queued"
                                and f["ticket"]["conversation_id"] == psid))["ticket"]
    assert ticket["channel"] == "messenger" and ticket["language"] == "en"
    assert len(queued) >= 1

    status, body = await marie.post(f"/api/conversations/{psid}/claim", {})
    assert status == 200, body
    await graph.wait_for(lambda _: any("Marie from our team" in t for t in _texts(graph, psid)))
    status, body = await marie.get(f"/api/conversations/{psid}")
    assert body["conversation"]["reach"] == {"channel": "messenger", "can_reply": True,
                                             "tag": None, "until": pytest.approx(
                                                 time.time() + 7 * 24 * 3600, abs=120)}

    # The customer writes, taps a quick reply and a postback button: the agent gets all three,
    # the bot says nothing (and shows no typing dots).
    before = len(graph.messages(psid))
    await customer.say("It's about order 10234")
    await customer.say("Yes", quick_reply="/affirm")
    await customer.post(customer.event(postback="/request_human"))
    for expected in ("It's about order 10234", "/affirm", "/request_human"):
        frame = await marie.frame(lambda f, e=expected: f["type"] == "message"
                                  and f["conversation_id"] == psid
                                  and f["turn"].get("text") == e)
        assert frame["turn"]["kind"] == "customer"
    assert len(graph.messages(psid)) == before
    assert "typing_on" not in [c["body"].get("sender_action")
                               for c in graph.calls(psid)[-3:]]

    # The agent types and answers: typing_on, then the message, within the window: RESPONSE.
    status, _ = await marie.post(f"/api/conversations/{psid}/typing", {"typing": True})
    assert status == 200
    status, _ = await marie.post(f"/api/conversations/{psid}/messages",
                                 {"text": "Hello, Marie here: order 10234 left yesterday.",
                                  "client_id": "c-1"})
    assert status == 202
    await graph.wait_for(lambda _: any("Marie here" in t for t in _texts(graph, psid)))
    sent = [m for m in graph.messages(psid) if "Marie here" in m["message"]["text"]]
    assert len(sent) == 1 and sent[0]["messaging_type"] == "RESPONSE" and "tag" not in sent[0]
    assert "typing_on" in [c["body"].get("sender_action") for c in graph.calls(psid)]
    await marie.frame(lambda f: f["type"] == "message" and f["turn"].get("kind") == "agent"
                      and f["conversation_id"] == psid)
    # In the record too, written behind the live path; the customer's turns without NLU.
    events = await tracker_with(stack, psid, lambda events: any(
        (e.get("metadata") or {}).get("handoff_agent") for e in events))
    agent_turns = [e for e in events
                   if e["event"] == "bot" and (e.get("metadata") or {}).get("handoff_agent")]
    assert [e["text"] for e in agent_turns] == ["Hello, Marie here: order 10234 left yesterday."]
    relayed = [e for e in events if e["event"] == "user" and e.get("text") in (
        "It's about order 10234", "/affirm", "/request_human")]
    assert len(relayed) == 3
    assert all(e["parse_data"]["intent"]["name"] is None for e in relayed)

    # Back to the bot, which answers the next question on Messenger.
    status, _ = await marie.post(f"/api/conversations/{psid}/handback", {})
    assert status == 200
    await graph.wait_for(lambda _: any("handed you back" in t for t in _texts(graph, psid)))
    answered = len(graph.messages(psid))
    await customer.say("where is my order 10234?")
    replies = await _replies(graph, psid, answered + 1)
    assert any("10234" in text for text in replies[answered:]), replies[answered:]

    # Every call of the whole conversation: accepted, to this person, with the page token; every
    # message a RESPONSE (all within 24 hours), no tag; sender actions only the known three.
    calls = graph.calls(psid)
    assert calls and all(c["status"] == 200 for c in calls)
    for call in calls:
        body = call["body"]
        if "message" in body:
            assert body["messaging_type"] == "RESPONSE" and "tag" not in body, body
            assert set(body["message"]) <= {"text", "quick_replies", "attachment"}, body
        else:
            assert body["sender_action"] in {"mark_seen", "typing_on", "typing_off"}, body
    texts = _texts(graph, psid)
    assert texts.count("Hello, Marie here: order 10234 left yesterday.") == 1
    assert sum("Marie from our team" in t for t in texts) == 1


async def _with_marie(stack, graph, marie, text: str = "a person please") -> str:
    customer = MessengerCustomer(stack, _psid())
    await customer.say(text)
    await _replies(graph, customer.psid, 1)
    status, body = await marie.post(f"/api/conversations/{customer.psid}/claim", {})
    assert status == 200, body
    await graph.wait_for(lambda _: any("Marie" in t for t in _texts(graph, customer.psid)))
    return customer.psid


async def test_send_api_failures_are_retried_then_reported(stack, graph, agents):
    marie = agents["marie"]
    await marie.connect_ws()
    psid = await _with_marie(stack, graph, marie)

    # 503 then 429: retried with backoff, delivered once.
    graph.fail_next(503, 429)
    status, _ = await marie.post(f"/api/conversations/{psid}/messages", {"text": "retry me"})
    assert status == 202
    await graph.wait_for(lambda _: "retry me" in _texts(graph, psid))
    tries = [c["status"] for c in graph.calls(psid)
             if (c["body"].get("message") or {}).get("text") == "retry me"]
    assert tries == [503, 429, 200]

    # Failing every time: the agent is told the message did not go out; it is not recorded.
    graph.fail_next(*[500] * 5)
    status, body = await marie.post(f"/api/conversations/{psid}/messages",
                                    {"text": "lost cause", "client_id": "c-lost"})
    assert status == 202
    failed = await marie.frame(lambda f: f["type"] == "message.failed"
                               and f["client_id"] == "c-lost")
    assert "500" in failed["reason"]
    # A refusal (4xx other than 429) is not retried.
    graph.fail_next(400)
    status, _ = await marie.post(f"/api/conversations/{psid}/messages",
                                 {"text": "refused", "client_id": "c-refused"})
    await marie.frame(lambda f: f["type"] == "message.failed" and f["client_id"] == "c-refused")
    assert [c["status"] for c in graph.calls(psid)
            if (c["body"].get("message") or {}).get("text") == "refused"] == [400]
    await tracker_with(stack, psid, lambda events: any(
        e.get("text") == "retry me" for e in events))
    await asyncio.sleep(1.5)  # a write-behind pass more: what failed must still not be there
    texts = [e.get("text") for e in (await rasa_tracker(stack, psid))["events"]
             if e["event"] == "bot"]
    assert "retry me" in texts and "lost cause" not in texts and "refused" not in texts


async def test_the_24_hour_and_7_day_windows(stack, graph, agents):
    marie = agents["marie"]
    await marie.connect_ws()
    psid = await _with_marie(stack, graph, marie)
    redis = Redis.from_url(stack.env()["REDIS_URL"], decode_responses=True)
    last_in = Keys().messenger_last_inbound(psid)
    try:
        # The customer's last message was 25 hours ago: agents still may, with HUMAN_AGENT.
        await redis.set(last_in, str(time.time() - 25 * 3600))
        status, body = await marie.get(f"/api/conversations/{psid}")
        assert body["conversation"]["reach"]["tag"] == "HUMAN_AGENT"
        status, _ = await marie.post(f"/api/conversations/{psid}/messages",
                                     {"text": "Still on it, sorry for the wait."})
        assert status == 202
        await graph.wait_for(lambda _: "Still on it, sorry for the wait." in _texts(graph, psid))
        sent = [m for m in graph.messages(psid)
                if m["message"]["text"] == "Still on it, sorry for the wait."]
        assert sent[0]["messaging_type"] == "MESSAGE_TAG" and sent[0]["tag"] == "HUMAN_AGENT"

        # Eight days: the console is told before the agent types, and sending is refused.
        await redis.set(last_in, str(time.time() - 8 * 24 * 3600))
        status, body = await marie.get(f"/api/conversations/{psid}")
        assert body["conversation"]["reach"]["can_reply"] is False
        calls = len(graph.calls(psid))
        status, body = await marie.post(f"/api/conversations/{psid}/messages", {"text": "hello?"})
        assert status == 409 and body["error"]["code"] == "customer_unreachable"
        status, _ = await marie.post(f"/api/conversations/{psid}/typing", {"typing": True})
        assert status == 200
        assert len(graph.calls(psid)) == calls
    finally:
        await redis.close(close_connection_pool=True)
