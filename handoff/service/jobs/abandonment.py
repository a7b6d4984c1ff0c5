"""Customers who leave the queue.

A web conversation waiting in the queue whose customer has had no chat page open for `after`
seconds (the web channel writes, every few seconds, the time for each conversation with a page
open: `Keys.customers_seen`) is abandoned: it leaves the queue (queued → closed, resolution
`abandoned`), is counted (`Keys.stats` field `abandoned`), and goes back to the bot
(`handoff.relay.giveback`), so that a customer who comes back later is answered. Messenger
conversations are not abandoned this way: Messenger keeps the thread, and customers answer
hours later.
"""

from __future__ import annotations

import logging
from typing import Callable

from redis.asyncio import Redis

from handoff.channels import WEB
from handoff.conversation import ConversationStore, IllegalTransition, State
from handoff.keys import Keys
from handoff.rasa_api import RasaUnavailable
from handoff.relay.giveback import GiveBack

logger = logging.getLogger(__name__)

DEFAULT_AFTER = 300.0


class Abandonment:
    """One pass over the queue per `tick()`."""

    def __init__(self, redis: Redis, keys: Keys, store: ConversationStore, giveback: GiveBack,
                 after: float, clock: Callable[[], float]) -> None:
        self._redis, self._keys, self._store, self._giveback = redis, keys, store, giveback
        self._after, self._clock = after, clock

    async def tick(self) -> int:
        """Closes the abandoned conversations; how many."""
        now = self._clock()
        closed = 0
        # The whole queue in three round trips: its ids, records, and when each page was open.
        web = [record for record in await self._store.queued() if record.channel == WEB]
        seen = await self._redis.hmget(self._keys.customers_seen,
                                       [record.id for record in web]) if web else []
        for record, seen_at in zip(web, seen, strict=True):
            cid = record.id
            last = max(float(seen_at or 0), record.queued_at or 0.0)
            if now - last <= self._after:
                continue
            try:
                await self._giveback.run(
                    cid, State.CLOSED, fields={"resolution": "abandoned", "agent": "",
                                               "agent_name": ""},
                    extra=lambda pipe, _: pipe.hincrby(self._keys.stats, "abandoned", 1),
                    answer_left=False)
            except IllegalTransition:
                continue  # taken or cancelled meanwhile
            except RasaUnavailable as exc:
                logger.warning("abandoned.resume.failure conversation=%s error=%s", cid, exc)
                continue  # still queued: the next pass tries again
            closed += 1
            logger.info("queue.abandoned conversation=%s waited=%.0f", cid, now - last)
        return closed
