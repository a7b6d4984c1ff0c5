"""Shared clients of the action server, created once on first use.

rasa-sdk instantiates actions itself, with no arguments, so the action server's process edge is
this module: it reads the settings once and owns the one Redis client.
"""

from __future__ import annotations

from typing import Optional

from redis.asyncio import Redis

from actions.order_store import OrderStore
from handoff.conversation import ConversationStore
from handoff.keys import Keys
from handoff.profiles import ProfileStore
from handoff.settings import Settings

_store: Optional[ConversationStore] = None
_profiles: Optional[ProfileStore] = None
_orders: Optional[OrderStore] = None


def conversation_store() -> ConversationStore:
    """The conversation store on the configured Redis."""
    global _store, _profiles
    if _store is None:
        settings = Settings.from_env()
        redis = Redis.from_url(settings.redis_url, decode_responses=True,
                               socket_connect_timeout=2, socket_timeout=5)
        keys = Keys(settings.key_prefix)
        _store, _profiles = ConversationStore(redis, keys), ProfileStore(redis, keys)
    return _store


def profile_store() -> ProfileStore:
    """Customer profiles (VIP list) on the same Redis."""
    conversation_store()
    assert _profiles is not None
    return _profiles


def order_store() -> OrderStore:
    """The sample order store."""
    global _orders
    if _orders is None:
        _orders = OrderStore()
    return _orders


def use_store(store: Optional[ConversationStore],
              profiles: Optional[ProfileStore] = None) -> None:
    """Replaces the stores (tests give ones on their own Redis)."""
    global _store, _profiles
    _store, _profiles = store, profiles
