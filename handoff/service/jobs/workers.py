"""The handoff service's background consumers.

- router: new tickets (`tickets` stream) are announced to agents' consoles;
- consoles: customer messages of conversations a person owns (`relay` stream, written by the
  channels without Rasa: `handoff.relay`) are pushed to the consoles;
- relay: tracker events (`events` stream, written by Rasa's event broker): the dashboard's
  conversation sessions, handoffs lost with the action server, and the bot's own turns in
  conversations a person owns, for the consoles;
- requests: customers' requests from the web chat (`customer-requests` stream), e.g. to stop
  waiting and go back to the bot;
- periodic jobs: waiting web customers are told their place and estimated wait
  (`handoff.waiting`); queued conversations are assigned to available agents
  (`handoff.service.jobs.assignment`); conversations of agents who are gone are requeued
  (`handoff.presence`);
  customers who left the queue are counted out (`handoff.service.jobs.abandonment`); agents'
  seats left by a crash are freed and, on a Redis Cluster, the queue and agents' sets are
  written back from the records (`handoff.service.jobs.index_repair`);
- delivery: agent messages and notices (`outbox` stream) go to the customer's channel
  (`handoff.relay.outbound`); the tracker writer appends the live turns to the Rasa tracker
  behind them (`handoff.relay.tracker`), and give-backs cut short are finished
  (`handoff.relay.giveback`).
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import time
from typing import Any, Awaitable, Callable, Dict, List, Optional, Tuple

from redis.asyncio import Redis
from redis.exceptions import RedisError

from handoff import keys as key_names
from handoff import push
from handoff.accounts import AccountStore
from handoff.announce import Announcer
from handoff.channels import output_channel
from handoff.conversation import HUMAN_STATES, ConversationStore, IllegalTransition, State
from handoff.keys import Keys
from handoff.messenger_api import SendApi
from handoff.metrics import Recorder
from handoff.notices import notice_event
from handoff.presence import Presence, Requeuer
from handoff.privacy.retention import Retention, RetentionJob
from handoff.push import to_agents as publish
from handoff.rasa_api import RasaClient, RasaUnavailable
from handoff.redis_client import NotReplicated
from handoff.relay.consoles import ConsoleRelay, keep_contact
from handoff.relay.giveback import GiveBack
from handoff.relay.outbound import Delivery
from handoff.relay.tracker import TrackerWriter
from handoff.service.jobs.abandonment import Abandonment
from handoff.service.jobs.assignment import Assigner
from handoff.service.jobs.index_repair import IndexRepair
from handoff.settings import Settings
from handoff.streams import TRANSIENT, BatchHandler, Handler, StreamConsumer, StreamTrimmer
from handoff.teams import Team
from handoff.ticket import Ticket
from handoff.transcript import turn_from_event
from handoff.waiting import QueueStatus

logger = logging.getLogger(__name__)


class Router:
    """Announces queued tickets."""

    def __init__(self, redis: Redis, keys: Keys, store: ConversationStore) -> None:
        self._redis, self._keys, self._store = redis, keys, store

    async def handle(self, entry_id: str, fields: Dict[str, str]) -> None:
        """Announces the ticket if its conversation is still waiting for it."""
        ticket = Ticket.from_json(fields["ticket"])
        conversation = await self._store.get(ticket.conversation_id)
        if conversation.state == State.QUEUED and conversation.ticket_id == ticket.ticket_id:
            frame = {"type": "ticket.queued",
                     "ticket": {**ticket.public(), "team": conversation.team},
                     "audience": push.team(conversation.team)}
            await publish(self._redis, self._keys, frame)


class Relay:
    """Pushes the turns of conversations that humans own to the consoles."""

    def __init__(self, redis: Redis, keys: Keys, store: ConversationStore) -> None:
        self._redis, self._keys, self._store = redis, keys, store
        self._metrics = Recorder(redis, keys)

    async def handle(self, entry_id: str, fields: Dict[str, str]) -> None:
        """One tracker event from the broker."""
        event = json.loads(fields["event"])
        await self._metrics.observe(event)  # conversation sessions, for the dashboard
        turn = turn_from_event(event)
        conversation_id = event.get("sender_id")
        if conversation_id and event.get("event") in ("action", "pause"):
            await self._watch_handoff(conversation_id, event)
        if turn is None or not conversation_id:
            return
        if turn["kind"] == "agent":
            audience = push.agents(turn["agent_username"])
        else:
            conversation = await self._store.get(conversation_id)
            if conversation.state not in HUMAN_STATES:
                return
            audience = push.agents(conversation.agent) if conversation.agent else \
                push.team(conversation.team)
            if turn["kind"] == "customer":
                await keep_contact(self._redis, self._keys, conversation_id,
                                   event.get("text") or "")
        frame = {"type": "message", "conversation_id": conversation_id, "turn": turn,
                 "audience": audience}
        await publish(self._redis, self._keys, frame)

    async def _watch_handoff(self, conversation_id: str, event: Dict[str, Any]) -> None:
        # When the action server dies (or does not answer) while `action_handoff` runs, Rasa
        # logs the action with none of its events and goes on: no pause, and the customer is
        # told nothing. That shows here as the next action coming before any `pause`: the
        # customer is told to stay, and the requests worker runs the handoff again.
        if event["event"] == "pause":
            await self._store.handoff_settled(conversation_id)
        elif event.get("name") == "action_handoff":
            await self._store.handoff_started(conversation_id, str(event.get("timestamp") or ""))
        elif await self._store.handoff_running(conversation_id):
            logger.warning("handoff.lost conversation=%s", conversation_id)
            # Idempotent before the flag goes: a retry of this entry asks again, which the
            # requests worker takes as done once the bot is paused.
            await self._redis.xadd(self._keys.customer_requests_stream, {
                "conversation_id": conversation_id, "kind": "retry_handoff"})
            await self._store.handoff_settled(conversation_id)


RETRY_HANDOFF_EVERY = 2.0  # seconds between runs of a lost handoff (the action server is away)


class Requests:
    """Customers' requests, and handoffs to run again.

    `cancel_wait` gives a queued conversation back to the bot; `retry_handoff` (from the relay)
    runs a handoff lost with the action server again.
    """

    def __init__(self, redis: Redis, keys: Keys, store: ConversationStore, rasa: RasaClient,
                 announcer: Announcer, giveback: GiveBack) -> None:
        self._redis, self._keys = redis, keys
        self._store, self._rasa, self._announcer = store, rasa, announcer
        self._giveback = giveback

    async def handle(self, entry_id: str, fields: Dict[str, str]) -> None:
        """One request from the web channel."""
        cid = fields.get("conversation_id", "")
        if fields.get("kind") == "retry_handoff" and cid:
            await self._retry_handoff(cid)
            return
        if fields.get("kind") != "cancel_wait" or not cid:
            return
        after = [notice_event("wait_cancelled", await self._announcer.language(cid), "")]
        try:
            await self._giveback.run(cid, State.BOT, fields={"agent": "", "agent_name": ""},
                                     after=after)
        except IllegalTransition:
            record = await self._store.get(cid)
            if record.state != State.BOT or not await self._store.resume_pending(cid):
                return  # an agent took it meanwhile, or it was already done
            await self._giveback.finish(cid)
        logger.info("queue.cancelled_by_customer conversation=%s", cid)

    async def _retry_handoff(self, cid: str) -> None:
        """Runs `action_handoff` again until the bot is paused; the customer is told to stay.

        It never makes a second ticket: a conversation already queued keeps its ticket.
        """
        if (await self._rasa.tracker(cid)).get("paused"):
            await self._store.handoff_retried(cid)  # done: the customer asked again
            return
        if await self._store.retrying_handoff(cid):
            await self._announcer.send(cid, "handoff_delayed", "")
        channel = await output_channel(self._redis, self._keys, cid)
        result = await self._rasa.execute(cid, "action_handoff", channel=channel)
        if not (result.get("tracker") or {}).get("paused"):
            await asyncio.sleep(RETRY_HANDOFF_EVERY)
            raise RasaUnavailable(cid, "action_handoff did not run (action server away?)")
        await self._store.handoff_retried(cid)
        logger.info("handoff.retried conversation=%s", cid)


Tick = Callable[[], Awaitable[Any]]


async def periodic(name: str, tick: Tick, every: float, stop: asyncio.Event) -> None:
    """Runs `tick` every `every` seconds until `stop`; a failing pass is logged, not fatal."""
    while not stop.is_set():
        try:
            await tick()
        except (RedisError, RasaUnavailable, OSError) as exc:
            logger.warning("%s.failure error=%r", name, exc)
        try:
            await asyncio.wait_for(stop.wait(), every)
        except asyncio.TimeoutError:
            pass


def _transient(exc: BaseException) -> bool:
    """Failures that pass (Redis or Rasa away): retried as long as it takes, never dead-lettered."""
    if isinstance(exc, RasaUnavailable):
        return exc.status is None or exc.status >= 500
    return isinstance(exc, (*TRANSIENT, NotReplicated))


class Workers:
    """Owns the background tasks: `start()` them, and `stop()` awaits them."""

    def __init__(self, redis: Redis, keys: Keys, store: ConversationStore, rasa: RasaClient,
                 messenger: SendApi, accounts: AccountStore, teams: Dict[str, Team],
                 settings: Settings, consumer_name: str = "") -> None:
        name = consumer_name or settings.consumer_name or \
            f"{socket.gethostname()}-{settings.port}"
        self._stop = asyncio.Event()
        self._tasks: List[asyncio.Task] = []
        async def report(dead: Dict[str, str]) -> None:
            await publish(redis, keys, {"type": "dead_letter", "stream": dead["stream"],
                                        "entry_id": dead["entry_id"], "error": dead["error"],
                                        "audience": push.agents()})

        def consumer(stream: str, group: str, **options: Any) -> StreamConsumer:
            return StreamConsumer(redis, stream, group, name, dead_letters=keys.dead_letters,
                                  transient=_transient, on_dead=report, **options)

        def by_conversation(fields: Dict[str, str]) -> str:
            return fields.get("conversation_id", "")

        self.writer = TrackerWriter(redis, keys, rasa, settings.tracker_write_delay)
        self.giveback = GiveBack(redis, keys, store, rasa, self.writer)
        announcer = Announcer(redis, keys, store, rasa)
        consoles = ConsoleRelay(redis, keys, store)
        delivery = Delivery(redis, keys, store, messenger)
        self._jobs: List[Tuple[StreamConsumer, Handler, Optional[BatchHandler]]] = [
            (consumer(keys.tickets_stream, key_names.GROUP_ROUTER),
             Router(redis, keys, store).handle, None),
            # The live path: each read in a few round trips in all (a pipeline per step), in
            # stream order; entry by entry, by conversation, only to find a poison entry.
            (consumer(keys.relay_stream, key_names.GROUP_CONSOLES, lane=by_conversation),
             consoles.handle, consoles.handle_batch),
            (consumer(keys.outbox_stream, key_names.GROUP_DELIVERY, lane=by_conversation),
             delivery.handle, delivery.handle_batch),
            (consumer(keys.events_stream, key_names.GROUP_RELAY),
             Relay(redis, keys, store).handle, None),
            (consumer(keys.customer_requests_stream, key_names.GROUP_REQUESTS),
             Requests(redis, keys, store, rasa, announcer, self.giveback).handle, None),
        ]
        presence = Presence(redis, keys, settings.disconnect_grace)
        self._periodic: List[Tuple[str, Tick, float]] = [
            ("queue_status", QueueStatus(redis, keys, store).tick, 2.0),
            ("requeue", Requeuer(presence, accounts, store, announcer, redis, keys,
                                 time.time).tick, 5.0),
            ("abandonment", Abandonment(redis, keys, store, self.giveback,
                                        settings.abandon_after, time.time).tick, 5.0),
            ("tracker_writer", self.writer.tick, min(1.0, settings.tracker_write_delay / 4)),
            ("giveback", self.giveback.tick, 5.0),
            ("trim", StreamTrimmer(redis, [keys.tickets_stream, keys.events_stream,
                                           keys.outbox_stream, keys.relay_stream,
                                           keys.customer_requests_stream]).tick, 60.0),
        ]
        # Every process offers; one runs each pass (a lease), at most once per interval.
        retention = RetentionJob(redis, keys, Retention.from_settings(settings), time.time,
                                 settings.retention_every)
        self._periodic.append(("retention", retention.tick, min(60.0, settings.retention_every)))
        # The lease spaces the passes out (every 10 minutes).
        self._periodic.append(("index_repair", IndexRepair(redis, keys, store).tick, 60.0))
        if settings.auto_assign:
            self._periodic.append(("assign", Assigner(redis, keys, store, accounts, presence,
                                                      teams, announcer, time.time).tick, 1.0))

    def start(self) -> None:
        """Starts one task per consumer and per periodic job."""
        for consumer, handler, batch in self._jobs:
            task = asyncio.create_task(consumer.run(handler, self._stop, batch=batch),
                                       name=f"consumer:{consumer.stream}")
            self._tasks.append(task)
        for job, tick, every in self._periodic:
            self._tasks.append(asyncio.create_task(periodic(job, tick, every, self._stop),
                                                   name=job))

    async def stop(self, grace: float = 5.0) -> None:
        """Lets the consumers finish the entry in hand, then cancels what is left (once)."""
        if self._stop.is_set():
            return
        self._stop.set()
        done, pending = await asyncio.wait(self._tasks, timeout=grace) if self._tasks else ((), ())
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        for task in done:
            if not task.cancelled() and task.exception() is not None:
                logger.error("workers.stopped.error task=%s error=%r", task.get_name(),
                             task.exception())
        logger.info("workers.stopped finished=%d cancelled=%d", len(done), len(pending))
