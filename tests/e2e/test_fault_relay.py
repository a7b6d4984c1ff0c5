"""A fault in the middle of a relay of 50 live conversations (issues 7 and 13): kill -9 of the
handoff service, kill -9 of the Rasa server, or a Redis crash (kill -9, restarted on its
append-only file). Every message accepted on either side reaches the other side once, in order,
is in Rasa's tracker once, in order, and none reaches the bot.

One stack for the three cases (each case breaks a process and starts it again; a case that fails
leaves it to the next case's fixture to restart what is dead). Each case has 50 conversations of
its own, five for each of ten agents (room for every case's). Clients behave as the product's
own: agents resend a message that got no answer with the same `client_id`, as the console does;
customers resend a message that got no acknowledgement with the same `message_id`, and a page
whose socket dropped comes back with its token and the last journal id it has, as the chat page
does.
"""

from __future__ import annotations

import asyncio
import random
import sys
import uuid
from typing import Any, Callable, Dict, Iterator, List, Optional

import aiohttp
import pytest
import socketio

from stack.model import ensure_model
from stack.services import Ports, Stack
from tests.conftest import PASSWORD
from tests.e2e.conftest import (
    AgentClient,
    Customer,
    all_running,
    create_account,
    restart,
    tracker_with,
)

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]

CONVERSATIONS = 50
AGENTS = 10  # five conversations each: well inside the agent API's rate limit
FAULTS = ("handoff", "rasa", "redis")
ROUNDS_BEFORE, ROUNDS_AFTER = 3, 3
SETTINGS = {"HANDOFF_AUTO_ASSIGN": "0", "HANDOFF_DISCONNECT_GRACE": "3600",
            "HANDOFF_ALWAYS_OPEN": "1"}
ATTEMPT = 20  # seconds a sender waits for an answer before it sends the same message again


def say(line: str) -> None:
    print(line, file=sys.stderr)


def relay_stack(tmp_path_factory: pytest.TempPathFactory, cases: int,
                redis_url: Optional[str] = None) -> Iterator[Stack]:
    """A started stack with the relay's agents, room for `cases` cases' conversations."""
    running = Stack(model=ensure_model(say=say), run_dir=tmp_path_factory.mktemp("relay"),
                    ports=Ports.free(), redis_url=redis_url, say=say, extra_env=SETTINGS)
    running.start()
    try:
        for n in range(AGENTS):
            create_account(running, f"relay{n}", f"Relay {n}", PASSWORD,
                           teams="orders,billing",
                           max_conversations=CONVERSATIONS // AGENTS * cases)
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="module")
def own_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    yield from relay_stack(tmp_path_factory, len(FAULTS))


@pytest.fixture
def stack(own_stack: Stack) -> Stack:
    """The module's stack with every process running."""
    return all_running(own_stack)


