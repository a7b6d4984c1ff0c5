"""Lean protocol clients for load generation: web-chat customers and console agents.

They speak the same protocols as tests/e2e/conftest.py (which they do not import: that module
needs pytest) but keep only arrival times, so that thousands of them fit in a few processes.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any, Callable, Dict, List, Optional

import aiohttp
import socketio

from handoff.webchat_frames import page_view

# The project's channel (bot.web.WebChatInput) issues a signed token; Rasa's own `socketio`
# channel just echoes the session id the client proposes.
PROJECT, PLAIN = "project", "plain"


class Customer:
    """One web-chat customer: a socket.io connection in one conversation."""

    def __init__(self, url: str, protocol: str = PROJECT) -> None:
        self.url, self.protocol = url, protocol
        self.sio = socketio.AsyncClient(reconnection=False)
        self.token = ""
        self.conversation_id = ""
        # Every bot_uttered with its arrival time (time.monotonic: one clock for the machine).
        self.replies: List[tuple] = []
        self._new_reply = asyncio.Event()
        self.on_reply: Callable[[float, Dict[str, Any]], None] = lambda at, data: None
        self._confirmed: Optional[asyncio.Future] = None
        # When the socket went down without our asking (time.monotonic), e.g. closed by Rasa.
        self.dropped_at: Optional[float] = None
        self._closing = False
        self.sio.on("session_confirm", self._on_confirm)
        self.sio.on("bot_uttered", self._on_bot)
        self.sio.on("disconnect", self._on_disconnect)

    async def _on_disconnect(self) -> None:
        if not self._closing and self.dropped_at is None:
            self.dropped_at = time.monotonic()

    async def _on_confirm(self, data: Any) -> None:
        if self._confirmed is not None and not self._confirmed.done():
            self._confirmed.set_result(data if isinstance(data, str) else data["session_id"])

    async def _on_bot(self, data: Dict[str, Any]) -> None:
        at = time.monotonic()
        data = page_view(data)  # the project's extras (notice, agent) are in its metadata
        self.replies.append((at, data))
        self._new_reply.set()
        self.on_reply(at, data)

    async def connect(self) -> None:
        """Opens the socket and starts a conversation."""
        self._confirmed = asyncio.get_running_loop().create_future()
        await self.sio.connect(self.url, transports=["websocket"], socketio_path="/socket.io",
                               wait_timeout=30)
        proposed = None if self.protocol == PROJECT else uuid.uuid4().hex
        await self.sio.emit("session_request", {"session_id": proposed})
        self.token = await asyncio.wait_for(self._confirmed, 30)
        self.conversation_id = self.token.split(".")[0]

    async def send(self, text: str, timeout: float = 60) -> Any:
        """Sends a message and waits for the server's acknowledgement (handled or refused)."""
        return await self.sio.call("user_uttered", {
            "message": text, "session_id": self.token, "message_id": uuid.uuid4().hex},
            timeout=timeout)

    async def turn(self, text: str, timeout: float = 60) -> float:
        """One bot turn: seconds from sending `text` to the first bot reply after it.

        Waits for the acknowledgement too, so that the next turn starts with nothing in flight.
        """
        already = len(self.replies)
        self._new_reply.clear()
        started = time.monotonic()
        ack = asyncio.ensure_future(self.send(text, timeout))
        deadline = started + timeout
        while len(self.replies) == already:
            self._new_reply.clear()
            await asyncio.wait_for(self._new_reply.wait(), max(0.01, deadline - time.monotonic()))
        answered = self.replies[already][0]
        result = await ack
        if self.protocol == PROJECT and not (isinstance(result, dict) and result.get("ok")):
            raise RuntimeError(f"message refused: {result}")
        return answered - started

    async def wait_reply(self, match: Callable[[Dict[str, Any]], bool],
                         timeout: float = 60) -> Dict[str, Any]:
        """The first reply so far or to come that matches."""
        deadline = time.monotonic() + timeout
        while True:
            for _, data in self.replies:
                if match(data):
                    return data
            self._new_reply.clear()
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"no matching reply in {timeout} s for {self.conversation_id}")
            try:
                await asyncio.wait_for(self._new_reply.wait(), remaining)
            except asyncio.TimeoutError:
                pass

    async def close(self) -> None:
        """Disconnects."""
        self._closing = True
        await self.sio.disconnect()


class Agent:
    """One agent using the console API: a cookie session, HTTP calls and the WebSocket."""

    def __init__(self, base_url: str, username: str) -> None:
        self.base, self.username = base_url, username
        self.http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True),
                                          timeout=aiohttp.ClientTimeout(total=60))
        self.on_frame: Callable[[float, Dict[str, Any]], None] = lambda at, frame: None
        self._ws: Optional[aiohttp.ClientWebSocketResponse] = None
        self._reader: Optional[asyncio.Task] = None

    async def start(self, password: str) -> None:
        """Signs in, opens the console WebSocket and goes online (so customers get queued)."""
        status, body = await self.post("/api/login", {"username": self.username,
                                                      "password": password})
        if status != 200:
            raise RuntimeError(f"login {self.username}: {status} {body}")
        self._ws = await self.http.ws_connect(f"{self.base}/api/ws", heartbeat=30)
        hello = await self._ws.receive_json(timeout=30)
        if hello.get("type") != "hello":
            raise RuntimeError(f"unexpected first frame {hello}")
        self._reader = asyncio.ensure_future(self._read())
        status, body = await self.post("/api/me/presence", {"status": "online"})
        if status != 200:
            raise RuntimeError(f"presence {self.username}: {status} {body}")

    async def _read(self) -> None:
        assert self._ws is not None
        async for message in self._ws:
            if message.type == aiohttp.WSMsgType.TEXT:
                self.on_frame(time.monotonic(), message.json())

    async def post(self, path: str, body: Any) -> "tuple[int, Any]":
        """POSTs JSON; the status and the JSON answer."""
        async with self.http.post(f"{self.base}{path}", json=body) as resp:
            return resp.status, await resp.json(content_type=None)

    async def close(self) -> None:
        """Goes away (so the stack counts nobody available) and closes everything."""
        try:
            if not self.http.closed:
                await self.post("/api/me/presence", {"status": "away"})
        except (aiohttp.ClientError, asyncio.TimeoutError):
            pass
        if self._ws is not None:
            await self._ws.close()
        if self._reader is not None:
            await asyncio.gather(self._reader, return_exceptions=True)
        await self.http.close()
