"""One load-generator process: customers and agents driven by commands from the orchestrator.

Each shard owns its customers and the agents who answer them, so every latency it measures is
taken on one clock (time.monotonic, which on Linux is also one clock for the whole machine: the
orchestrator compares the shards' burst start and end times). Commands arrive on a pipe; each
returns plain data (counts and latencies in seconds).
"""

from __future__ import annotations

import asyncio
import math
import random
import time
import traceback
import uuid
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any, Dict, List, Optional, Tuple

from bench.clients import PROJECT, Agent, Customer

HUMAN_PLEASE = "I want to talk to a human"
GREETING = "hello"
CONNECT_AT_ONCE = 20  # socket.io connections opened concurrently by one shard


@dataclass
class Direction:
    """Messages one way (customer→agent or agent→customer) during one phase."""

    sent: Dict[str, float] = field(default_factory=dict)  # marker -> send time
    received: Dict[str, float] = field(default_factory=dict)  # marker -> first arrival
    refused: int = 0  # refused by the product with a clear error (rate limit): never accepted
    errors: int = 0  # the request itself failed
    duplicates: int = 0
    error_examples: List[str] = field(default_factory=list)
    duplicate_times: List[Tuple[float, float]] = field(default_factory=list)

    def failed(self, exc: BaseException) -> None:
        """Counts a request that failed, and keeps the first few for the report."""
        self.errors += 1
        if len(self.error_examples) < 3:
            self.error_examples.append(repr(exc)[:200])

    def arrived(self, marker: str, at: float) -> None:
        """Records the first arrival of a message sent in this phase."""
        if marker not in self.sent:
            return  # another phase's straggler, or another shard's conversation
        if marker in self.received:
            self.duplicates += 1
            # When the copy came: seconds after sending, and after the first arrival.
            self.duplicate_times.append((round(self.received[marker] - self.sent[marker], 1),
                                         round(at - self.received[marker], 1)))
        else:
            self.received[marker] = at

    def outstanding(self) -> int:
        """Messages accepted and not arrived yet."""
        return len(self.sent) - len(self.received)

    def result(self) -> Dict[str, Any]:
        """Counts and latencies, for the orchestrator."""
        latencies = [self.received[m] - self.sent[m] for m in self.received]
        return {"sent": len(self.sent), "received": len(self.received),
                "lost": self.outstanding(), "refused": self.refused, "errors": self.errors,
                "duplicates": self.duplicates, "latencies": latencies,
                "error_examples": self.error_examples, "duplicate_times": self.duplicate_times,
                "first_send": min(self.sent.values(), default=None),
                "last_arrival": max(self.received.values(), default=None)}


@dataclass
class Held:
    """A conversation this shard's customer has with this shard's agent."""

    customer: Customer
    agent: Agent


