"""The whole stack, started once per test session, and clients that play customer and agent."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import subprocess
import sys
import time
import uuid
from typing import Any, AsyncIterator, Callable, Dict, Iterable, Iterator, List, Optional, Set

import aiohttp
import pytest
import socketio
from redis.exceptions import RedisError

from bench.clients import SocketSends
from handoff import pii
from handoff.keys import RASA_KEYS
from handoff.redis_client import connect_sync
from handoff.webchat_frames import RASA_FIELDS, page_view
from stack.balanced import BalancedStack
from stack.model import ROOT, ensure_model
from stack.services import Ports, Stack, _http_ok, free_port
from tests.conftest import PASSWORD
from tests.fake_graph import FakeGraph
from tests.privacy_scan import file_traces
from tests.smtp_server import LocalSmtpServer

AGENTS = {"marie": ("Marie", PASSWORD, "agent"), "paul": ("Paul", PASSWORD, "agent"),
          "sam": ("Sam", PASSWORD, "supervisor")}
TEAMS = {"marie": "orders", "paul": "billing,orders", "sam": ""}
SHARED_AGENT_LIMIT = 50  # the most an account may have (handoff.accounts)


CONNECT_WAIT = 20  # seconds a test's socket.io client waits for the server to accept it
PAGE_ID = "1000000000001"
MESSENGER = {"MESSENGER_VERIFY_TOKEN": "verify-me-please",
             "MESSENGER_APP_SECRET": "app-secret-known-to-tests",
             "MESSENGER_PAGE_TOKEN": "page-token-known-to-tests",
             "MESSENGER_RETRY_BACKOFF": "0.05",
             "MESSENGER_PAGE_ID": PAGE_ID}


# Errors no script caught in the pages of browser contexts watched by `watch_page_errors`
# (`test_console_browser._context`'s: most console, chat and widget pages of the browser tests).
PAGE_ERRORS: List[str] = []


def watch_page_errors(context: Any) -> Any:
    """Records the uncaught errors of every page of a Playwright browser context."""
    context.on("weberror", lambda e: PAGE_ERRORS.append(f"{e.page and e.page.url}: {e.error}"))
    return context


@pytest.fixture(autouse=True)
def no_page_error() -> Iterator[None]:
    """A browser test fails when one of its pages threw an error that nothing caught."""
    PAGE_ERRORS.clear()
    yield
    assert PAGE_ERRORS == [], PAGE_ERRORS


# Every text the tests' customers sent (web chat and Messenger clients below, and every customer
# message in a stack's trackers when it stops): at the end of the session, no log of any stack
# may hold one, nor an address or number in them (issue 19).
SAID: Set[str] = set()
SCANNED_MIN = 12  # shorter texts ("hi", "4", "yes") are in logs as words of other things


def remember(text: Any) -> None:
    """A customer's text the final log scan looks for (raw emits call it themselves)."""
    if isinstance(text, str) and text.strip():
        SAID.add(text)


def customers_texts(stack: Stack) -> Set[str]:
    """Every customer message still in the stack's trackers, whoever sent it (the browser
    tests' pages, raw socket.io emits, the fuzzers): the traffic of the whole session."""
    found: Set[str] = set()
    try:
        client = connect_sync(stack.env()["REDIS_URL"], socket_timeout=10)
        try:
            for key in client.scan_iter(match=RASA_KEYS.tracker_pattern, count=1000):
                raw = client.get(key)
                for event in (json.loads(raw).get("events") or []) if raw else []:
                    text = event.get("text") if event.get("event") == "user" else None
                    if isinstance(text, str) and not text.startswith("/"):
                        found.add(text)
        finally:
            client.close()
    except RedisError as exc:  # Redis killed by a fault test and not restarted
        print(f"log scan: no texts read from {stack.run_dir}: {exc!r}", file=sys.stderr)
    return found


def log_needles(texts: Iterable[str]) -> List[str]:
    """What no log may hold: long enough texts, and every address and number in any text."""
    needles = {t.strip() for t in texts if len(t.strip()) >= SCANNED_MIN}
    for text in texts:
        needles.update(pii.emails(text))
        needles.update(pii.phones(text))
    return sorted(needles)


