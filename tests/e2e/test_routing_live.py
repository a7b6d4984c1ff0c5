"""Routing with every real process (issue 6): a second handoff service, with automatic
assignment on and a short disconnect grace, gives a conversation about an order to the one
available agent of the orders team who speaks the customer's language; when that agent's console
disappears, the conversation goes back to the front of the queue, with a note, and the customer
is told.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from typing import Iterator

import pytest
from redis.asyncio import Redis

from handoff.conversation import FRONT
from handoff.keys import Keys
from stack.model import ROOT
from stack.services import free_port
from tests.conftest import PASSWORD
from tests.e2e.conftest import AgentClient, rasa_tracker

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

GRACE = 8  # seconds without a console before an agent's conversations are requeued


@pytest.fixture
def live_routing(stack) -> Iterator[str]:
    try:
        yield stack.add_handoff("handoff-routing", free_port(), {
            "HANDOFF_AUTO_ASSIGN": "1", "HANDOFF_DISCONNECT_GRACE": str(GRACE)})
    finally:
        stack.stop_process("handoff-routing")


def _account(stack, username: str, teams: str, languages: str) -> None:
    subprocess.run([sys.executable, "-m", "handoff.accounts", "create", username, "--name",
                    username.capitalize(), "--teams", teams, "--languages", languages],
                   cwd=ROOT, check=True, timeout=60, stdout=subprocess.DEVNULL,
                   env={**stack.env(), "HANDOFF_NEW_PASSWORD": PASSWORD})


async def test_auto_assignment_then_requeue_when_the_agent_disappears(
        stack, live_routing, customer_factory, agents):
    _account(stack, "nora", "orders", "fr")     # orders, but French only
    _account(stack, "owen", "orders", "en")     # orders, English: the one for this customer
    _account(stack, "bill", "billing", "en")    # English, but billing
    consoles = {}
    # Marie and Paul (orders, speak English) are away: they get no new conversations.
    for name in ("marie", "paul"):
        status, _ = await agents[name].post("/api/me/presence", {"status": "away"})
        assert status == 200
    try:
        for name in ("nora", "owen", "bill"):
            consoles[name] = AgentClient(stack.handoff_url)
            await consoles[name].login(name, PASSWORD)
            await consoles[name].connect_ws()
            status, _ = await consoles[name].post("/api/me/presence", {"status": "online"})
            assert status == 200
        owen = consoles["owen"]

        customer = await customer_factory()
        cid = customer.session_id
        await customer.say("where is my order 10234?")
        await customer.reply()
        await customer.say("I want to talk to a person")
        await customer.reply()
        joined = await customer.reply(lambda m: m.get("notice") == "agent_joined", timeout=30)
        assert joined["text"].startswith("Owen from our team")
        frame = await owen.frame(lambda f: f["type"] == "conversation.state"
                                 and f["conversation_id"] == cid and f["state"] == "assigned")
        assert frame["agent"] == "owen" and frame["team"] == "orders"
        for name in ("nora", "bill"):
            status, body = await consoles[name].get("/api/conversations")
            assert cid not in [c["id"] for c in body["conversations"]]

        # Owen's console goes away (network, closed laptop): after the grace time the
        # conversation is back at the front of the queue, and the customer is told.
        await owen.close()
        told = await customer.reply(lambda m: m.get("notice") == "requeued",
                                    timeout=GRACE + 30)
        assert "Owen" in told["text"] and "front of the queue" in told["text"]
        sam = agents["sam"]
        status, body = await sam.get(f"/api/conversations/{cid}")
        assert body["conversation"]["state"] == "queued"
        assert body["conversation"]["team"] == "orders"
        assert "no console" in body["conversation"]["notes"][-1]["text"]
        # At the front: its place now is ahead of any ticket not itself put first (the queue is
        # shared with other tests' leftovers, so compare scores, not positions).
        redis = Redis.from_url(stack.env()["REDIS_URL"], decode_responses=True)
        try:
            score = await redis.zscore(Keys().queue, cid)
        finally:
            await redis.close(close_connection_pool=True)
        created = body["conversation"]["ticket"]["created_at"]
        assert score <= created - FRONT
        # Nobody else who may take it is available: it waits, and nothing was lost.
        await asyncio.sleep(3)
        status, body = await sam.get(f"/api/conversations/{cid}")
        assert body["conversation"]["state"] == "queued"
        tracker = await rasa_tracker(stack, cid)
        assert tracker["paused"] is True  # the bot stays out of it while it waits
        status, _ = await sam.post(f"/api/conversations/{cid}/claim", {})
        assert status == 200
        status, _ = await sam.post(f"/api/conversations/{cid}/close", {})
        assert status == 200
    finally:
        for console in consoles.values():
            await console.close()
        for name in ("marie", "paul"):  # as other tests expect them
            await agents[name].post("/api/me/presence", {"status": "online"})


@pytest.fixture
def quick_abandonment(stack) -> Iterator[str]:
    try:
        yield stack.add_handoff("handoff-abandon", free_port(), {
            "HANDOFF_AUTO_ASSIGN": "0", "HANDOFF_ABANDON_AFTER": "4"})
    finally:
        stack.stop_process("handoff-abandon")


async def test_a_customer_who_leaves_the_queue_is_counted_and_the_bot_resumes(
        stack, quick_abandonment, agents):
    from tests.e2e.conftest import Customer

    redis = Redis.from_url(stack.env()["REDIS_URL"], decode_responses=True)
    before = int(await redis.hget(Keys().stats, "abandoned") or 0)
    customer = Customer(stack.rasa_url)
    await customer.connect()
    token, cid = customer.token, customer.session_id
    await customer.say("I want to talk to a human")
    await customer.reply()
    await customer.close()  # the customer leaves
    try:
        for _ in range(60):
            if (await redis.hget(Keys().conversation(cid), "state")) == "closed":
                break
            await asyncio.sleep(0.5)
        fields = await redis.hgetall(Keys().conversation(cid))
        assert (fields["state"], fields["resolution"]) == ("closed", "abandoned")
        assert int(await redis.hget(Keys().stats, "abandoned")) == before + 1
        status, body = await agents["sam"].get("/api/queue")
        assert cid not in [t["conversation_id"] for t in body["tickets"]]
        # Coming back later, the customer is answered by the bot again.
        back = Customer(stack.rasa_url)
        try:
            await back.connect(token=token)
            await back.say("what are your opening hours?")
            await back.reply(lambda m: "Monday to Friday" in m.get("text", ""))
        finally:
            await back.close()
    finally:
        await redis.close(close_connection_pool=True)


async def test_an_open_page_is_seen_when_it_opens_and_at_every_heartbeat(stack):
    from bot.web import CUSTOMER_HEARTBEAT
    from tests.e2e.conftest import Customer

    redis = Redis.from_url(stack.env()["REDIS_URL"], decode_responses=True)
    first, second = Customer(stack.rasa_url), Customer(stack.rasa_url)
    try:
        await first.connect()
        await second.connect()
        seen = await redis.hmget(Keys().customers_seen, [first.session_id, second.session_id])
        assert all(seen), seen  # each written as its page opened, not at the next heartbeat
        for _ in range(int(CUSTOMER_HEARTBEAT * 4)):
            await asyncio.sleep(0.5)
            later = await redis.hmget(Keys().customers_seen,
                                      [first.session_id, second.session_id])
            if all(float(b) > float(a) for a, b in zip(seen, later, strict=True)):
                break
        # The heartbeat writes both again while their pages stay open.
        assert all(float(b) > float(a) for a, b in zip(seen, later, strict=True)), (seen, later)
    finally:
        await first.close()
        await second.close()
        await redis.close(close_connection_pool=True)
