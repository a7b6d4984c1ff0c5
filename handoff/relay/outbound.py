"""Agent → customer: from the outbox to the customer's channel, with no stop in Rasa.

The delivery worker (group `delivery`, one lane per conversation: a conversation's messages in
order, different conversations' at the same time) takes each outbox entry, an agent's message or
a notice, and
- on the web chat, journals it (`handoff.journal`: the page's replay) and appends it to the
  `customer-out` stream, which every Rasa process reads to emit it to its own sockets in the
  customer's room (`bot.customer_events`);
- on Messenger, calls the Send API (its 24-hour and 7-day rules: `handoff.channels`), then
  journals it;
then appends it to the segment for the tracker (`handoff.relay.tracker`) and shows it on the
consoles. A retry after a crash sends a web message again under the same journal id (the page
drops ids it shows) and appends its turn again (the tracker writer keeps one); on Messenger a
crash between the Send API and the mark may send it twice (the Send API has no idempotency key),
never lose it.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any, Callable, Dict, List, Optional, Tuple

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline

from handoff import push
from handoff.channels import MESSENGER, WEB, channel_of, messenger_address, messenger_fields
from handoff.conversation import Conversation, ConversationStore
from handoff.journal import Journal
from handoff.keys import Keys
from handoff.messenger_api import TEXT_MAX, GraphError, SendApi, send_fields
from handoff.outbox import OutboxMessage
from handoff.redis_client import check_replicated, replicated_on, replicated_on_each
from handoff.relay.frames import Part, web_parts
from handoff.relay.tracker import append_turns, queue_turns
from handoff.relay.turns import agent_event
from handoff.streams import Acknowledgement, Entry
from handoff.transcript import turn_from_event
from handoff.webchat_frames import bot_frame

logger = logging.getLogger(__name__)

CUSTOMER_OUT_KEPT = 600  # seconds of `customer-out` kept: Rasa processes read it at once


class WebChatSender:
    """Journals each frame and hands it to every Rasa process."""

    def __init__(self, redis: Redis, keys: Keys) -> None:
        self._redis, self._keys = redis, keys
        self._journal = Journal(redis, keys)

    async def send(self, conversation_id: str, parts: List[Part]) -> None:
        """Sends the frames to the customer's sockets, wherever they are connected."""
        for once_key, payload in parts:
            assert once_key is not None
            # On the replicas before the page can see it: a failover that lost the journal
            # entry would journal it again under another id, and the page would show it twice.
            async with self._redis.pipeline(transaction=False) as pipe:
                await self._journal.record_once_on(pipe, conversation_id, "bot", payload,
                                                   once_key)
                waits = replicated_on(pipe, self._redis, near=self._keys.journal(conversation_id))
                replies = await pipe.execute()
            if waits:
                check_replicated(replies[-1], waits)
            entry_id = replies[0][0]
            async with self._redis.pipeline(transaction=False) as pipe:
                self.queue(pipe, conversation_id, bot_frame(payload, entry_id))
                await pipe.execute()

    def queue(self, pipe: Pipeline, conversation_id: str, frame: Dict[str, Any]) -> None:
        """Queues a journaled frame on `pipe` for the Rasa processes (`bot.customer_events`)."""
        oldest = int((time.time() - CUSTOMER_OUT_KEPT) * 1000)
        pipe.xadd(self._keys.customer_out_stream,
                  {"room": conversation_id, "event": "bot_uttered",
                   "data": json.dumps(frame, ensure_ascii=False)},
                  minid=f"{oldest}-0", approximate=True)


