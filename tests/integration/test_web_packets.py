"""The chat's socket.io door below the events: packets the libraries cannot decode.

The web channel (`bot.web.WebChatInput`) runs in a Sanic server in this process, as Rasa mounts
it, and a raw client speaks engine.io to it (WebSocket frames, polling bodies), as a hostile
client would: no socket.io client library would send these. Each undecodable packet closes its
connection with one warning line and no traceback (`bot.web_packets`); a connection of a
well-behaved client, opened afterwards, is served as before.
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import uuid
from typing import AsyncIterator, List, Tuple

import aiohttp
import pytest
from rasa.core.channels.channel import UserMessage
from sanic import Sanic

from bot.web import WebChatInput

pytestmark = [pytest.mark.integration,
              pytest.mark.filterwarnings("ignore::DeprecationWarning")]

DEEP = "[" * 5000 + "]" * 5000
# After the socket.io CONNECT: WebSocket frames, text unless bytes.
WEBSOCKET_FRAMES = {
    "socketio_deep_json": "42" + DEEP,
    "socketio_deep_json_in_event": '42["user_uttered",' + DEEP + "]",
    "socketio_ack_id_too_long": "42" + "9" * 5000 + '["user_uttered",{}]',
    "socketio_integer_too_large": '42["user_uttered",' + "9" * 5000 + "]",
    "socketio_connect_error_from_client": "44",
    "socketio_unknown_type": "49",
    "socketio_unannounced_binary": b"\x00\x01",
    "socketio_too_many_attachments": '45' + "9" * 12 + '-["user_uttered",{}]',
    "engineio_empty_frame": "",
    "engineio_unnumbered_frame": "x",
    "engineio_deep_json": "4" + DEEP,
}
# Polling POST bodies (engine.io v4 separates packets with \x1e).
POLLING_BODIES = {
    "not_utf8": b"\xff\xfe\xfd",
    "engineio_deep_json": ("4" + DEEP).encode(),
    "engineio_unnumbered": b"x",
    "empty_packet_among_others": b"40\x1e\x1e40",
    "jsonp_without_data": b"d=",
    "too_many_packets": "\x1e".join(["3"] * 40).encode(),
    "socketio_deep_json": ("42" + DEEP).encode(),
}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
async def chat(monkeypatch) -> AsyncIterator[Tuple[str, List[UserMessage]]]:
    """The web channel alone (no Redis: nothing journaled), in a Sanic server of its own."""
    # Sanic rewrites some of its methods as a server starts, once per process unless testing.
    monkeypatch.setattr(Sanic, "test_mode", True)
    received: List[UserMessage] = []

    async def on_new_message(message: UserMessage) -> None:
        received.append(message)

    channel = WebChatInput.from_credentials({"session_secret": "s" * 32})
    app = Sanic(f"web_packets_{uuid.uuid4().hex}", configure_logging=False)
    app.blueprint(channel.blueprint(on_new_message), url_prefix="/webhooks/socketio")
    port = _free_port()
    server = await app.create_server(host="127.0.0.1", port=port, return_asyncio_server=True)
    await server.startup()
    await server.before_start()
    try:
        yield f"http://127.0.0.1:{port}/socket.io/?EIO=4", received
    finally:
        # engine.io's ping timers and closing sockets live on the test's loop (its own
        # `disconnect` waits for queues no writer drains any more): ended before the loop.
        assert channel.sio is not None
        await channel.sio.eio.shutdown()
        server.close()
        await server.wait_closed()
        left = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in left:
            task.cancel()
        if left:
            await asyncio.wait(left, timeout=5)


def _failures(records: List[logging.LogRecord]) -> List[str]:
    """Tracebacks and errors, but engine.io's one line for a request to a session it does not
    know (any client polling after its socket closed gets it: a 400, logged once)."""
    return [f"{r.name} {r.levelname} {r.getMessage()[:120]}" for r in records
            if r.exc_info or (r.levelno >= logging.ERROR
                              and not r.getMessage().startswith("Invalid session"))]


async def _served(session: aiohttp.ClientSession, base: str,
                  received: List[UserMessage]) -> None:
    """A well-behaved client still gets a session and has its message taken."""
    async with session.ws_connect(f"{base}&transport=websocket") as ws:
        assert (await ws.receive_str()).startswith("0")
        await ws.send_str("40")
        assert (await ws.receive_str()).startswith("40")
        await ws.send_str('42["session_request",{}]')
        confirm = await asyncio.wait_for(ws.receive_str(), 10)
        assert confirm.startswith('42["session_confirm"'), confirm
        before = len(received)
        await ws.send_str('427["user_uttered",{"message":"hello there"}]')
        ack = await asyncio.wait_for(ws.receive_str(), 10)
        assert ack.startswith("437"), ack
        assert json.loads(ack[3:])[0]["ok"] is True, ack
        assert [m.text for m in received[before:]] == ["hello there"]


@pytest.mark.parametrize("name", sorted(WEBSOCKET_FRAMES))
async def test_an_undecodable_websocket_frame_closes_its_connection_without_a_traceback(
        chat, caplog, name):
    base, received = chat
    caplog.set_level(logging.INFO)
    frame = WEBSOCKET_FRAMES[name]
    async with aiohttp.ClientSession() as session:
        async with session.ws_connect(f"{base}&transport=websocket") as ws:
            assert (await ws.receive_str()).startswith("0")
            await ws.send_str("40")
            assert (await ws.receive_str()).startswith("40")
            if isinstance(frame, bytes):
                await ws.send_bytes(frame)
            else:
                await ws.send_str(frame)
            if name == "socketio_too_many_attachments":  # refused at its first attachment
                await ws.send_bytes(b"x")
            # engine.io's CLOSE packet ("1", as the server closes a socket) or the WebSocket's
            # own close; a ping ("2") may come first.
            message = await asyncio.wait_for(ws.receive(), 10)
            while message.type == aiohttp.WSMsgType.TEXT and message.data == "2":
                message = await asyncio.wait_for(ws.receive(), 10)
            assert (message.type, message.data) == (aiohttp.WSMsgType.TEXT, "1") or \
                message.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED), \
                (message.type, message.data)
        await _served(session, base, received)
    assert not _failures(caplog.records), _failures(caplog.records)
    assert any("webchat.packet.malformed" in r.getMessage() for r in caplog.records)
    assert [m.text for m in received] == ["hello there"], "nothing of the frame reached the bot"


async def _polling_sid(session: aiohttp.ClientSession, base: str) -> str:
    async with session.get(f"{base}&transport=polling") as answer:
        opened = await answer.text()
    sid = json.loads(opened[1:])["sid"]
    async with session.post(f"{base}&transport=polling&sid={sid}", data=b"40") as answer:
        assert answer.status == 200
    async with session.get(f"{base}&transport=polling&sid={sid}") as answer:
        assert (await answer.text()).startswith("40")
    return sid


@pytest.mark.parametrize("name", sorted(POLLING_BODIES))
async def test_an_undecodable_polling_body_is_refused_and_closes_its_connection(
        chat, caplog, name):
    base, received = chat
    caplog.set_level(logging.INFO)
    async with aiohttp.ClientSession() as session:
        sid = await _polling_sid(session, base)
        async with session.post(f"{base}&transport=polling&sid={sid}",
                                data=POLLING_BODIES[name]) as answer:
            # engine.io refuses what it cannot decode; a socket.io packet is decoded after the
            # POST is answered.
            wanted = 200 if name.startswith("socketio_") else 400
            assert answer.status == wanted, (answer.status, await answer.text())
        async with session.get(f"{base}&transport=polling&sid={sid}") as answer:
            # engine.io's CLOSE packet, or the session already gone.
            closed = answer.status == 400 or (await answer.text()) == "1"
            assert closed, (answer.status, await answer.text())
        await _served(session, base, received)
    assert not _failures(caplog.records), _failures(caplog.records)
    assert any("webchat.packet.malformed" in r.getMessage() for r in caplog.records)


async def test_a_well_formed_polling_client_is_served(chat, caplog):
    base, received = chat
    caplog.set_level(logging.INFO)
    async with aiohttp.ClientSession() as session:
        sid = await _polling_sid(session, base)
        url = f"{base}&transport=polling&sid={sid}"
        async with session.post(url, data=b'42["session_request",{}]\x1e3') as answer:
            assert answer.status == 200
        async with session.get(url) as answer:
            assert '42["session_confirm"' in await answer.text()
    assert not _failures(caplog.records), _failures(caplog.records)
    assert not any("webchat.packet.malformed" in r.getMessage() for r in caplog.records)
