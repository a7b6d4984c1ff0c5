"""Floods from one client are refused with a clear error, and nobody else is affected (issue 7:
bad input at every door)."""

from __future__ import annotations

import asyncio
import subprocess
import sys

import pytest

from handoff.ratelimit import AGENT_API, CHAT_MESSAGES
from stack.model import ROOT
from tests.e2e.conftest import AgentClient, MessengerCustomer, rasa_tracker

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]


async def test_an_agent_api_flood_gets_429_and_others_carry_on(stack, agents):
    subprocess.run([sys.executable, "-m", "handoff.accounts", "create", "flood", "--name",
                    "Flood"], cwd=ROOT, check=True, timeout=60, stdout=subprocess.DEVNULL,
                   env={**stack.env(), "HANDOFF_NEW_PASSWORD": "flood-pass"})
    flood = AgentClient(stack.handoff_url)
    try:
        await flood.login("flood", "flood-pass")
        # Twice the limit (a window boundary may split the burst, never more than that).
        answers = await asyncio.gather(*[flood.http.get(f"{stack.handoff_url}/api/queue",
                                                        headers={"Accept-Language": "fr"})
                                         for _ in range(2 * AGENT_API.limit + 10)])
        refused = [a for a in answers if a.status == 429]
        assert refused, [a.status for a in answers]
        body = await refused[0].json()
        assert body["error"]["code"] == "too_many_requests"
        assert body["error"]["message"].startswith("Trop de requêtes")
        assert int(refused[0].headers["Retry-After"]) >= 1
        for answer in answers:
            answer.release()
        status, _ = await agents["marie"].get("/api/queue")  # another agent: unaffected
        assert status == 200
    finally:
        await flood.close()


async def test_a_chat_flood_is_refused_and_nothing_accepted_is_lost(stack, customer_factory):
    flooder, other = await customer_factory(), await customer_factory()
    sent = 2 * CHAT_MESSAGES.limit + 10
    acks = await asyncio.gather(*[flooder.say(f"hello {n}") for n in range(sent)])
    accepted = [a for a in acks if a["ok"]]
    refused = [a for a in acks if not a["ok"]]
    assert refused and all(a["error"] == "rate_limited" and a["retry_after"] >= 1
                           for a in refused)
    assert len(accepted) <= 2 * CHAT_MESSAGES.limit
    # Every accepted message is in the conversation, and none of the refused ones.
    texts = [e["text"] for e in (await rasa_tracker(stack, flooder.session_id))["events"]
             if e["event"] == "user"]
    assert len(texts) == len(accepted)
    # Another customer meanwhile: answered as usual.
    assert (await other.say("what are your opening hours?"))["ok"] is True
    await other.reply(lambda m: "Monday to Friday" in m.get("text", ""))


async def test_invalid_utf8_is_refused_at_the_doors(stack, agents, graph):
    status, body = await agents["marie"].post("/api/login", None,
                                              raw=b'{"username": "\xff\xfe", "password": "x"}')
    assert status == 400 and body["error"]["code"] == "bad_json"
    messenger = MessengerCustomer(stack, "9990001112223334")
    assert await messenger.post(raw=b'{"object": "page", "entry": [\xff]}') == 400
    assert graph.calls(messenger.psid) == []
    status, _ = await agents["marie"].get("/api/me")  # nothing else affected
    assert status == 200