@pytest.fixture(scope="session", autouse=True)
def logs_hold_no_customer_text(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """After every e2e test of the session and once every stack is stopped (this fixture is
    set up first, so it finishes last): every process log of every stack of the session (all
    `*.log` under its base temporary directory) is scanned for what the customers wrote."""
    yield
    logs = sorted(tmp_path_factory.getbasetemp().rglob("*.log"))
    found = file_traces(logs, log_needles(SAID))
    assert not found, f"customers' words, addresses or numbers in the logs: {found[:20]}"


@pytest.fixture(scope="session")
def graph() -> Iterator[FakeGraph]:
    """The Graph API's stand-in, up before the stack so that Rasa and the service use it."""
    fake = FakeGraph(MESSENGER["MESSENGER_PAGE_TOKEN"]).start()
    try:
        yield fake
    finally:
        fake.stop()


@pytest.fixture(scope="session")
def mailbox() -> Iterator[LocalSmtpServer]:
    """A real SMTP server (aiosmtpd) that the stack sends mail to (transcripts)."""
    server = LocalSmtpServer().up()
    try:
        yield server
    finally:
        server.down()


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory, graph: FakeGraph,
          mailbox: LocalSmtpServer) -> Iterator[Stack]:
    yield from _a_stack(tmp_path_factory, graph, mailbox, "stack")


@pytest.fixture(scope="session")
def quiet_stack(tmp_path_factory: pytest.TempPathFactory, graph: FakeGraph,
                mailbox: LocalSmtpServer) -> Iterator[Stack]:
    """A stack like `stack` that only the miner's tests use: what they mine is what they wrote.

    On the shared stack, every other test's conversations are mined too, and how those group
    changes whenever a test is added (the grouping itself is measured in tests/unit).
    """
    yield from _a_stack(tmp_path_factory, graph, mailbox, "quiet")


def _a_stack(tmp_path_factory: pytest.TempPathFactory, graph: FakeGraph,
             mailbox: LocalSmtpServer, name: str,
             env: Optional[Dict[str, str]] = None,
             redis_url: Optional[str] = None, rasa: int = 1,
             handoff: int = 1) -> Iterator[Stack]:
    """A started stack with the tests' agents; on its own redis-server unless `redis_url`;
    with more than one Rasa or handoff process, behind HAProxy (`BalancedStack`)."""
    model = ensure_model(say=lambda line: print(line, file=sys.stderr))
    ports, site = Ports.free(), free_port()
    # Besides the service's own pages, one third-party site may embed a Rasa web client (the
    # operator lists such sites in CHAT_ALLOWED_ORIGINS); tests serve it on `site`.
    origins = [f"http://127.0.0.1:{ports.handoff}", f"http://localhost:{ports.handoff}",
               f"http://127.0.0.1:{site}"]
    layout = ({"rasa_count": rasa, "handoff_count": handoff} if rasa > 1 or handoff > 1
              else {})
    running = (BalancedStack if layout else Stack)(
        model=model, run_dir=tmp_path_factory.mktemp(name), ports=ports, redis_url=redis_url,
        say=lambda line: print(line, file=sys.stderr), **layout,  # type: ignore[arg-type]
                    extra_env={**MESSENGER, "MESSENGER_GRAPH_URL": graph.url,
                               "CHAT_ALLOWED_ORIGINS": ",".join(origins),
                               "SMTP_HOST": mailbox.host, "SMTP_PORT": str(mailbox.port),
                               "SMTP_FROM": "service@shop.example", "SMTP_TIMEOUT": "5",
                               # Agents claim by hand here (the claim race is tested); automatic
                               # assignment, requeue and abandonment are tested in
                               # tests/integration against real Redis and real processes.
                               "HANDOFF_AUTO_ASSIGN": "0", "HANDOFF_DISCONNECT_GRACE": "3600",
                               # Results must not depend on the hour CI runs at.
                               "HANDOFF_ALWAYS_OPEN": "1",
                               # Tests read the tracker right after a live conversation: a short
                               # write-behind (10 s by default) keeps them short.
                               "HANDOFF_TRACKER_WRITE_DELAY": "1",
                               **(env or {})})
    running.third_party_port = site  # type: ignore[attr-defined]
    running.start()
    try:
        for username, (name, password, role) in AGENTS.items():
            # Many tests claim as these agents and few close what they claimed: with the
            # product's default limit (5), whether a test can claim would hang on test order.
            create_account(running, username, name, password, role, TEAMS[username],
                           max_conversations=SHARED_AGENT_LIMIT)
        yield running
    finally:
        SAID.update(customers_texts(running))
        running.stop()