class Shard:
    """The state of one load-generator process."""

    def __init__(self) -> None:
        self.agents: List[Agent] = []
        self.held: List[Held] = []
        self.bot_sessions: List[List[Customer]] = []
        self.queued_at: Dict[str, float] = {}
        self.queued_waiters: Dict[str, asyncio.Future] = {}
        self.to_agent = Direction()
        self.to_customer = Direction()
        self.handoff_failures: List[str] = []
        self.phase_started = time.monotonic()

    # --- bot turns -------------------------------------------------------------------------

    async def prepare_bot(self, url: str, protocol: str, customers: int, turns: int,
                          per_session: int) -> Dict[str, Any]:
        """Opens the sessions of `customers` closed-loop customers, each warmed by one turn.

        Each customer gets ceil(turns / per_session) conversations and turns among them, so
        that no conversation meets the chat rate limit (15 messages in 30 s).
        """
        sessions_each = max(1, math.ceil(turns / per_session))
        limit = asyncio.Semaphore(CONNECT_AT_ONCE)

        async def open_one() -> Customer:
            async with limit:
                customer = Customer(url, protocol)
                await customer.connect()
                await customer.turn(GREETING)  # starts the Rasa session: not measured
                return customer

        self.bot_sessions = [list(await asyncio.gather(*(open_one()
                                                         for _ in range(sessions_each))))
                             for _ in range(customers)]
        return {"sessions": customers * sessions_each}

    async def run_bot(self, turns: int, messages: List[str]) -> Dict[str, Any]:
        """Every customer runs `turns` turns back to back; latencies to the first reply."""
        latencies: List[float] = []
        errors: List[str] = []

        async def customer_loop(sessions: List[Customer]) -> None:
            for index in range(turns):
                session = sessions[index % len(sessions)]
                try:
                    latencies.append(await session.turn(messages[index % len(messages)]))
                except (Exception, asyncio.TimeoutError) as exc:  # counted, not hidden
                    errors.append(repr(exc))

        started = time.monotonic()
        await asyncio.gather(*(customer_loop(sessions) for sessions in self.bot_sessions))
        wall = time.monotonic() - started
        notices = sum(1 for sessions in self.bot_sessions for c in sessions
                      for _, data in c.replies if data.get("notice"))
        await asyncio.gather(*(c.close() for sessions in self.bot_sessions for c in sessions),
                             return_exceptions=True)
        self.bot_sessions = []
        return {"latencies": latencies, "errors": errors, "wall": wall, "notices": notices}

    # --- agents and handoffs -----------------------------------------------------------------

    async def start_agents(self, base_url: str, usernames: List[str],
                           password: str) -> Dict[str, Any]:
        """Signs this shard's agents in, each with a console WebSocket, online."""
        for username in usernames:
            agent = Agent(base_url, username)
            agent.on_frame = self._on_frame
            await agent.start(password)
            self.agents.append(agent)
        return {"agents": len(self.agents)}

    def _on_frame(self, at: float, frame: Dict[str, Any]) -> None:
        kind = frame.get("type")
        if kind == "ticket.queued":
            cid = (frame.get("ticket") or {}).get("conversation_id")
            # Every agent of the shard gets the frame: the first arrival counts.
            if cid and cid not in self.queued_at:
                self.queued_at[cid] = at
                waiter = self.queued_waiters.pop(cid, None)
                if waiter is not None and not waiter.done():
                    waiter.set_result(at)
        elif kind == "message":
            turn = frame.get("turn") or {}
            text = turn.get("text") or ""
            if turn.get("kind") == "customer" and text.startswith("bench "):
                self.to_agent.arrived(text[6:], at)

    def _on_customer_reply(self, at: float, data: Dict[str, Any]) -> None:
        text = data.get("text") or ""
        if data.get("agent") and text.startswith("bench "):
            self.to_customer.arrived(text[6:], at)

    async def handoffs(self, rasa_url: str, count: int, concurrency: int,
                       exchange: bool) -> Dict[str, Any]:
        """`count` new conversations through the real path.

        Greeting, "a human please", the ticket on the consoles, a claim; with `exchange`, one
        message each way.

        Returns the handoff latencies (the customer's message to the first `ticket.queued`
        frame on this shard's consoles).
        """
        latencies: List[float] = []
        failures: List[str] = []
        new_ids: List[str] = []
        limit = asyncio.Semaphore(concurrency)
        loads = {agent.username: 0 for agent in self.agents}
        for held in self.held:
            loads[held.agent.username] += 1

        async def one() -> None:
            async with limit:
                customer = Customer(rasa_url, PROJECT)
                customer.on_reply = self._on_customer_reply
                try:
                    await customer.connect()
                    await customer.turn(GREETING)
                    waiter = asyncio.get_running_loop().create_future()
                    self.queued_waiters[customer.conversation_id] = waiter
                    started = time.monotonic()
                    ack = await customer.send(HUMAN_PLEASE)
                    if not (isinstance(ack, dict) and ack.get("ok")):
                        raise RuntimeError(f"refused: {ack}")
                    latencies.append(await asyncio.wait_for(waiter, 60) - started)
                    agent = min(self.agents, key=lambda a: loads[a.username])
                    loads[agent.username] += 1
                    status, body = await agent.post(
                        f"/api/conversations/{customer.conversation_id}/claim", {})
                    if status != 200:
                        raise RuntimeError(f"claim: {status} {body}")
                    await customer.wait_reply(lambda m: m.get("notice") == "agent_joined")
                    held = Held(customer, agent)
                    self.held.append(held)
                    new_ids.append(customer.conversation_id)
                    if exchange:
                        await self._customer_says(held, wait=True)
                        await self._agent_says(held, wait=True)
                except (Exception, asyncio.TimeoutError) as exc:  # counted, not hidden
                    replies = [d.get("text", "")[:80] for _, d in customer.replies[-2:]]
                    failures.append(f"{exc!r} last replies={replies}")
                    await customer.close()

        await asyncio.gather(*(one() for _ in range(count)))
        self.handoff_failures.extend(failures)
        return {"latencies": latencies, "failures": failures, "held": len(self.held),
                "new_ids": new_ids}

    # --- relay ---------------------------------------------------------------------------

    async def _customer_says(self, held: Held, wait: bool = False) -> None:
        marker = f"c2a-{uuid.uuid4().hex[:16]}"
        self.to_agent.sent[marker] = time.monotonic()
        try:
            ack = await held.customer.send(f"bench {marker}")
        except (Exception, asyncio.TimeoutError) as exc:
            self.to_agent.failed(exc)
            del self.to_agent.sent[marker]
            return
        if not (isinstance(ack, dict) and ack.get("ok")):
            self.to_agent.refused += 1
            del self.to_agent.sent[marker]
        elif wait:
            await self._arrival(self.to_agent, marker, 60)

    async def _agent_says(self, held: Held, wait: bool = False) -> None:
        marker = f"a2c-{uuid.uuid4().hex[:16]}"
        self.to_customer.sent[marker] = time.monotonic()
        try:
            status, _ = await held.agent.post(
                f"/api/conversations/{held.customer.conversation_id}/messages",
                {"text": f"bench {marker}", "client_id": marker})
        except (Exception, asyncio.TimeoutError) as exc:
            self.to_customer.failed(exc)
            del self.to_customer.sent[marker]
            return
        if status != 202:
            if status == 429:
                self.to_customer.refused += 1
            else:
                self.to_customer.errors += 1
            del self.to_customer.sent[marker]
        elif wait:
            await self._arrival(self.to_customer, marker, 60)

    @staticmethod
    async def _arrival(direction: Direction, marker: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while marker not in direction.received and time.monotonic() < deadline:
            await asyncio.sleep(0.01)

    def _new_phase(self) -> None:
        self.to_agent, self.to_customer = Direction(), Direction()
        self.phase_started = time.monotonic()

    async def relay(self, duration: float, customer_interval: float, agent_interval: float,
                    drain: float) -> Dict[str, Any]:
        """Both sides of every held conversation write at their interval for `duration` s.

        Closed loop: a side writes its next message only once the last one has arrived (or
        after 60 s), so an overloaded stack slows the senders instead of piling up a backlog
        that would take minutes to drain; the achieved rate is reported next to the offered one.
        """
        self._new_phase()
        stop_at = time.monotonic() + duration

        async def every(interval: float, say: Any, held: Held) -> None:
            await asyncio.sleep(random.uniform(0, interval))  # spread the conversations
            while time.monotonic() < stop_at:
                started = time.monotonic()
                await say(held, wait=True)
                pause = interval * random.uniform(0.9, 1.1) - (time.monotonic() - started)
                await asyncio.sleep(max(0.0, pause))

        await asyncio.gather(*(every(customer_interval, self._customer_says, held)
                               for held in self.held),
                             *(every(agent_interval, self._agent_says, held)
                               for held in self.held))
        return await self._drained(drain)

    async def burst(self, start_at_epoch: float, per_conversation: int,
                    drain: float) -> Dict[str, Any]:
        """Every held conversation sends `per_conversation` messages each way, at once.

        From `start_at_epoch` (wall clock, shared by the shards), as fast as acknowledgements
        allow.
        """
        self._new_phase()
        await asyncio.sleep(max(0.0, start_at_epoch - time.time()))

        async def side(say: Any, held: Held) -> None:
            for _ in range(per_conversation):
                await say(held)

        await asyncio.gather(*(side(self._customer_says, held) for held in self.held),
                             *(side(self._agent_says, held) for held in self.held))
        return await self._drained(drain)

    async def _drained(self, drain: float) -> Dict[str, Any]:
        deadline = time.monotonic() + drain
        while (self.to_agent.outstanding() or self.to_customer.outstanding()) and \
                time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        # Customers' sockets that went down during the phase without the bench asking, with
        # seconds from the phase's start (the bench does not reconnect them).
        dropped = sorted(round(h.customer.dropped_at - self.phase_started, 1) for h in self.held
                         if h.customer.dropped_at is not None
                         and h.customer.dropped_at >= self.phase_started)
        return {"to_agent": self.to_agent.result(), "to_customer": self.to_customer.result(),
                "sockets_dropped": dropped}

    async def close(self) -> Dict[str, Any]:
        """Closes every connection."""
        customers = [h.customer for h in self.held] + \
            [c for sessions in self.bot_sessions for c in sessions]
        await asyncio.gather(*(c.close() for c in customers), return_exceptions=True)
        await asyncio.gather(*(a.close() for a in self.agents), return_exceptions=True)
        self.held, self.agents = [], []
        return {}


async def _serve(conn: Connection) -> None:
    shard = Shard()
    loop = asyncio.get_running_loop()
    while True:
        command: Tuple[str, Dict[str, Any]] = await loop.run_in_executor(None, conn.recv)
        name, args = command
        try:
            result: Optional[Dict[str, Any]] = await getattr(shard, name)(**args)
            conn.send({"ok": True, **(result or {})})
        except Exception as exc:  # reported to the orchestrator, which stops the run
            conn.send({"ok": False, "error": f"{exc!r}\n{traceback.format_exc()}"})
        if name == "close":
            return


def serve(conn: Connection) -> None:
    """Entry point of a shard process."""
    asyncio.run(_serve(conn))
