"""A customer message sent at the very moment a conversation changes hands, many times over:
exactly one side answers it, and the bot never speaks while a human owns the conversation
(issues 7 and 13).

The web channel decides, in one Redis step with the state, whether a message goes to the person
(the live path, never through Rasa) or to the bot (`handoff.relay.inbound`); each transition is
one Lua step on the same state, so each race ends one of two ways, and both must come out
right:
- claim: the message lands while the conversation waits, before or after the "joined" notice:
  the agent who claimed sees it, the bot never answers it;
- hand-back: the message lands before the `resume` (the agent has let go, the bot was not
  resumed yet: the hand-back makes the bot answer it) or after (the bot answers it as usual);
- close: before, it is the agent's (recorded, not answered by the bot); after, the bot's;
- the customer stops waiting: before or after, the bot answers it, once.
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from typing import Any, Dict, List, Tuple

import pytest

from tests.conftest import PASSWORD
from tests.e2e.conftest import (
    AgentClient,
    Customer,
    create_account,
    rasa_tracker,
    tracker_with,
)

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

RACES = 100
ENDS = 30  # races with a close, and with a customer who stops waiting
AT_ONCE = 10
RACERS = [f"racer{n}" for n in range(1, 6)]
QUESTION = "what are your opening hours?"


@pytest.fixture(scope="module")
def racer_accounts(stack) -> List[str]:
    """Agents of their own, so that other tests' conversations take none of their places."""
    for username in RACERS:
        create_account(stack, username, username.capitalize(), PASSWORD,
                       teams="orders,billing", max_conversations=20)
    return RACERS


@pytest.fixture
async def racers(stack, racer_accounts):
    clients = [AgentClient(stack.handoff_url) for _ in racer_accounts]
    try:
        for username, client in zip(racer_accounts, clients, strict=True):
            await client.login(username, PASSWORD)
            await client.connect_ws()  # online at a console: customers are queued, not told
            status, _ = await client.post("/api/me/presence", {"status": "online"})
            assert status == 200
        yield clients
    finally:
        for client in clients:
            await client.close()


def _is_notice(event: Dict[str, Any]) -> bool:
    return bool((event.get("metadata") or {}).get("handoff_notice"))


def _is_agent(event: Dict[str, Any]) -> bool:
    return bool((event.get("metadata") or {}).get("handoff_agent"))


def _bot_answers(events: List[Dict[str, Any]]) -> List[str]:
    """The bot's own messages (not an agent's, not a handoff notice, not the survey)."""
    return [e.get("text") or "" for e in events
            if e["event"] == "bot" and not _is_agent(e) and not _is_notice(e)
            and not (e.get("metadata") or {}).get("survey")]


def _index(events: List[Dict[str, Any]], text: str) -> int:
    found = [i for i, e in enumerate(events) if e["event"] == "user" and e.get("text") == text]
    assert len(found) == 1, f"{text!r} recorded {len(found)} times"
    return found[0]


def _bot_silent_while_paused(events: List[Dict[str, Any]]) -> None:
    paused = False
    for event in events:
        if event["event"] in ("pause", "resume"):
            paused = event["event"] == "pause"
        elif paused and event["event"] == "bot":
            assert _is_agent(event) or _is_notice(event), f"the bot spoke during a handoff: {event}"


