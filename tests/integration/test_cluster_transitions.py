"""The state machine's transitions on the tests' real Redis Cluster (issue 17), and the same
tests on a single Redis: each atomic step in the conversation's slot, the queue and the
agents' sets kept as indexes of the records (`handoff.conversation_index`)."""

from __future__ import annotations

import asyncio

import pytest

from handoff.conversation import ConversationStore, IllegalTransition, LimitReached, NotYours, State
from handoff.keys import Keys
from handoff.redis_client import is_cluster
from handoff.service.jobs.index_repair import SEAT_GRACE, IndexRepair, Pass
from handoff.ticket import Reason, build_ticket
from tests import events as ev
from tests.redis_cluster import async_client

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

KEYS = Keys()


@pytest.fixture(params=["single", "cluster"])
def client(request):  # type: ignore[no-untyped-def]
    """Each test on a single Redis and on the Cluster."""
    return request.getfixturevalue("redis" if request.param == "single" else "cluster_client")


async def _queued(client, cid: str, score: float = 1.0) -> None:  # type: ignore[no-untyped-def]
    """A conversation in the queue, as `enqueue` leaves it (its ticket aside)."""
    await client.hset(KEYS.conversation(cid), mapping={
        "state": "queued", "ticket_id": f"t-{cid}", "agent": "", "agent_name": "", "team": "",
        "queued_at": str(score)})
    await client.zadd(KEYS.queue, {cid: score})


async def test_a_claim_runs_on_either_topology(client):
    store = ConversationStore(client, KEYS)
    await _queued(client, "c1")
    record = await store.claim("c1", "alice", "Alice")
    assert record.state is State.ASSIGNED and record.agent == "alice"
    stored = await store.get("c1")
    assert (stored.state, stored.agent, stored.agent_name) == (State.ASSIGNED, "alice", "Alice")
    assert stored.ticket_id == "t-c1"  # the record's other fields are kept
    assert await client.zscore(KEYS.queue, "c1") is None
    assert await client.smembers(KEYS.agent_conversations("alice")) == {"c1"}
    assert await store.agent_conversation_ids("alice") == ["c1"]
    assert [m.split(":")[0] for m in await client.zrange(KEYS.recent_claims, 0, -1)] == ["c1"]
    assert await client.hget(KEYS.metrics_handoff("t-c1"), "claimed_at")
    with pytest.raises(IllegalTransition):
        await store.claim("c1", "bob", "Bob")
    assert await client.smembers(KEYS.agent_conversations("bob")) == set()


async def test_of_concurrent_claims_exactly_one_wins(client, request):
    # Two clients (two sets of connections), as two handoff processes would have.
    other = client
    if is_cluster(client):
        other = await async_client(request.getfixturevalue("cluster").url)
    try:
        stores = [ConversationStore(client, KEYS), ConversationStore(other, KEYS)]
        for round_ in range(5):
            cid = f"raced-{round_}"
            await _queued(client, cid)
            agents = [f"agent{n}" for n in range(8)]
            results = await asyncio.gather(
                *[stores[n % 2].claim(cid, name, name.title()) for n, name in enumerate(agents)],
                return_exceptions=True)
            winners = [name for name, r in zip(agents, results, strict=True)
                       if not isinstance(r, BaseException)]
            assert len(winners) == 1, results
            assert all(isinstance(r, IllegalTransition) for r in results
                       if isinstance(r, BaseException)), results
            assert (await stores[0].get(cid)).agent == winners[0]
            held = await stores[0].agents_conversation_ids(agents)
            assert [name for name, ids in held.items() if cid in ids] == winners
            # The losers' seats were given back: no set but the winner's holds it.
            for name in agents:
                members = await client.smembers(KEYS.agent_conversations(name))
                assert (cid in members) == (name == winners[0])
            assert await client.zscore(KEYS.queue, cid) is None
    finally:
        if other is not client:
            await other.close()


async def test_an_agent_never_goes_over_their_limit_on_either_topology(client):
    store = ConversationStore(client, KEYS)
    for n in range(3):
        await _queued(client, f"c{n}", float(n))
    results = await asyncio.gather(*[store.claim(f"c{n}", "marie", "Marie", limit=2)
                                     for n in range(3)], return_exceptions=True)
    assert sum(1 for r in results if isinstance(r, LimitReached)) == 1, results
    assert len(await store.agent_conversation_ids("marie")) == 2
    assert len(await store.queued_ids()) == 1
    assert await client.scard(KEYS.agent_conversations("marie")) == 2