class Delivery:
    """Delivers outbox messages, once each, in order, and queues them for the tracker."""

    def __init__(self, redis: Redis, keys: Keys, store: ConversationStore, messenger: SendApi,
                 clock: Callable[[], float] = time.time) -> None:
        self._redis, self._keys, self._store = redis, keys, store
        self._messenger, self._clock = messenger, clock
        self._journal = Journal(redis, keys)
        self._web = WebChatSender(redis, keys)

    async def handle_batch(self, entries: List[Entry],
                           acknowledgement: Optional[Acknowledgement] = None) -> None:
        """Delivers a read of the outbox: the web chat's messages in three round trips in all.

        Messenger's go one by one (`handle`): each waits for the Send API anyway. The read's
        `acknowledgement` goes in the last round trip.
        """
        messages = [OutboxMessage.from_fields(fields) for _, fields in entries]
        cids = [m.conversation_id for m in messages]
        async with self._redis.pipeline(transaction=False) as pipe:
            for message in messages:
                pipe.hget(self._keys.delivered(message.conversation_id), message.id)
            self._store.get_many_on(pipe, cids)
            replies = await pipe.execute()
        marks, records = replies[:len(messages)], self._store.records(cids, replies[len(messages):])
        web: List[Tuple[OutboxMessage, Dict[str, Any], Conversation]] = []
        for message, mark, record in zip(messages, marks, records, strict=True):
            if mark in ("sent", "failed"):
                continue
            if (record.channel or WEB) == MESSENGER:
                await self.handle("", message.to_fields())
            else:
                web.append((message, self._event(message), record))
        if not web:
            return
        # Recorded before it is sent (as in `handle`), then journaled once per part.
        parts = []
        async with self._redis.pipeline(transaction=False) as pipe:
            for message, event, _ in web:
                queue_turns(pipe, self._keys, message.conversation_id,
                            self._turns(message, event), answered=not message.notice)
            for message, _, _ in web:
                for once_key, payload in self._parts(message):
                    assert once_key is not None
                    await self._journal.record_once_on(pipe, message.conversation_id, "bot",
                                                       payload, once_key)
                    parts.append((message.conversation_id, payload))
            # On the replicas before the pages can see them (as in `WebChatSender.send`).
            waits = replicated_on_each(pipe, self._redis,
                                       [self._keys.journal(cid) for cid, _ in parts])
            replies = await pipe.execute()
        for reply, wanted in zip(replies[len(replies) - len(waits):], waits, strict=True):
            check_replicated(reply, wanted)
        journaled = replies[len(replies) - len(waits) - len(parts):len(replies) - len(waits)]
        async with self._redis.pipeline(transaction=False) as pipe:
            for (cid, payload), (entry_id, _) in zip(parts, journaled, strict=True):
                self._web.queue(pipe, cid, bot_frame(payload, str(entry_id)))
            for message, _, _ in web:
                pipe.hset(self._keys.delivered(message.conversation_id), message.id, "sent")
            push.many_to_agents(pipe, self._keys, [
                self._frame(message, event, record) for message, event, record in web])
            if acknowledgement is not None:
                acknowledgement.on(pipe)
            await pipe.execute()

    def _turns(self, message: OutboxMessage, event: Dict[str, Any]) -> List[Dict[str, Any]]:
        slots = [{"event": "slot", "name": name, "value": value, "timestamp": event["timestamp"]}
                 for name, value in message.extra_fields().get("slots", {}).items()]
        return [*slots, event]

    @staticmethod
    def _parts(message: OutboxMessage) -> List[Part]:
        return web_parts(message.text, agent=message.agent_name or message.agent or None,
                         message_id=message.id, notice=message.notice or None)

    async def handle(self, entry_id: str, fields: Dict[str, str]) -> None:
        """Sends the message, unless that was already done, then records it."""
        message = OutboxMessage.from_fields(fields)
        cid = message.conversation_id
        marks = self._keys.delivered(cid)
        mark = await self._redis.hget(marks, message.id)
        if mark in ("sent", "failed"):
            return
        event = self._event(message)
        turns = self._turns(message, event)
        if await channel_of(self._redis, self._keys, cid) == MESSENGER:
            # Recorded only once the Send API took it: a message that failed is not in the record.
            if mark != "sent_out" and not await self._send_on_messenger(message):
                return
            await append_turns(self._redis, self._keys, cid, turns, answered=not message.notice)
        else:
            # Recorded before it is sent: a customer who answers it at once is answering a turn
            # that is already in the segment, before theirs.
            await append_turns(self._redis, self._keys, cid, turns, answered=not message.notice)
            await self._web.send(cid, self._parts(message))
        await self._redis.hset(marks, message.id, "sent")
        await self._show(message, event)

    def _event(self, message: OutboxMessage) -> Dict[str, Any]:
        if not message.notice:
            return agent_event(message.text, message.agent, message.agent_name, message.id,
                               message.client_id, at=self._clock())
        metadata = {**message.extra_fields().get("metadata", {}), "message_id": message.id}
        return {"event": "bot", "text": message.text, "timestamp": self._clock(),
                "metadata": metadata}

    async def _show(self, message: OutboxMessage, event: Dict[str, Any]) -> None:
        # An agent's message is for that agent: only a notice needs to know who has it now.
        record = None if message.agent else await self._store.get(message.conversation_id)
        await push.to_agents(self._redis, self._keys, self._frame(message, event, record))

    @staticmethod
    def _frame(message: OutboxMessage, event: Dict[str, Any],
               record: Optional[Conversation]) -> Dict[str, Any]:
        """The consoles' frame: an agent's message for them, a notice for whoever has it now."""
        if message.agent:
            audience = push.agents(message.agent)
        else:
            assert record is not None
            audience = push.agents(record.agent) if record.agent else push.team(record.team)
        return {"type": "message", "conversation_id": message.conversation_id,
                "turn": turn_from_event(event), "audience": audience}

    async def _send_on_messenger(self, message: OutboxMessage) -> bool:
        cid = message.conversation_id
        marks = self._keys.delivered(cid)
        psid = await messenger_address(self._redis, self._keys, cid)
        if message.notice:
            # A notice is the service's, not a person's: Messenger's rules for automated
            # messages (inside the 24-hour window, no tag); outside it, it is only recorded.
            last = await self._redis.get(self._keys.messenger_last_inbound(psid))
            fields = send_fields(float(last) if last else None, self._clock(), human=False)
            if fields is None:
                return True
        else:
            fields = await messenger_fields(self._redis, self._keys, cid, self._clock())
            if fields is None:
                await self._fail(message, "customer_unreachable")
                return False
        await self._redis.hset(marks, message.id, "sending")
        try:
            for start in range(0, len(message.text), TEXT_MAX):
                await self._messenger.send_message(
                    psid, {"text": message.text[start:start + TEXT_MAX]}, fields)
        except GraphError as exc:
            if message.notice:
                logger.error("delivery.notice.failure conversation=%s error=%s", cid, exc)
                return True
            await self._fail(message, f"messenger: {exc}")
            return False
        await self._redis.hset(marks, message.id, "sent_out")
        await self._journal.record(cid, "bot", {"text": message.text,
                                                "agent": message.agent_name})
        return True

    async def _fail(self, message: OutboxMessage, reason: str) -> None:
        logger.error("delivery.failed conversation=%s message=%s reason=%s",
                     message.conversation_id, message.id, reason)
        await self._redis.hset(self._keys.delivered(message.conversation_id), message.id,
                               "failed")
        await push.to_agents(self._redis, self._keys, {
            "type": "message.failed", "conversation_id": message.conversation_id,
            "message_id": message.id, "client_id": message.client_id, "reason": reason,
            "audience": push.agents(message.agent)})
