"""Call-backs, approvals, order proofs, erasure and retention on the tests' real Redis Cluster
(issue 17), and the same tests on a single Redis: each atomic step in one slot, the shared
lists kept as indexes of the per-conversation hashes (an entry too many, never one missing)."""

from __future__ import annotations

import asyncio
import json
import time
import uuid

import pytest
from rasa_sdk.executor import CollectingDispatcher

from actions import deps
from actions.order_proof import FAILURE_WINDOW, RedisFailureCount
from actions.transcript import MAILS_PER_DAY, ActionSendTranscript
from handoff.callbacks import DONE, SCHEDULED, CallbackError, Callbacks
from handoff.keys import Keys
from handoff.mail import MailSettings
from handoff.metrics import Records
from handoff.orders.approvals import APPROVED, PENDING, REFUSED, AlreadyDecided, Approvals
from handoff.privacy.erase import Eraser
from handoff.privacy.finder import Customer
from handoff.privacy.holdings import holdings
from handoff.privacy.retention import DAY, Retention, RetentionJob
from handoff.privacy.stream_rebuild import StreamRebuilder
from tests.privacy_scan import every_value
from tests.smtp_server import LocalSmtpServer
from tests.trackers import action_tracker

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

KEYS = Keys()


@pytest.fixture(params=["single", "cluster"])
def client(request):  # type: ignore[no-untyped-def]
    """Each test on a single Redis and on the Cluster."""
    return request.getfixturevalue("redis" if request.param == "single" else "cluster_client")


async def test_a_call_back_offered_scheduled_and_done(client):
    callbacks = Callbacks(client, KEYS)
    offered, made = await callbacks.offer("c1", team="sales", language="fr", channel="web",
                                          by="alice", by_name="Alice", now=100.0)
    assert made
    assert await callbacks.by_token(offered.token) == offered
    assert await callbacks.of_conversation("c1") == [offered]
    assert (await callbacks.offer("c1", team=None, language="en", channel="web", by="bob",
                                  by_name="Bob"))[0] == offered  # the open one

    scheduled, changed = await callbacks.schedule(offered, "now", 200.0, "0612345678", now=150.0)
    assert changed and scheduled.status == SCHEDULED
    assert await callbacks.due() == [scheduled]
    assert await callbacks.schedule(scheduled, "now", 200.0, "0612345678") == (scheduled, False)
    moved, changed = await callbacks.schedule(scheduled, "3600", 3600.0, "0612345678", now=160.0)
    assert changed and [c.due_at for c in await callbacks.due()] == [3600.0]
    assert await client.zscore(KEYS.callbacks_due, json.dumps(["c1", offered.id])) == 3600.0

    done, recorded = await callbacks.record_outcome(moved, "reached", "ok", "bob", "Bob", "r1")
    assert recorded and done.status == DONE
    assert (await callbacks.get("c1", offered.id)).outcome == "reached"
    assert await callbacks.due() == []
    assert await client.zcard(KEYS.callbacks_due) == 0
    assert (await callbacks.record_outcome(done, "reached", "ok", "bob", "Bob", "r1"))[1] is False
    with pytest.raises(CallbackError, match="callback_done"):
        await callbacks.record_outcome(done, "no_answer", "", "bob", "Bob", "r2")
    with pytest.raises(CallbackError, match="callback_done"):
        await callbacks.schedule(done, "now", 300.0, "0612345678")
    assert await client.zcard(KEYS.callbacks_due) == 0  # a schedule refused leaves nothing