async def test_a_supervisor_takes_over_a_transfer_only_while_it_is_theirs(client):
    store = ConversationStore(client, KEYS)
    await client.hset(KEYS.conversation("t1"), mapping={
        "state": "transferred", "agent": "paul", "agent_name": "Paul", "ticket_id": "t-t1"})
    await client.sadd(KEYS.agent_conversations("paul"), "t1")
    with pytest.raises(NotYours):
        await store.claim("t1", "sam", "Sam", transferred_to="marie")
    assert await client.smembers(KEYS.agent_conversations("sam")) == set()
    record = await store.claim("t1", "paul", "Paul", transferred_to="paul")
    assert record.state is State.ASSIGNED and record.agent == "paul"
    assert await store.agent_conversation_ids("paul") == ["t1"]


async def test_readers_skip_index_entries_their_records_do_not_back(client):
    """A claim whose process died after the claim itself leaves the queue entry; one that died
    after taking its seat leaves the seat: the readers go by the records."""
    store = ConversationStore(client, KEYS)
    await _queued(client, "waiting", 2.0)
    await _queued(client, "claimed", 1.0)
    await client.hset(KEYS.conversation("claimed"), mapping={"state": "assigned",
                                                            "agent": "alice"})
    await client.sadd(KEYS.agent_conversations("alice"), "claimed")
    await client.sadd(KEYS.agent_conversations("bob"), "waiting")  # a seat, no claim
    assert await store.queued_ids() == ["waiting"]
    assert await store.position("waiting") == 1
    assert await client.zrange(KEYS.queue, 0, -1) == ["waiting"]  # the stale one taken out
    held = await store.agents_conversation_ids(["alice", "bob"])
    assert held == {"alice": ["claimed"], "bob": []}


async def test_a_late_removal_leaves_an_entry_the_record_justifies(redis):
    """Off a Cluster, a claim's follow-up that arrives after the conversation was queued
    again (and a lost claim's seat given back after the agent got it) changes nothing."""
    store = ConversationStore(redis, KEYS)
    await _queued(redis, "c1")
    await redis.hset(KEYS.conversation("c1"), mapping={"state": "assigned", "agent": "alice"})
    await redis.sadd(KEYS.agent_conversations("alice"), "c1")
    async with redis.pipeline(transaction=True) as pipe:
        store._index.unqueue(pipe, "c1")  # the record says assigned: out
        store._index.unseat(pipe, "alice", "c1")  # alice holds it: kept
        await pipe.execute()
    assert await redis.zscore(KEYS.queue, "c1") is None
    assert await redis.sismember(KEYS.agent_conversations("alice"), "c1")
    await _queued(redis, "c1")
    async with redis.pipeline(transaction=True) as pipe:
        store._index.unqueue(pipe, "c1")  # queued again: kept
        store._index.unseat(pipe, "alice", "c1")  # no longer alice's: out
        await pipe.execute()
    assert await redis.zscore(KEYS.queue, "c1") == 1.0
    assert not await redis.sismember(KEYS.agent_conversations("alice"), "c1")



def _ticket(cid: str, now: float):  # type: ignore[no-untyped-def]
    events = ev.order_conversation()
    return build_ticket(cid, events, {"order_number": "10234", "language": "en"},
                        events[-1]["parse_data"], Reason.ASKED, now=now)


