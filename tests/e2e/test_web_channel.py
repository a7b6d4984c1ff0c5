"""The web chat channel against the real stack (issue 5): signed sessions, the Origin allowlist,
acknowledged and deduplicated customer messages, and replay after a reconnect.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid

import pytest
import socketio
import websockets
from redis.asyncio import Redis
from websockets.legacy.client import WebSocketClientProtocol

from handoff.keys import Keys
from handoff.waiting import estimate_wait
from tests.e2e.conftest import Customer, rasa_tracker, wait_for, with_an_agent

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]


def _order(stream_id: str):
    return tuple(int(part) for part in stream_id.split("-"))


def _user_texts(tracker):
    return [e.get("text") for e in tracker["events"] if e["event"] == "user"]


class _CountsPings(WebSocketClientProtocol):
    """A WebSocket client that counts the server's WebSocket-level pings (it answers them)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.websocket_pings = 0

    async def pong(self, data=b"") -> None:
        self.websocket_pings += 1
        await super().pong(data)


async def _engineio_socket(rasa_url: str, answer_pings: bool):
    """A socket.io connection spoken by hand, answering engine.io's pings or not.

    Returns the socket, engine.io's ping interval and timeout (s), and the task reading it.
    """
    url = rasa_url.replace("http://", "ws://") + "/socket.io/?EIO=4&transport=websocket"
    ws = await websockets.connect(url, create_protocol=_CountsPings, ping_interval=None)
    opened = await ws.recv()
    assert opened.startswith("0"), opened
    settings = json.loads(opened[1:])
    await ws.send("40")  # joins the default namespace, as socket.io clients do
    assert (await ws.recv()).startswith("40")

    async def read() -> None:
        async for packet in ws:
            if packet == "2" and answer_pings:
                await ws.send("3")

    return (ws, settings["pingInterval"] / 1000, settings["pingTimeout"] / 1000,
            asyncio.ensure_future(read()))


async def test_sessions_are_issued_and_signed_by_the_server(stack, customer_factory):
    victim = await customer_factory()
    await victim.say("where is my order 10234?")
    await victim.reply()
    conversation, signature = victim.token.split(".")
    assert conversation == victim.session_id and len(signature) >= 40

    # Someone who knows (or guesses) the conversation id cannot join it: a token that does not
    # verify gets a new conversation of its own.
    for forged in (victim.session_id, f"{victim.session_id}.{'A' * len(signature)}",
                   f"{victim.session_id}.", "not-a-token"):
        intruder = Customer(stack.rasa_url)
        try:
            await intruder.connect(token=forged)
            assert intruder.session_id != victim.session_id
            ack = await intruder.say("show me the order of this conversation")
            assert ack["ok"] is True
            # A message naming another session than the socket's own is refused.
            ack = await intruder.sio.call("user_uttered", {"message": "let me in",
                                                           "session_id": victim.token},
                                          timeout=30)
            assert ack == {"ok": False, "error": "no_session"}
        finally:
            await intruder.close()
    assert _user_texts(await rasa_tracker(stack, victim.session_id)) == [
        "where is my order 10234?"]
    # Every intruder message was handled (acknowledged) before this: none reached the victim.
    assert victim.received.empty(), victim.history


async def test_only_allowed_origins_may_connect(stack):
    stranger = socketio.AsyncClient(reconnection=False)
    with pytest.raises(socketio.exceptions.ConnectionError):
        await stranger.connect(stack.rasa_url, transports=["websocket"],
                               headers={"Origin": "https://evil.example"})
    await stranger.disconnect()
    welcome = Customer(stack.rasa_url, origin=stack.handoff_url)
    try:
        await welcome.connect()
        assert welcome.session_id
    finally:
        await welcome.close()


