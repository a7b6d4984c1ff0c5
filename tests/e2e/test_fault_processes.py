"""Fault tests (issue 7): Redis, the action server and the Rasa server die (kill -9) and come
back while customers and agents talk.

These tests kill processes, so they run on a stack of their own (not the session's `stack`).
Every wait has a deadline; nothing here measures time.
"""

from __future__ import annotations

import asyncio
import functools
import json
import sys
import uuid
from typing import Any, AsyncIterator, Dict, Iterator, List, Optional, Tuple

import aiohttp
import pytest
from redis.asyncio import Redis
from redis.exceptions import RedisError

from handoff.keys import Keys
from handoff.notices import TEXTS as NOTICES
from stack.model import ensure_model
from stack.services import Ports, Stack
from tests.e2e.conftest import (
    AGENTS,
    TEAMS,
    AgentClient,
    Customer,
    all_running,
    create_account,
    rasa_tracker,
    restart,
    with_an_agent,
)

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]

KEYS = Keys()
OPENING_HOURS = "Monday to Friday"  # in the bot's answer to "what are your opening hours?"


def say(line: str) -> None:
    print(line, file=sys.stderr)


@pytest.fixture(scope="module")
def own_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """A stack these tests may break: agents claim by hand, never requeued, always open."""
    stack = Stack(model=ensure_model(say=say), run_dir=tmp_path_factory.mktemp("faults"),
                  ports=Ports.free(), say=say,
                  extra_env={"HANDOFF_AUTO_ASSIGN": "0", "HANDOFF_DISCONNECT_GRACE": "3600",
                             "HANDOFF_ALWAYS_OPEN": "1"})
    stack.start()
    try:
        for username, (name, password, role) in AGENTS.items():  # room for every test's
            create_account(stack, username, name, password, role, TEAMS[username],
                           max_conversations=20)
        yield stack
    finally:
        stack.stop()


# ------------------------------------------------------------------ processes

@pytest.fixture
def stack(own_stack: Stack) -> Stack:
    """The module's stack with every process running."""
    return all_running(own_stack)


@pytest.fixture
async def redis(stack: Stack) -> AsyncIterator[Redis]:
    client = Redis.from_url(stack.env()["REDIS_URL"], decode_responses=True)
    try:
        yield client
    finally:
        await client.close(close_connection_pool=True)


@pytest.fixture
async def people(stack: Stack) -> AsyncIterator[Dict[str, Any]]:
    """Marie at her console (signed in, WebSocket open, online), and customers to make."""
    marie = AgentClient(stack.handoff_url)
    customers: List[Customer] = []

    async def customer(token: Optional[str] = None, last_seen: Optional[str] = None) -> Customer:
        made = Customer(stack.rasa_url)
        customers.append(made)
        await made.connect(token=token, last_seen=last_seen)
        return made

    try:
        await marie.login("marie", AGENTS["marie"][1])
        await marie.connect_ws()
        status, _ = await marie.post("/api/me/presence", {"status": "online"})
        assert status == 200
        yield {"marie": marie, "customer": customer}
    finally:
        for made in customers:
            await made.close()
        await marie.close()


# ------------------------------------------------------------------ clients that retry

async def say_until_taken(customer: Customer, text: str, within: float = 150,
                          attempt: float = 15) -> Tuple[str, List[Any]]:
    """Sends as the chat page does: the same message id again until the server takes it.

    Returns the message id and what the failed attempts got (an error, or no answer at all).
    """
    message_id, failures = uuid.uuid4().hex, []
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        try:
            ack = await asyncio.wait_for(customer.say(text, message_id=message_id), attempt)
        except asyncio.TimeoutError:
            ack = "no acknowledgement"
        if isinstance(ack, dict) and ack.get("ok"):
            return message_id, failures
        failures.append(ack)
        assert loop.time() < deadline, f"{text!r} was never taken: {failures}"
        await asyncio.sleep(ack.get("retry_after", 0.5) if isinstance(ack, dict) else 0.5)