async def _settled_after(stack, cid: str, text: str, timeout: float = 60) -> List[Dict[str, Any]]:
    """The tracker once the bot has answered `text` and is listening again."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        events = (await rasa_tracker(stack, cid))["events"]
        after = events[_index(events, text) + 1:] if any(
            e["event"] == "user" and e.get("text") == text for e in events) else []
        if _bot_answers(after) and after[-1]["event"] == "action" \
                and after[-1]["name"] == "action_listen":
            return events
        await asyncio.sleep(0.2)
    raise AssertionError(f"the bot never answered {text!r} in {cid}")


async def _at_about_the_same_time(first: Any, second: Any) -> Tuple[Any, Any]:
    """Both calls, one of them delayed by up to 30 ms (which one, at random)."""
    delay = random.uniform(0, 0.03)

    async def late(call: Any) -> Any:
        await asyncio.sleep(delay)
        return await call

    if random.random() < 0.5:
        return tuple(await asyncio.gather(first, late(second)))
    return tuple(await asyncio.gather(late(first), second))


async def _baseline(stack) -> List[str]:
    """What the bot answers to QUESTION in a conversation with no handoff."""
    customer = Customer(stack.rasa_url)
    await customer.connect()
    try:
        await customer.say(QUESTION)
        events = await _settled_after(stack, customer.session_id, QUESTION)
        return _bot_answers(events[_index(events, QUESTION) + 1:])
    finally:
        await customer.close()


async def _race(stack, n: int, agent: AgentClient, expected: List[str],
                outcomes: Counter) -> None:
    customer = Customer(stack.rasa_url)
    await customer.connect()
    try:
        cid = customer.session_id
        await customer.say("I want to talk to a human")
        await customer.reply()

        # Claim and message at once.
        waiting = f"hello? anyone there? ({n})"
        (status, body), ack = await _at_about_the_same_time(
            agent.post(f"/api/conversations/{cid}/claim", {}), customer.say(waiting))
        assert status == 200, body
        assert ack["ok"], ack
        status, body = await agent.get(f"/api/conversations/{cid}")
        assert status == 200
        seen = [t for t in body["conversation"]["transcript"] if t.get("text") == waiting]
        assert len(seen) == 1 and seen[0]["kind"] == "customer", "the agent must see it once"
        # Written into the tracker behind the live path: both, once the writer has been by.
        events = await tracker_with(stack, cid, lambda events: any(
            e.get("text") == waiting for e in events) and any(
            (e.get("metadata") or {}).get("handoff_notice") == "agent_joined" for e in events))
        joined = next(i for i, e in enumerate(events) if (e.get("metadata") or {}).get(
            "handoff_notice") == "agent_joined")
        outcomes["claim: message first" if _index(events, waiting) < joined
                 else "claim: claim first"] += 1
        status, _ = await agent.post(f"/api/conversations/{cid}/messages",
                                     {"text": f"I'm here, let me look ({n})"})
        assert status == 202
        await customer.reply(lambda m: f"let me look ({n})" in m.get("text", ""))

        # Hand-back and message at once; one time in ten, the message just before, so that the
        # side of the race where the bot is still paused is sure to be taken.
        handback = agent.post(f"/api/conversations/{cid}/handback", {})
        if n % 10 == 0:
            ack = await customer.say(QUESTION)
            status, body = await handback
        else:
            (status, body), ack = await _at_about_the_same_time(handback, customer.say(QUESTION))
        assert status == 200, body
        assert ack["ok"], ack
        events = await _settled_after(stack, cid, QUESTION)
        asked = _index(events, QUESTION)
        resumed = max(i for i, e in enumerate(events) if e["event"] == "resume")
        outcomes["hand-back: message first" if asked < resumed
                 else "hand-back: hand-back first"] += 1
        after = events[asked + 1:]
        assert not any(_is_agent(e) for e in after), "the agent answered after letting go"
        # A second look, in case a late second answer was on its way.
        await asyncio.sleep(0.5)
        events = (await rasa_tracker(stack, cid))["events"]
        assert _bot_answers(events[asked + 1:]) == expected, "the bot must answer it once"
        _bot_silent_while_paused(events)
        status, body = await agent.post(f"/api/conversations/{cid}/messages", {"text": "late"})
        assert status == 409 and body["error"]["code"] == "not_yours"
        await asyncio.sleep(0.2)
        got = [m.get("text") for m in customer.history]
        assert got.count(expected[0]) == 1, got
    finally:
        await customer.close()


async def test_a_message_racing_a_claim_or_a_hand_back_is_answered_by_exactly_one_side(
        stack, racers):
    expected = await _baseline(stack)
    assert expected, "the bot answers the question outside a handoff"
    outcomes: Counter = Counter()
    slots = asyncio.Semaphore(AT_ONCE)

    async def one(n: int) -> None:
        async with slots:
            await _race(stack, n, racers[n % len(racers)], expected, outcomes)

    await asyncio.gather(*(one(n) for n in range(RACES)))
    print(f"\n{RACES} conversations, one race of each kind: {dict(outcomes)}")
    assert sum(v for k, v in outcomes.items() if k.startswith("claim")) == RACES
    assert sum(v for k, v in outcomes.items() if k.startswith("hand-back")) == RACES
    assert outcomes["hand-back: message first"] >= RACES // 10


async def _end_race(stack, n: int, agent: AgentClient, expected: List[str], outcomes: Counter,
                    ending: str) -> None:
    """A message racing the agent's close, or the customer's own "stop waiting"."""
    customer = Customer(stack.rasa_url)
    await customer.connect()
    try:
        cid = customer.session_id
        await customer.say("I want to talk to a human")
        await customer.reply()
        if ending == "close":
            status, body = await agent.post(f"/api/conversations/{cid}/claim", {})
            assert status == 200, body
            end = agent.post(f"/api/conversations/{cid}/close", {"resolution": "resolved"})
        else:
            end = customer.sio.call("cancel_wait", {}, timeout=30)
        ended, ack = await _at_about_the_same_time(end, customer.say(QUESTION))
        assert ack["ok"], ack
        assert (ended[0] == 200) if ending == "close" else ended["ok"], ended
        events = await tracker_with(stack, cid, lambda events: any(
            e["event"] == "user" and e.get("text") == QUESTION for e in events) and any(
            e["event"] == "resume" for e in events))
        asked = _index(events, QUESTION)
        resumed = max(i for i, e in enumerate(events) if e["event"] == "resume")
        first = asked < resumed
        outcomes[f"{ending}: {'message' if first else ending} first"] += 1
        if ending == "close" and first:
            # The agent's, as the conversation ended: in the record, and the bot stays out.
            await asyncio.sleep(1.0)
            events = (await rasa_tracker(stack, cid))["events"]
            assert _bot_answers(events[asked + 1:]) == []
        else:
            events = await _settled_after(stack, cid, QUESTION)
            await asyncio.sleep(0.5)  # a late second answer would show now
            events = (await rasa_tracker(stack, cid))["events"]
            assert _bot_answers(events[_index(events, QUESTION) + 1:]) == expected
        _bot_silent_while_paused(events)
    finally:
        await customer.close()


@pytest.mark.parametrize("ending", ["close", "stop_waiting"])
async def test_a_message_racing_the_end_of_a_handoff_goes_one_way(stack, racers, ending):
    expected = await _baseline(stack)
    outcomes: Counter = Counter()
    slots = asyncio.Semaphore(AT_ONCE)

    async def one(n: int) -> None:
        async with slots:
            await _end_race(stack, n, racers[n % len(racers)], expected, outcomes, ending)

    await asyncio.gather(*(one(n) for n in range(ENDS)))
    print(f"\n{ENDS} conversations, {ending}: {dict(outcomes)}")
    assert sum(outcomes.values()) == ENDS
