"""Rasa's `tracker_writes` door (issue 13): turns of the human segment are written into the
tracker once each, however many writers send them at once, in order, with the agent named; an
NLU result given later is kept with its customer turn; nobody without the token writes."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest

from handoff.rasa_api import RasaClient, RasaUnavailable
from handoff.relay.turns import agent_event, customer_event
from tests.e2e.conftest import rasa_tracker, with_an_agent

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]


async def test_concurrent_writers_append_each_turn_once(stack, agents, customer_factory):
    customer = await customer_factory()
    await with_an_agent(customer, agents["marie"])
    cid = customer.session_id
    turns = [customer_event("door test: first", "door-c1", "socketio"),
             agent_event("door test: answer", "marie", "Marie", "door-a1", None),
             customer_event("door test: second", "door-c2", "socketio")]
    batch = [{"conversation_id": cid, "events": turns, "parse": {}}]
    async with aiohttp.ClientSession() as http:
        rasa = RasaClient(http, stack.rasa_url, stack.rasa_token)
        answers = await asyncio.gather(*(rasa.write_turns(batch) for _ in range(5)))
        assert sorted(a["written"][cid] for a in answers) == [0, 0, 0, 0, 3]
        parsed = await rasa.parse("where is my order 12345?")
        assert parsed["intent"]["name"]
        await rasa.write_turns([{"conversation_id": cid, "events": [],
                                 "parse": {"door-c2": parsed}}])
        with pytest.raises(RasaUnavailable) as refused:
            await RasaClient(http, stack.rasa_url, "not-the-token").write_turns(batch)
        assert refused.value.status == 401
        with pytest.raises(RasaUnavailable) as bad:
            await rasa.write_turns([{"conversation_id": cid, "events": "not a list"}])
        assert bad.value.status == 400
    events = (await rasa_tracker(stack, cid))["events"]
    door = [e for e in events if "door test" in (e.get("text") or "")]
    assert [e["text"] for e in door] == ["door test: first", "door test: answer",
                                         "door test: second"]
    assert door[1]["metadata"]["handoff_agent"] == "marie"
    assert door[2]["parse_data"]["intent"]["name"] == parsed["intent"]["name"]
    stamps = [e["timestamp"] for e in events]
    assert stamps == sorted(stamps)  # Rasa merges saved trackers by time
