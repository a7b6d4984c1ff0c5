"""Two Rasa processes serve the web channel (issue 5): a message emitted by either reaches a
browser connected to the other (the bot's through python-socketio's Redis manager, the live
path's through the `customer-out` stream every process reads), and a session issued by one is
honoured by the other (the same signing secret, trackers in Redis).
"""

from __future__ import annotations

from typing import Iterator

import aiohttp
import pytest

from stack.services import free_port
from tests.e2e.conftest import Customer, tracker_with, with_an_agent

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(420)]


@pytest.fixture
def second_rasa(stack) -> Iterator[str]:
    try:
        yield stack.add_rasa("rasa-second", free_port())
    finally:
        stack.stop_process("rasa-second")


async def test_emits_from_either_process_reach_the_customer(stack, agents, second_rasa):
    marie = agents["marie"]
    customer = Customer(stack.rasa_url)  # connected to the first Rasa process
    await customer.connect()
    try:
        await with_an_agent(customer, marie)
        cid = customer.session_id

        # A bot message sent through the second process's API reaches the socket on the first.
        event = {"event": "bot", "text": "Sent by the second Rasa process"}
        async with aiohttp.ClientSession() as http:
            async with http.post(f"{second_rasa}/conversations/{cid}/tracker/events",
                                 params={"token": stack.rasa_token, "output_channel": "latest",
                                         "execute_side_effects": "true"},
                                 json=[event]) as resp:
                assert resp.status == 200, await resp.text()
        got = await customer.reply(lambda m: m.get("text") == "Sent by the second Rasa process")
        assert got["id"]  # journaled: a page that reconnects gets it again

        # The same customer, reconnecting to the second process with their token, is in the
        # same conversation, and what they write there reaches the agent.
        other_tab = Customer(second_rasa)
        try:
            await other_tab.connect(token=customer.token, last_seen=got["id"])
            assert other_tab.session_id == cid
            await marie.connect_ws()
            ack = await other_tab.say("Writing from the other server")
            assert ack["ok"] is True
            await marie.frame(lambda f: f["type"] == "message" and f["conversation_id"] == cid
                              and f["turn"].get("text") == "Writing from the other server")
            tracker = await tracker_with(stack, cid, lambda events: any(
                e.get("text") == "Writing from the other server" for e in events))
            assert [e for e in tracker if e.get("text") == "Writing from the other server"][0][
                "event"] == "user"
            # An agent message delivered by the handoff service (through the live path) reaches
            # both sockets, each once, with the agent's name.
            status, _ = await marie.post(f"/api/conversations/{cid}/messages",
                                         {"text": "Both of your tabs see this"})
            assert status == 202
            for tab in (customer, other_tab):
                got = await tab.reply(lambda m: m.get("text") == "Both of your tabs see this")
                assert got["agent"] == "Marie"
            assert [m.get("text") for m in customer.history].count(
                "Both of your tabs see this") == 1
        finally:
            await other_tab.close()
        status, _ = await marie.post(f"/api/conversations/{cid}/close", {})
        assert status == 200
    finally:
        await customer.close()