class Pair:
    """One conversation: a web customer and the agent who has it, and what each sent."""

    # Called after each customer message is acknowledged (a case kills a process there).
    on_taken: Optional[Callable[[], None]] = None

    def __init__(self, stack: Stack, customer: Customer, agent: AgentClient) -> None:
        self.stack = stack
        self.customer, self.agent = customer, agent
        self.cid = customer.session_id
        self.from_customer: List[str] = []
        self.from_agent: List[str] = []
        self.pages: List[Customer] = [customer]
        self.sending: Optional[str] = None  # the customer's message not acknowledged yet
        self.resent = 0                     # customer messages sent more than once
        self.taken_unacknowledged = 0       # ... of which the first attempt had been taken

    @property
    def page(self) -> Customer:
        return self.pages[-1]

    async def customer_says(self, deadline: float = 400) -> None:
        """The customer's next message (numbered, so that order shows), sent until acknowledged
        with the same message id each time, as the chat page does; a page whose socket dropped
        comes back first."""
        text = f"customer {len(self.from_customer) + 1} in {self.cid[:8]}"
        message_id = uuid.uuid4().hex
        self.sending = text
        loop = asyncio.get_running_loop()
        give_up = loop.time() + deadline
        attempts = 0
        while True:
            if not self.page.sio.connected:
                await self.page_comes_back()
            attempts += 1
            ack = await _acknowledgement(self.page, text, message_id)
            if isinstance(ack, dict) and ack.get("ok"):
                # A resend of a message taken whose acknowledgement was lost is a duplicate.
                assert attempts > 1 or not ack.get("duplicate"), ack
                self.taken_unacknowledged += bool(ack.get("duplicate"))
                break
            # Not taken: no acknowledgement (the socket dropped, or the server is busy), or
            # refused for now (`unavailable`: Redis is away; `rate_limited`).
            assert ack is None or ack.get("error") in ("unavailable", "rate_limited"), ack
            assert loop.time() < give_up, f"{text!r} never taken"
            wait = ack.get("retry_after", 0.5) if isinstance(ack, dict) else 0.5
            await asyncio.sleep(wait)
        self.resent += attempts > 1
        self.sending = None
        self.from_customer.append(text)
        if Pair.on_taken is not None:
            Pair.on_taken()

    async def agent_says(self, deadline: float = 400) -> None:
        """The agent's next message, sent until accepted with the same client id each time, as
        the console does: on its socket, by POST when the socket does not answer."""
        text = f"agent {len(self.from_agent) + 1} in {self.cid[:8]}"
        client_id = f"{self.cid[:12]}-{len(self.from_agent)}"
        loop = asyncio.get_running_loop()
        give_up = loop.time() + deadline
        while True:
            try:
                status, body = await self.agent.send_message(self.cid, text, client_id)
                if status == 202:
                    self.from_agent.append(text)
                    return
                # 5xx while the service starts or Redis is away (503 store_unavailable).
                assert status >= 500, body
            except (aiohttp.ClientError, asyncio.TimeoutError):
                pass  # down: no answer, so not accepted yet
            assert loop.time() < give_up, f"{text!r} never accepted"
            await asyncio.sleep(0.5)

    def delivered_to_customer(self) -> List[str]:
        """The agent messages the page shows: what its sockets got, each journal id once."""
        seen, texts = set(), []
        for page in self.pages:
            for m in page.history:
                if m.get("agent") and not m.get("notice") and m.get("id") not in seen:
                    seen.add(m.get("id"))
                    texts.append(m["text"])
        return texts

    def what_pages_got(self) -> List[List[str]]:
        """Each page's agent messages, as received (replayed ones marked)."""
        return [[f"{m['text']}{' (replayed)' if m.get('replayed') else ''}" for m in page.history
                 if m.get("agent") and not m.get("notice")] for page in self.pages]

    async def page_comes_back(self, deadline: float = 400) -> None:
        """As a browser does after its socket dropped (Rasa killed, or a saturated Rasa answers
        its pings late and the test client gives up): same session, asking for what came after
        its last id; it tries again until Rasa answers."""
        loop = asyncio.get_running_loop()
        give_up = loop.time() + deadline
        while True:
            ids = [m["id"] for page in self.pages for m in page.history if m.get("id")]
            page = Customer(self.stack.chat_url)
            try:
                await page.connect(token=self.customer.token,
                                   last_seen=ids[-1] if ids else None)
            except (socketio.exceptions.ConnectionError, asyncio.TimeoutError, OSError):
                await page.close()
                assert loop.time() < give_up, f"the page of {self.cid} never came back"
                await asyncio.sleep(1)
                continue
            assert page.session_id == self.cid
            self.pages.append(page)
            return


async def _acknowledgement(page: Customer, text: str, message_id: str) -> Optional[Any]:
    """The server's acknowledgement of one attempt, or None: no answer within `ATTEMPT` s, or
    the socket dropped first (a killed process never answers)."""
    call = asyncio.ensure_future(page.say(text, message_id=message_id))
    loop = asyncio.get_running_loop()
    give_up = loop.time() + ATTEMPT
    try:
        while loop.time() < give_up:
            done, _ = await asyncio.wait({call}, timeout=0.2)
            if done:
                return call.result()
            if not page.sio.connected:
                return None
        return None
    except (socketio.exceptions.SocketIOError, asyncio.TimeoutError):
        return None  # BadNamespaceError (not connected), TimeoutError (no answer)
    finally:
        if not call.done():
            call.cancel()
            await asyncio.gather(call, return_exceptions=True)


async def _with_an_agent(stack: Stack, agent: AgentClient) -> Pair:
    customer = Customer(stack.chat_url)
    await customer.connect()
    await customer.say("I want to talk to a human")
    await customer.reply()
    status, body = await agent.post(f"/api/conversations/{customer.session_id}/claim", {})
    assert status == 200, body
    await customer.reply(lambda m: m.get("notice") == "agent_joined")
    return Pair(stack, customer, agent)


