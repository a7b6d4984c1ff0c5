"""The live path on a single Redis and on a Redis Cluster (issue 17).

On a Cluster a step names one slot's keys: the take, the outbox's accept, the tracker writer's
settling and the give-back's release run in the conversation's slot, and their writes in other
slots (the relay and outbox streams, tracker-pending, the givebacks zset) follow. A crash
between the two is played by running the step alone; the client's resend then completes it.
"""

from __future__ import annotations

import asyncio
import json
import signal
from contextlib import contextmanager
from typing import Iterator

import aiohttp
import pytest

from handoff.conversation import ConversationStore, State
from handoff.keys import RASA_KEYS, Keys
from handoff.messenger_api import SendApi
from handoff.outbox import _ACCEPT_THEN_ENQUEUE, DUE_FOR, accept
from handoff.rasa_api import RasaClient
from handoff.redis_client import NotReplicated, Script, connect, is_cluster
from handoff.relay.giveback import GiveBack
from handoff.relay.inbound import TAKE_LUA, TAKEN_BEFORE, TO_AGENT, TO_BOT, Inbound
from handoff.relay.outbound import Delivery
from handoff.relay.tracker import TrackerWriter, segment_events
from handoff.streams import StreamConsumer
from handoff.ticket import Reason, build_ticket
from stack.services import free_port
from tests import events as ev

pytestmark = pytest.mark.integration

KEYS = Keys()


@pytest.fixture(params=["single", "cluster"])
def client(request):  # type: ignore[no-untyped-def]
    """Each test on a single Redis and on the Cluster."""
    return request.getfixturevalue("redis" if request.param == "single" else "cluster_client")


async def _assigned(client, cid: str) -> ConversationStore:  # type: ignore[no-untyped-def]
    store = ConversationStore(client, KEYS)
    events = [ev.user("a person please", "request_human", ts=1.0)]
    await store.enqueue(build_ticket(cid, events, {"language": "en"}, events[-1]["parse_data"],
                                     Reason.ASKED))
    await store.claim(cid, "marie", "Marie")
    return store


async def _relayed(client) -> list:  # type: ignore[no-untyped-def]
    return [(f["conversation_id"], json.loads(f["event"])["text"])
            for _, f in await client.xrange(KEYS.relay_stream)]


async def test_a_customer_message_reaches_the_relay_and_the_writer(client):
    await _assigned(client, "c1")
    inbound = Inbound(client, KEYS)
    assert await inbound.take_once("c1", "where is my order?", "m1", "socketio") == TO_AGENT
    assert await _relayed(client) == [("c1", "where is my order?")]
    assert await client.zscore(KEYS.tracker_pending, "c1") is not None
    assert [e["text"] for e in await segment_events(client, KEYS, "c1")] == ["where is my order?"]
    # A resend (its answer was lost) is taken before, and not relayed again.
    assert await inbound.take_once("c1", "where is my order?", "m1", "socketio",
                                   again=True) == TAKEN_BEFORE
    assert await _relayed(client) == [("c1", "where is my order?")]
    assert not await client.exists(KEYS.relay_due("c1"))


async def test_a_resend_relays_a_message_whose_process_died_after_the_take(client):
    await _assigned(client, "c1")
    inbound = Inbound(client, KEYS)
    # The first attempt's step, and nothing after it: the process died there.
    keys, args = inbound.take_parts("c1", "hello?", "m1", "socketio", None, "first")
    assert inbound.way(await Script(client, TAKE_LUA)(keys=keys, args=args)) == TO_AGENT
    # The page sends it again, same id: it reaches the agent, once, and the writer has it.
    assert await inbound.take_once("c1", "hello?", "m1", "socketio", again=True) == TAKEN_BEFORE
    assert await _relayed(client) == [("c1", "hello?")]
    assert await client.zscore(KEYS.tracker_pending, "c1") is not None
    assert await client.xlen(KEYS.segment("c1")) == 1


async def test_a_message_to_the_bot_writes_nothing_on_the_live_path(client):
    inbound = Inbound(client, KEYS)
    assert await inbound.take_once("c2", "hello", "m1", "socketio") == TO_BOT
    assert await client.xlen(KEYS.relay_stream) == 0
    assert await client.zcard(KEYS.tracker_pending) == 0


