"""Floods from one client are refused with a clear error, and nobody else is affected (issue 7:
bad input at every door)."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from bot.messenger import NOTICES
from handoff.customer_text import MAX_MESSAGE_CHARS, notice
from handoff.ratelimit import AGENT_API, CHAT_MESSAGES, MESSENGER_EVENTS
from tests.conftest import PASSWORD
from tests.e2e.conftest import (
    CONNECT_WAIT,
    AgentClient,
    Customer,
    MessengerCustomer,
    create_account,
    rasa_tracker,
    tracker_with,
)

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]


async def test_an_agent_api_flood_gets_429_and_others_carry_on(stack, agents):
    create_account(stack, "flood", "Flood", PASSWORD)
    flood = AgentClient(stack.handoff_url)
    try:
        await flood.login("flood", PASSWORD)
        # Twice the limit (a window boundary may split the burst, never more than that).
        answers = await asyncio.gather(*[flood.http.get(f"{stack.handoff_url}/api/queue",
                                                        headers={"Accept-Language": "fr"})
                                         for _ in range(2 * AGENT_API.limit + 10)])
        refused = [a for a in answers if a.status == 429]
        assert refused, [a.status for a in answers]
        body = await refused[0].json()
        assert body["error"]["code"] == "too_many_requests"
        assert body["error"]["message"].startswith("Trop de requêtes")
        assert int(refused[0].headers["Retry-After"]) >= 1
        for answer in answers:
            answer.release()
        status, _ = await agents["marie"].get("/api/queue")  # another agent: unaffected
        assert status == 200
    finally:
        await flood.close()


async def test_a_chat_flood_is_refused_and_nothing_accepted_is_lost(stack, customer_factory):
    flooder, other = await customer_factory(), await customer_factory()
    sent = 2 * CHAT_MESSAGES.limit + 10
    acks = await asyncio.gather(*[flooder.say(f"hello {n}") for n in range(sent)])
    accepted = [a for a in acks if a["ok"]]
    refused = [a for a in acks if not a["ok"]]
    assert refused and all(a["error"] == "rate_limited" and a["retry_after"] >= 1
                           for a in refused)
    assert len(accepted) <= 2 * CHAT_MESSAGES.limit
    # Every accepted message is in the conversation, and none of the refused ones. Whether the
    # bot answers "hello 3" or hands the conversation to a person after two it does not
    # understand depends on the model; a person's turns reach the tracker written behind.
    def users(events):
        return [e["text"] for e in events if e["event"] == "user"]
    texts = users(await tracker_with(stack, flooder.session_id,
                                     lambda events: len(users(events)) >= len(accepted)))
    assert sorted(texts) == sorted(f"hello {n}" for n, ack in enumerate(acks) if ack["ok"])
    # Another customer meanwhile: answered as usual.
    assert (await other.say("what are your opening hours?"))["ok"] is True
    await other.reply(lambda m: "Monday to Friday" in m.get("text", ""))


async def test_invalid_utf8_is_refused_at_the_doors(stack, agents, graph):
    status, body = await agents["marie"].post("/api/login", None,
                                              raw=b'{"username": "\xff\xfe", "password": "x"}')
    assert status == 400 and body["error"]["code"] == "bad_json"
    messenger = MessengerCustomer(stack, "9990001112223334")
    assert await messenger.post(raw=b'{"object": "page", "entry": [\xff]}') == 400
    assert graph.calls(messenger.psid) == []
    status, _ = await agents["marie"].get("/api/me")  # nothing else affected
    assert status == 200


async def test_a_messenger_flood_is_dropped_for_that_person_only_and_they_are_told(stack, graph):
    flooder = MessengerCustomer(stack, str(uuid.uuid4().int)[:16])
    other = MessengerCustomer(stack, str(uuid.uuid4().int)[:16])
    sent = 2 * MESSENGER_EVENTS.limit + 10
    assert await flooder.post(*[flooder.event(f"hello {n}") for n in range(sent)]) == 200
    await other.say("what are your opening hours?")
    await graph.wait_for(lambda _: any("Monday to Friday" in m["message"].get("text", "")
                                       for m in graph.messages(other.psid)), 60)
    told = NOTICES["too_fast"]["en"].split(":")[0]

    def notices():
        return [m for m in graph.messages(flooder.psid) if told in m["message"].get("text", "")]
    await graph.wait_for(lambda _: notices(), 60)
    # A window boundary may split the flood: then two windows each let `limit` through. The
    # bot's turns are in the tracker at once; a person's (after two the bot did not understand,
    # depending on the model) are written behind.
    def users(events):
        return [e for e in events if e["event"] == "user"]
    handled = users(await tracker_with(
        stack, flooder.psid, lambda events: len(users(events)) >= MESSENGER_EVENTS.limit))
    assert MESSENGER_EVENTS.limit <= len(handled) <= 2 * MESSENGER_EVENTS.limit
    assert [e["text"] for e in handled] == [f"hello {n}" for n in range(len(handled))]
    assert 1 <= len(notices()) <= 2, "told once per window, not once per dropped message"
    assert "Please wait" in notices()[0]["message"]["text"]


async def test_bad_messages_at_the_chat_door_get_clear_errors_and_change_nothing(
        stack, customer_factory):
    customer = await customer_factory()
    for payload in ("not a dict", {"message": 42, "session_id": customer.token},
                    {"message": ["a", "list"], "session_id": customer.token}):
        ack = await customer.sio.call("user_uttered", payload, timeout=30)
        assert ack == {"ok": False, "error": "bad_message"}, (payload, ack)
    too_long = await customer.say("x" * (MAX_MESSAGE_CHARS + 1))
    assert too_long == {"ok": False, "error": "message_too_long", "max": MAX_MESSAGE_CHARS,
                        "message": notice("message_too_long", None)}
    # Another conversation's id (unsigned, or signed for someone else) only ever speaks in the
    # socket's own conversation; a socket with no session is refused.
    stranger = Customer(stack.rasa_url)
    await stranger.sio.connect(stack.rasa_url, transports=["websocket"],
                               socketio_path="/socket.io", wait_timeout=CONNECT_WAIT)
    try:
        ack = await stranger.sio.call("user_uttered", {"message": "hello",
                                                       "session_id": customer.token}, timeout=30)
        assert ack == {"ok": False, "error": "no_session"}
    finally:
        await stranger.close()
    # Nothing of that reached the conversation; a good message still does.
    assert [e for e in (await rasa_tracker(stack, customer.session_id))["events"]
            if e["event"] in ("user", "bot")] == []
    assert (await customer.say("what are your opening hours?"))["ok"] is True
    await customer.reply(lambda m: "Monday to Friday" in m.get("text", ""))
