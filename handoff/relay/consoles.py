"""Customer turns of live conversations, from the `relay` stream to the agents' consoles.

The handoff service's consumer of the `relay` stream (group `consoles`): each turn is pushed to
the agent who owns the conversation (its team while it waits), with what the NLU used to give
and the agent needs now, computed on this one message: signs of frustration, contact details a
waiting customer leaves (kept with the conversation for whoever opens it), and the customer's
language: a message clearly in the other language (`handoff.language.detect`; "ok" or a number
show none) becomes the conversation record's `language`, which the next notices, the give-back
and the survey speak, and which the frame carries to the console.
"""

from __future__ import annotations

import json
from typing import Dict, List, Optional

from redis.asyncio import Redis

from handoff import push
from handoff.conversation import HUMAN_STATES, ConversationStore
from handoff.frustration import detect as detect_frustration
from handoff.keys import Keys
from handoff.language import detect as detect_language
from handoff.pii import contact_details
from handoff.streams import Acknowledgement, Entry
from handoff.transcript import turn_from_event


async def keep_contact(redis: Redis, keys: Keys, conversation_id: str, text: str) -> None:
    """Keeps an e-mail address or phone number the customer wrote, for whoever opens the chat."""
    found = contact_details(text)
    if found:
        await redis.hset(keys.contact(conversation_id), mapping=found)


class ConsoleRelay:
    """Takes `relay` stream entries: customer messages to the consoles."""

    def __init__(self, redis: Redis, keys: Keys, store: ConversationStore) -> None:
        self._redis, self._keys, self._store = redis, keys, store

    async def handle(self, entry_id: str, fields: Dict[str, str]) -> None:
        """Pushes one turn to whoever owns the conversation now."""
        await self.handle_batch([(entry_id, fields)])

    async def handle_batch(self, entries: List[Entry],
                           acknowledgement: Optional[Acknowledgement] = None) -> None:
        """Pushes each turn to whoever owns its conversation now: two round trips in all.

        The read's `acknowledgement` goes in the second.
        """
        turns = []
        for _, fields in entries:
            conversation_id = fields.get("conversation_id", "")
            event = json.loads(fields.get("event") or "{}")
            turn = turn_from_event(event)
            if conversation_id and turn is not None:
                turns.append((conversation_id, event, turn))
        if not turns:
            return
        records = await self._store.get_many([cid for cid, _, _ in turns])
        frames = []
        languages = {record.id: record.language for record in records}  # as the turns go
        async with self._redis.pipeline(transaction=False) as pipe:
            for (conversation_id, event, turn), conversation in zip(turns, records, strict=True):
                if conversation.state not in HUMAN_STATES:
                    continue  # given back meanwhile: the turn is in the segment, on its way to Rasa
                # A button's "/intent" payload is no language, like in `bot.language`.
                shown = None if turn.get("payload") else detect_language(turn.get("text") or "")
                if shown is not None and shown.language != languages[conversation_id]:
                    languages[conversation_id] = shown.language
                    self._store.follow_language(pipe, conversation_id, shown.language)
                found = contact_details(turn.get("text") or "")
                if found:
                    pipe.hset(self._keys.contact(conversation_id), mapping=found)
                signals = detect_frustration([event]).signals
                if signals:
                    turn["frustration"] = signals
                audience = push.agents(conversation.agent) if conversation.agent else \
                    push.team(conversation.team)
                frames.append({"type": "message", "conversation_id": conversation_id,
                               "turn": turn, "language": languages[conversation_id],
                               "audience": audience})
            push.many_to_agents(pipe, self._keys, frames)
            if acknowledgement is not None:
                acknowledgement.on(pipe)
            await pipe.execute()
