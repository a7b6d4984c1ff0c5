"""Rasa's Redis tracker store on the product's Redis, whatever its topology.

Rasa's own `RedisTrackerStore` takes a host and a port only: no Sentinel (RasaHQ/rasa#6227).
This is the same store (the same keys, `hfv1:tracker:<id>`, and the same JSON, which the live
path's write-behind and the miner read), on a client from `handoff.redis_client`: a single
Redis or a Sentinel group, named by `REDIS_URL`. Configured in `endpoints.yml`:

    tracker_store:
      type: bot.tracker_store.UrlRedisTrackerStore
      url: ${REDIS_URL}
      key_prefix: hfv1
"""

from __future__ import annotations

from typing import Any, Optional, Text

from rasa.core.brokers.broker import EventBroker
from rasa.core.tracker_store import RedisTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.trackers import (
    DialogueStateTracker,
    TrackerEventDiffEngine,
    get_trackers_for_conversation_sessions,
)

from handoff.redis_client import connect_sync


class UrlRedisTrackerStore(RedisTrackerStore):
    """`RedisTrackerStore` whose client comes from `REDIS_URL` (`host` is that URL here)."""

    def __init__(self, domain: Domain, host: Optional[Text] = None,
                 event_broker: Optional[EventBroker] = None,
                 record_exp: Optional[float] = None, key_prefix: Optional[Text] = None,
                 **kwargs: Any) -> None:
        if not host:
            raise ValueError("bot.tracker_store.UrlRedisTrackerStore needs `url` (REDIS_URL)")
        super().__init__(domain, event_broker=event_broker, record_exp=record_exp,
                         key_prefix=key_prefix, **kwargs)
        # Rasa's client (localhost, never used: redis-py connects lazily) is replaced.
        self.red.close()
        self.red = connect_sync(host)

    async def save(self, tracker: DialogueStateTracker, timeout: Optional[float] = None) -> None:
        """Rasa's save, reading the stored tracker once.

        Rasa's reads and rebuilds it twice per save (once to find the events for the broker,
        once to merge), so every turn paid two loads of the whole transcript. The result is
        the same: the broker gets the events the stored tracker's last session lacks, and the
        stored tracker is merged as Rasa merges it. Nothing else writes the tracker meanwhile:
        Rasa holds the conversation's lock, which the live path's write-behind respects.
        """
        key = self.key_prefix + tracker.sender_id
        stored = self.red.get(key)
        prior = self.deserialise_tracker(tracker.sender_id, stored) if stored is not None \
            else None
        if self.event_broker is not None:
            new_events = TrackerEventDiffEngine.event_difference(_last_session(prior), tracker)
            await self._stream_new_events(self.event_broker, new_events, tracker.sender_id)
        if not timeout and self.record_exp:
            timeout = self.record_exp
        if prior is not None:
            tracker = self._merge_trackers(prior, tracker)
        self.red.set(key, self.serialise_tracker(tracker), ex=timeout)


def _last_session(tracker: Optional[DialogueStateTracker]) -> Optional[DialogueStateTracker]:
    """What Rasa's `retrieve` gives for a stored tracker: its last conversation session."""
    if tracker is None:
        return None
    sessions = get_trackers_for_conversation_sessions(tracker)
    return tracker if len(sessions) <= 1 else sessions[-1]
