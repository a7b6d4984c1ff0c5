"""Lean protocol clients for load generation: web-chat customers and console agents.

They speak the same protocols as tests/e2e/conftest.py (which they do not import: that module
needs pytest) but keep only arrival times, so that thousands of them fit in a few processes.

Both keep their connection alive the way the product's own pages do, so that a message the
bench counts as lost is the product's loss, not the load generator's: a customer whose socket
goes down (python-engineio 4.8's client gives up its writer when the server's PING comes more
than 5 s late, see docs/benchmarks.md) connects again with its session token and the id of the
last frame it saw (`last_seen`), and the chat's replay (`bot/web.py` `_replay`) sends what it
missed; an agent whose console WebSocket closes opens it again and reads the transcripts of its
conversations (`GET /api/conversations/{id}`), as the console does.
"""

from __future__ import annotations

import asyncio
import json
import socket
import time
import uuid
from typing import Any, Callable, Dict, List, Optional, Tuple

import aiohttp
import socketio
from redis.asyncio import Redis

from bot.web_admission import WebAdmission
from handoff.journal import Journal
from handoff.keys import Keys
from handoff.ratelimit import RateLimiter
from handoff.relay.inbound import TO_AGENT, Inbound
from handoff.service.api.errors import MESSAGES
from handoff.service.api.sending import ACCEPTED, REFUSED, SEND
from handoff.webchat_frames import page_view

# The project's channel (bot.web.WebChatInput) issues a signed token; Rasa's own `socketio`
# channel just echoes the session id the client proposes.
PROJECT, PLAIN = "project", "plain"
RECONNECT_FOR = 120.0  # seconds a client keeps trying to get its connection back
RECONNECT_PAUSE = 0.5
SOCKET_ANSWER_WITHIN = 10.0  # s: as the console, then the message is posted (same client_id)


def _stream_id(value: Any) -> Tuple[int, int]:
    """A Redis stream id as numbers, for comparison ((0, 0) when it is not one)."""
    try:
        ms, seq = str(value).split("-")
        return int(ms), int(seq)
    except ValueError:
        return 0, 0


