"""Telling the customer that their conversation changed hands.

Used by the agent API (claim, transfer, reassign) and by the background workers (automatic
assignment, requeue when an agent disconnects). While a person owns the conversation, a notice
takes the live path behind the agent's messages (`handoff.outbox`, `handoff.relay.outbound`);
otherwise it goes through Rasa, which sends it on the customer's channel. Best effort: the
change itself is already in Redis; a customer who misses a notice still gets the next messages.
"""

from __future__ import annotations

import logging
from typing import Any, Dict, Optional, Sequence

from redis.asyncio import Redis

from handoff.channels import output_channel
from handoff.conversation import HUMAN_STATES, Conversation, ConversationStore
from handoff.keys import Keys
from handoff.notices import notice_event
from handoff.outbox import enqueue_notice
from handoff.rasa_api import RasaClient, RasaUnavailable

logger = logging.getLogger(__name__)


class Announcer:
    """Sends notices to customers in their language, on their channel."""

    def __init__(self, redis: Redis, keys: Keys, store: ConversationStore,
                 rasa: RasaClient) -> None:
        self._redis, self._keys, self._store, self._rasa = redis, keys, store, rasa

    async def agent_joined(self, conversation_id: str, agent_name: str) -> None:
        """Tells the customer who has joined (and keeps the name in the `handoff_agent` slot)."""
        await self.send(conversation_id, "agent_joined", agent_name,
                        [{"event": "slot", "name": "handoff_agent", "value": agent_name}])

    async def send(self, conversation_id: str, kind: str, agent_name: str,
                   before: Sequence[Dict[str, Any]] = (),
                   record_fields: Optional[Dict[str, Any]] = None, **fields: Any) -> bool:
        """One notice (`handoff.notices.TEXTS[kind]`); whether Rasa took it.

        A field given in each language (`{"en": …, "fr": …}`) is put in the customer's.
        `record_fields` go into the event's metadata as they are (what the conversation's
        record keeps of it, e.g. an action on an order).
        """
        record = await self._store.get(conversation_id)
        language = await self.language(conversation_id, record)
        fields = {name: value.get(language, value.get("en")) if isinstance(value, dict) else value
                  for name, value in fields.items()}
        notice = notice_event(kind, language, agent_name, **fields, **(record_fields or {}))
        if record.state in HUMAN_STATES:
            slots = {e["name"]: e.get("value") for e in before if e.get("event") == "slot"}
            await enqueue_notice(self._redis, self._keys, conversation_id, kind, notice["text"],
                                 notice["metadata"], slots)
            return True
        events = [*before, notice]
        try:
            await self._rasa.append_events(
                conversation_id, events, send=True,
                channel=await output_channel(self._redis, self._keys, conversation_id))
        except RasaUnavailable as exc:
            logger.warning("notice.failure conversation=%s kind=%s error=%s", conversation_id,
                           kind, exc)
            return False
        return True

    async def language(self, conversation_id: str,
                       record: Optional[Conversation] = None) -> str:
        """The customer's language now: the record's (else the ticket's), else the bot's slot."""
        record = record or await self._store.get(conversation_id)
        return await self._store.language(record) or await self._language_slot(conversation_id)

    async def _language_slot(self, conversation_id: str) -> str:
        # No ticket yet (a handoff that is being run again): the bot knows the language.
        try:
            slots = (await self._rasa.tracker(conversation_id)).get("slots") or {}
        except RasaUnavailable:
            return "en"
        return slots.get("language") if slots.get("language") in ("en", "fr") else "en"
