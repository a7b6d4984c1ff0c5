"""Rasa's Redis tracker store on the product's Redis, whatever its topology.

Rasa's own `RedisTrackerStore` takes a host and a port only: no Sentinel (RasaHQ/rasa#6227).
This is the same store (the same JSON, which the live path's write-behind and the miner read),
on a client from `handoff.redis_client.connect_sync`: a single Redis, a Sentinel group or a
Redis Cluster, named by `REDIS_URL`. Its key carries the conversation's hash tag,
`hfv1:tracker:{<id>}` (`handoff.keys.RasaKeys`), so that the conversation's keys share one slot
on a Redis Cluster. A tracker still under Rasa's own name, `hfv1:tracker:<id>`, is read from
there and moved to the new name by its next save (off a Cluster; `python -m handoff.rasa_keys`
moves them all).
Configured in `endpoints.yml`:

    tracker_store:
      type: bot.tracker_store.UrlRedisTrackerStore
      url: ${REDIS_URL}
      key_prefix: hfv1
"""

from __future__ import annotations

from typing import Any, Iterable, Optional, Text, Tuple

from rasa.core.brokers.broker import EventBroker
from rasa.core.tracker_store import DEFAULT_REDIS_TRACKER_STORE_KEY_PREFIX, RedisTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.trackers import (
    DialogueStateTracker,
    TrackerEventDiffEngine,
    get_trackers_for_conversation_sessions,
)

from handoff.keys import RasaKeys
from handoff.redis_client import connect_sync, is_cluster


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
        self.red = connect_sync(host)  # a Cluster too: see `connect_sync`
        # Rasa's prefix rule applied (`hfv1:tracker:`, or `tracker:` for a refused prefix).
        self.rasa_keys = RasaKeys(
            self.key_prefix[:-len(DEFAULT_REDIS_TRACKER_STORE_KEY_PREFIX)].rstrip(":"))
        self._legacy = not is_cluster(self.red)  # on a Cluster the old names were moved before

    async def save(self, tracker: DialogueStateTracker, timeout: Optional[float] = None) -> None:
        """Rasa's save, reading the stored tracker once.

        Rasa's reads and rebuilds it twice per save (once to find the events for the broker,
        once to merge), so every turn paid two loads of the whole transcript. The result is
        the same: the broker gets the events the stored tracker's last session lacks, and the
        stored tracker is merged as Rasa merges it. Nothing else writes the tracker meanwhile:
        Rasa holds the conversation's lock, which the live path's write-behind respects.
        """
        stored, legacy = self.stored(tracker.sender_id)
        prior = self.deserialise_tracker(tracker.sender_id, stored) if stored is not None \
            else None
        if self.event_broker is not None:
            new_events = TrackerEventDiffEngine.event_difference(_last_session(prior), tracker)
            await self._stream_new_events(self.event_broker, new_events, tracker.sender_id)
        if not timeout and self.record_exp:
            timeout = self.record_exp
        if prior is not None:
            tracker = self._merge_trackers(prior, tracker)
        self.put(tracker.sender_id, self.serialise_tracker(tracker), legacy, ex=timeout)

    async def _retrieve(self, sender_id: Text, fetch_all_sessions: bool
                        ) -> Optional[DialogueStateTracker]:
        """Rasa's, reading the tracker under its name in either layout."""
        stored, _ = self.stored(sender_id)
        if stored is None:
            return None
        tracker = self.deserialise_tracker(sender_id, stored)
        return tracker if fetch_all_sessions else _last_session(tracker)

    async def keys(self) -> Iterable[Text]:
        """The conversation ids of every stored tracker, in either layout.

        Rasa's store answers the keys' full names with a blocking `KEYS`; its callers (`rasa
        export`) take them for conversation ids. A SCAN, a page at a time, does not hold up
        Redis over a large store; on a Cluster redis-py's client scans every primary.
        """
        return sorted({self.rasa_keys.conversation_of(key) for key in
                       self.red.scan_iter(match=self.rasa_keys.tracker_pattern, count=1000)})

    def stored(self, sender_id: Text) -> Tuple[Optional[Text], bool]:
        """The stored JSON, and whether it is under Rasa's own name (off a Cluster only).

        Under both names (an older Rasa process still running beside this one) the new one is
        read and the old one left alone: `python -m handoff.rasa_keys` reports it.
        """
        if not self._legacy:
            return self.red.get(self.rasa_keys.tracker(sender_id)), False
        new, old = self.red.mget(self.rasa_keys.trackers(sender_id))  # one read, both names
        return (new, False) if new is not None else (old, old is not None)

    def put(self, sender_id: Text, serialised: Text, legacy: bool,
            ex: Optional[float] = None, keepttl: bool = False) -> None:
        """Writes the JSON `stored` read, under the new name; `legacy`: moved from the old one.

        The caller read it (and merged what it held) under the conversation's lock.
        """
        if not legacy:
            self.red.set(self.rasa_keys.tracker(sender_id), serialised, ex=ex, keepttl=keepttl)
            return
        with self.red.pipeline(transaction=True) as pipe:  # moved whole, in one round trip
            old = self.rasa_keys.legacy_tracker(sender_id)
            if keepttl:  # the old name's TTL (COPY copies it; a name gone meanwhile is no error)
                pipe.copy(old, self.rasa_keys.tracker(sender_id), replace=True)
            pipe.set(self.rasa_keys.tracker(sender_id), serialised, ex=ex, keepttl=keepttl)
            pipe.delete(old)
            pipe.execute()


def _last_session(tracker: Optional[DialogueStateTracker]) -> Optional[DialogueStateTracker]:
    """What Rasa's `retrieve` gives for a stored tracker: its last conversation session."""
    if tracker is None:
        return None
    sessions = get_trackers_for_conversation_sessions(tracker)
    return tracker if len(sessions) <= 1 else sessions[-1]