async def send_until_accepted(agent: AgentClient, cid: str, text: str,
                              within: float = 150) -> Tuple[str, List[Any]]:
    """An agent message, sent again (same client id) until the API accepts it (202).

    Returns the message id and the answers of the failed attempts.
    """
    client_id, failures = uuid.uuid4().hex, []
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        try:
            status, body = await agent.post(f"/api/conversations/{cid}/messages",
                                            {"text": text, "client_id": client_id})
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            status, body = None, repr(exc)
        if status == 202:
            return body["message"]["id"], failures
        failures.append((status, body))
        assert loop.time() < deadline, f"{text!r} was never accepted: {failures}"
        await asyncio.sleep(0.5)


# ------------------------------------------------------------------ what the record says

async def until(check: Any, what: str, within: float = 60, every: float = 0.5) -> Any:
    """Awaits `check()` until it returns something true; fails with `what` after `within` s."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    last: Any = None
    while loop.time() < deadline:
        try:
            last = await check()
        except (aiohttp.ClientError, AssertionError, OSError, RedisError) as exc:
            last = exc
        else:
            if last:
                return last
        await asyncio.sleep(every)
    raise AssertionError(f"{what}: not within {within} s (last: {last!r})")


def customer_message_ids(tracker: Dict[str, Any]) -> List[str]:
    """The ids of the customer's messages in the tracker, in order."""
    return [e.get("message_id") for e in tracker["events"] if e["event"] == "user"]


def agent_message_ids(tracker: Dict[str, Any]) -> List[str]:
    """The ids of the agents' messages in the tracker, in order."""
    return [e["metadata"]["message_id"] for e in tracker["events"] if e["event"] == "bot"
            and (e.get("metadata") or {}).get("handoff_agent")]


