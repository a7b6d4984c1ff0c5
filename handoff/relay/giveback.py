"""Giving a conversation back to the bot: written once, for every way a handoff ends.

Hand-back, close, a customer who stops waiting and abandonment all call `GiveBack.run`:
1. the segment is written to the tracker (Rasa must be up: otherwise nothing has changed);
2. the state machine moves the conversation, with `resume_pending` set: from then on the
   channels hold the customer's messages in the segment (`handoff.relay.inbound`), neither to
   the agent nor to a bot that is still paused;
3. `finish`: the turns before the hand-over are written, the bot is resumed (in the customer's
   language now, the record's, and with the events the caller sends after the resume: a
   goodbye, a survey...), the held turns are written after it
   (the transition put a boundary in the segment, which the writer does not pass), and
   `resume_pending` is cleared in the same step that finds the segment empty, so that no message
   slips between the last write and the bot;
4. the customer's last message of the segment is parsed by Rasa's NLU (`/model/parse`, once per
   give-back, not per message) and its result kept with it in the tracker; if it came after the
   hand-over (held), or no agent answered it (hand-back, stop waiting), the bot answers it (its
   intent and entities are triggered): a message is never left with nobody to answer.
A give-back cut short after step 2 (Rasa went away) stays in `Keys.givebacks`, with what it had
left to do in the conversation hash (`giveback_plan`); `tick` finishes it the same way.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any, Callable, Dict, Optional, Sequence

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline

from handoff.channels import output_channel
from handoff.conversation import GIVEBACK_PLAN, Conversation, ConversationStore, State
from handoff.customer_text import neutralise
from handoff.keys import Keys
from handoff.rasa_api import RasaClient, RasaUnavailable, resume_events
from handoff.redis_client import Script, is_cluster
from handoff.relay.tracker import BOUNDARY, TrackerWriter

logger = logging.getLogger(__name__)

FINISH_AFTER = 10.0  # seconds before a give-back cut short is finished by `tick`

# KEYS: conversation hash, segment, last customer turn, and off a Redis Cluster the givebacks
# zset (on one it lives in another slot: its entry is taken out after the step, and one left by
# a crash between is dropped by `tick`, the record no longer `resume_pending`).
# ARGV: conversation id. Returns false while the segment has turns; else the last customer turn
# (hash as a list).
_RELEASE = """
if redis.call('XLEN', KEYS[2]) > 0 then return false end
redis.call('HDEL', KEYS[1], 'resume_pending', 'giveback_plan')
if KEYS[4] then redis.call('ZREM', KEYS[4], ARGV[1]) end
local last = redis.call('HGETALL', KEYS[3])
redis.call('DEL', KEYS[3])
return last
"""

Events = Sequence[Dict[str, Any]]


class GiveBack:
    """Ends a handoff: every turn in the tracker, then the bot resumes."""

    def __init__(self, redis: Redis, keys: Keys, store: ConversationStore, rasa: RasaClient,
                 writer: TrackerWriter, clock: Callable[[], float] = time.time) -> None:
        self._redis, self._keys, self._store = redis, keys, store
        self._rasa, self._writer, self._clock = rasa, writer, clock
        self._release = Script(redis, _RELEASE)
        self._cluster = is_cluster(redis)

    async def run(self, conversation_id: str, target: State, *, owner: Optional[str] = None,
                  fields: Optional[Dict[str, str]] = None,
                  extra: Optional[Callable[[Pipeline, Conversation], None]] = None,
                  after: Events = (), flow_intent: Optional[str] = None,
                  answer_left: bool = True) -> Conversation:
        """Moves the conversation to `target` (bot or closed) and resumes the bot.

        Raises `RasaUnavailable` (nothing changed) when the segment cannot be written first, and
        the state machine's errors. `after`: events appended (and sent) after the resume;
        `flow_intent`: an intent triggered instead of answering the customer's last message.
        """
        await self._writer.flush(conversation_id)
        keys, now = self._keys, self._clock()

        def writes(pipe: Pipeline, current: Conversation) -> None:
            pipe.zadd(keys.givebacks, {conversation_id: now})
            # Turns taken from now on are written after the bot's resume.
            pipe.xadd(keys.segment(conversation_id), {BOUNDARY: "1"})
            if extra is not None:
                extra(pipe, current)

        # What is left to do, kept with the state: a give-back cut short is finished the same way.
        plan = json.dumps({"after": list(after), "flow_intent": flow_intent,
                           "answer_left": answer_left}, ensure_ascii=False)
        record = await self._store.transition(
            conversation_id, target, owner=owner, extra=writes,
            fields={**(fields or {}), "resume_pending": "1", GIVEBACK_PLAN: plan})
        try:
            await self.finish(conversation_id)
        except RasaUnavailable as exc:
            logger.warning("giveback.unfinished conversation=%s error=%s", conversation_id, exc)
        return record

    async def finish(self, conversation_id: str) -> None:
        """Writes the held turns, resumes the bot and answers what was left (steps 3 and 4)."""
        held = await self._store.get(conversation_id)
        language = held.language
        plan = json.loads(held.giveback_plan) if held.giveback_plan else {}
        after, flow_intent = plan.get("after") or [], plan.get("flow_intent")
        answer_left = bool(plan.get("answer_left"))
        await self._writer.flush(conversation_id)  # up to the hand-over
        channel = await output_channel(self._redis, self._keys, conversation_id)
        await self._rasa.append_events(conversation_id, [*resume_events(language), *after],
                                       send=True, channel=channel)
        await self._writer.drop_boundary(conversation_id)
        here = [self._keys.conversation(conversation_id), self._keys.segment(conversation_id),
                self._keys.last_customer_turn(conversation_id)]
        while True:
            last = await self._release(keys=here if self._cluster else
                                       [*here, self._keys.givebacks], args=[conversation_id])
            if last is not None:
                break
            await self._writer.flush(conversation_id)
        if self._cluster:
            await self._redis.zrem(self._keys.givebacks, conversation_id)
        fields = dict(zip(last[::2], last[1::2], strict=True))
        if flow_intent:
            await self._rasa.trigger_intent(conversation_id, flow_intent, channel=channel)
        if fields.get("event"):
            # Held (written after the hand-over, while the bot was being resumed): the bot's to
            # answer. Else the agent's: answered by the bot only if the agent let it go.
            left = answer_left and not flow_intent and fields.get("answered") != "1"
            await self._answer(conversation_id, json.loads(fields["event"]), channel,
                               fields.get("held") == "1" or left)
        logger.info("giveback.done conversation=%s", conversation_id)

    async def _answer(self, conversation_id: str, event: Dict[str, Any], channel: str,
                      answer: bool) -> None:
        """Keeps the NLU of the customer's last message in the tracker; answers it if asked."""
        # Typed to a person: a leading "/" is words, never an intent with its slots.
        text = neutralise(event.get("text") or "", offered=())
        parsed = await self._rasa.parse(text, event.get("message_id"))
        await self._writer.flush(conversation_id, {event.get("message_id") or "": parsed})
        intent = (parsed.get("intent") or {}).get("name")
        if not answer or not intent:
            return
        entities = {e["entity"]: e.get("value") for e in parsed.get("entities") or []
                    if e.get("entity")}
        await self._rasa.trigger_intent(conversation_id, intent, channel=channel,
                                        entities=entities)

    async def tick(self) -> int:
        """Finishes the give-backs that were cut short (Rasa away); how many."""
        due = await self._redis.zrangebyscore(self._keys.givebacks, "-inf",
                                              self._clock() - FINISH_AFTER, start=0, num=20)
        for conversation_id in due:
            record = await self._store.get(conversation_id)
            if record.state in (State.BOT, State.CLOSED) and not record.resume_pending:
                # Finished, its entry left by a crash after the step (on a Cluster).
                await self._redis.zrem(self._keys.givebacks, conversation_id)
                continue
            if record.state not in (State.BOT, State.CLOSED):
                # Not the give-back it was any more: nothing to finish, nothing to hold back.
                await self._writer.drop_boundary(conversation_id)
                await self._redis.zrem(self._keys.givebacks, conversation_id)
                continue
            await self.finish(conversation_id)
        return len(due)