async def test_a_whole_handoff_runs_on_either_topology(client):
    """Every transition of the state machine, each index checked after it."""
    store = ConversationStore(client, KEYS)
    first, other = _ticket("c1", 10.0), _ticket("c2", 20.0)
    await store.enqueue(other)
    assert (await store.enqueue(first)).state is State.QUEUED
    assert await store.queued_ids() == ["c1", "c2"]
    assert (await store.ticket(first.ticket_id)).conversation_id == "c1"
    assert await client.xlen(KEYS.tickets_stream) == 2
    assert await store.earlier_tickets(first.customer["id"])
    with pytest.raises(IllegalTransition):  # queued already: its ticket is not kept
        await store.enqueue(_ticket("c1", 30.0))
    assert await client.xlen(KEYS.tickets_stream) == 2
    await store.claim("c1", "marie", "Marie")
    assert await store.queued_ids() == ["c2"]
    await store.transfer("c1", "marie", "paul", "Paul")
    assert (await store.agents_conversation_ids(["marie", "paul"])) == {"marie": [],
                                                                       "paul": ["c1"]}
    assert await client.smembers(KEYS.agent_conversations("marie")) == set()
    await store.accept("c1", "paul")
    record = await store.to_team("c1", "paul", "billing")
    assert (record.state, record.team) == (State.QUEUED, "billing")
    assert await store.queued_ids() == ["c1", "c2"]  # its place in line kept
    assert await client.smembers(KEYS.agent_conversations("paul")) == set()
    await store.claim("c1", "sam", "Sam")
    record = await store.release("c1", "sam", State.CLOSED, resolution="solved")
    assert record.state is State.CLOSED
    assert await client.hget(KEYS.metrics_handoff(first.ticket_id), "outcome") == "closed"
    assert await store.agent_conversation_ids("sam") == []
    again = _ticket("c1", 40.0)
    await store.enqueue(again, front=True)
    assert await store.queued_ids() == ["c1", "c2"]
    assert (await store.get("c1")).first_reply_at is None
    await store.transition("c1", State.BOT, fields={"agent": "", "agent_name": ""})  # cancel
    assert await store.queued_ids() == ["c2"]
    assert await client.zscore(KEYS.queue, "c1") is None
    assert await client.hget(KEYS.metrics_handoff(again.ticket_id), "outcome") == "cancelled"


async def test_writes_queued_with_a_transition_land_with_it_on_either_topology(client):
    """`extra`'s writes in the conversation's slot go in the step (the give-back's segment
    boundary); the others (its list of give-backs) with it off a Cluster, just after on one."""
    store = ConversationStore(client, KEYS)
    await store.enqueue(_ticket("c1", 10.0))

    def extra(pipe, _):  # type: ignore[no-untyped-def]
        pipe.xadd(KEYS.segment("c1"), {"boundary": "1"})
        pipe.zadd(KEYS.givebacks, {"c1": 5.0})

    await store.transition("c1", State.BOT, extra=extra, fields={"resume_pending": "1"})
    assert await client.xlen(KEYS.segment("c1")) == 1
    assert await client.zscore(KEYS.givebacks, "c1") == 5.0
    with pytest.raises(IllegalTransition):  # bot → bot: nothing written
        await store.transition("c1", State.BOT, extra=extra)
    assert await client.xlen(KEYS.segment("c1")) == 1
    with pytest.raises(ValueError):  # a command that could name keys of several slots
        await store.transition("c1", State.QUEUED, extra=lambda pipe, _: pipe.rename("a", "b"))
    assert (await store.get("c1")).state is State.BOT


async def test_of_concurrent_moves_by_the_owner_exactly_one_happens(client):
    store = ConversationStore(client, KEYS)
    for round_ in range(5):
        cid = f"moved-{round_}"
        await store.enqueue(_ticket(cid, float(round_)))
        await store.claim(cid, "marie", "Marie")
        results = await asyncio.gather(
            store.transfer(cid, "marie", "paul", "Paul"),
            store.release(cid, "marie", State.BOT),
            store.to_team(cid, "marie", "billing"),
            store.release(cid, "marie", State.CLOSED, resolution="solved"),
            return_exceptions=True)
        done = [r for r in results if not isinstance(r, BaseException)]
        assert len(done) == 1, results
        assert all(isinstance(r, (IllegalTransition, NotYours)) for r in results
                   if isinstance(r, BaseException)), results
        final = await store.get(cid)
        assert final.state is done[0].state and final.agent == done[0].agent
        assert (cid in await store.queued_ids()) == (final.state is State.QUEUED)
        assert (cid in await client.zrange(KEYS.queue, 0, -1)) == (final.state is State.QUEUED)
        for name in ("marie", "paul"):
            assert (cid in await client.smembers(KEYS.agent_conversations(name))) == (
                final.agent == name)


async def test_a_removal_that_lands_after_a_later_requeue_leaves_the_conversation_queued(
        client, monkeypatch):
    """A claim whose follow-up (on a Cluster: the queue entry taken out) is sent only after
    the agent, through another process, already sent the conversation to a team: the queue
    still holds it once both are done."""
    store, other = ConversationStore(client, KEYS), ConversationStore(client, KEYS)
    await store.enqueue(_ticket("c1", 10.0))
    follow = store._index.follow

    async def late(after):  # type: ignore[no-untyped-def]
        await other.to_team("c1", "marie", "billing")
        await follow(after)

    monkeypatch.setattr(store._index, "follow", late)
    await store.claim("c1", "marie", "Marie")
    assert (await store.get("c1")).state is State.QUEUED
    assert await client.zscore(KEYS.queue, "c1") is not None
    assert await store.queued_ids() == ["c1"]
    assert await client.smembers(KEYS.agent_conversations("marie")) == set()


