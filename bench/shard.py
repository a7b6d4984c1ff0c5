"""One load-generator process: customers and agents driven by commands from the orchestrator.

Each shard owns its customers and the agents who answer them, so every latency it measures is
taken on one clock (time.monotonic, which on Linux is also one clock for the whole machine: the
orchestrator compares the shards' burst start and end times). Commands arrive on a pipe; each
returns plain data (counts and latencies in seconds).
"""

from __future__ import annotations

import asyncio
import math
import time
import traceback
import uuid
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any, Dict, List, Optional, Tuple, Union

import uvloop
from redis.asyncio import Redis

from bench.clients import PROJECT, Agent, Customer, CustomerOut, DoorCustomer, Replies
from bench.traffic import Direction, schedule
from handoff.keys import Keys
from handoff.redis_client import connect

HUMAN_PLEASE = "I want to talk to a human"
GREETING = "hello"
CONNECT_AT_ONCE = 20  # socket.io connections opened concurrently by one shard


@dataclass
class Held:
    """A conversation this shard's customer has with this shard's agent."""

    customer: Union[Customer, DoorCustomer]
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
        # Messages of finished phases that had not arrived by the end of their drain:
        # marker -> (phase label, direction name, send time); their later arrivals are late.
        self.unarrived: Dict[str, Tuple[str, str, float]] = {}
        self.late: Dict[Tuple[str, str], List[float]] = {}
        self.phase_started = time.monotonic()
        self.customer_out: Optional[CustomerOut] = None  # in one shard only (alone.py)
        self.replies: Optional[Replies] = None
        self.door_redis: Optional[Redis] = None

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
            agent.on_reconnect = self._agent_back
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
                self._arrived(self.to_agent, text[6:], at)

    async def _agent_back(self, agent: Agent) -> None:
        """The console's WebSocket is open again: it reads its conversations' transcripts."""
        for held in self.held:
            if held.agent is not agent:
                continue
            try:
                status, body = await agent.get(
                    f"/api/conversations/{held.customer.conversation_id}")
            except (Exception, asyncio.TimeoutError):  # noqa: BLE001 - counted as not arrived
                continue
            if status != 200:
                continue
            at = time.monotonic()
            for turn in (body.get("conversation") or {}).get("transcript") or []:
                text = turn.get("text") or ""
                if turn.get("kind") == "customer" and text.startswith("bench "):
                    self._arrived(self.to_agent, text[6:], at, recovered=True)

    def _on_customer_reply(self, at: float, data: Dict[str, Any]) -> None:
        text = data.get("text") or ""
        if data.get("agent") and text.startswith("bench "):
            frame_id = data.get("id")
            self._arrived(self.to_customer, text[6:], at, str(frame_id) if frame_id else None,
                          recovered=bool(data.get("replayed")))

    def _arrived(self, direction: Direction, marker: str, at: float,
                 frame_id: Optional[str] = None, recovered: bool = False) -> None:
        late = self.unarrived.pop(marker, None)
        if late is None:
            direction.arrived(marker, at, frame_id, recovered)
        else:
            label, name, sent = late
            self.late.setdefault((label, name), []).append(at - sent)

    async def handoffs(self, rasa_url: str, count: int, concurrency: int) -> Dict[str, Any]:
        """`count` new conversations through the real path.

        Greeting, "a human please", the ticket on the consoles, a claim by the least loaded
        agent of this shard, the customer's "agent joined".

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
        started_all = time.monotonic()

        async def one() -> None:
            async with limit:
                customer = Customer(rasa_url, PROJECT, keep_alive=True)
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
                    customer.forget_replies()
                    self.held.append(Held(customer, agent))
                    new_ids.append(customer.conversation_id)
                except (Exception, asyncio.TimeoutError) as exc:  # counted, not hidden
                    replies = [d.get("text", "")[:80] for _, d in customer.replies[-2:]]
                    failures.append(f"{exc!r} last replies={replies}")
                    await customer.close()

        await asyncio.gather(*(one() for _ in range(count)))
        self.handoff_failures.extend(failures)
        return {"latencies": latencies, "failures": failures, "held": len(self.held),
                "new_ids": new_ids, "seconds": time.monotonic() - started_all}

    # --- relay ---------------------------------------------------------------------------

    async def _customer_says(self, held: Held) -> None:
        marker = f"c2a-{uuid.uuid4().hex[:16]}"
        direction = self.to_agent
        try:
            # A customer whose socket is being opened again sends once it is back (the page
            # keeps the message): the latency is the product's, from the actual send.
            await held.customer.ready(60)
            direction.sent[marker] = time.monotonic()
            ack = await held.customer.send(f"bench {marker}")
        except (Exception, asyncio.TimeoutError) as exc:
            direction.failed(exc)
            direction.sent.pop(marker, None)
            return
        if not (isinstance(ack, dict) and ack.get("ok")):
            if isinstance(ack, dict) and ack.get("error") == "rate_limited":
                direction.refused += 1
            else:
                direction.failed(RuntimeError(f"not accepted: {ack}"))
            del direction.sent[marker]

    async def _agent_says(self, held: Held) -> None:
        marker = f"a2c-{uuid.uuid4().hex[:16]}"
        direction = self.to_customer
        direction.sent[marker] = time.monotonic()
        try:
            status, body = await held.agent.send_message(held.customer.conversation_id,
                                                         f"bench {marker}", marker)
        except (Exception, asyncio.TimeoutError) as exc:
            direction.failed(exc)
            del direction.sent[marker]
            return
        if status != 202:
            if status == 429:
                direction.refused += 1
            else:
                direction.failed(RuntimeError(f"HTTP {status}: {body}"))
            del direction.sent[marker]

    def _new_phase(self) -> None:
        self.to_agent, self.to_customer = Direction(), Direction()
        self.phase_started = time.monotonic()
        for held in self.held:
            held.customer.forget_replies()

    async def open_loop(self, conversations: int, customer_interval: Optional[float],
                        agent_interval: Optional[float], jitter: float, duration: float,
                        drain: float, label: str = "") -> Dict[str, Any]:
        """The first `conversations` held conversations write for `duration` s, open loop.

        Each side of each conversation writes every `interval` s (± `jitter`), at times drawn
        before the phase starts: a message never waits for the last one's answer, so a slow
        product meets the offered load (and its queue grows) instead of slowing the senders.
        How late the generator itself was on its schedule is measured too.
        """
        self._new_phase()
        held = self.held[:conversations]
        start = time.monotonic() + 0.5
        plan = sorted(
            [(at, "c", i) for at, i in schedule(len(held), customer_interval, jitter, start,
                                                 duration)]
            + [(at, "a", i) for at, i in schedule(len(held), agent_interval, jitter, start,
                                                   duration)])
        tasks = []
        for at, side, index in plan:
            wait = at - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            direction = self.to_agent if side == "c" else self.to_customer
            direction.send_lag.append(time.monotonic() - at)
            say = self._customer_says if side == "c" else self._agent_says
            tasks.append(asyncio.ensure_future(say(held[index])))
        await asyncio.gather(*tasks)
        return await self._drained(drain, held, label)

    async def _drained(self, drain: float, held: List[Held], label: str) -> Dict[str, Any]:
        deadline = time.monotonic() + drain
        while (self.to_agent.outstanding() or self.to_customer.outstanding()) and \
                time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        for name, direction in (("to_agent", self.to_agent), ("to_customer", self.to_customer)):
            for marker, sent in direction.sent.items():
                if marker not in direction.received:
                    self.unarrived[marker] = (label, name, sent)
        since = self.phase_started
        return {"to_agent": self.to_agent.result(), "to_customer": self.to_customer.result(),
                # Connections that went down during the phase without the bench asking
                # (seconds from the phase's start), and how many came back.
                "sockets_dropped": sorted(round(t - since, 1) for h in held
                                          for t in h.customer.drops if t >= since),
                "customer_reconnects": sum(h.customer.reconnects for h in held),
                "consoles_dropped": sorted(round(t - since, 1) for a in self.agents
                                           for t in a.drops if t >= since),
                "console_reconnects": sum(a.reconnects for a in self.agents)}

    async def settle(self, timeout: float) -> Dict[str, Any]:
        """Waits (up to `timeout` s) for messages of past phases that have not arrived yet.

        Returns, per phase and direction, the latencies of those that arrived late, and how
        many never arrived (so far).
        """
        deadline = time.monotonic() + timeout
        while self.unarrived and time.monotonic() < deadline:
            await asyncio.sleep(0.2)
        never: Dict[str, Dict[str, int]] = {}
        for label, name, _ in self.unarrived.values():
            never.setdefault(label, {}).setdefault(name, 0)
            never[label][name] += 1
        late = {f"{label}|{name}": values for (label, name), values in self.late.items()}
        return {"late": late, "never": never, "waiting": len(self.unarrived)}

    async def to_the_door(self, redis_url: str) -> Dict[str, Any]:
        """From now on this shard's customers are played at the web channel's door.

        Their sockets close; each message is the channel's own step on Redis
        (`bench.clients.DoorCustomer`): the handoff process is measured without Rasa. The
        agents' answers are read off `customer-out` by one shard (`read_customer_out`), as one
        Rasa process would; this shard gets its customers' by datagram: their rooms and the
        port are the answer.
        """
        await asyncio.gather(*(h.customer.close() for h in self.held), return_exceptions=True)
        self.door_redis = connect(redis_url)
        admission = CustomerOut.admission(self.door_redis, Keys())
        doors = []
        for held in self.held:
            door = DoorCustomer(admission, held.customer.conversation_id)
            door.on_reply = self._on_customer_reply
            held.customer = door
            doors.append(door)
        self.replies, port = await Replies.listen(doors)
        return {"customers": len(doors), "rooms": [d.conversation_id for d in doors],
                "port": port}

    async def read_customer_out(self, elsewhere: Dict[str, int]) -> Dict[str, Any]:
        """Reads `customer-out` for this shard's customers and, by datagram, everyone else's.

        `elsewhere`: room -> the port of the shard whose customer it is (`to_the_door`).
        """
        assert self.door_redis is not None
        self.customer_out = CustomerOut(self.door_redis, Keys(),
                                        [h.customer for h in self.held
                                         if isinstance(h.customer, DoorCustomer)], elsewhere)
        self.customer_out.start()
        return {}

    async def close(self) -> Dict[str, Any]:
        """Closes every connection."""
        if self.customer_out is not None:
            await self.customer_out.stop()
        if self.replies is not None:
            self.replies.close()
        if self.door_redis is not None:
            await self.door_redis.close()
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
    # uvloop, as the handoff service and Rasa's Sanic run: the load generators' share of the
    # machine's two cores is CPU the processes measured do not get.
    uvloop.install()
    asyncio.run(_serve(conn))