async def test_the_call_back_list_reads_past_an_entry_too_many(client):
    # What a crash between a step and the list's write leaves on a Cluster: entries whose hash
    # is done, erased, or not scheduled yet. The list shows none of them.
    callbacks = Callbacks(client, KEYS)
    offered, _ = await callbacks.offer("c2", team=None, language="en", channel="web",
                                       by="alice", by_name="Alice")
    waiting, _ = await callbacks.offer("c3", team=None, language="en", channel="web",
                                       by="alice", by_name="Alice")
    scheduled, _ = await callbacks.schedule(offered, "now", 50.0, "0612345678")
    done, _ = await callbacks.record_outcome(scheduled, "reached", "", "bob", "Bob", "r1")
    await client.zadd(KEYS.callbacks_due, {json.dumps(["c2", done.id]): 1.0,
                                           json.dumps(["c3", waiting.id]): 2.0,
                                           json.dumps(["gone", "x"]): 3.0})
    assert await callbacks.due() == []
    # The done and the erased ones are taken out; the one not scheduled yet is left to its
    # `schedule` (under way, or cut short).
    assert await client.zrange(KEYS.callbacks_due, 0, -1) == [json.dumps(["c3", waiting.id])]
    assert (await callbacks.schedule(waiting, "now", 60.0, "0612345678"))[1]
    assert [c.id for c in await callbacks.due()] == [waiting.id]


async def test_of_outcomes_recorded_at_once_exactly_one_counts(client):
    # The compare-and-set that took WATCH's place: two agents, two requests, one outcome.
    callbacks = Callbacks(client, KEYS)
    for round_ in range(5):
        offered, _ = await callbacks.offer(f"race-{round_}", team=None, language="en",
                                           channel="web", by="alice", by_name="Alice")
        scheduled, _ = await callbacks.schedule(offered, "now", 10.0, "0612345678")
        results = await asyncio.gather(
            *[callbacks.record_outcome(scheduled, outcome, "", agent, agent, f"r-{agent}")
              for agent, outcome in (("bob", "reached"), ("eve", "no_answer"),
                                     ("ann", "voicemail"))],
            return_exceptions=True)
        won = [r for r in results if not isinstance(r, BaseException)]
        assert len(won) == 1 and won[0][1], results
        assert all(isinstance(r, CallbackError) and r.code == "callback_done"
                   for r in results if isinstance(r, BaseException)), results
        stored = await callbacks.get(offered.conversation_id, offered.id)
        assert (stored.status, stored.done_by, stored.outcome) == (
            DONE, won[0][0].done_by, won[0][0].outcome)
    assert await client.zcard(KEYS.callbacks_due) == 0

async def test_approvals_asked_decided_and_run(client):
    approvals = Approvals(client, KEYS)
    first, made = await approvals.request("c1", "req-1", "refund", "A100", 9000, "alice", "Alice")
    assert made and first.status == PENDING
    assert (await approvals.request("c1", "req-1", "refund", "A100", 9000, "alice",
                                    "Alice")) == (first, False)
    second, _ = await approvals.request("c2", "req-2", "voucher", "A200", 5000, "bob", "Bob")
    assert [a.id for a in await approvals.pending()] == [first.id, second.id]
    assert [a.id for a in await approvals.of_conversation("c1")] == [first.id]

    approving = await approvals.decide("c1", first.id, True, "sue", "Sue")
    assert (approving.status, approving.decided_by) == ("approving", "sue")
    assert await approvals.finish(approving, True, {"refunded": 9000})
    assert not await approvals.finish(approving, False, {})
    with pytest.raises(AlreadyDecided) as refused:
        await approvals.decide("c1", first.id, False, "tom", "Tom")
    assert refused.value.status == APPROVED
    assert (await approvals.decide("c2", second.id, False, "sue", "Sue")).status == REFUSED
    assert await approvals.pending() == []
    assert await client.zcard(KEYS.approvals_pending) == 0
    # Asked again after the decision: the same approval, and nothing waits.
    assert (await approvals.request("c1", "req-1", "refund", "A100", 9000, "alice",
                                    "Alice"))[0].status == APPROVED
    assert await client.zcard(KEYS.approvals_pending) == 0