async def test_a_message_held_for_the_bot_goes_to_the_writer_not_the_agent(client):
    store = await _assigned(client, "c1")
    await store.transition("c1", State.BOT, fields={"resume_pending": "1", "agent": ""})
    assert await Inbound(client, KEYS).take("c1", "still there?", "m1", "socketio")
    assert await client.xlen(KEYS.relay_stream) == 0
    assert await client.zscore(KEYS.tracker_pending, "c1") is not None
    assert await client.hget(KEYS.last_customer_turn("c1"), "held") == "1"


async def test_an_agent_message_is_enqueued_once_whatever_the_resends(client):
    await _assigned(client, "c1")
    first = await accept(client, KEYS, "c1", "marie", "Marie", "it ships today", "k1")
    again = await accept(client, KEYS, "c1", "marie", "Marie", "it ships today", "k1")
    assert again.id == first.id
    outbox = [f["id"] for _, f in await client.xrange(KEYS.outbox_stream)]
    # Off a Cluster the resend is a no-op; on one it enqueues the message again until it is
    # delivered (a crash may have lost the first entry), and the delivery does it once.
    assert outbox == [first.id] if not is_cluster(client) else outbox == [first.id] * 2
    await client.hset(KEYS.delivered("c1"), first.id, "sent")
    await accept(client, KEYS, "c1", "marie", "Marie", "it ships today", "k1")
    assert len(await client.xrange(KEYS.outbox_stream)) == len(outbox)


async def test_an_agent_message_whose_process_died_after_the_accept_is_enqueued_on_resend(
        cluster_client):
    client = cluster_client
    await _assigned(client, "c1")
    # The Cluster's step alone: client id and message kept, the outbox entry never written.
    fields = {"id": "a1", "conversation_id": "c1", "agent": "marie", "agent_name": "Marie",
              "text": "it ships today", "client_id": "k1", "notice": "", "extra": ""}
    await client.eval(_ACCEPT_THEN_ENQUEUE, 3, KEYS.client_ids("c1"), KEYS.outbox_due("c1"),
                      KEYS.delivered("c1"), "k1", "a1", json.dumps(fields), DUE_FOR)
    assert await client.xlen(KEYS.outbox_stream) == 0
    again = await accept(client, KEYS, "c1", "marie", "Marie", "it ships today", "k1")
    assert again.id == "a1"
    assert [f for _, f in await client.xrange(KEYS.outbox_stream)] == [fields]


async def test_the_writer_forgets_a_written_conversation_and_keeps_one_with_a_new_turn(client):
    await _assigned(client, "c1")
    inbound = Inbound(client, KEYS)
    await inbound.take("c1", "first", "m1", "socketio")
    async with aiohttp.ClientSession() as http:
        rasa = RasaClient(http, f"http://127.0.0.1:{free_port()}", "unused")
        writer = TrackerWriter(client, KEYS, rasa, delay=0)
        assert await writer.flush("c1") == 1
        assert await client.zscore(KEYS.tracker_pending, "c1") is None
        assert not await client.exists(KEYS.segment("c1"))
        await inbound.take("c1", "second", "m2", "socketio")
        assert await writer.tick() == 1
    assert await client.zscore(KEYS.tracker_pending, "c1") is None
    stored = json.loads(await client.get(RASA_KEYS.tracker("c1")))
    assert [e["text"] for e in stored["events"]] == ["first", "second"]


async def test_a_giveback_entry_left_after_its_release_is_dropped_without_rasa(client):
    # A give-back whose process died after the release's step (on a Cluster the givebacks
    # entry is taken out after it): the record is the bot's, nothing pending; `tick` must not
    # resume the bot again (Rasa is away here: a call would raise).
    store = await _assigned(client, "c1")
    await store.transition("c1", State.BOT, fields={"agent": ""})
    await client.zadd(KEYS.givebacks, {"c1": 1.0})
    async with aiohttp.ClientSession() as http:
        rasa = RasaClient(http, f"http://127.0.0.1:{free_port()}", "unused")
        writer = TrackerWriter(client, KEYS, rasa, delay=0)
        assert await GiveBack(client, KEYS, store, rasa, writer).tick() == 1
    assert await client.zcard(KEYS.givebacks) == 0


