"""The queue against a real Redis (issue 6): priority order, fairness, concurrent assignment by
two processes, abandonment."""

from __future__ import annotations

import asyncio
import json
import sys
import time

import aiohttp
import pytest

from handoff.accounts import AccountStore
from handoff.announce import Announcer
from handoff.conversation import State
from handoff.presence import Presence, Requeuer
from handoff.rasa_api import RasaClient
from handoff.relay.giveback import GiveBack
from handoff.relay.tracker import TrackerWriter
from handoff.routing import HEAD_START
from handoff.service.jobs.abandonment import Abandonment
from handoff.service.jobs.workers import Relay
from handoff.ticket import Reason, build_ticket
from stack.model import ROOT
from stack.services import free_port
from tests import events as ev
from tests.conftest import PASSWORD

pytestmark = pytest.mark.integration


def _ticket(cid: str, now: float, urgent: bool = False, channel: str = "socketio"):
    intent = "complaint" if urgent else "request_human"
    events = [ev.user("help", intent, ts=now, channel=channel)]
    earlier = [{"created_at": now - 60}] if urgent else None
    return build_ticket(cid, events, {"language": "en"}, events[-1]["parse_data"],
                        Reason.COMPLAINT if urgent else Reason.ASKED, now=now, vip=urgent,
                        earlier_conversations=earlier)


async def test_priority_order_then_arrival(store):
    await store.enqueue(_ticket("old-normal", 1000.0))
    await store.enqueue(_ticket("new-urgent", 1100.0, urgent=True))   # 3 steps ahead
    await store.enqueue(_ticket("newer-normal", 1101.0))
    await store.enqueue(_ticket("much-newer-urgent", 1101.0 + 3 * HEAD_START + 60, urgent=True))
    assert await store.queued_ids() == ["new-urgent", "old-normal", "newer-normal",
                                        "much-newer-urgent"]


async def test_nobody_starves_under_a_steady_stream_of_urgent_tickets(store):
    # A normal ticket, then an urgent one every 10 s, and an agent taking the first in line
    # every 10 s: the queue never empties of urgent tickets, yet the normal one gets its turn.
    await store.enqueue(_ticket("normal", 0.0))
    served_at = None
    for step in range(1, 200):
        now = step * 10.0
        await store.enqueue(_ticket(f"urgent-{step}", now, urgent=True))
        head = (await store.queued_ids())[0]
        await store.claim(head, "agent", "Agent")
        if head == "normal":
            served_at = now
            break
    assert served_at is not None
    assert served_at <= 3 * HEAD_START + 10  # the head start is bounded, so is the wait


async def test_two_assigner_processes_assign_each_ticket_once(store, redis, keys, redis_server):
    accounts = AccountStore(redis, keys)
    agents = [f"agent{i}" for i in range(6)]
    for name in agents:
        await accounts.create(name, name, PASSWORD, max_conversations=5, teams=["orders"],
                              languages=["en"])
        await redis.set(keys.presence(name), "online")
    await Presence(redis, keys).beat(agents, time.time())
    cids = [f"c{i:02d}" for i in range(60)]
    for i, cid in enumerate(cids):
        await store.enqueue(_ticket(cid, 1000.0 + i), team="orders")

    command = [sys.executable, "-m", "tests.integration.assigner_process", redis_server.url,
               keys.prefix, "4"]
    runs = [await asyncio.create_subprocess_exec(*command, cwd=ROOT,
                                                 stdout=asyncio.subprocess.PIPE)
            for _ in range(2)]
    outputs = await asyncio.wait_for(asyncio.gather(*[r.communicate() for r in runs]), 60)
    assert [r.returncode for r in runs] == [0, 0]
    reported = sum(int(out.decode().strip().splitlines()[-1]) for out, _ in outputs)

    held = {name: await store.agent_conversation_ids(name) for name in agents}
    assigned = [cid for ids in held.values() for cid in ids]
    queued = await store.queued_ids()
    assert all(len(ids) == 5 for ids in held.values())          # full, never over the limit
    assert len(assigned) == len(set(assigned)) == 30 == reported  # each ticket once
    assert sorted(assigned + queued) == cids                       # none lost
    for name, ids in held.items():
        for cid in ids:
            record = await store.get(cid)
            assert (record.state, record.agent) == (State.ASSIGNED, name)
    assert queued == cids[30:]  # assigned in queue order


