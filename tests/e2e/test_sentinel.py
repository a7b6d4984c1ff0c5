"""The whole product on a Sentinel group, behind a real load balancer (issue 17): every
process is given a `redis+sentinel://` REDIS_URL (1 primary, 2 replicas, 3 sentinels, started
by the tests), and 2 Rasa processes and 2 handoff services run behind HAProxy
(`stack.balanced.BalancedStack`, as `./run.sh --rasa 2 --handoff 2`); customers and agents
connect through HAProxy's one public address.

- The whole path: bot answer, handoff, claim, relay both ways, hand-back, then a second handoff,
  close and the survey; HAProxy's figures show that both processes of each kind served.
- kill -9 of the primary in the middle of a relay of 50 conversations (the case of
  tests/e2e/test_fault_relay.py, with a failover for fault).
"""

from __future__ import annotations

import asyncio
import datetime
import time
from typing import Dict, Iterator, List
from urllib.parse import urlencode

import pytest

from stack.balanced import BalancedStack
from stack.services import Stack
from tests.conftest import PASSWORD
from tests.e2e.conftest import AgentClient, Customer, _a_stack, create_account, tracker_with
from tests.e2e.test_fault_relay import (
    AGENTS as RELAY_AGENTS,
)
from tests.e2e.test_fault_relay import (
    CONVERSATIONS,
    Pair,
    _resends,
    kill_mid_burst,
    relay_with_a_fault,
    say,
)
from tests.redis_sentinel import SentinelGroup

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]


@pytest.fixture(scope="module")
def group(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SentinelGroup]:
    started = SentinelGroup(tmp_path_factory.mktemp("sentinel-group")).start()
    try:
        yield started
    finally:
        started.stop()


@pytest.fixture(scope="module")
def sentinel_stack(tmp_path_factory, graph, mailbox, group) -> Iterator[Stack]:
    yield from _a_stack(tmp_path_factory, graph, mailbox, "sentinel", redis_url=group.url,
                        rasa=2, handoff=2)


async def test_the_whole_path_on_a_sentinel_group(sentinel_stack):
    await the_whole_path(sentinel_stack)


async def the_whole_path(stack: Stack) -> None:
    """Bot, handoff, claim, relay both ways, hand-back, a second handoff closed, the survey;
    on 2 Rasa processes and 2 handoff services behind HAProxy, each of which served."""
    assert isinstance(stack, BalancedStack)
    marie, paul = AgentClient(stack.handoff_url), AgentClient(stack.handoff_url)
    customer, other = Customer(stack.chat_url), Customer(stack.chat_url)
    try:
        # Round robin: two customers' sockets, two Rasa processes.
        await other.connect()
        await other.say("hello")
        await other.reply()
        for agent, name in ((marie, "marie"), (paul, "paul")):
            await agent.login(name, PASSWORD)
            await agent.connect_ws()
            assert (await agent.post("/api/me/presence", {"status": "online"}))[0] == 200
        await customer.connect()
        cid = customer.session_id

        # The bot answers, with an action reading the order store.
        await customer.say("where is my order 10234?")
        await customer.reply(lambda m: "10234" in m.get("text", ""))

        # Handoff: the ticket reaches the consoles of both services.
        await customer.say("I want to talk to a human")
        queued = await customer.reply()
        assert "in the queue" in queued["text"], queued
        for agent in (marie, paul):
            await agent.frame(lambda f: f["type"] == "ticket.queued"
                              and f["ticket"]["conversation_id"] == cid)

        # Paul claims; Marie is refused (each request to either service).
        status, body = await paul.post(f"/api/conversations/{cid}/claim", {})
        assert status == 200, body
        status, body = await marie.post(f"/api/conversations/{cid}/claim", {})
        assert status == 409 and body["error"]["code"] == "already_claimed"
        await customer.reply(lambda m: m.get("notice") == "agent_joined")

        # Relay both ways.
        for n in range(3):
            await customer.say(f"customer line {n}")
            await paul.frame(lambda f, n=n: f["type"] == "message"
                             and f["turn"].get("text") == f"customer line {n}")
            status, _ = await paul.post(f"/api/conversations/{cid}/messages",
                                        {"text": f"agent line {n}"})
            assert status == 202
            got = await customer.reply(lambda m, n=n: m.get("text") == f"agent line {n}")
            assert got["agent"] == "Paul"
        assert [m["text"] for m in customer.history if m.get("agent")
                and not m.get("notice")] == [f"agent line {n}" for n in range(3)]

        # Hand-back: the bot answers again.
        status, body = await paul.post(f"/api/conversations/{cid}/handback",
                                       {"flow": "anything_else"})
        assert status == 200 and body["conversation"]["state"] == "bot", body
        await customer.reply(lambda m: not m.get("agent"))
        await customer.say("what is the status of my order?")
        await customer.reply(lambda m: "10234" in m.get("text", "") and not m.get("agent"))

        # A second handoff, closed by Marie: the survey follows.
        await customer.say("I want to talk to a human")
        await customer.reply()
        status, body = await marie.post(f"/api/conversations/{cid}/claim", {})
        assert status == 200, body
        status, _ = await marie.post(f"/api/conversations/{cid}/close", {})
        assert status == 200
        await customer.reply(lambda m: m.get("notice") == "closed")
        survey = await customer.reply(lambda m: bool(m.get("quick_replies")))
        assert survey["text"].startswith("Before you go: how satisfied are you")

        # The one record: every turn in Rasa's tracker, once, in order.
        events = await tracker_with(stack, cid, lambda events: sum(
            1 for e in events if (e.get("metadata") or {}).get("handoff_agent")) >= 3)
        assert [e["text"] for e in events if e["event"] == "user"
                and e["text"].startswith("customer line")] == [f"customer line {n}"
                                                               for n in range(3)]
        assert [e["text"] for e in events if e["event"] == "bot"
                and (e.get("metadata") or {}).get("handoff_agent")] == [f"agent line {n}"
                                                                        for n in range(3)]
        # Both Rasa processes served sockets; both services served requests.
        served = stack.sessions()
        assert all(served[f"rasa/rasa{n}"] > 0 for n in (1, 2)), served
        assert all(served[f"handoff/handoff{n}"] > 0 for n in (1, 2)), served
    finally:
        for client in (customer, other, marie, paul):
            await client.close()


