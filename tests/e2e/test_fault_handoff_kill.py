"""kill -9 of the handoff service while 50 conversations are mid-relay, then a restart: every
message accepted on either side is delivered once, in order, and none reaches the bot (issue 7).

The stack is this module's own (the service is killed); agents write through the console's API
and, like the console, resend a message that got no answer with the same `client_id`.
"""

from __future__ import annotations

import asyncio
import random
import sys
from typing import Any, Dict, Iterator, List

import aiohttp
import pytest

from stack.model import ensure_model
from stack.services import Ports, Stack
from tests.conftest import PASSWORD
from tests.e2e.conftest import AgentClient, Customer, create_account, tracker_with

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

CONVERSATIONS = 50
AGENTS = 10  # five conversations each: well inside the agent API's rate limit
ROUNDS_BEFORE, ROUNDS_AFTER = 3, 3
SETTINGS = {"HANDOFF_AUTO_ASSIGN": "0", "HANDOFF_DISCONNECT_GRACE": "3600",
            "HANDOFF_ALWAYS_OPEN": "1"}


@pytest.fixture(scope="module")
def own_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    say = lambda line: print(line, file=sys.stderr)  # noqa: E731
    running = Stack(model=ensure_model(say=say), run_dir=tmp_path_factory.mktemp("kill"),
                    ports=Ports.free(), say=say, extra_env=SETTINGS)
    running.start()
    try:
        for n in range(AGENTS):
            create_account(running, f"relay{n}", f"Relay {n}", PASSWORD,
                           teams="orders,billing", max_conversations=10)
        yield running
    finally:
        running.stop()


class Pair:
    """One conversation: a web customer and the agent who has it, and what each sent."""

    def __init__(self, customer: Customer, agent: AgentClient) -> None:
        self.customer, self.agent = customer, agent
        self.cid = customer.session_id
        self.from_customer: List[str] = []
        self.from_agent: List[str] = []
        self.pages: List[Customer] = [customer]

    async def customer_says(self) -> None:
        """The customer's next message (numbered, so that order shows)."""
        text = f"customer {len(self.from_customer) + 1} in {self.cid[:8]}"
        ack = await self.customer.say(text)
        assert ack["ok"] and not ack.get("duplicate"), ack
        self.from_customer.append(text)

    async def agent_says(self, deadline: float = 90) -> None:
        """The agent's next message, sent until accepted with the same client id each time, as
        the console does."""
        text = f"agent {len(self.from_agent) + 1} in {self.cid[:8]}"
        client_id = f"{self.cid[:12]}-{len(self.from_agent)}"
        loop = asyncio.get_running_loop()
        give_up = loop.time() + deadline
        while True:
            try:
                status, body = await self.agent.post(
                    f"/api/conversations/{self.cid}/messages",
                    {"text": text, "client_id": client_id})
                if status == 202:
                    self.from_agent.append(text)
                    return
                assert status >= 500, body  # the service may answer 5xx while it starts
            except (aiohttp.ClientError, asyncio.TimeoutError):
                pass  # down: no answer, so not accepted yet
            assert loop.time() < give_up, f"{text!r} never accepted"
            await asyncio.sleep(0.3)

    def delivered_to_customer(self) -> List[str]:
        """The agent messages the page shows: what its sockets got, each journal id once."""
        seen, texts = set(), []
        for page in self.pages:
            for m in page.history:
                if m.get("agent") and not m.get("notice") and m.get("id") not in seen:
                    seen.add(m.get("id"))
                    texts.append(m["text"])
        return texts

    async def page_comes_back(self, stack: Stack) -> None:
        """As a browser does after its socket dropped (a saturated Rasa answers its pings late
        and the test client gives up): same session, asking for what came after its last id."""
        ids = [m["id"] for page in self.pages for m in page.history if m.get("id")]
        page = Customer(stack.rasa_url)
        self.pages.append(page)
        await page.connect(token=self.customer.token, last_seen=ids[-1] if ids else None)


async def _with_an_agent(stack: Stack, agent: AgentClient) -> Pair:
    customer = Customer(stack.rasa_url)
    await customer.connect()
    await customer.say("I want to talk to a human")
    await customer.reply()
    status, body = await agent.post(f"/api/conversations/{customer.session_id}/claim", {})
    assert status == 200, body
    await customer.reply(lambda m: m.get("notice") == "agent_joined")
    return Pair(customer, agent)


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


async def test_killing_the_handoff_service_mid_relay_loses_and_repeats_nothing(own_stack):
    stack = own_stack
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

        # A burst from every agent, and the kill as soon as the last one is accepted: Rasa is
        # still being given the burst when the service dies.
        await asyncio.gather(*(pair.agent_says() for pair in pairs))
        stack.processes["handoff"].kill()
        in_flight = sum(1 for p in pairs if p.delivered_to_customer() != p.from_agent)
        print(f"\nkilled with {in_flight} of {CONVERSATIONS} conversations' last agent message "
              f"not yet with the customer")
        assert in_flight > 0, "the kill must land while messages are being relayed"

        # While it is down, customers keep writing (Rasa takes it); agents' sends wait.
        down = asyncio.gather(*(pair.customer_says() for pair in pairs),
                              *(pair.agent_says() for pair in pairs))
        await asyncio.sleep(1)
        stack.add_handoff("handoff", stack.ports.handoff, {})
        await down
        for agent in agents:  # the console reconnects its WebSocket by itself
            await agent.connect_ws()
        for _ in range(ROUNDS_AFTER):
            await _round(pairs)

        for pair in pairs:
            try:
                await _until(lambda p=pair: len(p.delivered_to_customer()) >= len(p.from_agent),
                             f"every agent message reaches {pair.cid} live", 60)
            except AssertionError:
                print(f"{pair.cid}: {len(pair.delivered_to_customer())} of "
                      f"{len(pair.from_agent)} came live; the page comes back")
                await pair.page_comes_back(stack)
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
            assert [e["text"] for e in events if e["event"] == "bot"
                    and meta(e).get("handoff_agent")] == pair.from_agent
            assert pair.delivered_to_customer() == pair.from_agent, [p.history for p in pair.pages]
            assert [e["text"] for e in events if e["event"] == "user"] == pair.from_customer
            assert not [e for e in events if e["event"] == "bot" and not meta(e).get(
                "handoff_agent") and not meta(e).get("handoff_notice")], "the bot answered"
            status, body = await pair.agent.get(f"/api/conversations/{pair.cid}")
            assert status == 200
            shown = [t["text"] for t in body["conversation"]["transcript"]
                     if t["kind"] == "customer"]
            assert shown[-len(pair.from_customer):] == pair.from_customer
        # What the consoles were pushed: nothing they cannot tell apart from what they have.
        for agent in agents:
            turns: Dict[str, str] = {}
            for frame in agent.all_frames:
                if frame.get("type") == "message":
                    turn = frame["turn"]
                    assert turns.setdefault(turn["id"], turn["text"]) == turn["text"]
    finally:
        for pair in pairs:
            for page in pair.pages:
                await page.close()
        for agent in agents:
            await agent.close()