class Customer:
    """One web-chat customer: a socket.io connection in one conversation."""

    def __init__(self, url: str, protocol: str = PROJECT, keep_alive: bool = False) -> None:
        self.url, self.protocol, self.keep_alive = url, protocol, keep_alive
        self.sio = self._client()
        self.token = ""
        self.conversation_id = ""
        # Every bot_uttered with its arrival time (time.monotonic: one clock for the machine).
        self.replies: List[tuple] = []
        self._new_reply = asyncio.Event()
        self.on_reply: Callable[[float, Dict[str, Any]], None] = lambda at, data: None
        self._confirmed: Optional[asyncio.Future] = None
        # When the socket last went down without our asking (time.monotonic).
        self.dropped_at: Optional[float] = None
        self.drops: List[float] = []  # every such time
        self.reconnects = 0  # connections made again with the token and `last_seen`
        self.reconnect_failures = 0
        self.last_seen: Optional[str] = None  # journal id of the last frame received
        self._up = asyncio.Event()
        self._reconnecting: Optional[asyncio.Task] = None
        self._closing = False

    def _client(self) -> socketio.AsyncClient:
        sio = socketio.AsyncClient(reconnection=False)
        sio.on("session_confirm", self._on_confirm)
        sio.on("bot_uttered", self._on_bot)
        sio.on("disconnect", self._on_disconnect)
        return sio

    async def _on_disconnect(self) -> None:
        if self._closing:
            return
        self._up.clear()
        self.dropped_at = time.monotonic()
        self.drops.append(self.dropped_at)
        if self.keep_alive and self.token and (self._reconnecting is None
                                               or self._reconnecting.done()):
            self._reconnecting = asyncio.ensure_future(self._reconnect())

    async def _reconnect(self) -> None:
        deadline = time.monotonic() + RECONNECT_FOR
        while not self._closing and time.monotonic() < deadline:
            await asyncio.sleep(RECONNECT_PAUSE)
            self.sio = self._client()
            try:
                await self._open(self.token, self.last_seen)
            except (Exception, asyncio.TimeoutError):  # tried again until the deadline
                self.reconnect_failures += 1
                await self._quietly_disconnect()
                continue
            self.reconnects += 1
            return

    async def _quietly_disconnect(self) -> None:
        try:
            await self.sio.disconnect()
        except Exception:  # noqa: BLE001 - a half-open client: nothing more to do
            pass

    async def _on_confirm(self, data: Any) -> None:
        if self._confirmed is not None and not self._confirmed.done():
            self._confirmed.set_result(data if isinstance(data, str) else data["session_id"])

    async def _on_bot(self, data: Dict[str, Any]) -> None:
        at = time.monotonic()
        data = page_view(data)  # the project's extras (notice, agent) are in its metadata
        frame_id = data.get("id")
        if frame_id is not None and _stream_id(frame_id) > _stream_id(self.last_seen):
            self.last_seen = str(frame_id)
        self.replies.append((at, data))
        self._new_reply.set()
        self.on_reply(at, data)

    async def _open(self, token: Optional[str], last_seen: Optional[str]) -> None:
        self._confirmed = asyncio.get_running_loop().create_future()
        await self.sio.connect(self.url, transports=["websocket"], socketio_path="/socket.io",
                               wait_timeout=30)
        request: Dict[str, Any] = {"session_id": token}
        if self.protocol == PROJECT:
            # As the project's page: it reads the frames' metadata (agents' names there).
            request["last_seen"] = last_seen
        await self.sio.emit("session_request", request)
        self.token = await asyncio.wait_for(self._confirmed, 30)
        self.conversation_id = self.token.split(".")[0]
        self._up.set()

    async def connect(self) -> None:
        """Opens the socket and starts a conversation."""
        proposed = None if self.protocol == PROJECT else uuid.uuid4().hex
        await self._open(proposed, None)

    async def ready(self, timeout: float = 60) -> None:
        """Returns once the socket is up (at once, unless it is being opened again)."""
        if not self._up.is_set():
            await asyncio.wait_for(self._up.wait(), timeout)

    async def send(self, text: str, timeout: float = 60) -> Any:
        """Sends a message and waits for the server's acknowledgement (handled or refused).

        While the socket is being opened again, the message waits for it (as the page keeps
        what the customer typed).
        """
        await self.ready(timeout)
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

    def forget_replies(self) -> None:
        """Drops the replies kept so far (long relays would keep thousands per customer)."""
        self.replies = []

    async def close(self) -> None:
        """Disconnects."""
        self._closing = True
        if self._reconnecting is not None:
            self._reconnecting.cancel()
        await self._quietly_disconnect()


class DoorCustomer:
    """A web-chat customer played at the channel's door, for one handoff process measured alone.

    Each message is the web channel's own step for a message of a live conversation
    (`bot.web_admission`: rate limit, id, journal and the live path's take, one Lua step), as
    Rasa's channel runs it; the agent's messages are read off `customer-out`, the stream Rasa's
    processes read to emit them to the sockets (`CustomerOut`). Rasa itself is not there.
    """

    CHANNEL = "socketio"  # the name Rasa's channel gives its messages

    def __init__(self, admission: WebAdmission, conversation_id: str) -> None:
        self.admission, self.conversation_id = admission, conversation_id
        self.on_reply: Callable[[float, Dict[str, Any]], None] = lambda at, data: None
        self.drops: List[float] = []  # no socket: nothing to drop
        self.reconnects = 0

    async def ready(self, timeout: float) -> None:
        """Always ready: there is no connection to wait for."""

    async def send(self, text: str) -> Dict[str, Any]:
        """The channel's step; its answer as the page's acknowledgement."""
        admitted = await self.admission.admit_and_take(self.conversation_id, uuid.uuid4().hex,
                                                       text, self.CHANNEL, None)
        if admitted.wait is not None:
            return {"ok": False, "error": "rate_limited"}
        if admitted.way != TO_AGENT:
            return {"ok": False, "error": f"went to {admitted.way}"}
        return {"ok": True}

    def forget_replies(self) -> None:
        """Keeps nothing to forget."""

    async def close(self) -> None:
        """Nothing to close."""


