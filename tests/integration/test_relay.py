"""The live path's Redis side (issue 13): the channels' one decision, and the consoles' relay."""

from __future__ import annotations

import asyncio
import json
import random
import time

import aiohttp
import pytest

from handoff.conversation import State
from handoff.journal import Journal
from handoff.keys import GROUP_DELIVERY, RASA_KEYS
from handoff.messenger_api import SendApi
from handoff.outbox import accept, enqueue_notice
from handoff.push import unbatched
from handoff.rasa_api import RasaClient, RasaUnavailable
from handoff.relay.consoles import ConsoleRelay
from handoff.relay.inbound import TAKEN_BEFORE, TO_AGENT, TO_BOT, Inbound
from handoff.relay.outbound import Delivery
from handoff.relay.tracker import BOUNDARY, TrackerWriter, append_turns, segment_events
from handoff.streams import StreamConsumer
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
    frame, = unbatched(json.loads(message["data"]))
    assert frame["type"] == "message" and frame["conversation_id"] == "c1"
    assert frame["audience"]["agents"] == ["marie"]
    assert frame["turn"]["id"] == "m1" and frame["turn"]["kind"] == "customer"
    assert frame["turn"]["frustration"] == ["insult"]
    assert await redis.hgetall(keys.contact("c1")) == {"email": "jo@example.com"}


async def _frames(pubsub) -> list:
    """Every frame published until the channel has been quiet for a while."""
    frames, quiet = [], 0
    while quiet < 3:  # None also stands for the subscription's own (ignored) message
        message = await pubsub.get_message(timeout=0.2)
        quiet = quiet + 1 if message is None else 0
        if message is not None:
            frames += unbatched(json.loads(message["data"]))
    return frames


async def test_a_read_of_the_relay_reaches_the_consoles_in_one_message(redis, keys, store):
    for cid in ("c1", "c2", "c3"):
        await _queued(store, cid)
    await store.claim("c1", "marie", "Marie")
    inbound = Inbound(redis, keys)
    for n, cid in enumerate(("c1", "c2", "c1", "c3")):
        await inbound.take(cid, f"message {n}", f"m{n}", "socketio")
    await store.transition("c3", State.BOT)  # given back before the read: the bot's again
    pubsub = redis.pubsub(ignore_subscribe_messages=True)
    await pubsub.subscribe(keys.push_channel)
    await ConsoleRelay(redis, keys, store).handle_batch(await redis.xrange(keys.relay_stream))
    frames = await _frames(pubsub)
    await pubsub.close()
    assert [(f["conversation_id"], f["turn"]["text"]) for f in frames] == [
        ("c1", "message 0"), ("c2", "message 1"), ("c1", "message 2")]
    assert frames[0]["audience"]["agents"] == ["marie"]
    assert frames[1]["audience"] == {"team": (await store.get("c2")).team} \
        if (await store.get("c2")).team else {"all": True}


