"""The handoff service's background consumers.

- router: new tickets (`tickets` stream) are announced to agents' consoles;
- relay: tracker events (`events` stream, written by Rasa's event broker) of conversations a
  human owns are pushed to the consoles; the customer's messages are already in the tracker;
- requests: customers' requests from the web chat (`customer-requests` stream), e.g. to stop
  waiting and go back to the bot;
- periodic jobs: waiting web customers are told their place and estimated wait
  (`handoff.waiting`); queued conversations are assigned to available agents
  (`handoff.assignment`); conversations of agents who are gone are requeued (`handoff.presence`);
  customers who left the queue are counted out (`handoff.abandonment`);
- delivery: agent messages (`outbox` stream) are appended to the Rasa tracker as `bot` events
  with the agent in their metadata and sent out on the customer's channel by Rasa itself (web
  chat) or by the Send API first (Messenger).
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import time
from typing import Any, Awaitable, Callable, Dict, List, Tuple

from redis.asyncio import Redis
from redis.exceptions import RedisError

from handoff import keys as key_names
from handoff import push
from handoff.abandonment import Abandonment
from handoff.accounts import AccountStore
from handoff.announce import Announcer
from handoff.assignment import Assigner
from handoff.channels import (
    MESSENGER,
    channel_of,
    messenger_address,
    messenger_fields,
    output_channel,
)
from handoff.conversation import HUMAN_STATES, ConversationStore, IllegalTransition, State
from handoff.journal import Journal
from handoff.keys import Keys
from handoff.messenger_api import GraphError, SendApi
from handoff.metrics import Recorder
from handoff.outbox import OutboxMessage
from handoff.presence import Presence, Requeuer
from handoff.push import to_agents as publish
from handoff.rasa_api import RasaClient, RasaUnavailable, resume_events
from handoff.settings import Settings
from handoff.streams import TRANSIENT, StreamConsumer, StreamTrimmer
from handoff.teams import Team
from handoff.ticket import Ticket
from handoff.transcript import agent_metadata, turn_from_event
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
                await self._keep_contact(conversation_id, event)
        frame = {"type": "message", "conversation_id": conversation_id, "turn": turn,
                 "audience": audience}
        await publish(self._redis, self._keys, frame)

    async def _watch_handoff(self, conversation_id: str, event: Dict[str, Any]) -> None:
        # When the action server dies (or does not answer) while `action_handoff` runs, Rasa
        # logs the action with none of its events and goes on: no pause, and the customer is
        # told nothing. That shows here as the next action coming before any `pause`: the
        # customer is told to stay, and the requests worker runs the handoff again.
        key = self._keys.conversation(conversation_id)
        if event["event"] == "pause":
            await self._redis.hdel(key, HANDOFF_RUNNING)
        elif event.get("name") == "action_handoff":
            await self._redis.hset(key, HANDOFF_RUNNING, str(event.get("timestamp") or ""))
        elif await self._redis.hget(key, HANDOFF_RUNNING) is not None:
            logger.warning("handoff.lost conversation=%s", conversation_id)
            # Idempotent before the flag goes: a retry of this entry asks again, which the
            # requests worker takes as done once the bot is paused.
            await self._redis.xadd(self._keys.customer_requests_stream, {
                "conversation_id": conversation_id, "kind": "retry_handoff"})
            await self._redis.hdel(key, HANDOFF_RUNNING)

    async def _keep_contact(self, conversation_id: str, event: Dict[str, Any]) -> None:
        # A waiting customer invited to leave an e-mail address or a phone number (nobody
        # could answer at once): the agent who opens the conversation finds it in the context.
        found = {e.get("entity"): str(e.get("value")) for e in
                 (event.get("parse_data") or {}).get("entities") or []
                 if e.get("entity") in CONTACT_ENTITIES and e.get("value")}
        if found:
            await self._redis.hset(self._keys.contact(conversation_id), mapping=found)


CONTACT_ENTITIES = ("email", "phone")
# Conversation hash fields: `action_handoff` started and showed no event yet; a lost handoff
# is being run again.
HANDOFF_RUNNING, HANDOFF_RETRY = "handoff_running", "handoff_retry"
RETRY_HANDOFF_EVERY = 2.0  # seconds between runs of a lost handoff (the action server is away)


class Delivery:
    """Delivers agent messages, once each, in order, and records them in the Rasa tracker.

    The message goes into the tracker through Rasa's `agent_messages` door
    (`bot/agent_messages.py`), which appends it only if it is not there yet, under the
    conversation's lock: a retry after a timeout never appends it twice. Web chat: Rasa sends it
    on the customer's channel as it appends it. Messenger: the Send API is called here first (so
    that its retries and refusals reach the agent as `message.failed`), then the message is
    recorded without sending. A crash between the two may send a Messenger message twice (the
    Send API has no idempotency key); it never loses one.
    """

    def __init__(self, redis: Redis, keys: Keys, rasa: RasaClient, messenger: SendApi,
                 clock: Callable[[], float] = time.time) -> None:
        self._redis, self._keys, self._rasa = redis, keys, rasa
        self._messenger, self._clock = messenger, clock
        self._journal = Journal(redis, keys)

    async def handle(self, entry_id: str, fields: Dict[str, str]) -> None:
        """Sends the message and appends it to the tracker, unless that was already done."""
        message = OutboxMessage.from_fields(fields)
        marks = self._keys.delivered(message.conversation_id)
        mark = await self._redis.hget(marks, message.id)
        if mark in ("sent", "failed"):
            return
        on_messenger = await channel_of(self._redis, self._keys,
                                        message.conversation_id) == MESSENGER
        if on_messenger and mark != "sent_out" and not await self._send_on_messenger(message):
            return
        event = {"event": "bot", "text": message.text,
                 "metadata": agent_metadata(message.agent, message.agent_name, message.id,
                                            message.client_id)}
        try:
            await self._rasa.deliver(
                message.conversation_id, message.id, [event], send=not on_messenger,
                channel=await output_channel(self._redis, self._keys, message.conversation_id))
        except RasaUnavailable as exc:
            if exc.status is not None and 400 <= exc.status < 500:
                await self._fail(message, str(exc))
                return
            raise
        await self._redis.hset(marks, message.id, "sent")

    async def _send_on_messenger(self, message: OutboxMessage) -> bool:
        marks = self._keys.delivered(message.conversation_id)
        psid = await messenger_address(self._redis, self._keys, message.conversation_id)
        fields = await messenger_fields(self._redis, self._keys, message.conversation_id,
                                        self._clock())
        if fields is None:
            await self._fail(message, "customer_unreachable")
            return False
        await self._redis.hset(marks, message.id, "sending")
        try:
            await self._messenger.send_message(psid, {"text": message.text}, fields)
        except GraphError as exc:
            await self._fail(message, f"messenger: {exc}")
            return False
        await self._redis.hset(marks, message.id, "sent_out")
        await self._journal.record(message.conversation_id, "bot",
                                   {"text": message.text, "agent": message.agent_name})
        return True

    async def _fail(self, message: OutboxMessage, reason: str) -> None:
        logger.error("delivery.failed conversation=%s message=%s reason=%s",
                     message.conversation_id, message.id, reason)
        await self._redis.hset(self._keys.delivered(message.conversation_id), message.id,
                               "failed")
        frame = {"type": "message.failed", "conversation_id": message.conversation_id,
                 "message_id": message.id, "client_id": message.client_id, "reason": reason,
                 "audience": push.agents(message.agent)}
        await publish(self._redis, self._keys, frame)


class Requests:
    """Customers' requests, and handoffs to run again.

    `cancel_wait` gives a queued conversation back to the bot; `retry_handoff` (from the relay)
    runs a handoff lost with the action server again.
    """

    def __init__(self, redis: Redis, keys: Keys, store: ConversationStore, rasa: RasaClient,
                 announcer: Announcer) -> None:
        self._redis, self._keys = redis, keys
        self._store, self._rasa, self._announcer = store, rasa, announcer

    async def handle(self, entry_id: str, fields: Dict[str, str]) -> None:
        """One request from the web channel."""
        cid = fields.get("conversation_id", "")
        if fields.get("kind") == "retry_handoff" and cid:
            await self._retry_handoff(cid)
            return
        if fields.get("kind") != "cancel_wait" or not cid:
            return
        try:
            # `resume_pending` stays until Rasa has resumed: a retry after a failure finishes it.
            await self._store.transition(cid, State.BOT, fields={
                "agent": "", "agent_name": "", "resume_pending": "1"})
        except IllegalTransition:
            record = await self._store.get(cid)
            if record.state != State.BOT or not await self._store.resume_pending(cid):
                return  # an agent took it meanwhile, or it was already done
        await self._rasa.append_events(cid, resume_events())
        await self._store.resumed(cid)
        await self._announcer.send(cid, "wait_cancelled", "")
        logger.info("queue.cancelled_by_customer conversation=%s", cid)

    async def _retry_handoff(self, cid: str) -> None:
        """Runs `action_handoff` again until the bot is paused; the customer is told to stay.

        It never makes a second ticket: a conversation already queued keeps its ticket.
        """
        key = self._keys.conversation(cid)
        if (await self._rasa.tracker(cid)).get("paused"):
            await self._redis.hdel(key, HANDOFF_RETRY)  # done: the customer asked again
            return
        if await self._redis.hsetnx(key, HANDOFF_RETRY, "1"):
            await self._announcer.send(cid, "handoff_delayed", "")
        channel = await output_channel(self._redis, self._keys, cid)
        result = await self._rasa.execute(cid, "action_handoff", channel=channel)
        if not (result.get("tracker") or {}).get("paused"):
            await asyncio.sleep(RETRY_HANDOFF_EVERY)
            raise RasaUnavailable(cid, "action_handoff did not run (action server away?)")
        await self._redis.hdel(key, HANDOFF_RETRY)
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
    return isinstance(exc, TRANSIENT)


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

        self._jobs = [
            (consumer(keys.tickets_stream, key_names.GROUP_ROUTER),
             Router(redis, keys, store).handle),
            (consumer(keys.events_stream, key_names.GROUP_RELAY),
             Relay(redis, keys, store).handle),
            # Agent messages: one conversation's in order, different conversations' at once.
            (consumer(keys.outbox_stream, key_names.GROUP_DELIVERY,
                      lane=lambda fields: fields.get("conversation_id", "")),
             Delivery(redis, keys, rasa, messenger).handle),
        ]
        announcer = Announcer(redis, keys, store, rasa)
        self._jobs.append((consumer(keys.customer_requests_stream, key_names.GROUP_REQUESTS),
                           Requests(redis, keys, store, rasa, announcer).handle))
        presence = Presence(redis, keys, settings.disconnect_grace)
        self._periodic: List[Tuple[str, Tick, float]] = [
            ("queue_status", QueueStatus(redis, keys, store).tick, 2.0),
            ("requeue", Requeuer(presence, accounts, store, announcer, redis, keys,
                                 time.time).tick, 5.0),
            ("abandonment", Abandonment(redis, keys, store, rasa, settings.abandon_after,
                                        time.time).tick, 5.0),
            ("trim", StreamTrimmer(redis, [keys.tickets_stream, keys.events_stream,
                                           keys.outbox_stream,
                                           keys.customer_requests_stream]).tick, 60.0),
        ]
        if settings.auto_assign:
            self._periodic.append(("assign", Assigner(redis, keys, store, accounts, presence,
                                                      teams, announcer, time.time).tick, 1.0))

    def start(self) -> None:
        """Starts one task per consumer and per periodic job."""
        for consumer, handler in self._jobs:
            task = asyncio.create_task(consumer.run(handler, self._stop),
                                       name=f"consumer:{consumer.stream}")
            self._tasks.append(task)
        for job, tick, every in self._periodic:
            self._tasks.append(asyncio.create_task(periodic(job, tick, every, self._stop),
                                                   name=job))

    async def stop(self, grace: float = 5.0) -> None:
        """Lets the consumers finish the entry in hand, then cancels what is left."""
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
