"""Rasa's `agent_messages` door: an agent message is appended and sent once, however many
attempts to deliver it reach Rasa, even all at once (a retry after a timeout while the first
attempt still waits for the conversation's lock)."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest

from handoff.rasa_api import RasaClient, RasaUnavailable
from handoff.transcript import agent_metadata
from tests.e2e.conftest import rasa_tracker, with_an_agent

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]


async def test_concurrent_attempts_deliver_an_agent_message_once(stack, agents, customer_factory):
    customer = await customer_factory()
    await with_an_agent(customer, agents["marie"])
    cid = customer.session_id
    event = {"event": "bot", "text": "Sent once, whatever happens",
             "metadata": agent_metadata("marie", "Marie", "msg-once-1", None)}
    async with aiohttp.ClientSession() as http:
        rasa = RasaClient(http, stack.rasa_url, stack.rasa_token)
        answers = await asyncio.gather(*(rasa.deliver(cid, "msg-once-1", [event], send=True)
                                         for _ in range(5)))
        assert sorted(a["delivered"] for a in answers) == ["before"] * 4 + ["now"]
        with pytest.raises(RasaUnavailable) as refused:
            await RasaClient(http, stack.rasa_url, "not-the-token").deliver(
                cid, "msg-once-2", [event], send=True)
        assert refused.value.status == 401
    got = await customer.reply(lambda m: m.get("text") == "Sent once, whatever happens")
    assert got["agent"] == "Marie"
    events = (await rasa_tracker(stack, cid))["events"]
    assert [e["text"] for e in events if (e.get("metadata") or {}).get("handoff_agent")] == \
        ["Sent once, whatever happens"]
    await asyncio.sleep(0.5)
    assert [m["text"] for m in customer.history].count("Sent once, whatever happens") == 1
