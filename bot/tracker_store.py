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