async def test_a_resent_message_is_acknowledged_and_handled_once(stack, customer_factory):
    customer = await customer_factory()
    message_id = uuid.uuid4().hex
    first = await customer.say("what are your opening hours?", message_id=message_id)
    assert first == {"ok": True, "id": message_id}
    await customer.reply()
    again = await customer.say("what are your opening hours?", message_id=message_id)
    assert again == {"ok": True, "id": message_id, "duplicate": True}
    assert _user_texts(await rasa_tracker(stack, customer.session_id)) == [
        "what are your opening hours?"]


async def test_a_reconnecting_customer_gets_what_they_missed_once(stack, agents):
    marie = agents["marie"]
    customer = Customer(stack.rasa_url)
    await customer.connect()
    try:
        joined = await with_an_agent(customer, marie)
        cid = customer.session_id
        last_seen = joined["id"]
        before = len(customer.history)
        await customer.close()  # the network drops

        for text in ("First while you were away", "Second while you were away"):
            status, _ = await marie.post(f"/api/conversations/{cid}/messages", {"text": text})
            assert status == 202
        tracker_texts = []
        for _ in range(100):
            tracker_texts = [e.get("text") for e in (await rasa_tracker(stack, cid))["events"]
                             if e["event"] == "bot"]
            if "Second while you were away" in tracker_texts:
                break
            await asyncio.sleep(0.2)
        assert customer.history[before:] == []  # nothing reached the closed socket

        back = Customer(stack.rasa_url)
        try:
            await back.connect(token=customer.token, last_seen=last_seen)
            assert back.session_id == cid
            first = await back.reply(lambda m: m.get("agent") == "Marie")
            second = await back.reply(lambda m: m.get("agent") == "Marie")
            assert [first["text"], second["text"]] == ["First while you were away",
                                                       "Second while you were away"]
            assert first["replayed"] and _order(second["id"]) > _order(first["id"])
            # Nothing from before `last_seen` came again, and a live message still arrives once.
            status, _ = await marie.post(f"/api/conversations/{cid}/messages",
                                         {"text": "Glad you're back"})
            live = await back.reply()
            assert live["text"] == "Glad you're back" and not live.get("replayed")
            assert [m["text"] for m in back.history] == [
                "First while you were away", "Second while you were away", "Glad you're back"]
            # A new tab (no last_seen) gets the whole conversation, customer lines included.
            status, _ = await marie.post(f"/api/conversations/{cid}/close", {})
            assert status == 200
        finally:
            await back.close()
        tab = Customer(stack.rasa_url)
        try:
            await tab.connect(token=customer.token)
            await tab.reply(lambda m: "now closed" in m.get("text", ""))
            assert [e["text"] for e in tab.echoes][:1] == ["I want to talk to a human"]
        finally:
            await tab.close()
    finally:
        if customer.sio.connected:
            await customer.close()


async def test_waiting_customers_see_their_place_and_wait_update(stack, agents, customer_factory):
    marie = agents["marie"]
    first, second = await customer_factory(), await customer_factory()
    for customer in (first, second):
        await customer.say("I want to talk to a human")
        await customer.reply()
    ahead = await wait_for(first.queue_status, lambda d: True)
    behind = await wait_for(second.queue_status, lambda d: True)
    assert behind["position"] == ahead["position"] + 1

    redis = Redis.from_url(stack.env()["REDIS_URL"], decode_responses=True)
    try:
        claims = [s for _, s in await redis.zrange(Keys().recent_claims, 0, -1, withscores=True)]
    finally:
        await redis.close(close_connection_pool=True)
    expected = estimate_wait(behind["position"], claims, time.time())
    if expected is None:
        assert behind["wait_minutes"] is None
    else:
        assert abs(behind["wait_minutes"] - max(1, round(expected / 60))) <= 1

    # The customer ahead is taken: the one behind moves up, without asking.
    status, _ = await marie.post(f"/api/conversations/{first.session_id}/claim", {})
    assert status == 200
    moved = await wait_for(second.queue_status,
                           lambda d: d["position"] == behind["position"] - 1)
    assert moved["position"] == ahead["position"]
    for customer in (first, second):
        await marie.post(f"/api/conversations/{customer.session_id}/claim", {})
        status, _ = await marie.post(f"/api/conversations/{customer.session_id}/close", {})
        assert status == 200