async def test_pending_approvals_read_past_an_entry_too_many(client):
    approvals = Approvals(client, KEYS)
    decided, _ = await approvals.request("c3", "req-3", "refund", "A300", 9000, "alice", "Alice")
    await approvals.decide("c3", decided.id, False, "sue", "Sue")
    waiting, _ = await approvals.request("c4", "req-4", "refund", "A400", 9000, "alice", "Alice")
    # A crash between the decision's step and the set's write; a request cut short.
    await client.zadd(KEYS.approvals_pending, {json.dumps(["c3", decided.id]): 1.0,
                                               json.dumps(["c5", "under-way"]): 2.0})
    assert [a.id for a in await approvals.pending()] == [waiting.id]
    assert json.dumps(["c3", decided.id]) not in await client.zrange(KEYS.approvals_pending, 0, -1)


async def test_wrong_order_facts_counted(client):
    failures = RedisFailureCount(client, KEYS)
    await failures.add("10234")
    await failures.add("10234")
    assert await failures.count("10234") == 2 and await failures.count("10235") == 0
    assert 0 < await client.ttl(KEYS.order_proof_failures("10234")) <= FAILURE_WINDOW


@pytest.fixture
def mailbox():  # type: ignore[no-untyped-def]
    server = LocalSmtpServer().up()
    try:
        yield server
    finally:
        server.down()


async def test_transcripts_mailed_and_counted_per_day(client, mailbox, monkeypatch):
    deps.use_redis(client, KEYS)
    monkeypatch.setattr(deps, "_mail", MailSettings(host=mailbox.host, port=mailbox.port,
                                                    sender="shop@example.com", timeout=5))
    try:
        tracker = action_tracker("send me the transcript", intent="request_transcript",
                                 slots={"email": "ann@example.com"})
        said = []
        for _ in range(MAILS_PER_DAY + 1):
            dispatcher = CollectingDispatcher()
            await ActionSendTranscript().run(dispatcher, tracker, {})
            said.append(dispatcher.messages[0]["response"])
    finally:
        deps.use_redis(None)
    assert said == ["utter_transcript_sent"] * MAILS_PER_DAY + ["utter_transcript_limit"]
    assert len(mailbox.messages_to("ann@example.com")) == MAILS_PER_DAY
    counter = KEYS.transcript_mails(tracker.sender_id)
    assert int(await client.get(counter)) == MAILS_PER_DAY
    assert 0 < await client.ttl(counter) <= 24 * 3600


async def _customer_data(client, cid: str, tid: str, at: float) -> str:  # type: ignore[no-untyped-def]
    """What a closed conversation leaves, written key by key; its survey's id."""
    session, survey = f"{cid}:{int(at)}", f"s-{uuid.uuid4().hex[:8]}"
    await client.hset(KEYS.conversation(cid), mapping={"state": "bot", "updated_at": str(at)})
    await client.hset(KEYS.metrics_handoff(tid), mapping={
        "ticket_id": tid, "conversation_id": cid, "agent": "marie", "outcome": "closed",
        "queued_at": str(at)})
    await client.zadd(KEYS.metrics_handoffs, {tid: at})
    await client.hset(KEYS.metrics_conversation(session), mapping={
        "conversation_id": cid, "channel": "socketio", "started_at": str(at)})
    await client.zadd(KEYS.metrics_conversations, {session: at})
    await client.hset(KEYS.survey(survey), mapping={
        "survey_id": survey, "conversation_id": cid, "ticket_id": tid, "csat": "4",
        "comment": f"words of {cid}", "asked_at": str(at)})
    await client.zadd(KEYS.surveys(), {survey: at})
    await client.zadd(KEYS.recent_claims, {f"{cid}:{at}": at})
    stream = KEYS.tickets_stream
    if not await client.exists(stream):
        await client.xgroup_create(stream, "routing", id="0", mkstream=True)
    await client.xadd(stream, {"conversation_id": "someone-else"})
    await client.xadd(stream, {"conversation_id": cid, "ticket_id": tid})
    await client.xreadgroup("routing", "r1", {stream: ">"})  # both pending
    await client.rpush(KEYS.customer_tickets(cid), tid)
    return survey