async def _round(pairs: List[Pair]) -> None:
    """Each side of every conversation sends one message, at slightly different moments."""
    async def both(pair: Pair) -> None:
        await asyncio.sleep(random.uniform(0, 0.5))
        await asyncio.gather(pair.customer_says(), pair.agent_says())
    await asyncio.gather(*map(both, pairs))


async def _until(check: Any, what: str, timeout: float = 90) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not check():
        assert loop.time() < deadline, f"{what} within {timeout} s"
        await asyncio.sleep(0.2)


def _after_pause(events: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    return events[max(i for i, e in enumerate(events) if e["event"] == "pause") + 1:]


# ------------------------------------------------------------------ the faults

async def _kill_the_handoff_service(stack: Stack, pairs: List[Pair],
                                    agents: List[AgentClient]) -> None:
    # A burst from every agent, and the kill as soon as the last one is accepted: Rasa is
    # still being given the burst when the service dies.
    await asyncio.gather(*(pair.agent_says() for pair in pairs))
    stack.processes["handoff"].kill()
    in_flight = sum(1 for p in pairs if p.delivered_to_customer() != p.from_agent)
    say(f"handoff killed with {in_flight} of {CONVERSATIONS} conversations' last agent "
        f"message not yet with the customer")
    assert in_flight > 0, "the kill must land while messages are being relayed"

    # While it is down, customers keep writing (Rasa takes it); agents' sends wait.
    down = asyncio.gather(*(pair.customer_says() for pair in pairs),
                          *(pair.agent_says() for pair in pairs))
    await asyncio.sleep(1)
    stack.add_handoff("handoff", stack.ports.handoff, {})
    await down
    for agent in agents:  # the console reconnects its WebSocket by itself
        await agent.connect_ws()


async def kill_mid_burst(stack: Stack, pairs: List[Pair], name: str,
                         kill: Optional[Callable[[], Any]] = None) -> List[Any]:
    """A burst both ways in every conversation; `name` is killed (kill -9; or `kill` is
    called) the moment the first few customer messages are acknowledged. The burst's senders
    go on sending; their tasks, one per conversation."""
    taken, killed = 0, asyncio.get_running_loop().create_future()

    def count() -> None:
        nonlocal taken
        taken += 1
        if taken == CONVERSATIONS // 10:
            (kill or stack.processes[name].kill)()
            # What was on its way at that moment, as the clients see it.
            killed.set_result((sum(1 for p in pairs if p.sending is not None),
                               sum(1 for p in pairs if p.delivered_to_customer() != p.from_agent)))

    Pair.on_taken = count
    burst = [asyncio.ensure_future(asyncio.gather(pair.customer_says(), pair.agent_says()))
             for pair in pairs]
    try:
        customers, agents = await asyncio.wait_for(asyncio.shield(killed), 120)
    except BaseException:
        for task in burst:
            task.cancel()
        raise
    finally:
        Pair.on_taken = None
    say(f"{name} killed: {customers} of {CONVERSATIONS} customer messages sent and not "
        f"acknowledged, {agents} conversations' accepted agent messages not all shown")
    assert customers + agents > 0, "the kill must land while messages are being relayed"
    return burst


def _resends(pairs: List[Pair]) -> str:
    return (f"{sum(p.resent for p in pairs)} customer messages were sent again "
            f"({sum(p.taken_unacknowledged for p in pairs)} had been taken, their "
            f"acknowledgement lost)")


async def _kill_rasa(stack: Stack, pairs: List[Pair], agents: List[AgentClient]) -> None:
    burst = await kill_mid_burst(stack, pairs, "rasa")

    async def goes_on(pair: Pair, sent: Any) -> None:
        await sent
        await pair.agent_says()

    # Rasa is away: agents go on (the live path needs no Rasa); customers' pages try to come
    # back until it answers, then send again what had no acknowledgement.
    away = asyncio.gather(*(goes_on(pair, sent) for pair, sent in zip(pairs, burst, strict=True)))
    await asyncio.to_thread(restart, stack, "rasa")
    await away
    say(f"rasa back: {sum(len(p.pages) - 1 for p in pairs)} pages came back, {_resends(pairs)}")


async def _restart_redis(stack: Stack, pairs: List[Pair], agents: List[AgentClient]) -> None:
    burst = await kill_mid_burst(stack, pairs, "redis")
    # Redis is away: both sides are refused (`unavailable`, 503) and send again, same ids.
    await asyncio.sleep(2)
    await asyncio.to_thread(restart, stack, "redis")
    await asyncio.gather(*burst)
    say(f"redis back: {_resends(pairs)}")


FAULT = {"handoff": _kill_the_handoff_service, "rasa": _kill_rasa, "redis": _restart_redis}


# ------------------------------------------------------------------ the case

@pytest.mark.parametrize("fault", FAULTS)
async def test_a_fault_mid_relay_loses_and_repeats_nothing(stack, fault):
    await relay_with_a_fault(stack, FAULT[fault])


async def relay_with_a_fault(stack: Stack, fault: Callable[[Stack, List[Pair],
                                                            List[AgentClient]], Any]) -> None:
    """50 live conversations, rounds both ways, `fault` in the middle, rounds again; then
    every message is checked: once, in order, on the other side and in the tracker."""
    agents = [AgentClient(stack.handoff_url) for _ in range(AGENTS)]
    pairs: List[Pair] = []
    try:
        for n, agent in enumerate(agents):
            await agent.login(f"relay{n}", PASSWORD)
            await agent.connect_ws()
            assert (await agent.post("/api/me/presence", {"status": "online"}))[0] == 200
        for start in range(0, CONVERSATIONS, 10):  # ten hand-offs at a time on two cores
            pairs += await asyncio.gather(*(_with_an_agent(stack, agents[n % AGENTS])
                                            for n in range(start, start + 10)))
        for _ in range(ROUNDS_BEFORE):
            await _round(pairs)

        await fault(stack, pairs, agents)

        for _ in range(ROUNDS_AFTER):
            await _round(pairs)

        for pair in pairs:
            try:
                await _until(lambda p=pair: len(p.delivered_to_customer()) >= len(p.from_agent),
                             f"every agent message reaches {pair.cid} live", 60)
            except AssertionError:
                say(f"{pair.cid}: {len(pair.delivered_to_customer())} of "
                    f"{len(pair.from_agent)} came live; the page comes back")
                await pair.page_comes_back()
                await _until(lambda p=pair: len(p.delivered_to_customer()) >= len(p.from_agent),
                             f"every agent message reaches {pair.cid}", 30)
        await asyncio.sleep(1)  # time for a duplicate to show, if one were coming
        for pair in pairs:
            meta = lambda e: e.get("metadata") or {}  # noqa: E731
            # Written into the tracker behind the live path (every 10 s here, the default).
            events = _after_pause(await tracker_with(stack, pair.cid, lambda events, p=pair: (
                len([e for e in events if (e.get("metadata") or {}).get("handoff_agent")])
                >= len(p.from_agent)
                and set(p.from_customer) <= {e.get("text") for e in events
                                             if e["event"] == "user"}), 90))
            # To the customer: each agent message once, in order; in the tracker likewise.
            assert pair.delivered_to_customer() == pair.from_agent, pair.what_pages_got()
            assert [e["text"] for e in events if e["event"] == "bot"
                    and meta(e).get("handoff_agent")] == pair.from_agent
            # To the agent (the console's transcript) and in the tracker: each customer message
            # once, in order; and the bot never answered.
            assert [e["text"] for e in events if e["event"] == "user"] == pair.from_customer
            assert not [e for e in events if e["event"] == "bot" and not meta(e).get(
                "handoff_agent") and not meta(e).get("handoff_notice")], "the bot answered"
            status, body = await pair.agent.get(f"/api/conversations/{pair.cid}")
            assert status == 200
            shown = [t["text"] for t in body["conversation"]["transcript"]
                     if t["kind"] == "customer"]
            assert [t for t in shown if t in set(pair.from_customer)] == pair.from_customer
        # The consoles' way was taken: their sockets (a POST only where a socket was down).
        assert sum(agent.accepted_on_socket for agent in agents) > \
            sum(len(pair.from_agent) for pair in pairs) // 2
        # What the consoles were pushed: nothing they cannot tell apart from what they have.
        for agent in agents:
            turns: Dict[str, str] = {}
            for frame in agent.all_frames:
                if frame.get("type") == "message":
                    turn = frame["turn"]
                    assert turns.setdefault(turn["id"], turn["text"]) == turn["text"]
    finally:
        Pair.on_taken = None
        for pair in pairs:
            for page in pair.pages:
                await page.close()
        for agent in agents:
            await agent.close()