class CustomerOut:
    """Reads `customer-out` as one Rasa process does, for the `DoorCustomer`s of every shard.

    One reader for the whole load generator, as one Rasa process reads the stream for all its
    sockets: with a reader in each shard, the core that the shards share with Redis paid a
    blocking `XREAD` per wake-up four times over (1.6 calls per relayed message at 1,000/s).
    Replies to another shard's customers go to that shard in a datagram on loopback, with
    their arrival time (`Replies`; time.monotonic is one clock for the machine).
    """

    def __init__(self, redis: Redis, keys: Keys, customers: List[DoorCustomer],
                 elsewhere: Optional[Dict[str, int]] = None) -> None:
        self._redis, self._keys = redis, keys
        self._by_room = {c.conversation_id: c for c in customers}
        self._elsewhere = dict(elsewhere or {})  # room -> the UDP port of its customer's shard
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._task: Optional[asyncio.Task] = None

    @staticmethod
    def admission(redis: Redis, keys: Keys) -> WebAdmission:
        """The web channel's step on `redis`, as `bot.web.WebChatInput` builds it."""
        return WebAdmission(redis, keys, RateLimiter(redis, keys), Journal(redis, keys),
                            Inbound(redis, keys))

    def start(self) -> None:
        """Reads from now on (`$`), as a Rasa process that starts."""
        self._task = asyncio.ensure_future(self._read())

    async def _read(self) -> None:
        last = "$"
        while True:
            reply = await self._redis.xread({self._keys.customer_out_stream: last},
                                            block=1000, count=500)
            at = time.monotonic()
            for _, entries in reply or []:
                for entry_id, fields in entries:
                    last = entry_id
                    if fields.get("event") != "bot_uttered":
                        continue
                    room = fields.get("room", "")
                    customer = self._by_room.get(room)
                    if customer is not None:
                        customer.on_reply(at, page_view(json.loads(fields["data"])))
                    elif room in self._elsewhere:
                        self._socket.sendto(json.dumps([at, room, fields["data"]]).encode(),
                                            ("127.0.0.1", self._elsewhere[room]))

    async def stop(self) -> None:
        """Stops reading."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        self._socket.close()


class Replies(asyncio.DatagramProtocol):
    """This shard's `DoorCustomer`s' replies, read off `customer-out` by another shard.

    A datagram dropped on loopback would be counted as a message the product lost: the
    socket's buffer asks for `BUFFER` bytes, which the system caps at `net.core.rmem_max` (4 MB
    here: many seconds of replies at the bench's highest rate; Linux's default, about 200 KB,
    would hold about a second of them).
    """

    BUFFER = 16 * 1024 * 1024

    def __init__(self, customers: List[DoorCustomer]) -> None:
        self._by_room = {c.conversation_id: c for c in customers}
        self.transport: Optional[asyncio.BaseTransport] = None  # uvloop's is no asyncio class

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Keeps the transport, to close it."""
        self.transport = transport

    def datagram_received(self, data: bytes, addr: Any) -> None:
        """Hands a reply to its customer, with the time it was read off the stream."""
        at, room, frame = json.loads(data)
        customer = self._by_room.get(room)
        if customer is not None:
            customer.on_reply(at, page_view(json.loads(frame)))

    @classmethod
    async def listen(cls, customers: List[DoorCustomer]) -> Tuple["Replies", int]:
        """A listener on loopback for `customers`, and its port."""
        transport, protocol = await asyncio.get_running_loop().create_datagram_endpoint(
            lambda: cls(customers), local_addr=("127.0.0.1", 0))
        # The system caps it (net.core.rmem_max) without an error.
        transport.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF,
                                                      cls.BUFFER)
        return protocol, transport.get_extra_info("sockname")[1]

    def close(self) -> None:
        """Stops listening."""
        if self.transport is not None:
            self.transport.close()


class SocketSends:
    """A console's `message.send`s on its WebSocket, each waiting for its answer frame.

    The socket's reader gives every frame to `answered`; `send` returns the answer, or None
    when the socket is down or silent for `within` s: the console then posts the message with
    the same client_id (`POST …/messages`), which the outbox takes once.
    """

    def __init__(self) -> None:
        self._waiting: Dict[str, asyncio.Future] = {}  # client_id -> the socket's answer

    def answered(self, frame: Dict[str, Any]) -> None:
        """Hands an answer frame read off the socket to the send that waits for it."""
        if frame.get("type") in (ACCEPTED, REFUSED):
            waiter = self._waiting.pop(frame.get("client_id") or "", None)
            if waiter is not None and not waiter.done():
                waiter.set_result(frame)

    async def send(self, ws: Optional[aiohttp.ClientWebSocketResponse], conversation_id: str,
                   text: str, client_id: str, within: float) -> Optional[Dict[str, Any]]:
        """The socket's answer to the message, or None (down or silent: post it)."""
        if ws is None or ws.closed:
            return None
        waiter = asyncio.get_running_loop().create_future()
        self._waiting[client_id] = waiter
        try:
            await ws.send_json({"type": SEND, "conversation_id": conversation_id,
                                "text": text, "client_id": client_id})
            return await asyncio.wait_for(waiter, within)
        except (ConnectionError, RuntimeError, asyncio.TimeoutError, aiohttp.ClientError):
            return None
        finally:
            self._waiting.pop(client_id, None)

    @staticmethod
    def as_route(frame: Dict[str, Any]) -> "tuple[int, Any]":
        """The status and body `POST …/messages` gives for the same answer."""
        if frame["type"] == ACCEPTED:
            return 202, {"message": frame["message"]}
        return MESSAGES[frame["error"]["code"]][0], {"error": frame["error"]}