async def test_an_erasure_unlinks_the_figures_and_leaves_nothing(client):
    cid, tid, at = f"zoe-{uuid.uuid4().hex}", f"t-{uuid.uuid4().hex}", time.time() - 60
    survey = await _customer_data(client, cid, tid, at)
    held = await holdings(client, KEYS, Customer(conversations={cid}, tickets={tid}))
    counts = await Eraser(client, KEYS).erase(held)
    assert counts["handoffs_unlinked"] == counts["sessions_unlinked"] == 1
    assert counts["surveys_unlinked"] == counts["claims_unlinked"] == 1
    assert counts["stream_entries"] == 1

    # Nothing names them, anywhere (keys, members, fields, stream entries).
    assert [key for key, text in await every_value(client) if cid in text or tid in text] == []
    # The figures are kept, once each, under new ids.
    records = Records(client, KEYS)
    handoffs = await records.handoffs(at - 60, at + 60)
    assert [(h["conversation_id"], h["agent"], h["outcome"]) for h in handoffs] == [
        ("", "marie", "closed")]
    assert handoffs[0]["ticket_id"].startswith("erased-")
    sessions = await records.sessions(at - 60, at + 60)
    assert [(s.conversation_id, s.channel) for s in sessions] == [("", "socketio")]
    surveys = await client.zrange(KEYS.surveys(), 0, -1)
    assert len(surveys) == 1 and surveys[0] != survey
    kept = await client.hgetall(KEYS.survey(surveys[0]))
    assert (kept["csat"], kept["comment"], kept["conversation_id"]) == ("4", "", "")
    assert kept["ticket_id"] == handoffs[0]["ticket_id"]
    assert await client.zcard(KEYS.recent_claims) == 1
    # The other customer's entry stays, still pending in its group; the stream was rebuilt.
    entries = await client.xrange(KEYS.tickets_stream)
    assert [fields["conversation_id"] for _, fields in entries] == ["someone-else"]
    pending = await client.xpending(KEYS.tickets_stream, "routing")
    assert pending["pending"] == 1 and pending["min"] == entries[0][0]

    again = await Eraser(client, KEYS).erase(
        await holdings(client, KEYS, Customer(conversations={cid}, tickets={tid})))
    assert not any(again.values())


async def test_a_retention_pass_erases_then_drops_old_records(client):
    cid, tid, today = f"old-{uuid.uuid4().hex}", f"t-{uuid.uuid4().hex}", time.time()
    await _customer_data(client, cid, tid, today - 3600)
    kept = f"new-{uuid.uuid4().hex}"  # recent: neither it nor its records go
    await _customer_data(client, kept, f"t-{uuid.uuid4().hex}", today + 799 * DAY)
    job = RetentionJob(client, KEYS, Retention(90, 730, 1095), lambda: today + 800 * DAY, 3600)
    counts = await job.tick()
    assert counts is not None
    assert counts["conversations_erased"] == 1, counts
    assert (counts["sessions"], counts["handoffs"], counts["surveys"]) == (1, 1, 1), counts
    assert [key for key, text in await every_value(client) if cid in text or tid in text] == []
    # What is left of the records is the recent conversation's: each index entry has its record.
    for index, record in ((KEYS.metrics_handoffs, KEYS.metrics_handoff),
                          (KEYS.metrics_conversations, KEYS.metrics_conversation),
                          (KEYS.surveys(), KEYS.survey)):
        members = await client.zrange(index, 0, -1)
        assert len(members) == 1 and await client.exists(record(members[0])) == 1
    assert await client.exists(KEYS.conversation(kept)) == 1


async def test_a_stream_rebuilt_keeps_its_readers_in_place(client):
    # One key, one Lua step: already one slot. Run on the Cluster to show it.
    stream = KEYS.tickets_stream
    await _customer_data(client, "c-rebuilt", "t-rebuilt", time.time())
    first, second = [entry_id for entry_id, _ in await client.xrange(stream)]
    await client.xdel(stream, first)
    assert await StreamRebuilder(client).rebuild(stream) == 1
    assert [entry_id for entry_id, _ in await client.xrange(stream)] == [second]
    pending = await client.xpending(stream, "routing")
    assert (pending["pending"], pending["min"]) == (1, second)