async def test_the_repair_pass_writes_back_what_the_records_back(client):
    """What a process that died between a step and what follows it can leave missing."""
    store = ConversationStore(client, KEYS)
    await store.enqueue(_ticket("waiting", 10.0))
    await store.enqueue(_ticket("held", 20.0))
    await store.claim("held", "marie", "Marie")
    await client.hset(KEYS.conversation("old"), mapping={"state": "queued"})  # no score
    await client.xadd(KEYS.segment("held"), {"event": "{}"})  # a key of the conversation's
    await client.delete(KEYS.queue, KEYS.agent_conversations("marie"))
    assert await store.repair_indexes() == 3
    assert await client.zrange(KEYS.queue, 0, -1) == ["waiting"]
    assert await client.smembers(KEYS.agent_conversations("marie")) == {"held"}


async def test_the_workers_repair_pass_runs_on_a_cluster_once_per_lease(client):
    """`handoff.service.jobs.index_repair`, as every handoff service schedules it: on a Cluster
    one process's pass writes back a missing queue entry, the others' ticks find the lease
    taken; off a Cluster (nothing can be missing there) the pass only looks for stale seats."""
    store = ConversationStore(client, KEYS)
    await store.enqueue(_ticket("waiting", 10.0))
    await client.delete(KEYS.queue)  # as a crash after a late removal can leave it
    one, other = (IndexRepair(client, KEYS, store, every=60) for _ in range(2))
    if not is_cluster(client):
        assert await one.tick() == Pass(seats_freed=0, records_read=None)
        assert await client.zrange(KEYS.queue, 0, -1) == []
        return
    assert await one.tick() == Pass(seats_freed=0, records_read=1)
    assert await client.zrange(KEYS.queue, 0, -1) == ["waiting"]
    assert await other.tick() is None  # within the lease


async def test_a_seat_left_by_a_crash_is_freed_a_pass_later_and_one_under_way_is_kept(client):
    """A process that died between an agent's seat and the claim's step left a seat no record
    backs: it counted against the agent's limit for good. The repair pass (any topology) frees
    it once seen unbacked on two passes at least `SEAT_GRACE` apart; a seat whose claim went
    through meanwhile, and the seats of what the agent holds, stay."""
    store = ConversationStore(client, KEYS)
    for cid in ("held", "lost", "slow", "next"):
        await _queued(client, cid)
    await store.claim("held", "marie", "Marie", limit=3)
    # As a claim's process leaves them: seats taken, no step (one died, one is slow).
    for cid in ("lost", "slow"):
        assert await store._index.take_seat("marie", cid, 3) == 1
    with pytest.raises(LimitReached):
        await store.claim("next", "marie", "Marie", limit=3)
    now = [1000.0]
    repair = IndexRepair(client, KEYS, store, every=600, clock=lambda: now[0])

    async def next_pass() -> Pass:
        await client.delete(KEYS.index_repair_lease)  # as the lease's TTL would
        done = await repair.tick()
        assert done is not None
        return done

    assert (await next_pass()).seats_freed == 0  # first seen: may be claims under way
    assert set(await client.hkeys(KEYS.seat_suspects)) == {"marie\nlost", "marie\nslow"}
    await store.claim("slow", "marie", "Marie", limit=3)  # its step, late: the seat was there
    now[0] += SEAT_GRACE - 1
    assert (await next_pass()).seats_freed == 0  # too soon after the first sight
    assert set(await client.hkeys(KEYS.seat_suspects)) == {"marie\nlost"}
    now[0] += 1
    assert (await next_pass()).seats_freed == 1
    assert await client.smembers(KEYS.agent_conversations("marie")) == {"held", "slow"}
    assert not await client.exists(KEYS.seat_suspects)
    assert (await store.get("lost")).state is State.QUEUED
    assert await client.zscore(KEYS.queue, "lost") is not None  # still in line for anyone
    record = await store.claim("next", "marie", "Marie", limit=3)  # the freed seat's place
    assert record.agent == "marie"
    assert await store.agent_conversation_ids("marie") == ["held", "next", "slow"]
