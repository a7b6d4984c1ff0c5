"""A data-protection request from start to end: find, export or erase, and record it.

Used by the supervisor's API (`handoff.service.api.privacy_routes`) and the operator's command
(`python -m handoff.privacy`). An erasure first closes every conversation of the customer that a
person owns (the customer is told, in their language, on their channel: the same give-back as an
agent's close), waits for the close's own events to land, then erases, twice: what the channels
or Rasa's event broker wrote while the first pass ran is gone after the second.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import Any, Dict, Optional

from redis.asyncio import Redis

from handoff.conversation import HUMAN_STATES, ConversationStore, IllegalTransition, State
from handoff.keys import Keys
from handoff.notices import notice_event
from handoff.privacy import audit
from handoff.privacy.erase import Eraser
from handoff.privacy.export import export
from handoff.privacy.finder import Customer, Query, find
from handoff.privacy.holdings import holdings
from handoff.privacy.retention import Retention
from handoff.privacy.store import entry_text, mentions, rewrite_persistence
from handoff.rasa_api import RasaUnavailable
from handoff.relay.giveback import GiveBack

logger = logging.getLogger(__name__)

SETTLE_FOR = 1.0  # seconds without a new event after a close before erasing
SETTLE_AT_MOST = 15.0
POLL = 0.2
SETTLE_LOOK_BACK = 200  # newest events looked at for theirs


@dataclass(frozen=True)
class Erased:
    """What an erasure did: counts only (the audit log keeps the same)."""

    closed: int
    counts: Dict[str, int]

    def public(self) -> Dict[str, Any]:
        """As the API answers it."""
        return {"closed": self.closed, "counts": self.counts}


class Desk:
    """Answers data-protection requests on one store."""

    def __init__(self, redis: Redis, keys: Keys, retention: Retention) -> None:
        self._redis, self._keys, self._retention = redis, keys, retention

    async def find(self, query: Query) -> Customer:
        """The customer the query names."""
        return await find(self._redis, self._keys, query)

    async def export(self, query: Query, by: str, reference: str = "") -> Dict[str, Any]:
        """Everything held about them (JSON document), recorded in the audit log."""
        customer = await self.find(query)
        held = await holdings(self._redis, self._keys, customer)
        document = await export(self._redis, self._keys, query, customer, held, self._retention)
        await audit.record(self._redis, self._keys, "export", by, {
            "conversations": len(customer.conversations), "keys": len(held.keys),
            "stream_entries": sum(len(v) for v in held.stream_entries.values())}, reference)
        logger.info("privacy.exported by=%s conversations=%d", by, len(customer.conversations))
        return document

    async def erase(self, query: Query, by: str, giveback: Optional[GiveBack],
                    reference: str = "") -> Erased:
        """Closes their live conversations, erases everything, records it. Idempotent.

        Raises `handoff.rasa_api.RasaUnavailable` when a live conversation cannot be closed
        (Rasa away, or no `giveback` to close it with): then nothing was erased.
        """
        customer = await self.find(query)
        closed = await self._close_live(customer, giveback)
        if closed:
            await self._settle(customer)
        counts: Dict[str, int] = {}
        for _ in range(2):
            customer = _union(customer, await self.find(query))
            done = await Eraser(self._redis, self._keys).erase(
                await holdings(self._redis, self._keys, customer))
            counts = {k: counts.get(k, 0) + done.get(k, 0) for k in {*counts, *done}}
        rewritten = await rewrite_persistence(self._redis)
        if not rewritten:
            logger.warning("privacy.erased.files_not_rewritten: Redis keeps the erased data in "
                           "its files until it rewrites them (docs/privacy.md)")
        await audit.record(self._redis, self._keys, "erase", by,
                           {"conversations": len(customer.conversations), "closed": closed,
                            **counts}, reference)
        logger.info("privacy.erased by=%s conversations=%d closed=%d keys=%d", by,
                    len(customer.conversations), closed, counts.get("keys", 0))
        return Erased(closed, counts)

    async def _close_live(self, customer: Customer, giveback: Optional[GiveBack]) -> int:
        store = ConversationStore(self._redis, self._keys)
        closed = 0
        for cid in sorted(customer.conversations):
            record = await store.get(cid)
            if record.state not in HUMAN_STATES:
                continue
            if giveback is None:
                raise RasaUnavailable(cid, "a live conversation needs closing through Rasa")
            language = await store.language(record) or "en"
            try:
                await giveback.run(cid, State.CLOSED, answer_left=False,
                                   fields={"resolution": "erased", "agent": "", "agent_name": ""},
                                   after=[notice_event("data_erased", language, "")])
            except IllegalTransition:
                continue  # closed meanwhile
            closed += 1
        return closed

    async def _settle(self, customer: Customer) -> None:
        """Waits until Rasa's event broker has written the close's events (bounded).

        Quiet means no new event of theirs for `SETTLE_FOR` seconds, whatever other
        conversations do meanwhile.
        """
        ids = customer.identifiers()
        deadline = time.monotonic() + SETTLE_AT_MOST
        last, quiet_since = None, time.monotonic()
        while time.monotonic() < deadline:
            newest = await self._redis.xrevrange(self._keys.events_stream, "+", "-",
                                                 count=SETTLE_LOOK_BACK)
            theirs = next((entry_id for entry_id, fields in newest
                           if mentions(entry_text(fields), ids)), None)
            if theirs != last:
                last, quiet_since = theirs, time.monotonic()
            elif time.monotonic() - quiet_since >= SETTLE_FOR:
                return
            await asyncio.sleep(POLL)


def _union(first: Customer, second: Customer) -> Customer:
    merged = Customer()
    for name in ("conversations", "psids", "identities", "profiles", "emails", "phones",
                 "tickets"):
        setattr(merged, name, getattr(first, name) | getattr(second, name))
    return merged