def create_account(stack: Stack, username: str, name: str, password: str, role: str = "agent",
                   teams: str = "", max_conversations: int = 5) -> None:
    """An agent account, made with the product's own command."""
    subprocess.run([sys.executable, "-m", "handoff.accounts", "create", username, "--name", name,
                    "--role", role, "--teams", teams,
                    "--max-conversations", str(max_conversations)],
                   cwd=ROOT, check=True, env={**stack.env(), "HANDOFF_NEW_PASSWORD": password},
                   stdout=subprocess.DEVNULL, timeout=60)


READY = {  # how to start each process again, how to tell it is up, and for how long to wait
    "redis": (Stack.start_redis, lambda s: s._redis_ready(), 30),
    "actions": (Stack.start_actions, lambda s: _http_ok(f"{s.actions_url}/health"), 120),
    "rasa": (Stack.start_rasa, lambda s: s._rasa_ready(), 300),
    "handoff": (Stack.start_handoff,
                lambda s: _http_ok(f"{s.handoff_url}/api/flows", accept=(401,)), 60),
}


def restart(stack: Stack, name: str) -> None:
    """Starts `name` again (same port, same data) and waits until it answers."""
    start, ready, timeout = READY[name]
    start(stack)
    stack._wait(lambda: ready(stack), name, timeout)


def all_running(stack: Stack) -> Stack:
    """`stack` with every process running again (a failed test may have left one dead)."""
    for name in READY:
        if stack.processes[name].popen.poll() is not None:
            restart(stack, name)
    return stack


async def wait_for(queue: "asyncio.Queue[Any]", match: Callable[[Any], bool],
                   timeout: float = 30, seen: Optional[List[Any]] = None) -> Any:
    """The first item of `queue` that matches (others are kept in `seen`)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        remaining = deadline - loop.time()
        if remaining <= 0:
            raise AssertionError(f"nothing matched within {timeout} s; saw {seen}")
        try:
            item = await asyncio.wait_for(queue.get(), remaining)
        except asyncio.TimeoutError:
            raise AssertionError(f"nothing matched within {timeout} s; saw {seen}") from None
        if seen is not None:
            seen.append(item)
        if match(item):
            return item


class Customer:
    """A customer on the web chat, speaking Rasa's socket.io protocol (as the chat page does)."""

    def __init__(self, rasa_url: str, origin: Optional[str] = None) -> None:
        self.url = rasa_url
        self.origin = origin
        self.sio = socketio.AsyncClient(reconnection=False)
        self.received: "asyncio.Queue[Dict[str, Any]]" = asyncio.Queue()
        self.history: List[Dict[str, Any]] = []  # as the page reads them (`page_view`)
        self.frames: List[Dict[str, Any]] = []   # as sent
        self.foreign: List[str] = []             # top-level keys Rasa's protocol does not have
        self.echoes: List[Dict[str, Any]] = []
        self.typing: "asyncio.Queue[Dict[str, Any]]" = asyncio.Queue()
        self.queue_status: "asyncio.Queue[Dict[str, Any]]" = asyncio.Queue()
        self.session_id = ""  # the conversation id
        self.token = ""       # the signed session id the server issued
        self._confirmed: "Optional[asyncio.Future[str]]" = None

        @self.sio.on("session_confirm")
        async def on_confirm(data: Any) -> None:
            if self._confirmed is not None and not self._confirmed.done():
                self._confirmed.set_result(data if isinstance(data, str) else data["session_id"])

        @self.sio.on("bot_uttered")
        async def on_bot(data: Dict[str, Any]) -> None:
            # Every frame is checked against Rasa's protocol; tests read it as the page does.
            self.foreign.extend(k for k in data if k not in RASA_FIELDS)
            self.frames.append(data)
            self.history.append(page_view(data))
            await self.received.put(page_view(data))

        @self.sio.on("user_echo")
        async def on_echo(data: Dict[str, Any]) -> None:
            self.echoes.append(data)

        @self.sio.on("agent_typing")
        async def on_typing(data: Dict[str, Any]) -> None:
            await self.typing.put(data)

        @self.sio.on("queue_status")
        async def on_queue_status(data: Dict[str, Any]) -> None:
            await self.queue_status.put(data)

    async def connect(self, token: Optional[str] = None, last_seen: Optional[str] = None,
                      link: Optional[str] = None, replay: bool = True) -> None:
        """Opens the socket and asks for a session (a new one, `token`'s, or `link`'s).

        `replay=False` asks as Rasa's own clients do (no `last_seen`).
        """
        self._confirmed = asyncio.get_running_loop().create_future()
        headers = {"Origin": self.origin} if self.origin else {}
        # python-socketio gives the server 1 s to accept the namespace by default: a busy
        # machine (CI, 2 cores) takes longer, and the client then gives up on a good server.
        await self.sio.connect(self.url, transports=["websocket"], socketio_path="/socket.io",
                               headers=headers, wait_timeout=CONNECT_WAIT)
        request: Dict[str, Any] = {"session_id": token}
        if replay:
            request["last_seen"] = last_seen
        if link is not None:
            request["link"] = link
        await self.sio.emit("session_request", request)
        self.token = await asyncio.wait_for(self._confirmed, 20)
        self.session_id = self.token.split(".")[0]

    async def say(self, text: str, message_id: Optional[str] = None, **extra: Any) -> Any:
        """Sends a message; the server's acknowledgement."""
        remember(text)
        return await self.sio.call("user_uttered", {
            "message": text, "session_id": self.token,
            "message_id": message_id or uuid.uuid4().hex, **extra}, timeout=60)

    async def reply(self, match: Callable[[Dict[str, Any]], bool] = lambda m: True,
                    timeout: float = 30) -> Dict[str, Any]:
        """The first message that matches, as the page reads it (extras from `metadata`)."""
        found = await wait_for(self.received, match, timeout, seen=[])
        assert not self.foreign, f"bot_uttered with keys outside Rasa's protocol: {self.foreign}"
        return found

    async def close(self) -> None:
        await self.sio.disconnect()