async def test_stream_consumers_keep_lanes_in_order_and_dead_letter_a_poison_entry(client):
    stream, dead_letters = KEYS.outbox_stream, KEYS.dead_letters
    for n in range(30):
        await client.xadd(stream, {"lane": str(n % 3), "n": str(n)})
    seen, stop = {str(lane): [] for lane in range(3)}, asyncio.Event()

    async def handler(entry_id, fields):
        if fields["n"] == "7":
            raise KeyError("a poison entry")
        await asyncio.sleep(0.001 * (int(fields["n"]) % 4))
        seen[fields["lane"]].append(int(fields["n"]))
        if sum(map(len, seen.values())) == 29:
            stop.set()

    consumers = [StreamConsumer(client, stream, "g", f"w{i}", block_ms=20, count=2,
                                dead_letters=dead_letters, lane=lambda f: f["lane"])
                 for i in range(2)]
    await consumers[0].ensure_group()
    await asyncio.wait_for(asyncio.gather(*(c.run(handler, stop, retry_delay=0.01)
                                            for c in consumers)), timeout=30)
    assert seen == {str(lane): [n for n in range(30) if n % 3 == lane and n != 7]
                    for lane in range(3)}
    (_, dead), = await client.xrange(dead_letters)
    assert json.loads(dead["fields"])["n"] == "7"
    assert (await client.xpending(stream, "g"))["pending"] == 0


@contextmanager
def _stopped(cluster, port: int) -> Iterator[None]:  # type: ignore[no-untyped-def]
    """A node paused (SIGSTOP): connected, answering nothing; for less than the node timeout."""
    process = cluster.procs[port]
    process.send_signal(signal.SIGSTOP)
    try:
        yield
    finally:
        process.send_signal(signal.SIGCONT)


async def test_the_doors_acknowledge_only_what_a_replica_has_on_a_cluster(cluster):
    """`?wait_replicas=1` (the default): the agent API's accept and the channel's take answer
    only once a replica has what they wrote, on each node they wrote to; a replica that does
    not answer makes them refuse (NotReplicated: the client sends again, same id)."""
    client = connect(cluster.url)
    try:
        await client.flushall()
        await _assigned(client, "c1")
        conversation = cluster.replica_of(KEYS.conversation("c1"))
        with _stopped(cluster, conversation), pytest.raises(NotReplicated):
            await accept(client, KEYS, "c1", "marie", "Marie", "it ships today", "k1")
        with _stopped(cluster, cluster.replica_of(KEYS.outbox_stream)), \
                pytest.raises(NotReplicated):
            await accept(client, KEYS, "c1", "marie", "Marie", "it ships today", "k1")
        accepted = await accept(client, KEYS, "c1", "marie", "Marie", "it ships today", "k1")
        assert {f["id"] for _, f in await client.xrange(KEYS.outbox_stream)} == {accepted.id}

        inbound = Inbound(client, KEYS)
        with _stopped(cluster, cluster.replica_of(KEYS.relay_stream)), \
                pytest.raises(NotReplicated):
            await inbound.take_once("c1", "and the invoice?", "m1", "socketio")
        assert await inbound.take_once("c1", "and the invoice?", "m1", "socketio",
                                       again=True) == TAKEN_BEFORE
        # Relayed again by the resend: the first entry was not known to be on a replica (the
        # consoles show a message id once).
        assert await _relayed(client) == [("c1", "and the invoice?")] * 2
    finally:
        await asyncio.to_thread(cluster.wait_settled)  # the paused replicas caught up
        await client.close()


async def test_the_page_sees_an_agent_message_only_once_a_replica_has_its_journal_entry(
        cluster):
    """A failover that lost the journal entry of a message the page already showed would
    journal it again under another id, and the page show it twice: the delivery hands it to
    the pages only once a replica has the entry."""
    client = connect(cluster.url)
    try:
        await client.flushall()
        store = await _assigned(client, "c1")
        await accept(client, KEYS, "c1", "marie", "Marie", "it ships today", "k1")
        entries = await client.xrange(KEYS.outbox_stream)
        delivery = Delivery(client, KEYS, store, SendApi(""))
        with _stopped(cluster, cluster.replica_of(KEYS.journal("c1"))), \
                pytest.raises(NotReplicated):
            await delivery.handle_batch(entries)
        assert await client.xlen(KEYS.customer_out_stream) == 0
        await delivery.handle_batch(entries)  # retried, as the stream consumer does
        (journaled, _), = await client.xrange(KEYS.journal("c1"))
        frames = [json.loads(f["data"]) for _, f in await client.xrange(KEYS.customer_out_stream)]
        assert [(f["text"], f["metadata"]["id"]) for f in frames] == [
            ("it ships today", journaled)]
    finally:
        await asyncio.to_thread(cluster.wait_settled)
        await client.close()