def shown(*histories: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    """What a chat page shows from what its sockets received: it drops ids it already has."""
    seen, out = set(), []
    for history in histories:
        for message in history:
            if message.get("id") not in seen:
                seen.add(message.get("id"))
                out.append(message)
    return out


def agent_messages_shown(*histories: List[Dict[str, Any]]) -> List[str]:
    return [m["agent_message_id"] for m in shown(*histories) if m.get("agent_message_id")]


async def tickets_of(redis: Redis, cid: str) -> List[str]:
    """The tickets ever made for the conversation (one per handoff)."""
    return list(await redis.lrange(KEYS.customer_tickets(cid), 0, -1))


async def reconnected(people: Dict[str, Any], customer: Customer) -> Customer:
    """The customer's page coming back: same session, asking for what came after `last_seen`."""
    ids = [m["id"] for m in customer.history if m.get("id")]
    return await people["customer"](token=customer.token, last_seen=ids[-1] if ids else None)


async def delivered_once_in_order(stack: Stack, cid: str, accepted: List[str]) -> None:
    """Every agent message the API accepted reaches the tracker (so the customer's channel),
    once, in the order accepted (the delivery worker may still be catching up)."""
    async def all_there() -> bool:
        return set(accepted) <= set(agent_message_ids(await rasa_tracker(stack, cid)))

    await until(all_there, f"the agent messages of {cid} in the tracker", 150)
    tracker = await rasa_tracker(stack, cid)
    assert [m for m in agent_message_ids(tracker) if m in accepted] == accepted


async def customer_sees_once_in_order(people: Dict[str, Any], customer: Customer,
                                      wanted: List[str]) -> Customer:
    """The customer's page, coming back, shows each of the agent messages `wanted` once, in
    order (what the live socket got, plus what the page asked for on reconnecting); the page."""
    page = await reconnected(people, customer)

    async def all_there() -> bool:
        return set(wanted) <= set(agent_messages_shown(customer.history, page.history))

    live = [m for m in agent_messages_shown(customer.history) if m in wanted]
    say(f"{customer.session_id}: {len(live)} of {len(wanted)} agent messages came live")
    await until(all_there, "the agent's messages on the customer's page", 60)
    assert [m for m in agent_messages_shown(customer.history, page.history) if m in wanted] == \
        wanted
    return page


async def agent_sees(agent: AgentClient, cid: str) -> List[str]:
    """The customer's messages as the agent's console loads them (texts, in order)."""
    status, body = await agent.get(f"/api/conversations/{cid}")
    assert status == 200, body
    assert body["conversation"]["transcript_source"] == "rasa"
    return [t["text"] for t in body["conversation"]["transcript"] if t["kind"] == "customer"]


async def subscribers(redis: Redis) -> Dict[str, int]:
    """Who listens on each pub/sub channel: the web channel's socket.io manager and its typing
    bridge (Rasa), the consoles' hub (handoff service)."""
    channels = [f"{KEYS.prefix}:socketio", KEYS.customer_channel, KEYS.push_channel]
    return dict(await redis.pubsub_numsub(*channels))


# ------------------------------------------------------------------ 1. Redis restarts

# Paces that stay under the rate limits (handoff/ratelimit.py: 15 chat messages in 30 s).
CUSTOMER_PACE, AGENT_PACE = 2.5, 1.0


class Traffic:
    """Customers and agents writing in a loop, each message retried until it is taken."""

    def __init__(self) -> None:
        self.stop = asyncio.Event()
        self.customer_ids: Dict[str, List[str]] = {}   # conversation -> taken message ids
        self.agent_ids: Dict[str, List[str]] = {}      # conversation -> accepted message ids
        self.failures: List[Any] = []                  # what the failed attempts got

    async def customer(self, customer: Customer, label: str, text: str = "") -> None:
        n = 0
        while not self.stop.is_set():
            n += 1
            message_id, failed = await say_until_taken(customer, text or f"{label} says {n}")
            self.customer_ids.setdefault(customer.session_id, []).append(message_id)
            self.failures.extend(failed)
            await asyncio.sleep(CUSTOMER_PACE)

    async def agent(self, agent: AgentClient, cid: str) -> None:
        n = 0
        while not self.stop.is_set():
            n += 1
            message_id, failed = await send_until_accepted(agent, cid, f"Agent to {cid[:6]}: {n}")
            self.agent_ids.setdefault(cid, []).append(message_id)
            self.failures.extend(failed)
            await asyncio.sleep(AGENT_PACE)


async def test_a_redis_restart_during_traffic_loses_nothing_acknowledged(stack, redis, people):
    marie = people["marie"]
    with_agent = [await people["customer"]() for _ in range(2)]
    for customer in with_agent:
        await with_an_agent(customer, marie)
    with_bot = [await people["customer"]() for _ in range(2)]
    for customer in with_bot:
        await customer.say("what are your opening hours?")
        await customer.reply(lambda m: OPENING_HOURS in m.get("text", ""))
    everyone = with_agent + with_bot

    traffic = Traffic()
    tasks = [asyncio.create_task(traffic.customer(c, f"customer {i}"))
             for i, c in enumerate(with_agent)]
    tasks += [asyncio.create_task(traffic.agent(marie, c.session_id)) for c in with_agent]
    tasks += [asyncio.create_task(traffic.customer(c, "", "what are your opening hours?"))
              for c in with_bot]
    await until(lambda: _all_have(traffic, with_agent, 2), "traffic before the crash", 90)

    # What Redis acknowledged before the crash: the whole record of every conversation.
    before = {c.session_id: await _record(stack, redis, c.session_id) for c in everyone}
    stack.processes["redis"].kill()  # a crash of Redis: no chance to write anything more
    # While Redis is away, each side gets a clear answer, and nothing is taken.
    status, body = await marie.post(f"/api/conversations/{with_agent[0].session_id}/messages",
                                    {"text": "During the outage", "client_id": "outage-probe"})
    assert status == 503 and body["error"]["code"] == "store_unavailable", body
    ack = await asyncio.wait_for(with_bot[0].say("hello?"), 30)
    assert ack == {"ok": False, "error": "unavailable"}, ack
    await asyncio.sleep(2)
    await asyncio.to_thread(restart, stack, "redis")

    # Every process finds Redis again by itself: listeners are back on their channels...
    await until(lambda: _all_subscribed(redis), "pub/sub listeners back", 90)
    # ... and traffic goes on in every conversation.
    counts = {cid: len(ids) for cid, ids in traffic.agent_ids.items()}
    await until(lambda: _all_have(traffic, with_agent, 3, counts), "traffic after restart", 150)
    traffic.stop.set()
    await asyncio.wait_for(asyncio.gather(*tasks), 200)
    # What failed during the outage failed clearly, and was sent again until it was taken.
    assert [f for f in traffic.failures if not _clear(f)] == []

    for customer in everyone:
        cid = customer.session_id
        # A conversation whose Rasa call was cut by the crash keeps Rasa's lock on it until the
        # lock's lifetime (60 s) is over: messages taken meanwhile are handled after that.
        taken = traffic.customer_ids.get(cid, [])
        await until(functools.partial(_handled, stack, cid, taken), f"{cid} handled", 150)
        after = await _record(stack, redis, cid)
        # Nothing Redis had acknowledged before the crash is missing (a process crash loses no
        # write: appendfsync no, stack/services.py; only a machine crash could).
        assert after["events"][:len(before[cid]["events"])] == before[cid]["events"], cid
        assert after["journal"][:len(before[cid]["journal"])] == before[cid]["journal"], cid
        assert after["state"] == before[cid]["state"] and after["tickets"] == before[cid]["tickets"]
        # Every message taken, before, during or after the outage, is in the record once.
        assert [m for m in after["message_ids"] if m in taken] == taken, cid
    for customer in with_agent:
        cid = customer.session_id
        await delivered_once_in_order(stack, cid, traffic.agent_ids[cid])
        await customer_sees_once_in_order(people, customer, traffic.agent_ids[cid])
    for customer in with_bot:  # every question taken was answered
        tracker = await rasa_tracker(stack, customer.session_id)
        answers = [e for e in tracker["events"]
                   if e["event"] == "bot" and OPENING_HOURS in (e.get("text") or "")]
        assert len(answers) == len(customer_message_ids(tracker))

    # The conversations keep working, both ways, and a new handoff works.
    await _both_ways(marie, with_agent[0], "After the restart")
    newcomer = await people["customer"]()
    await with_an_agent(newcomer, marie)
    await _both_ways(marie, newcomer, "New after the restart")
    await with_bot[1].say("what are your opening hours?")
    await with_bot[1].reply(lambda m: OPENING_HOURS in m.get("text", ""), timeout=60)


async def _all_have(traffic: Traffic, customers: List[Customer], n: int,
                    since: Optional[Dict[str, int]] = None) -> bool:
    """Whether each conversation with an agent has `n` more messages each way than `since`."""
    since = since or {}
    return all(len(traffic.agent_ids.get(c.session_id, [])) >= since.get(c.session_id, 0) + n
               and len(traffic.customer_ids.get(c.session_id, [])) >= n for c in customers)


async def _handled(stack: Stack, cid: str, taken: List[str]) -> bool:
    return set(taken) <= set(customer_message_ids(await rasa_tracker(stack, cid)))


def _clear(failure: Any) -> bool:
    """An answer that tells the client to try again; or none, for a message caught in the crash."""
    if isinstance(failure, tuple):  # the agent API's answer
        status, body = failure
        return status == 503 and body["error"]["code"] == "store_unavailable"
    return failure in ("no acknowledgement", {"ok": False, "error": "unavailable"})


async def _all_subscribed(redis: Redis) -> bool:
    return all(count >= 1 for count in (await subscribers(redis)).values())


async def _record(stack: Stack, redis: Redis, cid: str) -> Dict[str, Any]:
    """A conversation's record: Rasa's tracker, the journal, the handoff state, the tickets."""
    tracker = await rasa_tracker(stack, cid)
    journal = await redis.xrange(KEYS.journal(cid))
    state = await redis.hgetall(KEYS.conversation(cid))
    return {"events": [json.dumps(e, sort_keys=True) for e in tracker["events"]],
            "message_ids": customer_message_ids(tracker), "journal": journal,
            "state": {k: state.get(k) for k in ("state", "agent", "ticket_id")},
            "tickets": await tickets_of(redis, cid)}




async def _both_ways(agent: AgentClient, customer: Customer, text: str) -> None:
    """A customer message reaches the agent's console; an agent message reaches the page."""
    cid = customer.session_id
    await say_until_taken(customer, f"{text}, from the customer")
    await agent.frame(lambda f: f["type"] == "message" and f["conversation_id"] == cid
                      and f["turn"]["text"] == f"{text}, from the customer", timeout=60)
    message_id, _ = await send_until_accepted(agent, cid, f"{text}, from the agent")
    await customer.reply(lambda m: m.get("agent_message_id") == message_id, timeout=60)


# ------------------------------------------------------------------ 2. the action server dies

# Where the kill lands, seen on Redis's MONITOR: inside `action_handoff` before it queues the
# ticket (it reads the customer's earlier tickets), and just after it queued it (before Rasa
# has its answer).
KILL_POINTS = {"before the ticket": ("LRANGE", ":tickets"),
               "after the ticket": ("XADD", KEYS.tickets_stream)}
# The customer of each case, and what tells them their place in the queue. The French one checks
# that a customer with no ticket yet is told to stay in their own language.
SPEAKS = {"before the ticket": ("fr", "où en est ma commande 10234 ?",
                                "je veux parler à un conseiller", "file d'attente"),
          "after the ticket": ("en", "where is my order 10234?", "I want to talk to a human",
                               "in the queue")}


async def kill_when_seen(stack: Stack, command: Tuple[str, str], cid: str,
                         within: float = 60) -> bool:
    """Kills the action server (kill -9) when Redis runs `command` (name, key) about `cid`;
    whether it was seen (else it is killed anyway, at the deadline)."""
    monitor_client = Redis.from_url(stack.env()["REDIS_URL"], decode_responses=True)
    try:
        async with monitor_client.monitor() as monitor:
            async def watch() -> None:
                while True:
                    line = (await monitor.next_command())["command"]
                    if line.upper().startswith(command[0]) and command[1] in line and \
                            cid in line:
                        return
            try:
                await asyncio.wait_for(watch(), within)
                return True
            except asyncio.TimeoutError:
                return False
            finally:
                stack.processes["actions"].kill()
    finally:
        await monitor_client.close(close_connection_pool=True)


@pytest.mark.parametrize("kill_point", list(KILL_POINTS))
async def test_an_action_server_crash_during_the_handoff_still_hands_off_once(
        stack, redis, people, kill_point):
    customer = await people["customer"]()
    cid = customer.session_id
    language, question, ask_for_a_person, in_the_queue = SPEAKS[kill_point]
    await customer.say(question)
    await customer.reply()
    killer = asyncio.create_task(kill_when_seen(stack, KILL_POINTS[kill_point], cid))
    await asyncio.sleep(0.5)  # MONITOR is on
    ack = await customer.say(ask_for_a_person)
    assert ack["ok"] is True
    assert await asyncio.wait_for(killer, 90), "the kill did not land inside action_handoff"
    await asyncio.to_thread(restart, stack, "actions")

    # The customer is not left in silence: told to stay at once, then told their place, ...
    told = await customer.reply(lambda m: m.get("notice") == "handoff_delayed"
                                or in_the_queue in m.get("text", ""), timeout=60)
    say(f"{kill_point}: the customer was told {told.get('text')!r}")
    if told.get("notice") == "handoff_delayed":
        assert told["text"] == NOTICES["handoff_delayed"][language]
    if in_the_queue not in told.get("text", ""):  # else the action had answered already
        await customer.reply(lambda m: in_the_queue in m.get("text", ""), timeout=120)
    # ... the bot is paused, and there is exactly one ticket, in the queue.
    tracker = await until(lambda: _paused_tracker(stack, cid), "the bot paused", 60)
    assert tracker["paused"] is True
    assert len(await tickets_of(redis, cid)) == 1
    assert await redis.zscore(KEYS.queue, cid) is not None
    # Asking again changes nothing: still one ticket; and an agent can take it.
    await customer.say(ask_for_a_person)
    await asyncio.sleep(2)
    assert len(await tickets_of(redis, cid)) == 1
    status, body = await people["marie"].post(f"/api/conversations/{cid}/claim", {})
    assert status == 200, body
    await customer.reply(lambda m: m.get("notice") == "agent_joined", timeout=60)


async def _paused_tracker(stack: Stack, cid: str) -> Optional[Dict[str, Any]]:
    tracker = await rasa_tracker(stack, cid)
    return tracker if tracker["paused"] else None


# ------------------------------------------------------------------ 3. Rasa dies mid-relay

async def test_a_rasa_crash_during_a_relay_delivers_each_message_once(stack, redis, people):
    marie = people["marie"]
    customer = await people["customer"]()
    cid = customer.session_id
    await with_an_agent(customer, marie)
    accepted: List[str] = []
    written: List[str] = []

    async def agent_says(text: str) -> None:
        accepted.append((await send_until_accepted(marie, cid, text))[0])

    async def customer_says(page: Customer, text: str) -> None:
        await say_until_taken(page, text)
        written.append(text)

    await agent_says("Hello, let me look")
    await customer_says(customer, "Thanks, it is order 10234")
    await customer.reply(lambda m: m.get("agent_message_id") == accepted[-1], timeout=60)
    # A burst from the agent, and Rasa killed while it is being delivered; the API keeps
    # accepting agent messages (they wait in the outbox) while Rasa is away.
    for n in range(3):
        await agent_says(f"Burst {n}")
    stack.processes["rasa"].kill()
    for n in range(3):
        await agent_says(f"While Rasa is away {n}")
    await asyncio.to_thread(restart, stack, "rasa")

    # The customer's page reconnects (same session, what came after the last id it has): each
    # agent message once, in order; the record has each once, in order.
    page = await customer_sees_once_in_order(people, customer, accepted)
    await delivered_once_in_order(stack, cid, accepted)
    marks = await redis.hgetall(KEYS.delivered(cid))
    assert {marks.get(m) for m in accepted} == {"sent"}, marks
    # The conversation goes on both ways; the customer's messages reach the agent once each
    # and never the bot; still one ticket, still with Marie.
    await customer_says(page, "Back again after the hiccup")
    await agent_says("Still here")
    await page.reply(lambda m: m.get("agent_message_id") == accepted[-1], timeout=60)
    assert [t for t in await agent_sees(marie, cid) if t in written] == written
    tracker = await rasa_tracker(stack, cid)
    assert tracker["paused"] is True
    assert not [e for e in tracker["events"] if e["event"] == "bot" and not (
        e.get("metadata") or {}).get("handoff_agent") and not (
        e.get("metadata") or {}).get("handoff_notice") and e["timestamp"] > _paused_at(tracker)]
    assert len(await tickets_of(redis, cid)) == 1
    assert (await redis.hget(KEYS.conversation(cid), "agent")) == "marie"


def _paused_at(tracker: Dict[str, Any]) -> float:
    return max(e["timestamp"] for e in tracker["events"] if e["event"] == "pause")


# ------------------------------------------------------------------ 4. Rasa away mid-segment

async def test_a_human_segment_with_rasa_away_is_all_in_the_tracker_before_the_bot(
        stack, redis, people):
    """50 turns between a customer and an agent, part of them while Rasa is stopped: when it
    is back and the agent hands back, the tracker has all 50, in order, before the bot speaks."""
    marie = people["marie"]
    customer = await people["customer"]()
    cid = customer.session_id
    await with_an_agent(customer, marie)
    turns: List[Tuple[str, str]] = []  # (kind, message id), in the order they were taken

    async def agent_says(text: str) -> None:
        turns.append(("agent", (await send_until_accepted(marie, cid, text))[0]))

    async def customer_says(page: Customer, text: str) -> None:
        turns.append(("customer", (await say_until_taken(page, text))[0]))

    # The customer's words mean nothing in particular: after the hand-back the bot answers the
    # latest one, and "Customer turn 24" reads as a request for customer service (a person).
    for n in range(10):
        await customer_says(customer, f"Noted, thanks ({n})")
        await agent_says(f"Agent turn {n}")
        # A conversation: the customer reads the answer before writing again (the record's
        # order is the order in which each side's message was delivered).
        await customer.reply(lambda m, mid=turns[-1][1]: m.get("agent_message_id") == mid,
                             timeout=60)
    stack.processes["rasa"].kill()
    for n in range(10, 25):  # the live path needs no Rasa: the agent goes on
        await agent_says(f"Agent turn {n} (Rasa away)")
    await asyncio.to_thread(restart, stack, "rasa")
    page = await customer_sees_once_in_order(
        people, customer, [mid for kind, mid in turns if kind == "agent"])
    for n in range(10, 25):
        await customer_says(page, f"Noted, thanks ({n}, Rasa back)")
    assert len(turns) == 50

    status, body = await marie.post(f"/api/conversations/{cid}/handback", {})
    assert status == 200, body
    await page.reply(lambda m: m.get("notice") == "handed_back", timeout=60)
    events = (await rasa_tracker(stack, cid))["events"]
    resumed = max(i for i, e in enumerate(events) if e["event"] == "resume")
    written = [(("agent" if e["event"] == "bot" else "customer"),
                e["metadata"]["message_id"] if e["event"] == "bot" else e.get("message_id"))
               for e in events[:resumed]
               if (e["event"] == "user" and e.get("message_id") in {m for _, m in turns}) or
               (e["event"] == "bot" and (e.get("metadata") or {}).get("handoff_agent"))]
    assert [t for t in written if t in turns] == turns
    assert len(written) == len(set(written))  # once each
    assert not [e for e in events[resumed:] if e["event"] == "user"
                and e.get("message_id") in {m for _, m in turns}]
    assert await redis.xlen(KEYS.segment(cid)) == 0
    assert (await redis.hget(KEYS.conversation(cid), "state")) == "bot"


async def test_a_hand_back_while_rasa_is_away_is_finished_when_it_is_back(stack, redis, people):
    """The agent hands back while Rasa is stopped: the conversation is the bot's at once (the
    agent is not kept waiting), the bot is resumed as soon as Rasa is back, and it answers."""
    marie = people["marie"]
    customer = await people["customer"]()
    cid = customer.session_id
    await with_an_agent(customer, marie)
    await send_until_accepted(marie, cid, "Anything else before I go?")
    await say_until_taken(customer, "No, thank you")
    await until(lambda: _segment_written(redis, cid), "the live turns in the tracker", 60)
    stack.processes["rasa"].kill()
    status, body = await marie.post(f"/api/conversations/{cid}/handback", {})
    assert status == 200, body
    assert await redis.hget(KEYS.conversation(cid), "state") == "bot"
    assert await redis.zscore(KEYS.givebacks, cid) is not None  # to be finished
    await asyncio.to_thread(restart, stack, "rasa")
    await until(lambda: _not_paused(stack, cid), "the bot resumed by the finisher", 90)
    assert await redis.zscore(KEYS.givebacks, cid) is None
    assert not await redis.hget(KEYS.conversation(cid), "resume_pending")
    page = await reconnected(people, customer)
    # What the hand-back had left to say is said by the finisher: replayed to the page.
    await page.reply(lambda m: m.get("notice") == "handed_back", timeout=60)
    await say_until_taken(page, "what are your opening hours?")
    await page.reply(lambda m: OPENING_HOURS in (m.get("text") or ""), timeout=60)


async def _segment_written(redis: Redis, cid: str) -> bool:
    return await redis.xlen(KEYS.segment(cid)) == 0


async def _not_paused(stack: Stack, cid: str) -> bool:
    return (await rasa_tracker(stack, cid))["paused"] is False
