"""The customer doors against the real stack (issue 14): one length limit told in the
customer's language, empty and malformed messages refused and not recorded, no Rasa command
typed by a customer, bounded bodies, the NLU's own guard, and the REST channel off by default
and, when on, unable to write in another channel's conversation."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any, Dict, List, Tuple

import aiohttp
import pytest
import socketio
from redis.asyncio import Redis

from bot.limits import REQUEST_MAX_BYTES
from bot.web import MAX_PACKET_BYTES
from handoff.customer_text import BAD_TEXT, EMPTY, MAX_MESSAGE_CHARS, NOTICES, TOO_LONG
from handoff.journal import Journal
from handoff.keys import Keys
from handoff.relay.tracker import append_turns
from handoff.relay.turns import customer_event
from stack.services import free_port
from tests.e2e.conftest import (
    MessengerCustomer,
    rasa_tracker,
    tracker_with,
    with_an_agent,
)

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]


def _users(events: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    return [e for e in events if e["event"] == "user"]


async def _journal(stack, conversation_id: str) -> List[Tuple[str, str, Dict[str, Any]]]:
    redis = Redis.from_url(stack.env()["REDIS_URL"], decode_responses=True)
    try:
        return await Journal(redis, Keys(stack.env()["HANDOFF_KEY_PREFIX"])).since(
            conversation_id, None)
    finally:
        await redis.close(close_connection_pool=True)


# --- the web chat ------------------------------------------------------------------------------

async def test_refused_chat_messages_are_explained_and_neither_recorded_nor_answered(
        stack, customer_factory):
    customer = await customer_factory()
    french = {"metadata": {"language": "fr"}}
    too_long = await customer.say("é" * (MAX_MESSAGE_CHARS + 1), **french)
    assert too_long == {"ok": False, "error": TOO_LONG, "max": MAX_MESSAGE_CHARS,
                        "message": NOTICES[TOO_LONG]["fr"]}
    for text in ("", "   \n ", None):
        ack = await customer.say(text, metadata={"language": "en"})
        assert ack == {"ok": False, "error": EMPTY, "message": NOTICES[EMPTY]["en"]}, text
    # A lone surrogate is not text: refused and said so (it used to vanish with no answer).
    ack = await customer.say("hello \ud800 there")
    assert ack["ok"] is False and ack["error"] == BAD_TEXT
    assert ack["message"] == f"{NOTICES[BAD_TEXT]['en']}\n{NOTICES[BAD_TEXT]['fr']}"
    # An event with no payload at all still gets its answer.
    assert await customer.sio.call("user_uttered", timeout=30) == {
        "ok": False, "error": "bad_message"}
    assert await customer.sio.call("cancel_wait", timeout=30) == {"ok": True}
    # Nothing of that is in the conversation; the next good message is answered as usual.
    assert (await customer.say("what are your opening hours?"))["ok"] is True
    await customer.reply(lambda m: "Monday to Friday" in m.get("text", ""))
    assert [e["text"] for e in _users((await rasa_tracker(stack, customer.session_id))["events"])
            ] == ["what are your opening hours?"]
    assert [p["text"] for _, kind, p in await _journal(stack, customer.session_id)
            if kind == "customer"] == ["what are your opening hours?"]


async def test_a_chat_packet_over_the_limit_closes_that_socket_only(stack, customer_factory):
    flooder, other = await customer_factory(), await customer_factory()
    with pytest.raises((socketio.exceptions.TimeoutError, socketio.exceptions.BadNamespaceError,
                        socketio.exceptions.SocketIOError)):
        await flooder.sio.call("user_uttered", {"message": "x" * (MAX_PACKET_BYTES + 1),
                                                "session_id": flooder.token}, timeout=20)
    assert (await other.say("what are your opening hours?"))["ok"] is True
    await other.reply(lambda m: "Monday to Friday" in m.get("text", ""))
    assert _users((await rasa_tracker(stack, flooder.session_id))["events"]) == []


async def test_a_customer_cannot_type_an_intent_or_set_a_slot(stack, customer_factory):
    # Each in a conversation of its own: the words of the first one may well lead to a person
    # (then what follows goes to them, as typed, not to the NLU).
    for typed in ("/EXTERNAL_handback_satisfaction", '/greet{"language": "fr"}'):
        customer = await customer_factory()
        # Acknowledged once Rasa has handled it (whatever it answers, if anything).
        assert (await customer.say(typed))["ok"] is True
        user = _users((await rasa_tracker(stack, customer.session_id))["events"])[0]
        assert user["text"] == typed.lstrip("/")
        assert user["parse_data"]["intent"]["name"] != "EXTERNAL_handback_satisfaction"
        assert [e for e in user["parse_data"]["entities"]
                if e.get("extractor") == "RegexMessageHandler"] == []
        # What the customer typed is still what their page shows again after a reload.
        assert [p["text"] for _, kind, p in await _journal(stack, customer.session_id)
                if kind == "customer"] == [typed]


async def test_a_command_typed_to_a_person_is_not_one_when_the_bot_resumes(
        stack, agents, customer_factory):
    # The agent sees what the customer typed; the hand-back parses the customer's last message
    # (and answers it, if nobody did): as words, never as the agents' flow.
    customer = await customer_factory()
    await agents["marie"].connect_ws()
    await with_an_agent(customer, agents["marie"])
    typed = "/EXTERNAL_handback_satisfaction"
    await customer.say(typed)
    await agents["marie"].frame(lambda f: f["type"] == "message" and f["turn"]["text"] == typed)
    status, body = await agents["marie"].post(
        f"/api/conversations/{customer.session_id}/handback", {})
    assert status == 200, body
    events = await tracker_with(stack, customer.session_id, lambda e: any(
        u["text"] == typed and u["parse_data"]["intent"].get("name") for u in _users(e)))
    users = _users(events)
    assert [u["parse_data"]["intent"]["name"] for u in users if u["text"] == typed] != [
        "EXTERNAL_handback_satisfaction"]
    assert not [u for u in users
                if u["parse_data"]["intent"].get("name") == "EXTERNAL_handback_satisfaction"]


async def test_a_button_the_bot_offered_is_still_a_payload(stack, customer_factory):
    customer = await customer_factory()
    await customer.say("how can I contact you?")
    offer = await customer.reply(lambda m: any(
        b.get("payload") == "/request_human"
        for b in (m.get("quick_replies") or []) + (m.get("buttons") or [])))
    assert offer
    assert (await customer.say("/request_human"))["ok"] is True
    users = _users((await rasa_tracker(stack, customer.session_id))["events"])
    assert users[-1]["text"] == "/request_human"
    assert users[-1]["parse_data"]["intent"] == {"name": "request_human", "confidence": 1.0}


# --- Messenger ---------------------------------------------------------------------------------

async def test_a_messenger_message_over_the_limit_is_explained_not_parsed(stack, graph):
    person = MessengerCustomer(stack, str(uuid.uuid4().int)[:16])
    await person.say("Bonjour, je voudrais savoir où est ma commande. " * 100)  # 4,800 chars
    await graph.wait_for(lambda _: any(NOTICES[TOO_LONG]["fr"] == m["message"].get("text")
                                       for m in graph.messages(person.psid)), 30)
    await person.say("what are your opening hours?")
    await graph.wait_for(lambda _: any("Monday to Friday" in m["message"].get("text", "")
                                       for m in graph.messages(person.psid)), 60)
    assert [e["text"] for e in _users((await rasa_tracker(stack, person.psid))["events"])] == [
        "what are your opening hours?"]


MALFORMED = [
    {"object": "page", "entry": 5},
    {"object": "page", "entry": [{"messaging": 7}]},
    {"object": "page", "entry": [{"messaging": [{"sender": {"id": "1"}, "message": "hi"}]}]},
    {"object": "page", "entry": [{"messaging": [{"sender": {"id": "1"}, "timestamp": "now",
                                                 "message": {"mid": "m", "text": "hi"}}]}]},
    {"object": "page", "entry": [{"messaging": [{"sender": {"id": "1"}, "timestamp": 1,
                                                 "message": {"mid": "m", "attachments": 3}}]}]},
    {"object": "page", "entry": [{"messaging": [{"sender": {"id": "1"}, "timestamp": 1,
                                                 "message": {"mid": "m", "text": "\ud800"}}]}]},
]


async def test_malformed_signed_messenger_bodies_get_400(stack, graph):
    person = MessengerCustomer(stack, str(uuid.uuid4().int)[:16])
    for payload in MALFORMED:
        assert await person.post(raw=json.dumps(payload).encode()) == 400, payload
    assert await person.post(raw=b"[" * 50_000 + b"]" * 50_000) == 400  # nested too deep
    assert graph.calls(person.psid) == []


async def test_typed_commands_on_messenger_are_words_quick_replies_are_payloads(stack, graph):
    typist, tapper = (MessengerCustomer(stack, str(uuid.uuid4().int)[:16]) for _ in "ab")
    await typist.say("/EXTERNAL_handback_satisfaction")
    await tapper.say("Talk to someone", quick_reply="/request_human")
    typed = _users(await tracker_with(stack, typist.psid, lambda e: len(_users(e)) == 1))[0]
    assert typed["text"] == "EXTERNAL_handback_satisfaction"
    assert typed["parse_data"]["intent"]["name"] != "EXTERNAL_handback_satisfaction"
    tapped = _users(await tracker_with(stack, tapper.psid, lambda e: len(_users(e)) == 1))[0]
    assert tapped["parse_data"]["intent"] == {"name": "request_human", "confidence": 1.0}


# --- bodies and the NLU's own guard ------------------------------------------------------------

async def test_rasa_refuses_bodies_over_its_limit(stack):
    reader, writer = await asyncio.open_connection("127.0.0.1", stack.ports.rasa)
    try:
        writer.write(f"POST /webhooks/messenger/webhook HTTP/1.1\r\nHost: x\r\nContent-Type: "
                     f"application/json\r\nContent-Length: {REQUEST_MAX_BYTES + 1}\r\n\r\n"
                     .encode())
        await writer.drain()
        status = await asyncio.wait_for(reader.readline(), 30)
    finally:
        writer.close()
    assert status.split()[1] == b"413"


async def test_the_nlu_reads_no_more_than_the_limit_whatever_the_door(stack):
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{stack.rasa_url}/model/parse", params={"token": stack.rasa_token},
                             json={"text": "where is my order " * 400}) as resp:  # 7,200 chars
            assert resp.status == 200
            parsed = await resp.json()
    assert len(parsed["text"]) == MAX_MESSAGE_CHARS


async def test_long_live_segments_reach_the_tracker_in_calls_rasa_accepts(
        stack, agents, customer_factory):
    # 2.4 MB of turns as sent to Rasa ("é" is escaped: 6 bytes), more than Rasa takes in one
    # body, written behind by the handoff service.
    customer = await customer_factory()
    await with_an_agent(customer, agents["marie"])
    cid = customer.session_id
    turns = [customer_event(f"{n:03d} " + "é" * (MAX_MESSAGE_CHARS - 4), f"long-{n}",
                            "socketio") for n in range(100)]
    redis = Redis.from_url(stack.env()["REDIS_URL"], decode_responses=True)
    try:
        await append_turns(redis, Keys(stack.env()["HANDOFF_KEY_PREFIX"]), cid, turns)
    finally:
        await redis.close(close_connection_pool=True)
    events = await tracker_with(stack, cid, lambda e: sum(
        1 for u in _users(e) if u.get("message_id", "").startswith("long-")) == 100, 120)
    written = [u["text"][:3] for u in _users(events) if u.get("message_id", "").startswith("long-")]
    assert written == [f"{n:03d}" for n in range(100)]


# --- the REST channel --------------------------------------------------------------------------

async def test_the_rest_channel_is_off_unless_asked_for(stack):
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{stack.rasa_url}/webhooks/rest/webhook",
                             json={"sender": "x", "message": "hello"}) as resp:
            assert resp.status == 404


@pytest.fixture(scope="module")
def rest_rasa(stack):
    """One more Rasa server of the same stack, with the REST channel on."""
    name = "rasa-rest"
    try:
        yield stack.add_rasa(name, free_port(), env={"REST_CHANNEL": "1"})
    finally:
        stack.stop_process(name)


async def _rest(url: str, body: Any, language: str = "en") -> Tuple[int, Any]:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{url}/webhooks/rest/webhook", data=data, headers={
                "Content-Type": "application/json", "Accept-Language": language}) as resp:
            return resp.status, await resp.json()


async def test_the_rest_channel_cannot_write_in_another_channels_conversation(
        stack, rest_rasa, customer_factory, graph):
    customer = await customer_factory()
    await customer.say("hello")
    await customer.reply()
    person = MessengerCustomer(stack, str(uuid.uuid4().int)[:16])
    await person.say("hello")
    await tracker_with(stack, person.psid, lambda e: len(_users(e)) == 1)
    for victim in (customer.session_id, person.psid):
        status, answer = await _rest(rest_rasa, {"sender": victim, "message": "my address is "
                                                 "1 rue du Piège, where is my order 10234?",
                                                 "input_channel": "socketio"})
        assert status == 200 and answer and answer[0]["recipient_id"] == f"rest-{victim}"
        texts = [u["text"] for u in _users((await rasa_tracker(stack, victim))["events"])]
        assert texts == ["hello"], victim
        rest_side = _users((await rasa_tracker(stack, f"rest-{victim}"))["events"])
        assert [u["input_channel"] for u in rest_side] == ["rest"]


async def test_the_rest_channel_refuses_bad_messages_clearly(stack, rest_rasa):
    sender = uuid.uuid4().hex
    assert await _rest(rest_rasa, {"sender": sender, "message": "x" * (MAX_MESSAGE_CHARS + 1)},
                       "fr") == (400, {"error": {"code": TOO_LONG, "max": MAX_MESSAGE_CHARS,
                                                 "message": NOTICES[TOO_LONG]["fr"]}})
    for message in ("", None, "  "):
        status, body = await _rest(rest_rasa, {"sender": sender, "message": message})
        assert (status, body["error"]["code"]) == (400, EMPTY)
    status, body = await _rest(rest_rasa, {"sender": sender, "message": "a \ud800"})
    assert (status, body["error"]["code"]) == (400, BAD_TEXT)
    for bad in (b"not json", b"[1]", b"[" * 50_000, json.dumps({"sender": 5}).encode(),
                json.dumps({"sender": "\udc00", "message": "hi"}).encode()):
        status, body = await _rest(rest_rasa, bad)
        assert status == 400 and body["error"]["code"] in ("bad_json", "bad_sender"), bad
    status, answer = await _rest(rest_rasa, {"sender": sender, "message": "/request_human"})
    assert status == 200
    users = _users((await rasa_tracker(stack, f"rest-{sender}"))["events"])
    assert [u["text"] for u in users] == ["request_human"]
