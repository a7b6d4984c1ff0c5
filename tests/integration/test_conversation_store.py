"""The state machine against a real Redis: atomic, exclusive transitions."""

import asyncio
import json

import pytest

from handoff.conversation import IllegalTransition, LimitReached, NotYours, State
from handoff.ticket import Reason, build_ticket
from tests import events as ev

pytestmark = pytest.mark.integration


def _ticket(cid: str, now: float = 100.0):
    events = ev.order_conversation()
    return build_ticket(cid, events, {"order_number": "10234", "language": "en"},
                        events[-1]["parse_data"], Reason.ASKED, now=now)


async def test_enqueue_stores_ticket_queue_and_stream(store, redis, keys):
    ticket = _ticket("c1")
    record = await store.enqueue(ticket)
    assert record.state is State.QUEUED
    assert (await store.get("c1")).ticket_id == ticket.ticket_id
    assert await store.position("c1") == 1
    assert (await store.ticket(ticket.ticket_id)).slots["order_number"] == "10234"
    entries = await redis.xrange(keys.tickets_stream)
    assert json.loads(entries[0][1]["ticket"])["ticket_id"] == ticket.ticket_id


async def test_the_record_keeps_the_customers_current_language(store, redis, keys):
    # The ticket's at the handoff; then what the live path saw (`follow_language`); transitions
    # keep it; a record without one (written before the field was read) falls back to the ticket.
    ticket = build_ticket("c1", ev.order_conversation(), {"language": "fr"},
                          ev.order_conversation()[-1]["parse_data"], Reason.ASKED)
    assert (await store.enqueue(ticket)).language == "fr"
    assert (await store.get("c1")).language == "fr"
    async with redis.pipeline(transaction=False) as pipe:
        store.follow_language(pipe, "c1", "en")
        await pipe.execute()
    claimed = await store.claim("c1", "marie", "Marie")
    assert claimed.language == "en" and claimed.public()["language"] == "en"
    assert await store.language(await store.get("c1")) == "en"
    await redis.hdel(keys.conversation("c1"), "language")
    assert await store.language(await store.get("c1")) == "fr"  # the ticket's
    assert await store.language(await store.get("never-handed-off")) is None


async def test_queue_positions_follow_arrival(store):
    await store.enqueue(_ticket("first", now=1.0))
    await store.enqueue(_ticket("second", now=2.0))
    assert await store.queued_ids() == ["first", "second"]
    assert await store.position("second") == 2


async def test_enqueue_twice_is_refused(store):
    await store.enqueue(_ticket("c1"))
    with pytest.raises(IllegalTransition):
        await store.enqueue(_ticket("c1"))


async def test_claim_race_has_exactly_one_winner(store):
    await store.enqueue(_ticket("c1"))
    results = await asyncio.gather(
        *[store.claim("c1", f"agent{i}", f"Agent {i}") for i in range(10)],
        return_exceptions=True)
    winners = [r for r in results if not isinstance(r, Exception)]
    assert len(winners) == 1
    assert all(isinstance(r, IllegalTransition) for r in results if r not in winners)
    record = await store.get("c1")
    assert record.state is State.ASSIGNED and record.agent == winners[0].agent
    assert await store.position("c1") is None
    assert await store.agent_conversation_ids(record.agent) == ["c1"]


async def test_illegal_transitions_are_refused_and_change_nothing(store):
    with pytest.raises(IllegalTransition):
        await store.claim("never-queued", "marie", "Marie")
    assert (await store.get("never-queued")).state is State.BOT
    await store.enqueue(_ticket("c1"))
    with pytest.raises(IllegalTransition):
        await store.transition("c1", State.TRANSFERRED)
    assert (await store.get("c1")).state is State.QUEUED


async def test_only_the_owner_releases(store):
    await store.enqueue(_ticket("c1"))
    await store.claim("c1", "marie", "Marie")
    with pytest.raises(NotYours):
        await store.release("c1", "paul", State.BOT)
    record = await store.release("c1", "marie", State.BOT)
    assert record.state is State.BOT and record.agent is None
    assert await store.agent_conversation_ids("marie") == []


async def test_transitions_are_announced_to_consoles(store, redis, keys):
    pubsub = redis.pubsub(ignore_subscribe_messages=True)
    await pubsub.subscribe(keys.push_channel)
    await store.enqueue(_ticket("c1"))
    await store.claim("c1", "marie", "Marie")
    frames = []
    deadline = asyncio.get_running_loop().time() + 5
    while len(frames) < 3 and asyncio.get_running_loop().time() < deadline:
        # get_message returns None for the (ignored) subscription confirmation too.
        message = await pubsub.get_message(timeout=1)
        if message is not None:
            frames.append(json.loads(message["data"]))
    await pubsub.close()
    assert [f["type"] for f in frames] == ["conversation.state", "ticket.removed",
                                           "conversation.state"]
    assert frames[2]["agent"] == "marie"