async def test_customers_who_leave_are_counted_out_of_the_queue(store, redis, keys):
    now = time.time()
    await store.enqueue(_ticket("gone", now - 1000))
    await store.enqueue(_ticket("still-here", now - 1000))
    await store.enqueue(_ticket("on-messenger", now - 1000, channel="messenger"))
    await redis.hset(keys.customers_seen, mapping={"gone": str(now - 400),
                                                   "still-here": str(now - 5)})
    async with aiohttp.ClientSession() as http:
        # No Rasa here: the resume is left to finish later; e2e tests cover it with Rasa.
        rasa = RasaClient(http, f"http://127.0.0.1:{free_port()}", "unused")
        giveback = GiveBack(redis, keys, store, rasa, TrackerWriter(redis, keys, rasa))
        closed = await Abandonment(redis, keys, store, giveback, after=300,
                                   clock=lambda: now).tick()
    assert closed == 1
    # Rasa was away: the give-back waits to be finished, and holds the customer's messages.
    assert await redis.zrange(keys.givebacks, 0, -1) == ["gone"]
    assert await redis.hget(keys.conversation("gone"), "resume_pending") == "1"
    assert (await store.get("gone")).state is State.CLOSED
    assert sorted(await store.queued_ids()) == ["on-messenger", "still-here"]
    assert await redis.hget(keys.stats, "abandoned") == "1"
    assert await redis.hget(keys.conversation("gone"), "resolution") == "abandoned"


async def test_contact_details_a_waiting_customer_leaves_are_kept(store, redis, keys):
    await store.enqueue(_ticket("waiting", time.time()))
    event = ev.user("you can write to jo@example.com or call +33 6 12 34 56 78", "inform",
                    [{"entity": "email", "value": "jo@example.com"},
                     {"entity": "phone", "value": "+33 6 12 34 56 78"}], ts=time.time())
    await Relay(redis, keys, store).handle("1-0", {"event": json.dumps(
        {**event, "sender_id": "waiting"})})
    assert await redis.hgetall(keys.contact("waiting")) == {"email": "jo@example.com",
                                                             "phone": "+33 6 12 34 56 78"}
    # A conversation with the bot is not relayed, and nothing is kept for it.
    await Relay(redis, keys, store).handle("2-0", {"event": json.dumps(
        {**event, "sender_id": "with-the-bot"})})
    assert await redis.hgetall(keys.contact("with-the-bot")) == {}


async def test_only_agents_whose_console_went_away_lose_their_conversations(store, redis, keys):
    accounts = AccountStore(redis, keys)
    now = time.time()
    for name in ("gone", "here", "api_only"):
        await accounts.create(name, name.capitalize(), PASSWORD)
        await store.enqueue(_ticket(f"held-by-{name}", now - 100))
        await store.claim(f"held-by-{name}", name, name.capitalize())
    await store.enqueue(_ticket("older-waiting", now - 1000))
    presence = Presence(redis, keys, grace=60)
    await presence.beat(["gone"], now - 600)
    await presence.beat(["here"], now - 10)
    async with aiohttp.ClientSession() as http:
        rasa = RasaClient(http, f"http://127.0.0.1:{free_port()}", "unused")  # notices: logged
        moved = await Requeuer(presence, accounts, store, Announcer(redis, keys, store, rasa),
                               redis, keys, lambda: now).tick()
    assert moved == 1
    assert (await store.get("held-by-gone")).state is State.QUEUED
    assert await store.queued_ids() == ["held-by-gone", "older-waiting"]  # at the front
    assert (await store.get("held-by-here")).agent == "here"
    assert (await store.get("held-by-api_only")).agent == "api_only"
    notes = await redis.lrange(keys.notes("held-by-gone"), 0, -1)
    assert "no console" in json.loads(notes[-1])["text"]