class Agent:
    """One agent using the console API: a cookie session, HTTP calls and the WebSocket."""

    def __init__(self, base_url: str, username: str) -> None:
        self.base, self.username = base_url, username
        self.http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True),
                                          timeout=aiohttp.ClientTimeout(total=60))
        self.on_frame: Callable[[float, Dict[str, Any]], None] = lambda at, frame: None
        # Called after the WebSocket was opened again: the console reads what it missed.
        self.on_reconnect: Callable[["Agent"], Any] = lambda agent: None
        self.drops: List[float] = []
        self.reconnects = 0
        self._ws: Optional[aiohttp.ClientWebSocketResponse] = None
        self._reader: Optional[asyncio.Task] = None
        self._closing = False
        self._sends = SocketSends()

    async def start(self, password: str) -> None:
        """Signs in, opens the console WebSocket and goes online (so customers get queued)."""
        status, body = await self.post("/api/login", {"username": self.username,
                                                      "password": password})
        if status != 200:
            raise RuntimeError(f"login {self.username}: {status} {body}")
        await self._open_ws()
        self._reader = asyncio.ensure_future(self._read())
        status, body = await self.post("/api/me/presence", {"status": "online"})
        if status != 200:
            raise RuntimeError(f"presence {self.username}: {status} {body}")

    async def _open_ws(self) -> None:
        self._ws = await self.http.ws_connect(f"{self.base}/api/ws", heartbeat=30)
        hello = await self._ws.receive_json(timeout=30)
        if hello.get("type") != "hello":
            raise RuntimeError(f"unexpected first frame {hello}")

    async def _read(self) -> None:
        while not self._closing:
            assert self._ws is not None
            async for message in self._ws:
                if message.type == aiohttp.WSMsgType.TEXT:
                    frame = message.json()
                    self._sends.answered(frame)
                    self.on_frame(time.monotonic(), frame)
            if self._closing:
                return
            self.drops.append(time.monotonic())
            if not await self._reopen():
                return
            self.reconnects += 1
            await self.on_reconnect(self)

    async def _reopen(self) -> bool:
        deadline = time.monotonic() + RECONNECT_FOR
        while not self._closing and time.monotonic() < deadline:
            await asyncio.sleep(RECONNECT_PAUSE)
            try:
                await self._open_ws()
                return True
            except (aiohttp.ClientError, asyncio.TimeoutError, RuntimeError):
                continue
        return False

    async def send_message(self, conversation_id: str, text: str,
                           client_id: str) -> "tuple[int, Any]":
        """An agent's message as the console sends it: on the socket, else posted.

        The status and body are the route's for the same answer (202, or the error's).
        """
        frame = await self._sends.send(self._ws, conversation_id, text, client_id,
                                       SOCKET_ANSWER_WITHIN)
        if frame is not None:
            return SocketSends.as_route(frame)
        return await self.post(f"/api/conversations/{conversation_id}/messages",
                               {"text": text, "client_id": client_id})

    async def post(self, path: str, body: Any) -> "tuple[int, Any]":
        """POSTs JSON; the status and the JSON answer."""
        async with self.http.post(f"{self.base}{path}", json=body) as resp:
            return resp.status, await resp.json(content_type=None)

    async def get(self, path: str) -> "tuple[int, Any]":
        """GETs; the status and the JSON answer."""
        async with self.http.get(f"{self.base}{path}") as resp:
            return resp.status, await resp.json(content_type=None)

    async def close(self) -> None:
        """Goes away (so the stack counts nobody available) and closes everything."""
        self._closing = True
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