class AgentClient:
    """An agent using the console's own API: HTTP plus the WebSocket."""

    def __init__(self, base_url: str) -> None:
        self.base = base_url
        self.http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True),
                                          timeout=aiohttp.ClientTimeout(total=30))
        self.frames: "asyncio.Queue[Dict[str, Any]]" = asyncio.Queue()
        self.all_frames: List[Dict[str, Any]] = []
        self._ws: Optional[aiohttp.ClientWebSocketResponse] = None
        self._reader: Optional[asyncio.Task] = None
        self._sends = SocketSends()
        self.accepted_on_socket = 0  # messages `send_message` got accepted on the socket

    async def login(self, username: str, password: str) -> Dict[str, Any]:
        status, body = await self.post("/api/login", {"username": username, "password": password})
        assert status == 200, body
        return body

    async def connect_ws(self) -> None:
        self._ws = await self.http.ws_connect(f"{self.base}/api/ws")
        hello = await self._ws.receive_json(timeout=10)
        assert hello["type"] == "hello"
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        assert self._ws is not None
        async for message in self._ws:
            if message.type == aiohttp.WSMsgType.TEXT:
                frame = message.json()
                self._sends.answered(frame)
                self.all_frames.append(frame)
                await self.frames.put(frame)

    async def send_message(self, conversation_id: str, text: str, client_id: str,
                           answer_within: float = 10) -> "tuple[int, Any]":
        """As the console sends a message: on its socket, opened again if it went down.

        With no answer within `answer_within` s, by POST with the same client_id. The status
        is the route's for the same answer (202 accepted, or the error's).
        """
        frame = None
        try:
            if self._ws is None or self._ws.closed:
                await self.connect_ws()
            frame = await self._sends.send(self._ws, conversation_id, text, client_id,
                                           answer_within)
        except (aiohttp.ClientError, ConnectionError, RuntimeError, asyncio.TimeoutError):
            pass  # the socket could not be opened again: posted
        if frame is not None:
            if frame["type"] == "message.accepted":
                self.accepted_on_socket += 1
            return SocketSends.as_route(frame)
        return await self.post(f"/api/conversations/{conversation_id}/messages",
                               {"text": text, "client_id": client_id})

    async def frame(self, match: Callable[[Dict[str, Any]], bool], timeout: float = 30) -> Any:
        return await wait_for(self.frames, match, timeout, seen=[])

    async def get(self, path: str) -> "tuple[int, Any]":
        async with self.http.get(f"{self.base}{path}") as resp:
            return resp.status, await resp.json()

    async def post(self, path: str, body: Any, headers: Optional[Dict[str, str]] = None,
                   raw: Optional[bytes] = None) -> "tuple[int, Any]":
        kwargs: Dict[str, Any] = {"data": raw} if raw is not None else {"json": body}
        async with self.http.post(f"{self.base}{path}", headers=headers or
                                  ({"Content-Type": "application/json"} if raw else None),
                                  **kwargs) as resp:
            return resp.status, await resp.json()

    async def close(self) -> None:
        if self._ws is not None:
            await self._ws.close()
        if self._reader is not None:
            await asyncio.gather(self._reader, return_exceptions=True)
        await self.http.close()