async def test_a_waiting_customer_can_go_back_to_the_bot(stack, agents, customer_factory):
    customer = await customer_factory()
    await customer.say("I want to talk to a human")
    await customer.reply()
    ack = await customer.sio.call("cancel_wait", {}, timeout=30)
    assert ack == {"ok": True}
    back = await customer.reply(lambda m: m.get("notice") == "wait_cancelled")
    assert back["text"].startswith("You are back with the assistant")
    status, body = await agents["sam"].get(f"/api/conversations/{customer.session_id}")
    assert body["conversation"]["state"] == "bot"
    await customer.say("what are your opening hours?")
    answer = await customer.reply(lambda m: "Monday to Friday" in m.get("text", ""))
    assert not answer.get("agent")


async def test_frames_carry_only_rasas_fields(stack, agents):
    """What a Rasa web client (e.g. rasa-webchat) reads: Rasa's keys, the project's in metadata."""
    marie = agents["marie"]
    customer = Customer(stack.rasa_url)
    await customer.connect()
    try:
        await customer.say("tell me a joke")
        await customer.reply(lambda m: m.get("quick_replies"))
        offer = customer.frames[-1]
        assert set(offer) == {"text", "quick_replies", "metadata"}, offer
        assert offer["quick_replies"][0]["payload"] == "/request_human"
        assert set(offer["metadata"]) == {"id"}
        await with_an_agent(customer, marie)
        status, sent = await marie.post(f"/api/conversations/{customer.session_id}/messages",
                                        {"text": "Marie here"})
        assert status == 202
        await customer.reply(lambda m: m.get("text") == "Marie here")
        frame = customer.frames[-1]
        assert set(frame) == {"text", "metadata"}, frame
        assert frame["metadata"]["agent"] == "Marie"
        assert frame["metadata"]["agent_message_id"] == sent["message"]["id"]
        joined = next(f for f in customer.frames if f.get("metadata", {}).get("notice"))
        assert set(joined) == {"text", "metadata"}, joined

        # Rasa's clients keep their history themselves and never send `last_seen`: as with
        # Rasa's own channel, a returning session is confirmed and nothing is sent again.
        again = Customer(stack.rasa_url)
        try:
            await again.connect(token=customer.token, replay=False)
            assert again.token == customer.token
            await marie.post(f"/api/conversations/{customer.session_id}/messages",
                             {"text": "Only live messages"})
            live = await again.reply()
            # They read no metadata either: the agent's name comes in the text.
            assert live["text"] == "Marie: Only live messages" and not live.get("replayed")
            assert live["agent"] == "Marie"  # (`reply` gives the page's flat view)
        finally:
            await again.close()
        await marie.post(f"/api/conversations/{customer.session_id}/close", {})
    finally:
        await customer.close()


async def test_a_socket_that_stops_answering_pings_is_dropped(stack):
    """The server's one keepalive is engine.io's ping (bot.web.engineio_keepalive_only).

    A client that stops answering it is dropped after the ping interval and timeout, while one
    that answers stays; and Sanic sends no WebSocket ping of its own (it pinged every 20 s).
    """
    silent, interval, timeout, silent_reader = await _engineio_socket(stack.rasa_url, False)
    answering, _, _, answering_reader = await _engineio_socket(stack.rasa_url, True)
    try:
        started = time.monotonic()
        await asyncio.wait_for(silent.wait_closed(), interval + timeout + 15)
        dropped_after = time.monotonic() - started
        assert interval <= dropped_after <= interval + timeout + 15, dropped_after
        assert answering.open
        # Over more than Sanic's 20 s: engine.io's pings only, at the socket.io level.
        assert silent.websocket_pings == 0 and answering.websocket_pings == 0
    finally:
        for ws, reader in ((silent, silent_reader), (answering, answering_reader)):
            await ws.close()
            reader.cancel()