async def test_earlier_tickets_of_the_customer(store):
    first = _ticket("c1", now=1.0)
    await store.enqueue(first)
    await store.claim("c1", "marie", "Marie")
    await store.release("c1", "marie", State.CLOSED)
    second = _ticket("c1", now=2.0)
    await store.enqueue(second)
    earlier = await store.earlier_tickets("c1")
    assert [t["ticket_id"] for t in earlier] == [second.ticket_id, first.ticket_id]


async def test_transfer_then_accept_by_the_new_agent_only(store):
    await store.enqueue(_ticket("c1"))
    await store.claim("c1", "marie", "Marie")
    with pytest.raises(NotYours):
        await store.transfer("c1", "paul", "sam", "Sam")
    record = await store.transfer("c1", "marie", "paul", "Paul")
    assert record.state is State.TRANSFERRED and record.agent == "paul"
    assert await store.agent_conversation_ids("marie") == []
    assert await store.agent_conversation_ids("paul") == ["c1"]
    with pytest.raises(NotYours):
        await store.accept("c1", "marie")
    record = await store.accept("c1", "paul")
    assert record.state is State.ASSIGNED and record.agent == "paul"


async def test_an_agent_cannot_hold_more_than_their_limit(store):
    for n in range(3):
        await store.enqueue(_ticket(f"c{n}", now=float(n)))
    results = await asyncio.gather(*[store.claim(f"c{n}", "marie", "Marie", limit=2)
                                     for n in range(3)], return_exceptions=True)
    assert sum(1 for r in results if isinstance(r, LimitReached)) == 1
    assert len(await store.agent_conversation_ids("marie")) == 2
    assert len(await store.queued_ids()) == 1


async def test_a_supervisor_reassigns_queued_and_held_conversations(store):
    await store.enqueue(_ticket("queued"))
    record = await store.reassign("queued", "marie", "Marie")
    assert record.state is State.ASSIGNED and record.agent == "marie"
    record = await store.reassign("queued", "paul", "Paul")
    assert record.state is State.TRANSFERRED and record.agent == "paul"
    assert await store.agent_conversation_ids("marie") == []
    with pytest.raises(LimitReached):
        await store.enqueue(_ticket("other"))
        await store.reassign("other", "paul", "Paul", limit=1)
    with pytest.raises(IllegalTransition):
        await store.reassign("never-handed-off", "paul", "Paul")


async def test_a_transfer_to_a_team_keeps_the_place_in_line(store, redis, keys):
    await store.enqueue(_ticket("early", now=1.0))
    await store.enqueue(_ticket("later", now=2.0))
    await store.claim("early", "marie", "Marie")
    pubsub = redis.pubsub(ignore_subscribe_messages=True)
    await pubsub.subscribe(keys.push_channel)
    with pytest.raises(NotYours):
        await store.to_team("early", "paul", "billing")
    record = await store.to_team("early", "marie", "billing")
    assert record.state is State.QUEUED and record.agent is None and record.team == "billing"
    assert await store.queued_ids() == ["early", "later"]
    assert await store.agent_conversation_ids("marie") == []
    frames = []
    deadline = asyncio.get_running_loop().time() + 5
    while len(frames) < 2 and asyncio.get_running_loop().time() < deadline:
        message = await pubsub.get_message(timeout=1)
        if message is not None:
            frames.append(json.loads(message["data"]))
    await pubsub.close()
    by_type = {f["type"]: f for f in frames}
    # The team hears of the ticket; the state change goes to Marie (who held it) and supervisors.
    assert by_type["ticket.queued"]["audience"] == {"team": "billing"}
    assert by_type["ticket.queued"]["ticket"]["team"] == "billing"
    assert by_type["conversation.state"]["audience"] == {"agents": ["marie"], "supervisors": True}
    # Claimed from the team's queue, then reassigned by a supervisor: the team label goes.
    record = await store.claim("early", "paul", "Paul")
    assert record.team == "billing"
    record = await store.reassign("early", "marie", "Marie")
    assert record.team is None and (await store.get("early")).team is None


async def test_only_a_held_conversation_goes_to_a_team(store):
    await store.enqueue(_ticket("c1"))
    with pytest.raises(IllegalTransition):
        await store.to_team("c1", "marie", "billing")
    with pytest.raises(IllegalTransition):
        await store.to_team("never-handed-off", "marie", "billing")
