"""The live path's Redis side (issue 13): the channels' one decision, and the consoles' relay."""

from __future__ import annotations

import asyncio
import json
import time

import aiohttp
import pytest

from handoff.conversation import State
from handoff.rasa_api import RasaClient, RasaUnavailable
from handoff.relay.consoles import ConsoleRelay
from handoff.journal import Journal
from handoff.relay.inbound import TAKEN_BEFORE, TO_AGENT, TO_BOT, Inbound
from handoff.relay.tracker import BOUNDARY, TrackerWriter, append_turns, segment_events
from handoff.ticket import Reason, build_ticket
from stack.services import free_port
from tests import events as ev

pytestmark = pytest.mark.integration


async def _queued(store, cid: str) -> None:
    events = [ev.user("a person please", "request_human", ts=time.time())]
    await store.enqueue(build_ticket(cid, events, {"language": "en"}, events[-1]["parse_data"],
                                     Reason.ASKED))


async def test_a_conversation_with_the_bot_is_left_to_rasa(redis, keys):
    assert not await Inbound(redis, keys).take("c1", "hello", "m1", "socketio")
    assert await redis.exists(keys.segment("c1"), keys.relay_stream, keys.tracker_pending,
                              keys.last_customer_turn("c1")) == 0


@pytest.mark.parametrize("state", [State.QUEUED, State.ASSIGNED, State.TRANSFERRED])
async def test_a_conversation_a_person_owns_takes_the_live_path(redis, keys, store, state):
    await _queued(store, "c1")
    if state != State.QUEUED:
        await store.claim("c1", "marie", "Marie")
    if state == State.TRANSFERRED:
        await store.transfer("c1", "marie", "paul", "Paul")
    taken = await Inbound(redis, keys).take("c1", "my order 12345?", "m1", "socketio",
                                            {"attachment": {"type": "image", "url": "u"}})
    assert taken
    (event,) = await segment_events(redis, keys, "c1")
    assert event["event"] == "user" and event["text"] == "my order 12345?"
    assert event["message_id"] == "m1" and event["input_channel"] == "socketio"
    assert event["metadata"] == {"attachment": {"type": "image", "url": "u"}}
    assert event["parse_data"]["intent"]["name"] is None  # no NLU on the way
    (_, fields), = await redis.xrange(keys.relay_stream)
    assert fields["conversation_id"] == "c1" and json.loads(fields["event"]) == event
    assert await redis.zscore(keys.tracker_pending, "c1") is not None
    last = await redis.hgetall(keys.last_customer_turn("c1"))
    assert json.loads(last["event"])["message_id"] == "m1" and last["answered"] == "0"
    assert last["held"] == "0"  # the agent's, not held for the bot


async def test_messages_during_a_give_back_are_held_not_relayed(redis, keys, store):
    await _queued(store, "c1")
    await store.transition("c1", State.BOT, fields={"resume_pending": "1"})
    assert await Inbound(redis, keys).take("c1", "still there?", "m1", "socketio")
    assert [e["text"] for e in await segment_events(redis, keys, "c1")] == ["still there?"]
    assert await redis.xlen(keys.relay_stream) == 0  # nobody to show it to: the bot answers it
    await redis.hdel(keys.conversation("c1"), "resume_pending")
    assert not await Inbound(redis, keys).take("c1", "and now?", "m2", "socketio")


async def test_a_web_message_cut_before_its_take_is_taken_by_its_resend_once(redis, keys, store):
    # The web channel marked the id (first attempt), then its Rasa process died before the
    # take: the page sends it again, same id.
    await _queued(store, "c1")
    inbound = Inbound(redis, keys)
    assert await Journal(redis, keys).first_time("c1", "m1")
    assert await inbound.take_once("c1", "hello?", "m1", "socketio", again=True) == TO_AGENT
    assert await inbound.take_once("c1", "hello?", "m1", "socketio", again=True) == TAKEN_BEFORE
    # A first attempt still on its way (the process did not die) finds it taken.
    assert await inbound.take_once("c1", "hello?", "m1", "socketio") == TAKEN_BEFORE
    assert [e["message_id"] for e in await segment_events(redis, keys, "c1")] == ["m1"]
    assert await redis.xlen(keys.relay_stream) == 1


async def test_a_web_message_the_bot_had_is_not_relayed_by_a_resend_after_a_claim(
        redis, keys, store):
    inbound = Inbound(redis, keys)
    assert await inbound.take_once("c1", "hello", "m1", "socketio") == TO_BOT
    await _queued(store, "c1")
    assert await inbound.take_once("c1", "hello", "m1", "socketio", again=True) == TAKEN_BEFORE
    assert await redis.exists(keys.segment("c1"), keys.relay_stream) == 0
    # A resend on the bot's way records nothing: the attempt under way decides.
    assert await inbound.take_once("c2", "hi", "m2", "socketio", again=True) == TO_BOT
    assert await inbound.take_once("c2", "hi", "m2", "socketio") == TO_BOT