async def test_a_read_of_the_outbox_is_delivered_in_order_once(redis, keys, store):
    for cid in ("c1", "c2"):
        await _queued(store, cid)
        await store.claim(cid, "marie", "Marie")
    sent = [await accept(redis, keys, "c1", "marie", "Marie", "first\n\nsecond", "k1"),
            await accept(redis, keys, "c2", "marie", "Marie", "to c2", "k2"),
            await enqueue_notice(redis, keys, "c1", "transferred", "A colleague takes over",
                                 {}, {"handoff_note": "x"}),
            await accept(redis, keys, "c1", "marie", "Marie", "third", "k3")]
    entries = await redis.xrange(keys.outbox_stream)
    pubsub = redis.pubsub(ignore_subscribe_messages=True)
    await pubsub.subscribe(keys.push_channel)
    delivery = Delivery(redis, keys, store, SendApi(""))
    await delivery.handle_batch(entries)

    out = [(f["room"], json.loads(f["data"])) for _, f in await redis.xrange(
        keys.customer_out_stream)]
    assert [(room, d["text"]) for room, d in out] == [
        ("c1", "first"), ("c1", "second"), ("c2", "to c2"), ("c1", "A colleague takes over"),
        ("c1", "third")]
    journal = {cid: [e for e, _ in await redis.xrange(keys.journal(cid))] for cid in ("c1", "c2")}
    assert [d["metadata"]["id"] for room, d in out if room == "c1"] == journal["c1"]
    assert [d["metadata"]["id"] for room, d in out if room == "c2"] == journal["c2"]
    assert await redis.hgetall(keys.delivered("c1")) == {
        sent[0].id: "sent", sent[2].id: "sent", sent[3].id: "sent"}
    segment = await segment_events(redis, keys, "c1")
    assert [(e["event"], e.get("text") or e.get("name")) for e in segment] == [
        ("bot", "first\n\nsecond"), ("slot", "handoff_note"),
        ("bot", "A colleague takes over"), ("bot", "third")]
    frames = await _frames(pubsub)
    assert [(f["conversation_id"], f["turn"]["text"]) for f in frames] == [
        ("c1", "first\n\nsecond"), ("c2", "to c2"), ("c1", "A colleague takes over"),
        ("c1", "third")]

    # Cut after journaling, before the marks: the retry journals nothing new, and the frames it
    # sends again carry the ids the page already has.
    await redis.delete(keys.delivered("c1"))
    await delivery.handle_batch(entries)
    assert [e for e, _ in await redis.xrange(keys.journal("c1"))] == journal["c1"]
    again = [json.loads(f["data"])["metadata"]["id"] for _, f in await redis.xrange(
        keys.customer_out_stream)][len(out):]
    assert again == journal["c1"]
    # Marked: a third read sends nothing.
    await delivery.handle_batch(entries)
    assert await redis.xlen(keys.customer_out_stream) == len(out) + len(journal["c1"])
    await pubsub.close()


async def test_an_agent_reply_marks_the_last_customer_message_answered(redis, keys, store):
    await _queued(store, "c1")
    await Inbound(redis, keys).take("c1", "hello?", "m1", "socketio")
    await append_turns(redis, keys, "c1", [{"event": "bot", "text": "hi",
                                            "metadata": {"message_id": "a1"}}], answered=True)
    assert await redis.hget(keys.last_customer_turn("c1"), "answered") == "1"
    assert [e["event"] for e in await segment_events(redis, keys, "c1")] == ["user", "bot"]


async def test_the_writer_stops_at_a_give_backs_boundary(redis, keys, store):
    # Turns held after a hand-over are written only once the bot has resumed: a writer never
    # passes the boundary. The turns go straight into the stored tracker (no Rasa here); a
    # give-back's NLU results go through Rasa's door, and what it did not take stays.
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
        await Inbound(redis, keys).take("c1", "held too", "m2", "socketio")
        with pytest.raises(RasaUnavailable):
            await writer.flush("c1", parse={"m2": {"intent": {"name": "greet"}}})
        assert [e["text"] for e in await segment_events(redis, keys, "c1")] == [
            "held", "held too"]
        assert await redis.zscore(keys.tracker_pending, "c1") is not None
        assert await writer.flush("c1") == 2
    assert await redis.xlen(keys.segment("c1")) == 0
    assert await redis.zscore(keys.tracker_pending, "c1") is None
    stored = json.loads(await redis.get(RASA_KEYS.tracker("c1")))
    assert [e["text"] for e in stored["events"]] == ["held", "held too"]


async def _relay_new(redis, keys, store, after: str = "-") -> tuple:
    """The consoles' relay on the `relay` entries after `after`, as one read: frames, last id."""
    entries = await redis.xrange(keys.relay_stream, min=after if after == "-" else f"({after}")
    pubsub = redis.pubsub(ignore_subscribe_messages=True)
    await pubsub.subscribe(keys.push_channel)
    await ConsoleRelay(redis, keys, store).handle_batch(entries)
    frames = await _frames(pubsub)
    await pubsub.close()
    return [f for f in frames if f["type"] == "message"], entries[-1][0]