@pytest.fixture(scope="module")
def relay_accounts(sentinel_stack: Stack) -> Stack:
    return with_relay_agents(sentinel_stack)


def with_relay_agents(stack: Stack) -> Stack:
    """`stack`, with the relay case's ten agents (`test_fault_relay.relay_with_a_fault`)."""
    for n in range(RELAY_AGENTS):
        create_account(stack, f"relay{n}", f"Relay {n}", PASSWORD,
                       teams="orders,billing", max_conversations=CONVERSATIONS // RELAY_AGENTS)
    return stack


async def test_a_failover_mid_relay_loses_and_repeats_nothing(relay_accounts, group):
    """kill -9 of the primary in the middle of a relay of 50 conversations: the sentinels
    promote a replica, every process finds it, and every accepted message reaches the other
    side once, in order, and the tracker once, in order (`relay_with_a_fault` checks)."""
    stack = relay_accounts
    started = time.time()
    killed: Dict[str, int] = {}

    async def fail_over(stack: Stack, pairs: List[Pair], agents: List[AgentClient]) -> None:
        burst = await kill_mid_burst(stack, pairs, "the Redis primary",
                                     kill=lambda: killed.setdefault("port", group.kill_primary()))
        promoted = await asyncio.to_thread(group.wait_for_failover, killed["port"])
        await asyncio.gather(*burst)
        say(f"failover from {killed['port']} to {promoted}: {_resends(pairs)}")

    try:
        await relay_with_a_fault(stack, fail_over)
        await the_dashboard_and_the_miner_read(stack, started)
    finally:
        if "port" in killed:  # back as a replica of the new primary (the sentinels see to it)
            group.restart(killed["port"])


async def the_dashboard_and_the_miner_read(stack: Stack, started: float) -> None:
    """After a failover: the dashboard counts the relay's handoffs, and the miner finishes."""
    sam = AgentClient(stack.handoff_url)
    try:
        await sam.login("sam", PASSWORD)
        status, found = await sam.get("/api/dashboard?" + urlencode({
            "from": _iso(started), "to": _iso(time.time() + 1)}))
        assert status == 200, found
        assert found["handoffs"]["total"] >= CONVERSATIONS
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 240
        while True:
            status, body = await sam.get("/api/miner/groups?language=en")
            assert status in (200, 202), body
            if status == 200:
                break
            assert loop.time() < deadline, "the miner never finished"
            await asyncio.sleep(1)
    finally:
        await sam.close()


def _iso(at: float) -> str:
    return datetime.datetime.fromtimestamp(at, datetime.timezone.utc).isoformat()