@pytest.fixture
async def agents(stack: Stack) -> AsyncIterator[Dict[str, AgentClient]]:
    clients = {name: AgentClient(stack.handoff_url) for name in AGENTS}
    try:
        for name, client in clients.items():
            await client.login(name, AGENTS[name][1])
        yield clients
    finally:
        for client in clients.values():
            await client.close()


@pytest.fixture
async def customer_factory(stack: Stack) -> AsyncIterator[Callable[[], Any]]:
    made: List[Customer] = []

    async def make() -> Customer:
        customer = Customer(stack.rasa_url)
        await customer.connect()
        made.append(customer)
        return customer

    try:
        yield make
    finally:
        for customer in made:
            await customer.close()


async def rasa_tracker(stack: Stack, conversation_id: str) -> Dict[str, Any]:
    """The conversation's tracker, read straight from Rasa's API."""
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{stack.rasa_url}/conversations/{conversation_id}/tracker",
                            params={"token": stack.rasa_token}) as resp:
            assert resp.status == 200
            return await resp.json()


async def tracker_with(stack: Stack, conversation_id: str, ready: Callable[[List[Any]], bool],
                       timeout: float = 60) -> List[Dict[str, Any]]:
    """The tracker's events once `ready(events)` holds (live turns are written behind)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    events: List[Dict[str, Any]] = []
    while loop.time() < deadline:
        events = (await rasa_tracker(stack, conversation_id))["events"]
        if ready(events):
            return events
        await asyncio.sleep(0.2)
    raise AssertionError(f"the tracker of {conversation_id} never got there: {events}")


class MessengerCustomer:
    """A person writing to the page: webhook calls signed like Facebook's, in its format."""

    def __init__(self, stack: Stack, psid: str) -> None:
        self.url = f"{stack.rasa_url}/webhooks/messenger/webhook"
        self.psid = psid
        self.sent = 0

    def event(self, text: Optional[str] = None, quick_reply: Optional[str] = None,
              postback: Optional[str] = None, echo: bool = False,
              referral: Optional[str] = None) -> Dict[str, Any]:
        """One `messaging` event from this person (message, quick reply, postback, m.me link)."""
        self.sent += 1
        remember(text)
        now = int(time.time() * 1000)
        mid = f"m_{self.psid}_{self.sent}_{now}"
        event: Dict[str, Any] = {"sender": {"id": PAGE_ID if echo else self.psid},
                                 "recipient": {"id": self.psid if echo else PAGE_ID},
                                 "timestamp": now}
        if referral is not None:
            event["referral"] = {"ref": referral, "source": "SHORTLINK", "type": "OPEN_THREAD"}
        elif postback is not None:
            event["postback"] = {"mid": mid, "title": postback, "payload": postback}
        else:
            event["message"] = {"mid": mid, "text": text}
            if quick_reply is not None:
                event["message"]["quick_reply"] = {"payload": quick_reply}
            if echo:
                event["message"]["is_echo"] = True
        return event

    async def post(self, *events: Dict[str, Any], secret: Optional[str] = None,
                   signature: Optional[str] = None, raw: Optional[bytes] = None) -> int:
        """POSTs a batch as one webhook call; the HTTP status."""
        body = raw if raw is not None else json.dumps(page_payload(*events)).encode()
        key = (secret if secret is not None else MESSENGER["MESSENGER_APP_SECRET"]).encode()
        headers = {"Content-Type": "application/json"}
        if signature is None:
            signature = "sha256=" + hmac.new(key, body, hashlib.sha256).hexdigest()
        if signature:
            headers["X-Hub-Signature-256"] = signature
        async with aiohttp.ClientSession() as http:
            async with http.post(self.url, data=body, headers=headers) as resp:
                return resp.status

    async def say(self, text: str, **kind: Any) -> Dict[str, Any]:
        event = self.event(text, **kind)
        assert await self.post(event) == 200
        return event


def page_payload(*events: Dict[str, Any]) -> Dict[str, Any]:
    """A webhook body with one `entry` per event, as Facebook batches them."""
    return {"object": "page", "entry": [{"id": PAGE_ID, "time": e["timestamp"],
                                         "messaging": [e]} for e in events]}


async def with_an_agent(customer: Customer, agent: AgentClient) -> Dict[str, Any]:
    """The customer asks for a person and `agent` takes the conversation; the "joined" notice."""
    await customer.say("I want to talk to a human")
    await customer.reply()
    status, body = await agent.post(f"/api/conversations/{customer.session_id}/claim", {})
    assert status == 200, body
    return await customer.reply(lambda m: m.get("notice") == "agent_joined")