async def test_a_customer_who_switches_to_french_is_told_the_next_notices_in_french(
        redis, keys, store):
    # No NLU on the live path: the relay follows the customer's language. "ok" and numbers show
    # none and change nothing; a message clearly in French does, for the next notices.
    from aiohttp import web
    from aiohttp.test_utils import make_mocked_request

    from handoff.announce import Announcer
    from handoff.notices import notice_event
    from handoff.service import appkeys
    from handoff.service.api.access import language_of

    await _queued(store, "c1")  # the ticket says English
    await store.claim("c1", "marie", "Marie")
    assert (await store.get("c1")).language == "en"
    inbound = Inbound(redis, keys)
    for n, text in enumerate(["ok", "10234", "/affirm", "Where is my parcel?"]):
        await inbound.take("c1", text, f"e{n}", "socketio")
    frames, last = await _relay_new(redis, keys, store)
    assert [f["language"] for f in frames] == ["en"] * 4
    assert (await store.get("c1")).language == "en"

    french = ["Bonjour, je n'ai toujours rien reçu", "ok", "10234", "/request_human"]
    for n, text in enumerate(french):  # a button's payload is no language either
        await inbound.take("c1", text, f"f{n}", "socketio")
    frames, last = await _relay_new(redis, keys, store, last)
    assert [f["turn"]["id"] for f in frames] == ["f0", "f1", "f2", "f3"]
    assert [f["language"] for f in frames] == ["fr"] * 4  # the console shows it at once
    record = await store.get("c1")
    assert record.language == "fr"

    # A notice through the outbox while Marie has it (an agent joining, a transfer).
    async with aiohttp.ClientSession() as http:
        rasa = RasaClient(http, f"http://127.0.0.1:{free_port()}", "unused")  # never asked
        await Announcer(redis, keys, store, rasa).agent_joined("c1", "Paul")
    (_, notice), = await redis.xrevrange(keys.outbox_stream, count=1)
    assert notice["text"] == "Paul, de notre équipe, a rejoint la conversation."
    # The hand-back and close notices and the survey the agent API builds at the give-back.
    app = web.Application()
    app[appkeys.STORE] = store
    language = await language_of(make_mocked_request("POST", "/", app=app), record)
    assert language == "fr"
    assert notice_event("closed", language, "Marie")["text"].startswith("Cette conversation")

    # Back to English as clearly: followed too; the ticket keeps what it said at the handoff.
    await inbound.take("c1", "Thanks, what is the delivery status of my order?", "g0", "socketio")
    frames, _ = await _relay_new(redis, keys, store, last)
    assert [f["language"] for f in frames] == ["en"]
    record = await store.get("c1")
    assert record.language == "en" and (await store.ticket(record.ticket_id)).language == "en"


async def test_two_handoff_services_deliver_each_conversations_messages_in_order(redis, keys,
                                                                               store):
    """Two handoff services share the outbox (one consumer group, as `Workers` sets it up).
    Each reads some of a conversation's messages; the customer gets them in the order accepted.

    Before the consumers kept an entry back while the other had an older one of its
    conversation pending, this saw messages swapped (one in 300, in half the runs; here the
    reads are small and the deliveries uneven, which makes it happen nearly every run)."""
    conversations = [f"c{n}" for n in range(3)]
    for cid in conversations:
        await _queued(store, cid)
        await store.claim(cid, "marie", "Marie")
    stop = asyncio.Event()

    def by_conversation(fields):
        return fields.get("conversation_id", "")

    class Uneven(Delivery):
        """A delivery whose speed varies as a loaded process's does."""

        def __init__(self, seed: int) -> None:
            super().__init__(redis, keys, store, SendApi(""))
            self._rng = random.Random(seed)

        async def handle_batch(self, entries, acknowledgement=None):
            await asyncio.sleep(self._rng.random() * 0.01)
            await super().handle_batch(entries, acknowledgement)

    services = []
    for n in range(2):
        consumer = StreamConsumer(redis, keys.outbox_stream, GROUP_DELIVERY, f"handoff-{n}",
                                  block_ms=20, count=4, lane=by_conversation)
        await consumer.ensure_group()
        delivery = Uneven(n)
        services.append(asyncio.create_task(consumer.run(delivery.handle, stop,
                                                         batch=delivery.handle_batch)))
    try:
        for n in range(100):
            for cid in conversations:
                await accept(redis, keys, cid, "marie", "Marie", f"{cid} {n}", f"{cid}-k{n}")
        deadline = time.monotonic() + 30
        while await redis.xlen(keys.customer_out_stream) < 300 and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
    finally:
        stop.set()
        await asyncio.wait_for(asyncio.gather(*services), timeout=10)
    received = {cid: [] for cid in conversations}
    for _, fields in await redis.xrange(keys.customer_out_stream):
        cid, n = json.loads(fields["data"])["text"].split()
        received[cid].append(int(n))
    assert received == {cid: list(range(100)) for cid in conversations}