async def test_each_message_goes_one_way_around_a_claim_and_a_hand_back(redis, keys, store):
    # Messages race with the transitions: each is taken (live path) exactly when the state it
    # met was a person's, as the order of the segment and the transitions' times show.
    await _queued(store, "c1")
    inbound = Inbound(redis, keys)

    async def messages() -> list:
        results = []
        for n in range(60):
            results.append((n, await inbound.take("c1", f"m{n}", f"id{n}", "socketio")))
            await asyncio.sleep(0)
        return results

    async def moves() -> None:
        await asyncio.sleep(0.005)
        await store.claim("c1", "marie", "Marie")
        await asyncio.sleep(0.005)
        await store.release("c1", "marie", State.BOT)

    results, _ = await asyncio.gather(messages(), moves())
    taken = [f"m{n}" for n, went in results if went]
    assert [e["text"] for e in await segment_events(redis, keys, "c1")] == taken
    relayed = [json.loads(f["event"])["text"] for _, f in await redis.xrange(keys.relay_stream)]
    assert relayed == taken
    # One switch to the bot, never back: the decisions are a run of True then False.
    decisions = [went for _, went in results]
    assert decisions == sorted(decisions, reverse=True)
    assert decisions[0] and not decisions[-1]


async def test_consoles_get_the_turn_with_contact_and_frustration(redis, keys, store):
    await _queued(store, "c1")
    await store.claim("c1", "marie", "Marie")
    inbound = Inbound(redis, keys)
    await inbound.take("c1", "This is ridiculous, write to jo@example.com", "m1", "socketio")
    pubsub = redis.pubsub(ignore_subscribe_messages=True)
    await pubsub.subscribe(keys.push_channel)
    (entry_id, fields), = await redis.xrange(keys.relay_stream)
    await ConsoleRelay(redis, keys, store).handle(entry_id, fields)
    message = None
    for _ in range(50):
        message = await pubsub.get_message(timeout=0.1)
        if message:
            break
    await pubsub.close()
    assert message is not None
    frame = json.loads(message["data"])
    assert frame["type"] == "message" and frame["conversation_id"] == "c1"
    assert frame["audience"]["agents"] == ["marie"]
    assert frame["turn"]["id"] == "m1" and frame["turn"]["kind"] == "customer"
    assert frame["turn"]["frustration"] == ["insult"]
    assert await redis.hgetall(keys.contact("c1")) == {"email": "jo@example.com"}


async def test_an_agent_reply_marks_the_last_customer_message_answered(redis, keys, store):
    await _queued(store, "c1")
    await Inbound(redis, keys).take("c1", "hello?", "m1", "socketio")
    await append_turns(redis, keys, "c1", [{"event": "bot", "text": "hi",
                                            "metadata": {"message_id": "a1"}}], answered=True)
    assert await redis.hget(keys.last_customer_turn("c1"), "answered") == "1"
    assert [e["event"] for e in await segment_events(redis, keys, "c1")] == ["user", "bot"]


async def test_the_writer_stops_at_a_give_backs_boundary(redis, keys, store):
    # Turns held after a hand-over are written only once the bot has resumed: a writer never
    # passes the boundary (no Rasa is called: there is none here), and a turn Rasa did not take
    # stays in the segment.
    await _queued(store, "c1")
    await store.transition("c1", State.BOT, fields={"resume_pending": "1"},
                           extra=lambda pipe, _: pipe.xadd(keys.segment("c1"), {BOUNDARY: "1"}))
    assert await Inbound(redis, keys).take("c1", "held", "m1", "socketio")
    assert await redis.hget(keys.last_customer_turn("c1"), "held") == "1"
    async with aiohttp.ClientSession() as http:
        rasa = RasaClient(http, f"http://127.0.0.1:{free_port()}", "unused")
        writer = TrackerWriter(redis, keys, rasa, delay=0)
        assert await writer.flush("c1") == 0
        assert await writer.tick() == 1  # leased, nothing written past the boundary
        assert await redis.xlen(keys.segment("c1")) == 2
        await writer.drop_boundary("c1")
        with pytest.raises(RasaUnavailable):
            await writer.flush("c1")
    assert [e["text"] for e in await segment_events(redis, keys, "c1")] == ["held"]
    assert await redis.zscore(keys.tracker_pending, "c1") is not None
